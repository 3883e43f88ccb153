#include "client/push_consumer_impl.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "client/logger.h"
#include "client/consume_service_concurrent.h"
#include "client/consume_service_orderly.h"
#include "client/status_convert.h"
#include "common/build_info.h"
#include "common/validation.h"
#include "filter/sql92.h"
#include "filter/tag_filter.h"

namespace vela::client {

namespace {

constexpr int64_t kLockRoundIntervalMs = 1000;

}  // namespace

PushConsumerImpl::PushConsumerImpl(ClientConfig config, PushConsumerOptions options, Subscriptions subscriptions,
                                   MessageListener listener)
    : ctx_(std::move(config), std::move(options), std::move(listener), std::move(subscriptions)) {}

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

vela::Status PushConsumerImpl::ValidateOptions(const PushConsumerOptions& o) {
  auto bad = [](std::string_view what) { return vela::Status::InvalidArgument(what); };
  if (o.model != MessageModel::kClustering && o.model != MessageModel::kBroadcasting) {
    return bad("unknown message model");
  }
  if (o.consume_from != ConsumeFrom::kFirst && o.consume_from != ConsumeFrom::kLast &&
      o.consume_from != ConsumeFrom::kTimestamp) {
    return bad("unknown consume-from position");
  }
  if (o.pull_batch_size <= 0) return bad("pull batch size must be positive");
  if (o.pull_max_bytes <= 0) return bad("pull max bytes must be positive");
  if (o.long_poll_ms < 0) return bad("long poll time must not be negative");
  if (o.max_cached_messages_per_queue == 0 || o.max_cached_bytes_per_queue == 0) {
    return bad("the per-queue cache limits must be positive");
  }
  if (o.rebalance_interval_ms <= 0 || o.commit_interval_ms <= 0 || o.heartbeat_interval_ms <= 0) {
    return bad("rebalance, commit and heartbeat intervals must be positive");
  }
  if (o.max_reconsume_times < 0) return bad("max reconsume times must not be negative");
  if (o.suspend_current_queue_time_ms < 0) return bad("suspend current queue time must not be negative");
  if (o.lock_renew_interval_ms <= 0) return bad("lock renew interval must be positive");
  if (o.send_back_retry_delay_ms < 0) return bad("send-back retry delay must not be negative");
  return vela::Status::OK();
}

vela::Status PushConsumerImpl::Start() {
  VELA_RETURN_IF_ERROR(ValidateGroupName(ctx_.group()));
  VELA_RETURN_IF_ERROR(ValidateOptions(ctx_.options));
  if (ctx_.clustering()) {
    ctx_.SetSubscription(RetryTopicOf(ctx_.group()), FilterExpression::All());
    store_ = std::make_unique<BrokerOffsetStore>(ctx_);
  } else {
    store_ = std::make_unique<LocalFileOffsetStore>(ctx_.options.offset_store_dir, ctx_.group(),
                                                    ctx_.config.instance_name, !ctx_.options.commit_offsets);
  }
  VELA_RETURN_IF_ERROR(store_->Load());
  if (ctx_.options.orderly) {
    consume_ = std::make_unique<OrderlyConsumeService>(ctx_);
  } else {
    consume_ = std::make_unique<ConcurrentConsumeService>(ctx_);
  }
  pull_ = std::make_unique<PullService>(ctx_, *store_, *consume_);
  rebalance_ = std::make_unique<RebalanceService>(ctx_, *store_, *pull_, *consume_);

  auto instance = ClientInstance::Create(ctx_.config, [this](net::Dispatcher& dispatcher) {
    dispatcher.RegisterProcessor(v1::NOTIFY_CONSUMER_IDS_CHANGED, [this](net::RequestContext, net::Frame frame) {
      if (frame.header.consumer_ids_changed().group() != ctx_.group()) return;
      if (ctx_.running.load()) instance_->ScheduleAfter(0, [this] { Rebalance(); });
    });
  });
  if (!instance.ok()) return instance.status();
  instance_ = std::move(instance).value();
  if (tracer_) {
    tracer_->SetClientId(instance_->client_id());
    tracer_->Start();
  }
  ctx_.instance = instance_.get();
  ctx_.running.store(true);
  for (const auto& [topic, filter] : ctx_.CopySubscriptions()) {
    if (IsRetryTopic(topic)) continue;  // the broker creates it with this group's first heartbeat
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
  instance_->ScheduleEvery(ctx_.options.heartbeat_interval_ms, [this] { (void)SendHeartbeat(false); });
  instance_->ScheduleEvery(ctx_.options.rebalance_interval_ms, [this] { Rebalance(); });
  instance_->ScheduleEvery(ctx_.options.commit_interval_ms, [this] { rebalance_->CommitAll(false); });
  if (ctx_.options.orderly && ctx_.clustering()) {
    instance_->ScheduleEvery(std::min(kLockRoundIntervalMs, ctx_.options.lock_renew_interval_ms),
                             [this] { rebalance_->RenewLocks(); });
  }
  return vela::Status::OK();
}

void PushConsumerImpl::Rebalance() {
  if (rebalance_->Rebalance()) (void)SendHeartbeat(/*sync=*/false);
  // A topic without a route yet, typically the group's retry topic just created by the first
  // heartbeat: a few early rounds pick it up (otherwise the first retries of a new group waited
  // a whole rebalance interval, 5 s).
  if (rebalance_->route_missing() && early_rounds_.fetch_add(1) < kEarlyRounds && ctx_.running.load()) {
    instance_->ScheduleAfter(kEarlyRoundDelayMs, [this] { Rebalance(); });
  }
}

vela::Status PushConsumerImpl::Subscribe(const std::string& topic, const FilterExpression& filter) {
  VELA_RETURN_IF_ERROR(ValidateTopicName(topic));
  if (IsRetryTopic(topic)) {
    return vela::Status::InvalidArgument(
        fmt::format("{} is a retry topic: a clustering consumer subscribes to its group's own", topic));
  }
  Status valid = ValidateFilter(filter);
  if (!valid.ok()) return vela::Status(vela::StatusCode::kInvalidArgument, valid.message(), vela::SubCode::kBadFilter);
  ctx_.SetSubscription(topic, filter);
  if (ctx_.running.load()) {
    instance_->ScheduleAfter(0, [this] {
      (void)SendHeartbeat(/*sync=*/true);
      Rebalance();
    });
  }
  return vela::Status::OK();
}

vela::Status PushConsumerImpl::Unsubscribe(const std::string& topic) {
  if (IsRetryTopic(topic)) {
    return vela::Status::InvalidArgument(fmt::format("{} is the group's retry topic, subscribed on its own", topic));
  }
  if (!ctx_.RemoveSubscription(topic)) return vela::Status::NotFound("not subscribed to " + topic);
  if (ctx_.running.load()) {
    instance_->ScheduleAfter(0, [this] {
      (void)SendHeartbeat(/*sync=*/true);
      Rebalance();
    });
  }
  return vela::Status::OK();
}

std::vector<std::string> PushConsumerImpl::SubscribedBrokerAddrs() {
  std::set<std::string> addrs;
  for (const auto& [topic, filter] : ctx_.CopySubscriptions()) {
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
  consumer->set_group(ctx_.group());
  consumer->set_model(ctx_.clustering() ? v1::CLUSTERING : v1::BROADCASTING);
  consumer->set_orderly(ctx_.options.orderly);
  for (const auto& [topic, filter] : ctx_.CopySubscriptions()) {
    auto* sub = consumer->add_subscriptions();
    sub->set_topic(topic);
    sub->set_filter_type(FilterTypeToWire(filter.type));
    sub->set_expression(filter.expression);
  }
  vela::Status refused;
  for (const auto& addr : SubscribedBrokerAddrs()) {
    auto on_done = [addr](const Result<net::Frame>& r) {
      if (!r.ok()) ClientLogger()->warn("heartbeat to {} failed: {}", addr, r.status().ToString());
    };
    if (sync) {
      auto r = instance_->rpc().InvokeSync(addr, header, {}, ctx_.config.request_timeout_ms);
      on_done(r);
      const auto code = r.status().code();
      if (!r.ok() && refused.ok() &&
          (code == vela::StatusCode::kInvalidArgument || code == vela::StatusCode::kFailedPrecondition)) {
        refused = r.status().WithContext(fmt::format("broker {} refused the subscription", addr));
      }
    } else {
      instance_->rpc().Invoke(addr, header, {}, ctx_.config.request_timeout_ms, on_done);
    }
  }
  return refused;
}

void PushConsumerImpl::Shutdown() {
  if (shut_down_.exchange(true)) return;
  if (!instance_) return;
  rebalance_->DrainAll();  // orderly: what was pulled is finished before the final commit
  ctx_.running.store(false);
  consume_->Shutdown();  // listeners in progress finish; queued tasks see running == false
  rebalance_->ReleaseAll();  // commits (sync), unlocks (orderly), flushes the offset store
  v1::Header header;
  header.set_code(v1::UNREGISTER_CLIENT);
  header.mutable_unregister_client_request()->set_client_id(instance_->client_id());
  header.mutable_unregister_client_request()->set_consumer_group(ctx_.group());
  for (const auto& addr : SubscribedBrokerAddrs()) {
    (void)instance_->rpc().InvokeSync(addr, header, {}, std::min<int64_t>(ctx_.config.request_timeout_ms, 1000));
  }
  if (tracer_) tracer_->Stop();  // the listeners finished: writes the events still queued (bounded)
  instance_->Shutdown();
}

}  // namespace vela::client
