#pragma once

#include <memory>
#include <vector>

#include <asio/thread_pool.hpp>

#include "client/consume_service.h"

namespace vela::client {

// ConcurrentConsumeService: the listener runs on every consume thread at once, in no particular
// order (a pulled batch is split into one task per thread, not one per message; with
// consume_threads 0 it runs on the io thread, in pull order). On kFailure or an exception:
//  - clustering: the message is sent back (CONSUMER_SEND_BACK, delay_level 0, the group's maximum
//    retries), and once the broker acknowledged it, it counts as consumed: it no longer holds back
//    the queue's committed offset; the broker redelivers it through %RETRY%<group> later, or
//    dead-letters it. If the send-back fails, the message stays in flight (its offset held) and is
//    handed to the listener again locally after send_back_retry_delay_ms with reconsume_times + 1,
//    and so on until it succeeds or a send-back is acknowledged: nothing is lost;
//  - broadcasting: the failure is logged and the message skipped (no retries in broadcast mode).
// Thread-safe.
class ConcurrentConsumeService final : public ConsumeService {
 public:
  explicit ConcurrentConsumeService(ConsumerContext& ctx);
  ~ConcurrentConsumeService() override { Shutdown(); }

  void Submit(const std::shared_ptr<ProcessQueue>& pq, std::vector<MessageView> messages) override;
  bool WaitIdle(const std::shared_ptr<ProcessQueue>&, int64_t) override { return true; }
  bool WaitDrained(const std::shared_ptr<ProcessQueue>&, int64_t) override { return true; }
  void Shutdown() override;

 private:
  void ConsumeOne(const std::shared_ptr<ProcessQueue>& pq, MessageView& message);
  void OnFailure(const std::shared_ptr<ProcessQueue>& pq, MessageView& message);
  void Finish(const std::shared_ptr<ProcessQueue>& pq, int64_t queue_offset);

  ConsumerContext& ctx_;
  asio::thread_pool pool_;
};

}  // namespace vela::client
