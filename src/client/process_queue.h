#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "client/offset_tracker.h"
#include "client/route.h"

namespace vela::client {

// ProcessQueue is a consumer's state for one assigned queue: the offset tracker of the messages
// pulled and not yet consumed, the last offset committed, and whether the queue was released
// (dropped) by a rebalance or shutdown. Shared (shared_ptr) by the pull loop, the consume tasks
// and the committer; a dropped queue's pending work finds the flag and stops. Thread-safe: the
// tracker and last_committed are guarded by mu.
struct ProcessQueue {
  explicit ProcessQueue(MessageQueue queue, int64_t start_offset)
      : mq(std::move(queue)), tracker(start_offset), last_committed(start_offset) {}

  const MessageQueue mq;
  std::atomic<bool> dropped{false};

  std::mutex mu;
  OffsetTracker tracker;   // GUARDED_BY(mu)
  int64_t last_committed;  // GUARDED_BY(mu): what the broker last accepted (or the start offset)
};

}  // namespace vela::client
