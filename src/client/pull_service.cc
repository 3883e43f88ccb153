#include "client/pull_service.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "client/logger.h"
#include "client/message_codec.h"
#include "client/rebalance.h"
#include "common/message_record.h"

namespace vela::client {

namespace {

constexpr int64_t kPullRetryDelayMs = 1000;
constexpr int64_t kFlowControlDelayMs = 50;
constexpr int64_t kBadFilterDelayMs = 10000;
constexpr int64_t kWaitForLockMs = 1000;

}  // namespace

void PullService::PullNext(const std::shared_ptr<ProcessQueue>& pq) {
  if (!ctx_.running.load() || pq->dropped.load() || pq->releasing.load()) return;
  if (ctx_.options.orderly && ctx_.clustering() &&
      !RebalanceService::LockValid(*pq, ctx_.options.lock_renew_interval_ms)) {
    ctx_.instance->ScheduleAfter(kWaitForLockMs, [this, pq] { PullNext(pq); });
    return;
  }
  int64_t offset = 0;
  {
    std::lock_guard lock(pq->mu);
    if (pq->tracker.count() >= ctx_.options.max_cached_messages_per_queue ||
        pq->tracker.bytes() >= ctx_.options.max_cached_bytes_per_queue) {
      ctx_.instance->ScheduleAfter(kFlowControlDelayMs, [this, pq] { PullNext(pq); });
      return;
    }
    offset = pq->tracker.next_offset();
  }
  const int64_t commit = store_.OffsetForPull(*pq);
  auto filter = ctx_.FilterOf(pq->mq.topic);
  if (!filter) return;  // unsubscribed: the next rebalance releases it
  std::string addr = ctx_.AddrOf(pq->mq);
  if (addr.empty()) {
    ctx_.instance->ScheduleAfter(kPullRetryDelayMs, [this, pq] {
      (void)ctx_.instance->routes().Refresh(pq->mq.topic);
      PullNext(pq);
    });
    return;
  }
  v1::Header header;
  header.set_code(v1::PULL_MESSAGE);
  auto* request = header.mutable_pull_request();
  request->set_group(ctx_.group());
  request->set_topic(pq->mq.topic);
  request->set_queue_id(pq->mq.queue_id);
  request->set_queue_offset(offset);
  request->set_max_messages(ctx_.options.pull_batch_size);
  request->set_max_bytes(ctx_.options.pull_max_bytes);
  request->set_suspend_timeout_ms(ctx_.options.long_poll_ms);
  request->set_filter_type(FilterTypeToWire(filter->type));
  request->set_expression(filter->expression);
  request->set_commit_offset(commit);
  ctx_.instance->rpc().Invoke(addr, std::move(header), {}, ctx_.options.long_poll_ms + 5000,
                              [this, pq, addr, commit](Result<net::Frame> response) {
                                if (response.ok() && commit > 0) store_.OnPullCommitted(*pq, commit);
                                OnPullResult(pq, addr, std::move(response));
                              });
}

void PullService::OnPullResult(const std::shared_ptr<ProcessQueue>& pq, const std::string& addr,
                               Result<net::Frame> response) {
  // On an io thread: decoding a batch is cheap; the listener work goes to the consume service.
  // A releasing queue takes no more messages (they stay for the next owner).
  if (!ctx_.running.load() || pq->dropped.load() || pq->releasing.load()) return;
  if (!response.ok()) {
    const auto& status = response.status();
    int64_t delay = kPullRetryDelayMs;
    if (status.subcode() == vela::SubCode::kBadFilter) {
      ClientLogger()->error("pull of {} refused, bad filter: {}", pq->mq.ToString(), status.ToString());
      delay = kBadFilterDelayMs;
    } else {
      ClientLogger()->debug("pull of {} from {} failed: {}", pq->mq.ToString(), addr, status.ToString());
    }
    std::string topic = pq->mq.topic;
    ctx_.instance->ScheduleAfter(delay, [this, pq, topic] {
      (void)ctx_.instance->routes().Refresh(topic);
      PullNext(pq);
    });
    return;
  }
  const auto& r = response->header.pull_response();
  if (r.corrupt_offsets_size() > 0) {
    // The broker found these records damaged on its disk: they cannot be delivered. Consumption
    // goes on past them; an operator should look at the broker (its log names the file offsets).
    ClientLogger()->error("{}: the broker {} reports {} damaged record(s), skipped, at queue offset(s) {}",
                          pq->mq.ToString(), addr, r.corrupt_offsets_size(), fmt::join(r.corrupt_offsets(), ", "));
  }
  switch (r.outcome()) {
    case v1::PULL_FOUND: {
      auto messages = DecodeMessages(response->body, addr, std::min<size_t>(r.message_count(), 1024));
      if (!messages.ok()) {
        ClientLogger()->error("pull of {}: {}", pq->mq.ToString(), messages.status().ToString());
        ctx_.instance->ScheduleAfter(kPullRetryDelayMs, [this, pq] { PullNext(pq); });
        return;
      }
      if (IsRetryTopic(pq->mq.topic)) {
        // A retry record: the listener sees the topic it was first sent to.
        for (auto& m : *messages) {
          auto origin = m.properties.find(std::string(prop::kRetryTopic));
          if (origin != m.properties.end() && !origin->second.empty()) m.topic = origin->second;
        }
      }
      {
        std::lock_guard lock(pq->mu);
        for (const auto& m : *messages) pq->tracker.Add(m.queue_offset, m.body.size());
        pq->tracker.AdvanceTo(r.next_offset());
      }
      consume_.Submit(pq, std::move(messages).value());
      break;
    }
    case v1::PULL_OFFSET_ILLEGAL: {
      ClientLogger()->warn("pull of {}: offset illegal, moving to {} (queue holds {}..{})", pq->mq.ToString(),
                           r.next_offset(), r.min_offset(), r.max_offset());
      std::lock_guard lock(pq->mu);
      pq->tracker = OffsetTracker(r.next_offset());
      pq->last_committed = std::min(pq->last_committed, r.next_offset());
      break;
    }
    default: {
      std::lock_guard lock(pq->mu);
      pq->tracker.AdvanceTo(r.next_offset());
      break;
    }
  }
  PullNext(pq);
}

}  // namespace vela::client
