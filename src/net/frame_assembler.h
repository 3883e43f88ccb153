#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "common/status.h"
#include "net/frame_codec.h"

namespace vela::net {

// FrameAssembler turns the bytes of one stream, read in chunks of any size, into whole frames.
// It owns the connection's read buffer, and its memory follows the bytes actually received, not
// the lengths announced: a length prefix of 16 MiB followed by nothing keeps the buffer at one read
// chunk, and while a large frame arrives the buffer at most doubles per step, so it never exceeds
// twice the most bytes it held plus one chunk. A buffer grown past a few chunks is kept while large
// frames keep coming and given back once the peer is back to small ones (AfterRead), or on demand
// when empty (ShrinkIfEmpty). A sound frame whose header is only too large to parse is refused on
// its own (kRefused) and the stream goes on. The first bad frame (over max_frame_size, a header
// that overruns its frame or does not parse) is an error, and the assembler stays failed.
// No I/O; thread-compatible.
class FrameAssembler {
 public:
  // Bytes asked of the socket per read (and the size of a fresh buffer).
  static constexpr size_t kReadChunk = 64 * 1024;

  explicit FrameAssembler(uint32_t max_frame_size) : max_frame_size_(max_frame_size) {}
  FrameAssembler(const FrameAssembler&) = delete;
  FrameAssembler& operator=(const FrameAssembler&) = delete;

  // Where the next read may write: at least kReadChunk / 2 bytes, growing the buffer if needed.
  // The space stays valid until the next call of WritableData, AfterRead or ShrinkIfEmpty.
  char* WritableData();
  size_t WritableSize() const { return capacity_ - end_; }
  // Records that `n` bytes were written at WritableData(). REQUIRES: n <= WritableSize().
  void Commit(size_t n) { end_ += n; }

  enum class State { kFrame, kRefused, kNeedMore, kError };
  // Cuts the next whole frame out of the buffer into *frame (kFrame); kRefused with *error set
  // when the frame's header is over its cap (frame->header then holds only the request id, code
  // and flags, for the answer); kNeedMore when the buffer holds no whole frame yet; kError with
  // *error set when the frame is bad (and from then on).
  State Next(Frame* frame, Status* error);

  // Releases a buffer grown past kShrinkAbove when it holds no bytes.
  void ShrinkIfEmpty();
  // Called after the frames of each read were taken. A grown buffer is kept while large frames
  // keep coming (growing it again for each would cost a fresh allocation, page faults and copies
  // per frame), and released once found empty after kReadsBeforeRelease reads in a row.
  void AfterRead();

  // Bytes received and not yet cut into frames (a partial frame when non-zero).
  size_t buffered() const { return end_ - begin_; }
  size_t capacity() const { return capacity_; }

 private:
  static constexpr size_t kShrinkAbove = 4 * kReadChunk;
  static constexpr int kReadsBeforeRelease = 8;

  void Reallocate(size_t new_capacity);

  const uint32_t max_frame_size_;
  std::unique_ptr<char[]> buf_;
  size_t capacity_ = 0;
  size_t begin_ = 0;  // first byte not yet cut into a frame
  size_t end_ = 0;    // end of the received bytes
  int empty_reads_ = 0;  // reads in a row after which the buffer was empty
  bool failed_ = false;
  Status error_;
};

}  // namespace vela::net
