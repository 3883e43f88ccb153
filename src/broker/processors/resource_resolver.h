#pragma once

#include <string>
#include <string_view>

#include "broker/broker_options.h"
#include "broker/namesrv_registrar.h"
#include "broker/topic_manager.h"
#include "common/result.h"

namespace vela::broker {

// ResourceResolver is the one place where a processor turns a topic or group name from a client
// into its config: it applies the access rules for reserved (system) topics and the
// auto-creation settings (autoCreateTopicEnable, autoCreateSubscriptionGroup and its limit),
// and logs every creation. Thread-safe; the references must outlive it.
class ResourceResolver {
 public:
  ResourceResolver(const BrokerOptions& options, const std::string& broker_addr, TopicManager& topics,
                   NamesrvRegistrar& registrar);

  // The topic if it exists (auto-created when the broker allows it and the name is a user topic
  // name), or NotFound with SubCode::kTopicNotFound. A write to a reserved (system) topic is
  // PermissionDenied, whether it exists or not.
  Result<store::TopicConfig> ResolveTopic(const std::string& topic, bool for_write);
  // The group's config, auto-created (and logged, with `peer`) when autoCreateSubscriptionGroup is
  // on and the broker holds fewer than autoCreateSubscriptionGroupLimit groups; else NotFound with
  // SubCode::kGroupNotFound, or ResourceExhausted at the limit.
  Result<store::GroupConfig> ResolveGroup(const std::string& group, std::string_view peer);
  // NotFound with SubCode::kTopicNotFound, naming this broker.
  Status TopicMissing(const std::string& topic) const;
  // NotFound with SubCode::kGroupNotFound, naming this broker.
  Status GroupMissing(const std::string& group) const;

 private:
  const BrokerOptions& options_;
  const std::string& broker_addr_;
  TopicManager& topics_;
  NamesrvRegistrar& registrar_;
};

}  // namespace vela::broker
