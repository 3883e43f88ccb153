#include "broker/processors/pull_processor.h"

#include <fmt/format.h>

#include "broker/logger.h"
#include "broker/subscription_filter.h"
#include "common/clock.h"

namespace vela::broker {
namespace {
// A pull's records are copied out of the log while its connection has less than this unsent.
constexpr size_t kCopyWhileUnsentBelow = 1 << 20;
}  // namespace

PullProcessor::PullProcessor(const BrokerOptions& options, ResourceResolver& resolver, store::MessageStore& store,
                             PullHoldService& holds, filter::FilterCache& filters, BrokerCounters& counters)
    : options_(options), resolver_(resolver), store_(store), holds_(holds), filters_(filters), counters_(counters) {}

void PullProcessor::Register(net::Dispatcher& dispatcher) {
  dispatcher.RegisterProcessor(v1::PULL_MESSAGE,
                               [this](net::RequestContext rc, net::Frame frame) { HandlePull(rc, std::move(frame)); });
}

void PullProcessor::ReplyPull(const net::RequestContext& rc, v1::PullOutcome outcome, const store::GetResult& r,
                              store::QueueOffset next_offset, net::OutBody body, uint32_t count) {
  v1::Header resp;
  auto* pr = resp.mutable_pull_response();
  pr->set_outcome(outcome);
  pr->set_next_offset(next_offset.value());
  pr->set_min_offset(r.min_offset.value());
  pr->set_max_offset(r.max_offset.value());
  pr->set_message_count(count);
  if (!r.corrupt_offsets.empty()) {
    pr->mutable_corrupt_offsets()->Reserve(static_cast<int>(r.corrupt_offsets.size()));
    for (store::QueueOffset corrupt : r.corrupt_offsets) pr->add_corrupt_offsets(corrupt.value());
    counters_.corrupt_records_reported.fetch_add(static_cast<int64_t>(r.corrupt_offsets.size()),
                                                 std::memory_order_relaxed);
  }
  if (count) {
    counters_.messages_out.fetch_add(count, std::memory_order_relaxed);
    counters_.bytes_out.fetch_add(static_cast<int64_t>(body.size()), std::memory_order_relaxed);
  }
  rc.Reply(Status::OK(), std::move(resp), std::move(body));
}

void PullProcessor::ExecutePull(net::RequestContext rc, v1::PullRequest req, bool final, int64_t deadline_ms) {
  auto filter = SubscriptionFilter::Create(req.filter_type(), req.expression(), options_.enable_property_filter,
                                           filters_, &counters_.filter_conversion_failures);
  if (!filter.ok()) {
    rc.ReplyError(filter.status());
    return;
  }
  int32_t max_messages = req.max_messages() > 0 ? std::min(req.max_messages(), options_.max_pull_messages)
                                                 : options_.max_pull_messages;
  int64_t max_bytes = req.max_bytes() > 0 ? std::min<int64_t>(req.max_bytes(), options_.max_pull_bytes)
                                          : options_.max_pull_bytes;
  // Records are copied out of the log only for a connection that is keeping up with its
  // responses: behind a slow reader they would wait in the broker's memory (up to the connection's
  // unsent-bytes limit) instead of in the page cache.
  const auto connection = rc.connection();
  const bool may_copy = connection != nullptr && connection->unsent_bytes() < kCopyWhileUnsentBelow;
  store::GetResult r = store_.GetMessages(req.topic(), static_cast<uint32_t>(req.queue_id()),
                                          store::QueueOffset(req.queue_offset()), max_messages, max_bytes,
                                          filter->get(), may_copy);
  switch (r.outcome) {
    case store::GetOutcome::kFound: {
      net::OutBody body;
      body.views = std::move(r.records);
      body.keepalive = std::move(r.pins);
      auto count = static_cast<uint32_t>(body.views.size());
      counters_.CountOut(req.topic(), req.group(), count, static_cast<int64_t>(body.size()));
      ReplyPull(rc, v1::PULL_FOUND, r, r.next_begin_offset, std::move(body), count);
      return;
    }
    case store::GetOutcome::kNoMatchedMessage:
      ReplyPull(rc, v1::PULL_NO_MATCHED_MESSAGE, r, r.next_begin_offset);
      return;
    case store::GetOutcome::kOffsetTooSmall:
      ReplyPull(rc, v1::PULL_OFFSET_ILLEGAL, r, r.min_offset);
      return;
    case store::GetOutcome::kOffsetOverflowBadly:
      ReplyPull(rc, v1::PULL_OFFSET_ILLEGAL, r, r.max_offset);
      return;
    case store::GetOutcome::kNoMessageInQueue:
    case store::GetOutcome::kOffsetOverflowOne:
    case store::GetOutcome::kNoMatchedQueue:
      break;
  }
  if (final || req.suspend_timeout_ms() <= 0) {
    ReplyPull(rc, v1::PULL_NO_NEW_MESSAGE, r, store::QueueOffset(req.queue_offset()));
    return;
  }
  const std::string topic = req.topic();
  const auto queue_id = static_cast<uint32_t>(req.queue_id());
  const store::QueueOffset offset(req.queue_offset());
  holds_.Hold(HeldPull{rc, std::move(req), deadline_ms});
  // A record dispatched between the read above and Hold() would not wake us: look again.
  if (store_.MaxQueueOffset(topic, queue_id) > offset) holds_.Wake(topic, queue_id);
}

void PullProcessor::HandlePull(net::RequestContext rc, net::Frame frame) {
  counters_.pull_requests.fetch_add(1, std::memory_order_relaxed);
  if (!frame.header.has_pull_request()) {
    rc.ReplyError(Status::InvalidArgument("PULL_MESSAGE needs pull_request"));
    return;
  }
  v1::PullRequest* req = frame.header.mutable_pull_request();
  auto topic = resolver_.ResolveTopic(req->topic(), /*for_write=*/false);
  if (!topic.ok()) {
    rc.ReplyError(topic.status());
    return;
  }
  if (req->queue_id() < 0 || req->queue_id() >= topic->read_queues) {
    rc.ReplyError(Status::InvalidArgument(fmt::format("queue {} does not exist: topic {} has {} read queues",
                                                      req->queue_id(), req->topic(), topic->read_queues)));
    return;
  }
  if (!req->group().empty()) {
    auto group = resolver_.ResolveGroup(req->group(), rc.peer());
    if (!group.ok()) {
      rc.ReplyError(group.status());
      return;
    }
    if (req->commit_offset() > 0) {
      Status s = store_.meta().CommitOffset(req->group(), req->topic(), static_cast<uint32_t>(req->queue_id()),
                                            store::QueueOffset(req->commit_offset()));
      if (!s.ok()) BrokerLogger()->warn("offset commit for {} failed: {}", req->group(), s.ToString());
    }
  }
  int64_t hold_ms = std::min(req->suspend_timeout_ms(), options_.long_polling_max_ms);
  ExecutePull(rc, std::move(*req), false, NowEpochMs() + hold_ms);
}

void PullProcessor::RetryHeld(HeldPull pull, bool final) {
  ExecutePull(pull.context, std::move(pull.request), final, pull.deadline_ms);
}

}  // namespace vela::broker
