#include "net/frame_assembler.h"

#include <algorithm>
#include <cstring>

#include "common/coding.h"

namespace vela::net {

char* FrameAssembler::WritableData() {
  if (capacity_ - end_ >= kReadChunk / 2) return buf_.get() + end_;
  if (begin_ > 0) {  // compact: the consumed prefix is free space
    std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
    if (capacity_ - end_ >= kReadChunk / 2) return buf_.get() + end_;
  }
  // Grow by at most doubling, and not past the frame being received: the buffer follows the bytes
  // that arrived, whatever length the prefix announced.
  size_t grown = capacity_ * 2;
  if (end_ >= kLengthPrefixSize) {
    const size_t frame_end = kLengthPrefixSize + coding::GetBigEndian32(buf_.get());
    grown = std::min(grown, frame_end);
  }
  Reallocate(std::max(grown, end_ + kReadChunk));
  return buf_.get() + end_;
}

void FrameAssembler::Reallocate(size_t new_capacity) {
  auto fresh = std::make_unique_for_overwrite<char[]>(new_capacity);
  const size_t held = end_ - begin_;
  if (held > 0) std::memcpy(fresh.get(), buf_.get() + begin_, held);
  buf_ = std::move(fresh);
  capacity_ = new_capacity;
  begin_ = 0;
  end_ = held;
}

FrameAssembler::State FrameAssembler::Next(Frame* frame, Status* error) {
  if (failed_) {
    *error = error_;
    return State::kError;
  }
  const size_t avail = end_ - begin_;
  if (avail < kLengthPrefixSize) return State::kNeedMore;
  const uint32_t frame_length = coding::GetBigEndian32(buf_.get() + begin_);
  Status length_ok = CheckFrameLength(frame_length, max_frame_size_);
  if (!length_ok.ok()) {
    failed_ = true;
    error_ = std::move(length_ok);
    *error = error_;
    return State::kError;
  }
  if (avail - kLengthPrefixSize < frame_length) return State::kNeedMore;
  const std::string_view bytes(buf_.get() + begin_ + kLengthPrefixSize, frame_length);
  auto decoded = DecodeFrame(bytes);
  std::optional<v1::Header> refused;
  if (!decoded.ok()) refused = ReadRefusedEnvelope(bytes);
  begin_ += kLengthPrefixSize + frame_length;
  if (begin_ == end_) begin_ = end_ = 0;
  if (refused) {
    frame->header = std::move(*refused);
    frame->body.clear();
    *error = decoded.status();
    return State::kRefused;
  }
  if (!decoded.ok()) {
    failed_ = true;
    error_ = decoded.status();
    *error = error_;
    return State::kError;
  }
  *frame = std::move(decoded).value();
  return State::kFrame;
}

void FrameAssembler::AfterRead() {
  if (capacity_ <= kShrinkAbove) return;
  empty_reads_ = begin_ == end_ ? empty_reads_ + 1 : 0;
  if (empty_reads_ >= kReadsBeforeRelease) ShrinkIfEmpty();
}

void FrameAssembler::ShrinkIfEmpty() {
  if (begin_ != end_ || capacity_ <= kShrinkAbove) return;
  buf_.reset();
  capacity_ = 0;
  empty_reads_ = 0;
  begin_ = end_ = 0;
}

}  // namespace vela::net
