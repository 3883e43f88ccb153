#include "client/consume_service_orderly.h"

#include <algorithm>
#include <chrono>
#include <iterator>

#include <asio/post.hpp>

#include "client/logger.h"
#include "client/rebalance.h"

namespace vela::client {

namespace {
constexpr int64_t kLockWaitMs = 1000;
// Messages one worker task consumes before it yields its thread to the other keys.
constexpr int kMessagesPerTask = 64;
}  // namespace

OrderlyConsumeService::OrderlyConsumeService(ConsumerContext& ctx)
    : ctx_(ctx),
      threads_(ctx.options.consume_threads == 0 ? 1 : ctx.options.consume_threads),
      pool_(threads_) {}

void OrderlyConsumeService::Shutdown() { pool_.join(); }

void OrderlyConsumeService::Submit(const std::shared_ptr<ProcessQueue>& pq, std::vector<MessageView> messages) {
  std::vector<std::string> started;
  {
    std::lock_guard lock(pq->mu);
    for (auto& m : messages) {
      std::string key;
      if (pq->backlog.Add(std::move(m), &key)) started.push_back(std::move(key));
    }
  }
  if (started.empty()) return;
  if (ctx_.options.consume_threads == 0) {  // asked for: the keys this batch woke run here, on the network thread
    for (const auto& key : started) RunKey(pq, key);
    return;
  }
  // One task per consume thread, not one per key: a batch of many keys is handed over with a few
  // wake-ups, and each key still has exactly one worker.
  const size_t tasks = std::min(started.size(), threads_);
  const size_t per_task = (started.size() + tasks - 1) / tasks;
  for (size_t first = 0; first < started.size(); first += per_task) {
    std::vector<std::string> keys(std::make_move_iterator(started.begin() + static_cast<ptrdiff_t>(first)),
                                  std::make_move_iterator(started.begin() + static_cast<ptrdiff_t>(
                                                              std::min(started.size(), first + per_task))));
    asio::post(pool_, [this, pq, keys = std::move(keys)] {
      for (const std::string& key : keys) RunKey(pq, key);
    });
  }
}

bool OrderlyConsumeService::WaitIdle(const std::shared_ptr<ProcessQueue>& pq, int64_t timeout_ms) {
  std::unique_lock lock(pq->mu);
  return pq->idle_cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return pq->consuming == 0; });
}

bool OrderlyConsumeService::WaitDrained(const std::shared_ptr<ProcessQueue>& pq, int64_t timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::unique_lock lock(pq->mu);
  for (;;) {
    if (pq->consuming == 0 && pq->backlog.busy_keys() <= pq->parked_keys) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    pq->idle_cv.wait_for(lock, std::chrono::milliseconds(10));
  }
}

void OrderlyConsumeService::PostKey(const std::shared_ptr<ProcessQueue>& pq, const std::string& key) {
  asio::post(pool_, [this, pq, key] { RunKey(pq, key); });
}

void OrderlyConsumeService::RetryKeyLater(const std::shared_ptr<ProcessQueue>& pq, const std::string& key) {
  ctx_.instance->ScheduleAfter(ctx_.options.suspend_current_queue_time_ms, [this, pq, key] { PostKey(pq, key); });
}

void OrderlyConsumeService::FinishFront(const std::shared_ptr<ProcessQueue>& pq, const std::string& key) {
  bool more = false;
  {
    std::lock_guard lock(pq->mu);
    MessageView* front = pq->backlog.Front(key);
    if (front == nullptr) return;
    pq->tracker.Remove(front->queue_offset);
    more = pq->backlog.PopFront(key);
    if (!more) pq->idle_cv.notify_all();
  }
  if (more) PostKey(pq, key);
}

