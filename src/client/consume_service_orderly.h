#pragma once

#include <memory>
#include <string>
#include <vector>

#include <asio/thread_pool.hpp>

#include "client/consume_service.h"

namespace vela::client {

// OrderlyConsumeService: within a queue, the messages of one sharding key go to the listener one
// at a time, in offset order; different keys (and different queues) run in parallel on the
// consume threads. Messages without a sharding key share one key, so such a queue is consumed
// strictly in order. Each busy key has exactly one worker task (KeyedBacklog), which takes the
// key's next message only when the previous one is finished. On kFailure or an exception the
// message is retried in place (the key waits, other keys go on) after
// suspend_current_queue_time_ms with reconsume_times + 1, up to max_reconsume_times failures;
// then, clustering, it is sent back as a dead letter (delay_level -1) and the key moves on once
// the broker acknowledged it (a failed send-back is tried again after the same pause, without
// calling the listener again); broadcasting, it is logged and skipped. A message is finished
// (its offset may be committed) only after success, an acknowledged dead letter or a broadcast
// skip. Orderly clustering consumes only while the queue's lock is valid: a worker finding it
// lapsed waits (the key keeps its place) until the lock is renewed or the queue is dropped.
// With consume_threads 0, the keys a pulled batch wakes run on the network thread that delivered
// it (no hand-off, as the concurrent service does with 0); a key resumed later (after a retry
// pause, a lock wait, or kMessagesPerTask messages in a row) runs on one consume thread.
// Thread-safe.
class OrderlyConsumeService final : public ConsumeService {
 public:
  explicit OrderlyConsumeService(ConsumerContext& ctx);
  ~OrderlyConsumeService() override { Shutdown(); }

  void Submit(const std::shared_ptr<ProcessQueue>& pq, std::vector<MessageView> messages) override;
  bool WaitIdle(const std::shared_ptr<ProcessQueue>& pq, int64_t timeout_ms) override;
  bool WaitDrained(const std::shared_ptr<ProcessQueue>& pq, int64_t timeout_ms) override;
  void Shutdown() override;

 private:
  // The worker of one busy key: consumes its front message, then goes on with the next one.
  void RunKey(const std::shared_ptr<ProcessQueue>& pq, const std::string& key);
  void PostKey(const std::shared_ptr<ProcessQueue>& pq, const std::string& key);
  void RetryKeyLater(const std::shared_ptr<ProcessQueue>& pq, const std::string& key);
  // Marks the key's front message finished and continues the key if more wait.
  void FinishFront(const std::shared_ptr<ProcessQueue>& pq, const std::string& key);

  ConsumerContext& ctx_;
  const size_t threads_;  // of pool_
  asio::thread_pool pool_;
};

}  // namespace vela::client
