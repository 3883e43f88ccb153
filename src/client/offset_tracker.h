#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>

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
  size_t count() const { return count_; }
  size_t bytes() const { return bytes_; }
  // Offset span between the lowest and highest message in flight (0 when empty).
  int64_t span() const;

 private:
  // One pulled message; `done` once consumed. Kept in ascending offset order; consumed entries
  // are dropped from both ends, so the front and the back are always in flight. Pulls arrive in
  // offset order, so an Add is a push_back and a Remove a binary search (no node per message).
  struct Entry {
    int64_t offset;
    size_t bytes;
    bool done;
  };
  std::deque<Entry> entries_;
  size_t count_ = 0;  // entries not done
  size_t bytes_ = 0;  // their bytes
  int64_t next_offset_;
};

}  // namespace vela::client
