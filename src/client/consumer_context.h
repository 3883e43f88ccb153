#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "client/client_instance.h"
#include "client/route.h"
#include "vela/consumer.h"
#include "vela/v1/vela.pb.h"

namespace vela::client {

// The retry topic of a consumer group: failed messages come back to the group through it.
inline std::string RetryTopicOf(const std::string& group) { return "%RETRY%" + group; }
inline bool IsRetryTopic(const std::string& topic) { return topic.rfind("%RETRY%", 0) == 0; }

// The protocol's name for a subscription's filter language.
inline v1::FilterType FilterTypeToWire(FilterExpression::Type type) {
  return type == FilterExpression::Type::kSql92 ? v1::FILTER_SQL92 : v1::FILTER_TAG;
}

// ConsumerContext is what the parts of one push consumer share (rebalance, pull service, consume
// service, offset store): the settings, the listener, the client instance, the subscriptions and
// the running flag. Owned by PushConsumerImpl, which outlives every part. Thread-safe: the
// settings are fixed after construction, the subscriptions are guarded by their mutex.
class ConsumerContext {
 public:
  using Subscriptions = std::map<std::string, FilterExpression>;

  ConsumerContext(ClientConfig config_in, PushConsumerOptions options_in, MessageListener listener_in,
                  Subscriptions subscriptions)
      : config(std::move(config_in)),
        options(std::move(options_in)),
        listener(std::move(listener_in)),
        subscriptions_(std::move(subscriptions)) {}

  const ClientConfig config;
  const PushConsumerOptions options;
  const MessageListener listener;
  ClientInstance* instance = nullptr;  // set once at Start, before any part runs
  std::atomic<bool> running{false};

  bool clustering() const { return options.model == MessageModel::kClustering; }
  const std::string& group() const { return options.group; }

  Subscriptions CopySubscriptions() const {
    std::lock_guard lock(sub_mu_);
    return subscriptions_;
  }
  std::optional<FilterExpression> FilterOf(const std::string& topic) const {
    std::lock_guard lock(sub_mu_);
    auto it = subscriptions_.find(topic);
    if (it == subscriptions_.end()) return std::nullopt;
    return it->second;
  }
  void SetSubscription(const std::string& topic, const FilterExpression& filter) {
    std::lock_guard lock(sub_mu_);
    subscriptions_[topic] = filter;
  }
  bool RemoveSubscription(const std::string& topic) {
    std::lock_guard lock(sub_mu_);
    return subscriptions_.erase(topic) > 0;
  }

  // The address of the broker serving `mq` (cached route), "" when unknown.
  std::string AddrOf(const MessageQueue& mq) const {
    auto route = instance->routes().GetCached(mq.topic);
    return route ? route->AddrOf(mq.broker_name) : std::string();
  }

 private:
  mutable std::mutex sub_mu_;
  Subscriptions subscriptions_;  // GUARDED_BY(sub_mu_)
};

}  // namespace vela::client
