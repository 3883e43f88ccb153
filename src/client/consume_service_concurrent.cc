#include "client/consume_service_concurrent.h"

#include <algorithm>
#include <exception>

#include <asio/post.hpp>
#include <fmt/format.h>

#include "client/logger.h"
#include "common/message_id.h"

namespace vela::client {

ConsumeResult CallListener(const MessageListener& listener, const MessageView& message) {
  try {
    return listener(message);
  } catch (const std::exception& e) {
    ClientLogger()->error("listener threw on {}: {}", message.msg_id, e.what());
  } catch (...) {
    ClientLogger()->error("listener threw on {}", message.msg_id);
  }
  return ConsumeResult::kFailure;
}

void SendBackAsync(ConsumerContext& ctx, const MessageView& message, int32_t delay_level,
                   int32_t max_reconsume_times, std::function<void(vela::Status)> done) {
  auto where = ParseOffsetId(message.offset_id);
  if (!where.ok()) {
    done(vela::Status::InvalidArgument(
        fmt::format("message {} has no usable offset id '{}': {}", message.msg_id, message.offset_id,
                    where.status().ToString())));
    return;
  }
  v1::Header header;
  header.set_code(v1::CONSUMER_SEND_BACK);
  auto* request = header.mutable_send_back_request();
  request->set_group(ctx.group());
  request->set_msg_id(message.msg_id);
  request->set_physical_offset(where->physical_offset);
  request->set_delay_level(delay_level);
  request->set_max_reconsume_times(max_reconsume_times);
  ctx.instance->rpc().Invoke(message.broker_addr, std::move(header), {}, ctx.config.request_timeout_ms,
                             [done = std::move(done)](Result<net::Frame> response) { done(response.status()); });
}

ConcurrentConsumeService::ConcurrentConsumeService(ConsumerContext& ctx)
    : ctx_(ctx), pool_(ctx.options.consume_threads == 0 ? 1 : ctx.options.consume_threads) {}

void ConcurrentConsumeService::Shutdown() { pool_.join(); }

void ConcurrentConsumeService::Submit(const std::shared_ptr<ProcessQueue>& pq, std::vector<MessageView> messages) {
  if (ctx_.options.consume_threads == 0) {  // asked for: run the listener here, on the network thread
    for (auto& message : messages) ConsumeOne(pq, message);
    return;
  }
  // One task per share of the batch, a share per listener thread: the messages of one pull still
  // spread over every thread, for a fraction of the hand-offs of a task per message.
  const size_t threads = ctx_.options.consume_threads;
  const size_t share = (messages.size() + threads - 1) / threads;
  for (size_t begin = 0; begin < messages.size(); begin += share) {
    const size_t end = std::min(messages.size(), begin + share);
    std::vector<MessageView> part;
    if (begin == 0 && end == messages.size()) {
      part = std::move(messages);
    } else {
      part.assign(std::make_move_iterator(messages.begin() + static_cast<std::ptrdiff_t>(begin)),
                  std::make_move_iterator(messages.begin() + static_cast<std::ptrdiff_t>(end)));
    }
    asio::post(pool_, [this, pq, part = std::move(part)]() mutable {
      for (auto& message : part) ConsumeOne(pq, message);
    });
  }
}

void ConcurrentConsumeService::Finish(const std::shared_ptr<ProcessQueue>& pq, int64_t queue_offset) {
  std::lock_guard lock(pq->mu);
  pq->tracker.Remove(queue_offset);
}

void ConcurrentConsumeService::ConsumeOne(const std::shared_ptr<ProcessQueue>& pq, MessageView& message) {
  if (!ctx_.running.load() || pq->dropped.load()) return;
  const ConsumeResult result = CallListener(ctx_.listener, message);
  switch (result) {
    case ConsumeResult::kSuccess:
      Finish(pq, message.queue_offset);
      return;
    case ConsumeResult::kLeave:
      return;  // stays in flight: redelivered by the queue's next owner or after a restart
    case ConsumeResult::kFailure:
      OnFailure(pq, message);
      return;
  }
}

void ConcurrentConsumeService::OnFailure(const std::shared_ptr<ProcessQueue>& pq, MessageView& message) {
  if (!ctx_.clustering()) {
    ClientLogger()->warn("broadcast listener failed on {} ({} offset {}): skipped", message.msg_id,
                         pq->mq.ToString(), message.queue_offset);
    Finish(pq, message.queue_offset);
    return;
  }
  auto failed = std::make_shared<MessageView>(std::move(message));
  SendBackAsync(ctx_, *failed, /*delay_level=*/0, /*max_reconsume_times=*/0, [this, pq, failed](vela::Status status) {
    if (status.ok()) {
      Finish(pq, failed->queue_offset);
      return;
    }
    if (!ctx_.running.load() || pq->dropped.load()) return;  // its offset was held: the next owner gets it
    ClientLogger()->warn("send-back of {} ({} offset {}) failed: {}; consuming it again locally in {} ms",
                         failed->msg_id, pq->mq.ToString(), failed->queue_offset, status.ToString(),
                         ctx_.options.send_back_retry_delay_ms);
    ctx_.instance->ScheduleAfter(ctx_.options.send_back_retry_delay_ms, [this, pq, failed] {
      failed->reconsume_times++;
      std::vector<MessageView> again;
      again.push_back(std::move(*failed));
      Submit(pq, std::move(again));
    });
  });
}

}  // namespace vela::client
