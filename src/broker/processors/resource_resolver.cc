#include "broker/processors/resource_resolver.h"

#include <atomic>

#include <fmt/format.h>

#include "broker/logger.h"
#include "common/clock.h"
#include "common/validation.h"

namespace vela::broker {

ResourceResolver::ResourceResolver(const BrokerOptions& options, const std::string& broker_addr,
                                   TopicManager& topics, NamesrvRegistrar& registrar)
    : options_(options), broker_addr_(broker_addr), topics_(topics), registrar_(registrar) {}

Status ResourceResolver::TopicMissing(const std::string& topic) const {
  return Status::NotFound(fmt::format("topic {} does not exist on broker {}", topic, broker_addr_),
                          SubCode::kTopicNotFound);
}

Status ResourceResolver::GroupMissing(const std::string& group) const {
  return Status::NotFound(fmt::format("group {} does not exist on broker {}", group, broker_addr_),
                          SubCode::kGroupNotFound);
}

Result<store::TopicConfig> ResourceResolver::ResolveTopic(const std::string& topic, bool for_write) {
  // System topics are written by the broker's own services only (DESIGN.md §7.1).
  if (for_write && IsReservedTopicName(topic)) {
    return Status::PermissionDenied(
        fmt::format("topic {} is a reserved system topic: clients cannot send to it directly", topic));
  }
  if (auto t = topics_.GetTopic(topic)) {
    if (for_write && (t->perm & 2) == 0) return Status::PermissionDenied(fmt::format("topic {} is not writable", topic));
    if (!for_write && (t->perm & 4) == 0) return Status::PermissionDenied(fmt::format("topic {} is not readable", topic));
    return *t;
  }
  VELA_RETURN_IF_ERROR(ValidateUserTopicName(topic));
  if (!options_.auto_create_topic) return TopicMissing(topic);
  store::TopicConfig config;
  config.name = topic;
  config.read_queues = config.write_queues = options_.default_topic_queues;
  VELA_RETURN_IF_ERROR(topics_.UpsertTopic(config));
  BrokerLogger()->info("topic {} auto-created with {} queues", topic, config.write_queues);
  registrar_.Trigger();
  return config;
}

Result<store::GroupConfig> ResourceResolver::ResolveGroup(const std::string& group, std::string_view peer) {
  if (auto g = topics_.GetGroup(group)) return *g;
  VELA_RETURN_IF_ERROR(ValidateGroupName(group));
  if (!options_.auto_create_group) {
    return Status::NotFound(fmt::format("group {} does not exist on broker {} and autoCreateSubscriptionGroup is off: "
                                        "create it first (vela-admin group create {})",
                                        group, broker_addr_, group),
                            SubCode::kGroupNotFound);
  }
  store::GroupConfig config;
  config.name = group;
  auto created = topics_.CreateGroupIfAbsent(config, options_.auto_create_group_limit);
  if (!created.ok()) {
    // A client may ask for many groups: at most one line a second, with how many were not logged.
    static std::atomic<int64_t> last_log_ms{0};
    static std::atomic<int64_t> unlogged{0};
    const int64_t now = NowEpochMs();
    int64_t last = last_log_ms.load(std::memory_order_relaxed);
    if (now - last >= 1000 && last_log_ms.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
      BrokerLogger()->warn("group {} not auto-created for {}: {} ({} more refusals since the last line)", group, peer,
                           created.status().ToString(), unlogged.exchange(0, std::memory_order_relaxed));
    } else {
      unlogged.fetch_add(1, std::memory_order_relaxed);
    }
    return created.status();
  }
  if (*created) {
    BrokerLogger()->info("group {} auto-created for {} ({} groups on this broker)", group, peer,
                         topics_.group_count());
  }
  auto stored = topics_.GetGroup(group);  // when another request created it first, its config
  return stored ? *stored : config;
}

}  // namespace vela::broker
