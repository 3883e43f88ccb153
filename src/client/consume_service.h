#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "client/consumer_context.h"
#include "client/process_queue.h"

namespace vela::client {

// ConsumeService runs the listener on the messages the pull service hands it and decides what a
// failure becomes; it marks each finished message in its queue's offset tracker, which is what
// lets the offset store commit past it. Two implementations: ConcurrentConsumeService (any
// order, on every consume thread) and OrderlyConsumeService (one at a time per sharding key).
// Common guarantees: a message is marked finished only once the listener succeeded, or it was
// sent back to the broker (retry or dead letter) and the broker acknowledged it, or (broadcast)
// the failure was logged and skipped; nothing else lets a committed offset pass it. Listener
// exceptions count as kFailure. A dropped queue or a stopped consumer starts no new listener
// call. Thread-safe.
class ConsumeService {
 public:
  virtual ~ConsumeService() = default;
  // Takes pulled messages of `pq` (in offset order).
  virtual void Submit(const std::shared_ptr<ProcessQueue>& pq, std::vector<MessageView> messages) = 0;
  // Waits up to `timeout_ms` until no listener call of `pq` is in progress. Returns false on timeout.
  virtual bool WaitIdle(const std::shared_ptr<ProcessQueue>& pq, int64_t timeout_ms) = 0;
  // Waits up to `timeout_ms` until every message of `pq` already handed over is finished (or
  // parked by kLeave). Returns false on timeout. Orderly only; the concurrent service returns true.
  virtual bool WaitDrained(const std::shared_ptr<ProcessQueue>& pq, int64_t timeout_ms) = 0;
  // Waits for the listener calls in progress and stops the threads. Idempotent.
  virtual void Shutdown() = 0;
};

// Runs the listener on `message`, turning exceptions into kFailure (logged).
ConsumeResult CallListener(const MessageListener& listener, const MessageView& message);

// CONSUMER_SEND_BACK of `message` to the broker that delivered it (contract: issue 13):
// delay_level 0 = the broker's growing delays, -1 = straight to the dead-letter topic;
// max_reconsume_times 0 = the group's configured maximum. `done` runs on an io thread with the
// broker's status.
void SendBackAsync(ConsumerContext& ctx, const MessageView& message, int32_t delay_level,
                   int32_t max_reconsume_times, std::function<void(vela::Status)> done);

}  // namespace vela::client
