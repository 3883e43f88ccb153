#pragma once

#include <cstddef>
#include <cstdint>
#include <map>

namespace vela::client {

// OffsetTracker follows the messages of one queue between pull and consumption, to decide what
// may be committed: the lowest offset still in flight, or, when nothing is, the offset the next
// pull starts from. Committing that offset can redeliver (after a crash) but never skips a message
// still being consumed, whatever order the listener threads finish in. Also counts cached messages
// and bytes for flow control. Thread-compatible (ProcessQueue guards it with its mutex).
class OffsetTracker {
 public:
  explicit OffsetTracker(int64_t start_offset = 0) : next_offset_(start_offset) {}

  // Records a pulled message. REQUIRES: offset < the next_offset given later by AdvanceTo.
  void Add(int64_t offset, size_t bytes);
  // Records that the next pull starts at `next_offset` (the pull response's next offset).
  void AdvanceTo(int64_t next_offset);
  // Marks a message consumed; unknown offsets are ignored. Returns true when it was in flight.
  bool Remove(int64_t offset);

  // The offset a commit may record now (see class comment).
  int64_t CommittableOffset() const;
  int64_t next_offset() const { return next_offset_; }
  size_t count() const { return in_flight_.size(); }
  size_t bytes() const { return bytes_; }
  // Offset span between the lowest and highest message in flight (0 when empty).
  int64_t span() const;

 private:
  std::map<int64_t, size_t> in_flight_;  // offset -> body bytes
  size_t bytes_ = 0;
  int64_t next_offset_;
};

}  // namespace vela::client
