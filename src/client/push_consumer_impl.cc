#include "client/push_consumer_impl.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "client/logger.h"
#include "client/message_codec.h"
#include "client/queue_allocation.h"
#include "client/status_convert.h"
#include "common/build_info.h"
#include "common/validation.h"
#include "filter/sql92.h"
#include "filter/tag_filter.h"

namespace vela::client {

namespace {

constexpr int64_t kPullRetryDelayMs = 1000;
constexpr int64_t kFlowControlDelayMs = 50;
constexpr int64_t kBadFilterDelayMs = 10000;

v1::FilterType ToWire(FilterExpression::Type type) {
  return type == FilterExpression::Type::kSql92 ? v1::FILTER_SQL92 : v1::FILTER_TAG;
}

// Redelivers after initial * 2^n, capped.
class BackoffFailurePolicy final : public FailurePolicy {
 public:
  BackoffFailurePolicy(int64_t initial_ms, int64_t max_ms) : initial_ms_(initial_ms), max_ms_(max_ms) {}
  int64_t RedeliveryDelayMs(const MessageView& message) override {
    int shift = std::clamp(message.reconsume_times, 0, 20);
    return std::min(max_ms_, initial_ms_ << shift);
  }

 private:
  const int64_t initial_ms_;
  const int64_t max_ms_;
};

}  // namespace

std::shared_ptr<FailurePolicy> MakeBackoffFailurePolicy(int64_t initial_ms, int64_t max_ms) {
  return std::make_shared<BackoffFailurePolicy>(std::max<int64_t>(initial_ms, 1), std::max(max_ms, initial_ms));
}

PushConsumerImpl::PushConsumerImpl(ClientConfig config, PushConsumerOptions options, Subscriptions subscriptions,
                                   MessageListener listener, std::shared_ptr<FailurePolicy> failure_policy)
    : config_(std::move(config)),
      options_(std::move(options)),
      listener_(std::move(listener)),
      failure_policy_(failure_policy ? std::move(failure_policy) : MakeBackoffFailurePolicy()),
      consume_pool_(options_.consume_threads == 0 ? 1 : options_.consume_threads),
      subscriptions_(std::move(subscriptions)) {}

PushConsumerImpl::~PushConsumerImpl() { Shutdown(); }

Status PushConsumerImpl::ValidateFilter(const FilterExpression& filter) {
  if (filter.type == FilterExpression::Type::kTag) {
    auto parsed = filter::TagExpression::Parse(filter.expression);
    if (!parsed.ok()) return ToPublic(parsed.status());
    return Status::OK();
  }
  filter::FilterError error;
  if (!filter::Sql92Expression::Compile(filter.expression, &error)) {
    return Status(StatusCode::kInvalidArgument,
                  fmt::format("bad SQL92 expression: {} at position {}", error.message, error.position),
                  SubCode::kBadFilter, error.position);
  }
  return Status::OK();
}

vela::Status PushConsumerImpl::Start() {
  VELA_RETURN_IF_ERROR(ValidateGroupName(options_.group));
  if (options_.model != MessageModel::kClustering) {
    return vela::Status::Unimplemented("only clustering consumption is supported yet");
  }
  auto instance = ClientInstance::Create(config_, [this](net::Dispatcher& dispatcher) {
    dispatcher.RegisterProcessor(v1::NOTIFY_CONSUMER_IDS_CHANGED, [this](net::RequestContext, net::Frame frame) {
      if (frame.header.consumer_ids_changed().group() != options_.group) return;
      if (running_.load()) instance_->ScheduleAfter(0, [this] { Rebalance(); });
    });
  });
  if (!instance.ok()) return instance.status();
  instance_ = std::move(instance).value();
  running_.store(true);
  for (const auto& [topic, filter] : CopySubscriptions()) {
    auto route = instance_->routes().Get(topic);
    if (!route.ok()) ClientLogger()->warn("no route for topic {} yet: {}", topic, route.status().ToString());
  }
  // The first heartbeat runs here, so a subscription the broker refuses fails Start(), and the
  // first consumer list already holds this client.
  vela::Status refused = SendHeartbeat(/*sync=*/true);
  if (!refused.ok()) {
    Shutdown();
    return refused;
  }
  instance_->ScheduleAfter(0, [this] { Rebalance(); });
  instance_->ScheduleEvery(options_.heartbeat_interval_ms, [this] { (void)SendHeartbeat(false); });
  instance_->ScheduleEvery(options_.rebalance_interval_ms, [this] { Rebalance(); });
  instance_->ScheduleEvery(options_.commit_interval_ms, [this] { CommitAll(false); });
  return vela::Status::OK();
}

PushConsumerImpl::Subscriptions PushConsumerImpl::CopySubscriptions() {
  std::lock_guard lock(sub_mu_);
  return subscriptions_;
}

vela::Status PushConsumerImpl::Subscribe(const std::string& topic, const FilterExpression& filter) {
  VELA_RETURN_IF_ERROR(ValidateTopicName(topic));
  Status valid = ValidateFilter(filter);
  if (!valid.ok()) return vela::Status(vela::StatusCode::kInvalidArgument, valid.message(), vela::SubCode::kBadFilter);
  {
    std::lock_guard lock(sub_mu_);
    subscriptions_[topic] = filter;
  }
  if (running_.load()) {
    instance_->ScheduleAfter(0, [this] {
      (void)SendHeartbeat(/*sync=*/true);
      Rebalance();
    });
  }
  return vela::Status::OK();
}

vela::Status PushConsumerImpl::Unsubscribe(const std::string& topic) {
  {
    std::lock_guard lock(sub_mu_);
    if (subscriptions_.erase(topic) == 0) return vela::Status::NotFound("not subscribed to " + topic);
  }
  if (running_.load()) {
    instance_->ScheduleAfter(0, [this] {
      (void)SendHeartbeat(/*sync=*/true);
      Rebalance();
    });
  }
  return vela::Status::OK();
}

std::vector<std::string> PushConsumerImpl::SubscribedBrokerAddrs() {
  std::set<std::string> addrs;
  for (const auto& [topic, filter] : CopySubscriptions()) {
    auto route = instance_->routes().GetCached(topic);
    if (!route) continue;
    for (const auto& [name, addr] : route->broker_addrs) addrs.insert(addr);
  }
  return {addrs.begin(), addrs.end()};
}

vela::Status PushConsumerImpl::SendHeartbeat(bool sync) {
  v1::Header header;
  header.set_code(v1::HEARTBEAT);
  auto* hb = header.mutable_heartbeat_request();
  hb->set_client_id(instance_->client_id());
  hb->set_client_version(BuildVersionString());
  auto* consumer = hb->add_consumers();
  consumer->set_group(options_.group);
  consumer->set_model(v1::CLUSTERING);
  for (const auto& [topic, filter] : CopySubscriptions()) {
    auto* sub = consumer->add_subscriptions();
    sub->set_topic(topic);
    sub->set_filter_type(ToWire(filter.type));
    sub->set_expression(filter.expression);
  }
  vela::Status refused;
  for (const auto& addr : SubscribedBrokerAddrs()) {
    auto on_done = [addr](const Result<net::Frame>& r) {
      if (!r.ok()) ClientLogger()->warn("heartbeat to {} failed: {}", addr, r.status().ToString());
    };
    if (sync) {
      auto r = instance_->rpc().InvokeSync(addr, header, {}, config_.request_timeout_ms);
      on_done(r);
      const auto code = r.status().code();
      if (!r.ok() && refused.ok() &&
          (code == vela::StatusCode::kInvalidArgument || code == vela::StatusCode::kFailedPrecondition)) {
        refused = r.status().WithContext(fmt::format("broker {} refused the subscription", addr));
      }
    } else {
      instance_->rpc().Invoke(addr, header, {}, config_.request_timeout_ms, on_done);
    }
  }
  return refused;
}

Result<std::vector<std::string>> PushConsumerImpl::GetConsumerList(const TopicRoute& route) {
  v1::Header header;
  header.set_code(v1::GET_CONSUMER_LIST);
  header.mutable_consumer_list_request()->set_group(options_.group);
  vela::Status last = vela::Status::Unavailable("topic has no broker");
  for (const auto& [name, addr] : route.broker_addrs) {
    auto response = instance_->rpc().InvokeSync(addr, header, {}, config_.request_timeout_ms);
    if (!response.ok()) {
      last = response.status().WithContext(addr);
      continue;
    }
    const auto& ids = response->header.consumer_list_response().client_ids();
    std::vector<std::string> out(ids.begin(), ids.end());
    std::sort(out.begin(), out.end());
    return out;
  }
  return last;
}

std::string PushConsumerImpl::AddrOf(const MessageQueue& mq) {
  auto route = instance_->routes().GetCached(mq.topic);
  return route ? route->AddrOf(mq.broker_name) : std::string();
}

Result<int64_t> PushConsumerImpl::ComputeStartOffset(const MessageQueue& mq, const std::string& addr) {
  v1::Header query;
  query.set_code(v1::QUERY_CONSUMER_OFFSET);
  auto* q = query.mutable_query_offset_request();
  q->set_group(options_.group);
  q->set_topic(mq.topic);
  q->set_queue_id(mq.queue_id);
  auto committed = instance_->rpc().InvokeSync(addr, query, {}, config_.request_timeout_ms);
  if (committed.ok() && committed->header.query_offset_response().offset() >= 0) {
    return committed->header.query_offset_response().offset();
  }
  if (!committed.ok() && committed.status().code() != vela::StatusCode::kNotFound) return committed.status();
  v1::Header offsets;
  offsets.set_code(v1::GET_QUEUE_OFFSETS);
  auto* o = offsets.mutable_queue_offsets_request();
  o->set_topic(mq.topic);
  o->set_queue_id(mq.queue_id);
  if (options_.consume_from == ConsumeFrom::kTimestamp) o->set_timestamp_ms(options_.consume_from_timestamp_ms);
  VELA_ASSIGN_OR_RETURN(auto frame, instance_->rpc().InvokeSync(addr, offsets, {}, config_.request_timeout_ms));
  const auto& r = frame.header.queue_offsets_response();
  switch (options_.consume_from) {
    case ConsumeFrom::kFirst: return r.min_offset();
    case ConsumeFrom::kLast: return r.max_offset();
    case ConsumeFrom::kTimestamp: return r.offset_for_timestamp();
  }
  return r.max_offset();
}

void PushConsumerImpl::Rebalance() {
  std::lock_guard rebalance_lock(rebalance_mu_);
  if (!running_.load()) return;
  const auto subs = CopySubscriptions();
  std::set<MessageQueue> wanted;
  std::set<std::string> decided_topics;  // topics whose assignment is known this round
  bool need_heartbeat = false;
  for (const auto& [topic, filter] : subs) {
    auto route = instance_->routes().Get(topic);
    if (!route.ok()) {
      if (route.status().code() == vela::StatusCode::kNotFound) decided_topics.insert(topic);
      ClientLogger()->debug("rebalance: no route for {}: {}", topic, route.status().ToString());
      continue;
    }
    if ((*route)->read_queues.empty()) {
      decided_topics.insert(topic);
      continue;
    }
    auto ids = GetConsumerList(**route);
    if (!ids.ok()) {
      ClientLogger()->warn("rebalance: consumer list of {} failed: {}", options_.group, ids.status().ToString());
      continue;
    }
    if (!std::binary_search(ids->begin(), ids->end(), instance_->client_id())) {
      need_heartbeat = true;  // the broker does not know us yet: keep what we have
      continue;
    }
    for (auto& mq : AllocateAveragely((*route)->read_queues, *ids, instance_->client_id())) wanted.insert(mq);
    decided_topics.insert(topic);
  }
  if (need_heartbeat) (void)SendHeartbeat(/*sync=*/false);

  std::vector<std::shared_ptr<ProcessQueue>> released;
  std::vector<MessageQueue> added;
  {
    std::lock_guard lock(queues_mu_);
    for (auto it = queues_.begin(); it != queues_.end();) {
      const bool subscribed = subs.count(it->first.topic) > 0;
      if (!subscribed || (decided_topics.count(it->first.topic) && !wanted.count(it->first))) {
        released.push_back(it->second);
        it = queues_.erase(it);
      } else {
        ++it;
      }
    }
    for (const auto& mq : wanted) {
      if (!queues_.count(mq)) added.push_back(mq);
    }
  }
  for (const auto& pq : released) {
    ClientLogger()->info("{} releases {}", instance_->client_id(), pq->mq.ToString());
    ReleaseQueue(pq, /*sync=*/true);
  }
  for (const auto& mq : added) {
    std::string addr = AddrOf(mq);
    auto start = ComputeStartOffset(mq, addr);
    if (!start.ok()) {
      ClientLogger()->warn("cannot start {}: {}", mq.ToString(), start.status().ToString());
      continue;  // the next rebalance tries again
    }
    auto pq = std::make_shared<ProcessQueue>(mq, *start);
    {
      std::lock_guard lock(queues_mu_);
      queues_[mq] = pq;
    }
    ClientLogger()->info("{} takes {} from offset {}", instance_->client_id(), mq.ToString(), *start);
    PullNext(pq);
  }
}

void PushConsumerImpl::ReleaseQueue(const std::shared_ptr<ProcessQueue>& pq, bool sync) {
  pq->dropped.store(true);
  CommitQueue(pq, sync);
}

void PushConsumerImpl::PullNext(const std::shared_ptr<ProcessQueue>& pq) {
  if (!running_.load() || pq->dropped.load()) return;
  int64_t offset = 0;
  int64_t commit = 0;
  {
    std::lock_guard lock(pq->mu);
    if (pq->tracker.count() >= options_.max_cached_messages_per_queue ||
        pq->tracker.bytes() >= options_.max_cached_bytes_per_queue) {
      instance_->ScheduleAfter(kFlowControlDelayMs, [this, pq] { PullNext(pq); });
      return;
    }
    offset = pq->tracker.next_offset();
    const int64_t committable = pq->tracker.CommittableOffset();
    if (options_.commit_offsets && committable > pq->last_committed) commit = committable;
  }
  FilterExpression filter;
  {
    std::lock_guard lock(sub_mu_);
    auto it = subscriptions_.find(pq->mq.topic);
    if (it == subscriptions_.end()) return;  // unsubscribed: the next rebalance releases it
    filter = it->second;
  }
  std::string addr = AddrOf(pq->mq);
  if (addr.empty()) {
    instance_->ScheduleAfter(kPullRetryDelayMs, [this, pq] {
      (void)instance_->routes().Refresh(pq->mq.topic);
      PullNext(pq);
    });
    return;
  }
  v1::Header header;
  header.set_code(v1::PULL_MESSAGE);
  auto* request = header.mutable_pull_request();
  request->set_group(options_.group);
  request->set_topic(pq->mq.topic);
  request->set_queue_id(pq->mq.queue_id);
  request->set_queue_offset(offset);
  request->set_max_messages(options_.pull_batch_size);
  request->set_max_bytes(options_.pull_max_bytes);
  request->set_suspend_timeout_ms(options_.long_poll_ms);
  request->set_filter_type(ToWire(filter.type));
  request->set_expression(filter.expression);
  request->set_commit_offset(commit);
  instance_->rpc().Invoke(addr, std::move(header), {}, options_.long_poll_ms + 5000,
                          [this, pq, addr, commit](Result<net::Frame> response) {
                            if (response.ok() && commit > 0) {
                              std::lock_guard lock(pq->mu);
                              pq->last_committed = std::max(pq->last_committed, commit);
                            }
                            OnPullResult(pq, addr, std::move(response));
                          });
}

void PushConsumerImpl::OnPullResult(const std::shared_ptr<ProcessQueue>& pq, const std::string& addr,
                                    Result<net::Frame> response) {
  // On an io thread: decoding a batch is cheap; the listener work goes to the consume pool.
  if (!running_.load() || pq->dropped.load()) return;
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
    instance_->ScheduleAfter(delay, [this, pq, topic] {
      (void)instance_->routes().Refresh(topic);
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
        instance_->ScheduleAfter(kPullRetryDelayMs, [this, pq] { PullNext(pq); });
        return;
      }
      {
        std::lock_guard lock(pq->mu);
        for (const auto& m : *messages) pq->tracker.Add(m.queue_offset, m.body.size());
        pq->tracker.AdvanceTo(r.next_offset());
      }
      SubmitConsume(pq, std::move(messages).value());
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

void PushConsumerImpl::SubmitConsume(const std::shared_ptr<ProcessQueue>& pq, std::vector<MessageView> messages) {
  if (options_.consume_threads == 0) {  // asked for: run the listener here, on the network thread
    for (auto& message : messages) ConsumeOne(pq, message);
    return;
  }
  // One task per share of the batch, a share per listener thread: the messages of one pull still
  // spread over every thread, for a fraction of the hand-offs of a task per message.
  const size_t threads = options_.consume_threads;
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
    asio::post(consume_pool_, [this, pq, part = std::move(part)]() mutable {
      for (auto& message : part) ConsumeOne(pq, message);
    });
  }
}

void PushConsumerImpl::ConsumeOne(const std::shared_ptr<ProcessQueue>& pq, MessageView& message) {
  if (!running_.load() || pq->dropped.load()) return;
  ConsumeResult result = ConsumeResult::kFailure;
  try {
    result = listener_(message);
  } catch (const std::exception& e) {
    ClientLogger()->error("listener threw on {}: {}", message.msg_id, e.what());
  } catch (...) {
    ClientLogger()->error("listener threw on {}", message.msg_id);
  }
  if (result == ConsumeResult::kSuccess) {
    std::lock_guard lock(pq->mu);
    pq->tracker.Remove(message.queue_offset);
    return;
  }
  const int64_t delay = failure_policy_->RedeliveryDelayMs(message);
  if (delay < 0) {
    std::lock_guard lock(pq->mu);
    pq->tracker.Remove(message.queue_offset);
    return;
  }
  message.reconsume_times++;
  instance_->ScheduleAfter(delay, [this, pq, message = std::move(message)]() mutable {
    std::vector<MessageView> again;
    again.push_back(std::move(message));
    SubmitConsume(pq, std::move(again));
  });
}

void PushConsumerImpl::CommitQueue(const std::shared_ptr<ProcessQueue>& pq, bool sync) {
  if (!options_.commit_offsets) return;
  int64_t offset = 0;
  {
    std::lock_guard lock(pq->mu);
    offset = pq->tracker.CommittableOffset();
    if (offset <= pq->last_committed) return;
  }
  std::string addr = AddrOf(pq->mq);
  if (addr.empty()) return;
  v1::Header header;
  header.set_code(v1::UPDATE_CONSUMER_OFFSET);
  auto* u = header.mutable_update_offset_request();
  u->set_group(options_.group);
  u->set_topic(pq->mq.topic);
  u->set_queue_id(pq->mq.queue_id);
  u->set_offset(offset);
  auto on_done = [pq, offset, addr](const Result<net::Frame>& r) {
    if (!r.ok()) {
      ClientLogger()->warn("commit of {} at {} to {} failed: {}", pq->mq.ToString(), offset, addr,
                           r.status().ToString());
      return;
    }
    std::lock_guard lock(pq->mu);
    pq->last_committed = std::max(pq->last_committed, offset);
  };
  if (sync) {
    on_done(instance_->rpc().InvokeSync(addr, std::move(header), {}, config_.request_timeout_ms));
  } else {
    instance_->rpc().Invoke(addr, std::move(header), {}, config_.request_timeout_ms, on_done);
  }
}

void PushConsumerImpl::CommitAll(bool sync) {
  std::vector<std::shared_ptr<ProcessQueue>> queues;
  {
    std::lock_guard lock(queues_mu_);
    for (const auto& [mq, pq] : queues_) queues.push_back(pq);
  }
  for (const auto& pq : queues) CommitQueue(pq, sync);
}

void PushConsumerImpl::Shutdown() {
  if (shut_down_.exchange(true)) return;
  if (!instance_) return;
  running_.store(false);
  consume_pool_.join();  // listeners in progress finish; queued tasks see running_ == false
  {
    std::lock_guard rebalance_lock(rebalance_mu_);
    CommitAll(/*sync=*/true);
    std::lock_guard lock(queues_mu_);
    for (auto& [mq, pq] : queues_) pq->dropped.store(true);
  }
  v1::Header header;
  header.set_code(v1::UNREGISTER_CLIENT);
  header.mutable_unregister_client_request()->set_client_id(instance_->client_id());
  header.mutable_unregister_client_request()->set_consumer_group(options_.group);
  for (const auto& addr : SubscribedBrokerAddrs()) {
    (void)instance_->rpc().InvokeSync(addr, header, {}, std::min<int64_t>(config_.request_timeout_ms, 1000));
  }
  instance_->Shutdown();
}

}  // namespace vela::client
