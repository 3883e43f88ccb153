#include "client/offset_tracker.h"

#include <algorithm>

namespace vela::client {

namespace {
template <typename Deque>
auto Find(Deque& entries, int64_t offset) {
  return std::lower_bound(entries.begin(), entries.end(), offset,
                          [](const auto& e, int64_t o) { return e.offset < o; });
}
}  // namespace

void OffsetTracker::Add(int64_t offset, size_t bytes) {
  next_offset_ = std::max(next_offset_, offset + 1);
  if (entries_.empty() || offset > entries_.back().offset) {
    entries_.push_back(Entry{offset, bytes, false});
  } else {
    auto it = Find(entries_, offset);
    if (it != entries_.end() && it->offset == offset) {
      if (!it->done) return;  // already in flight
      it->bytes = bytes;
      it->done = false;
    } else {
      entries_.insert(it, Entry{offset, bytes, false});
    }
  }
  ++count_;
  bytes_ += bytes;
}

void OffsetTracker::AdvanceTo(int64_t next_offset) { next_offset_ = std::max(next_offset_, next_offset); }

bool OffsetTracker::Remove(int64_t offset) {
  auto it = Find(entries_, offset);
  if (it == entries_.end() || it->offset != offset || it->done) return false;
  it->done = true;
  --count_;
  bytes_ -= it->bytes;
  while (!entries_.empty() && entries_.front().done) entries_.pop_front();
  while (!entries_.empty() && entries_.back().done) entries_.pop_back();
  return true;
}

int64_t OffsetTracker::CommittableOffset() const {
  return entries_.empty() ? next_offset_ : entries_.front().offset;
}

int64_t OffsetTracker::span() const { return entries_.empty() ? 0 : entries_.back().offset - entries_.front().offset; }

}  // namespace vela::client