void OrderlyConsumeService::RunKey(const std::shared_ptr<ProcessQueue>& pq, const std::string& key) {
  const int max_retries = ctx_.options.max_reconsume_times;
  // The key's front message when it was taken, and counted in pq->consuming, by the previous
  // message's completion (one lock per message while the key has more).
  MessageView* carried = nullptr;
  auto drop_carried = [&] {
    if (carried == nullptr) return;
    carried = nullptr;
    std::lock_guard lock(pq->mu);
    if (--pq->consuming == 0) pq->idle_cv.notify_all();
  };
  for (int done = 0; done < kMessagesPerTask; ++done) {
    if (!ctx_.running.load() || pq->dropped.load()) {  // the key's messages go to the next owner
      drop_carried();
      return;
    }
    if (ctx_.clustering() && !RebalanceService::LockValid(*pq, ctx_.options.lock_renew_interval_ms)) {
      drop_carried();
      ctx_.instance->ScheduleAfter(kLockWaitMs, [this, pq, key] { PostKey(pq, key); });
      return;
    }
    MessageView* message = carried;
    carried = nullptr;
    bool dead_letter = false;
    if (message == nullptr) {
      std::lock_guard lock(pq->mu);
      message = pq->backlog.Front(key);
      if (message == nullptr) return;
      dead_letter = pq->backlog.FrontFailures(key) > max_retries;
      if (!dead_letter) ++pq->consuming;
    }
    // Only this worker touches the key's front message until it is popped.
    if (!dead_letter) {
      const ConsumeResult result = CallListener(ctx_.listener, *message);
      int failures = 0;
      {
        std::lock_guard lock(pq->mu);
        if (result == ConsumeResult::kSuccess) {
          pq->tracker.Remove(message->queue_offset);
          carried = pq->backlog.PopFrontAndPeek(key);
          if (carried != nullptr) continue;  // still counted in consuming, for the next message
          if (--pq->consuming == 0) pq->idle_cv.notify_all();
          pq->idle_cv.notify_all();
          return;  // the key is idle
        }
        if (--pq->consuming == 0) pq->idle_cv.notify_all();
        if (result == ConsumeResult::kLeave) {
          ++pq->parked_keys;  // the key waits for the queue's next owner
          pq->idle_cv.notify_all();
          return;
        }
        failures = pq->backlog.AddFrontFailure(key);
      }
      message->reconsume_times++;
      if (failures <= max_retries) {
        ClientLogger()->debug("orderly listener failed on {} ({} offset {}), failure {}: retrying in {} ms",
                              message->msg_id, pq->mq.ToString(), message->queue_offset, failures,
                              ctx_.options.suspend_current_queue_time_ms);
        RetryKeyLater(pq, key);
        return;
      }
    }
    if (!ctx_.clustering()) {
      ClientLogger()->warn("broadcast listener failed {} time(s) on {} ({} offset {}): skipped", max_retries + 1,
                           message->msg_id, pq->mq.ToString(), message->queue_offset);
      std::lock_guard lock(pq->mu);
      pq->tracker.Remove(message->queue_offset);
      if (!pq->backlog.PopFront(key)) {
        pq->idle_cv.notify_all();
        return;
      }
      continue;
    }
    ClientLogger()->warn("orderly listener failed {} time(s) on {} ({} offset {}): sending it to the dead-letter topic",
                         max_retries + 1, message->msg_id, pq->mq.ToString(), message->queue_offset);
    SendBackAsync(ctx_, *message, /*delay_level=*/-1, /*max_reconsume_times=*/0,
                  [this, pq, key, msg_id = message->msg_id](vela::Status status) {
                    if (status.ok()) {
                      FinishFront(pq, key);
                      return;
                    }
                    ClientLogger()->warn("dead-letter send-back of {} ({}) failed: {}; trying again in {} ms", msg_id,
                                         pq->mq.ToString(), status.ToString(),
                                         ctx_.options.suspend_current_queue_time_ms);
                    RetryKeyLater(pq, key);
                  });
    return;
  }
  drop_carried();
  PostKey(pq, key);  // yield: other keys get the thread
}

}  // namespace vela::client
