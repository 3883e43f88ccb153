#include "client/offset_tracker.h"

#include <algorithm>

namespace vela::client {

void OffsetTracker::Add(int64_t offset, size_t bytes) {
  auto [it, inserted] = in_flight_.emplace(offset, bytes);
  if (inserted) bytes_ += bytes;
  next_offset_ = std::max(next_offset_, offset + 1);
}

void OffsetTracker::AdvanceTo(int64_t next_offset) { next_offset_ = std::max(next_offset_, next_offset); }

bool OffsetTracker::Remove(int64_t offset) {
  auto it = in_flight_.find(offset);
  if (it == in_flight_.end()) return false;
  bytes_ -= it->second;
  in_flight_.erase(it);
  return true;
}

int64_t OffsetTracker::CommittableOffset() const {
  return in_flight_.empty() ? next_offset_ : in_flight_.begin()->first;
}

int64_t OffsetTracker::span() const {
  return in_flight_.empty() ? 0 : in_flight_.rbegin()->first - in_flight_.begin()->first;
}

}  // namespace vela::client
