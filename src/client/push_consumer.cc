// The public PushConsumer and its builder (include/vela/consumer.h), over PushConsumerImpl.
#include "client/push_consumer_impl.h"
#include "client/client_logging.h"
#include "client/status_convert.h"
#include "client/trace_dispatcher.h"
#include "common/validation.h"

namespace vela::client {

PushConsumer::PushConsumer(std::unique_ptr<PushConsumerImpl> impl) : impl_(std::move(impl)) {}
PushConsumer::~PushConsumer() { Shutdown(); }

Status PushConsumer::Subscribe(const std::string& topic, const FilterExpression& filter) {
  Status valid = PushConsumerImpl::ValidateFilter(filter);
  if (!valid.ok()) return valid;
  return ToPublic(impl_->Subscribe(topic, filter));
}

Status PushConsumer::Unsubscribe(const std::string& topic) { return ToPublic(impl_->Unsubscribe(topic)); }

void PushConsumer::Shutdown() {
  if (impl_) impl_->Shutdown();
}

const std::string& PushConsumer::client_id() const { return impl_->client_id(); }
const std::string& PushConsumer::group() const { return impl_->group(); }
uint64_t PushConsumer::trace_dropped() const { return impl_->trace_dropped(); }

PushConsumerBuilder& PushConsumerBuilder::SetClientConfig(ClientConfig config) {
  std::string namesrv = config_.namesrv_addr;
  config_ = std::move(config);
  if (config_.namesrv_addr.empty()) config_.namesrv_addr = namesrv;
  return *this;
}
PushConsumerBuilder& PushConsumerBuilder::SetNamesrvAddr(std::string addrs) {
  config_.namesrv_addr = std::move(addrs);
  return *this;
}
PushConsumerBuilder& PushConsumerBuilder::SetGroup(std::string group) {
  options_.group = std::move(group);
  return *this;
}
PushConsumerBuilder& PushConsumerBuilder::Subscribe(std::string topic, FilterExpression filter) {
  subscriptions_.emplace_back(std::move(topic), std::move(filter));
  return *this;
}
PushConsumerBuilder& PushConsumerBuilder::SetListener(MessageListener listener) {
  listener_ = std::move(listener);
  return *this;
}
PushConsumerBuilder& PushConsumerBuilder::SetConsumeThreads(size_t threads) {
  options_.consume_threads = threads;
  return *this;
}
PushConsumerBuilder& PushConsumerBuilder::SetConsumeFrom(ConsumeFrom from, int64_t timestamp_ms) {
  options_.consume_from = from;
  options_.consume_from_timestamp_ms = timestamp_ms;
  return *this;
}
PushConsumerBuilder& PushConsumerBuilder::SetMaxCachedMessagesPerQueue(size_t count) {
  options_.max_cached_messages_per_queue = count;
  return *this;
}
PushConsumerBuilder& PushConsumerBuilder::SetMaxCachedBytesPerQueue(size_t bytes) {
  options_.max_cached_bytes_per_queue = bytes;
  return *this;
}
PushConsumerBuilder& PushConsumerBuilder::SetPullBatchSize(int messages) {
  options_.pull_batch_size = messages;
  return *this;
}
PushConsumerBuilder& PushConsumerBuilder::SetMessageModel(MessageModel model) {
  options_.model = model;
  return *this;
}
PushConsumerBuilder& PushConsumerBuilder::SetOrderly(bool orderly) {
  options_.orderly = orderly;
  return *this;
}
PushConsumerBuilder& PushConsumerBuilder::SetOptions(PushConsumerOptions options) {
  std::string group = options_.group;
  options_ = std::move(options);
  if (options_.group.empty()) options_.group = group;
  return *this;
}

PushConsumerBuilder& PushConsumerBuilder::SetLogLevel(std::string level) {
  config_.log_level = std::move(level);
  return *this;
}
PushConsumerBuilder& PushConsumerBuilder::SetLogFile(std::string path) {
  config_.log_file = std::move(path);
  return *this;
}
PushConsumerBuilder& PushConsumerBuilder::EnableTrace() {
  trace_ = true;
  return *this;
}

StatusOr<std::unique_ptr<PushConsumer>> PushConsumerBuilder::Build() {
  if (options_.group.empty()) return Status(StatusCode::kInvalidArgument, "a consumer group is required");
  if (auto logging = ApplyClientLogging(config_); !logging.ok()) return ToPublic(logging);
  auto group_ok = ValidateGroupName(options_.group);
  if (!group_ok.ok()) return ToPublic(group_ok);
  if (!listener_) return Status(StatusCode::kInvalidArgument, "a message listener is required");
  if (subscriptions_.empty()) return Status(StatusCode::kInvalidArgument, "subscribe to at least one topic");
  if (auto options_ok = PushConsumerImpl::ValidateOptions(options_); !options_ok.ok()) return ToPublic(options_ok);
  PushConsumerImpl::Subscriptions subs;
  for (const auto& [topic, filter] : subscriptions_) {
    auto topic_ok = ValidateTopicName(topic);
    if (!topic_ok.ok()) return ToPublic(topic_ok);
    if (IsRetryTopic(topic)) {
      return Status(StatusCode::kInvalidArgument,
                    topic + " is a retry topic: a clustering consumer subscribes to its group's own");
    }
    Status valid = PushConsumerImpl::ValidateFilter(filter);
    if (!valid.ok()) return valid;
    subs[topic] = filter;
  }
  std::shared_ptr<TraceDispatcher> tracer;
  MessageListener listener = listener_;
  if (trace_) {
    tracer = std::make_shared<TraceDispatcher>();
    listener = TracingListener(tracer, options_.group, std::move(listener));
  }
  auto impl = std::make_unique<PushConsumerImpl>(config_, options_, std::move(subs), std::move(listener));
  if (tracer) impl->AttachTracer(std::move(tracer));
  auto status = impl->Start();
  if (!status.ok()) return ToPublic(status);
  return std::unique_ptr<PushConsumer>(new PushConsumer(std::move(impl)));
}

}  // namespace vela::client
