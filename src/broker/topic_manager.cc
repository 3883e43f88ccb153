#include "broker/topic_manager.h"

#include <mutex>

#include <fmt/format.h>

#include "broker/logger.h"
#include "common/validation.h"

namespace vela::broker {

TopicManager::TopicManager(store::MetaStore& meta) : meta_(meta) {
  for (auto& t : meta_.ListTopics()) topics_[t.name] = t;
  for (auto& g : meta_.ListGroups()) groups_[g.name] = g;
}

std::optional<store::TopicConfig> TopicManager::GetTopic(const std::string& name) const {
  std::shared_lock lock(mu_);
  auto it = topics_.find(name);
  if (it == topics_.end()) return std::nullopt;
  return it->second;
}

namespace {
// Queue counts and message type: what every topic, user or system, must satisfy.
Status CheckTopicShape(const store::TopicConfig& topic) {
  if (topic.read_queues < 1 || topic.read_queues > 1024 || topic.write_queues < 1 || topic.write_queues > 1024) {
    return Status::InvalidArgument(fmt::format("topic {}: queue counts must be 1..1024", topic.name));
  }
  if (topic.message_type < 0 || topic.message_type > 3) {
    return Status::InvalidArgument(fmt::format("topic {}: unknown message type {}", topic.name, topic.message_type));
  }
  return Status::OK();
}
}  // namespace

Status TopicManager::CheckTopic(const store::TopicConfig& topic) {
  VELA_RETURN_IF_ERROR(ValidateUserTopicName(topic.name));
  return CheckTopicShape(topic);
}

Status TopicManager::PutTopic(const store::TopicConfig& topic) {
  std::unique_lock lock(mu_);
  VELA_RETURN_IF_ERROR(meta_.PutTopic(topic));
  topics_[topic.name] = topic;
  topic_generation_.fetch_add(1, std::memory_order_release);
  return Status::OK();
}

Status TopicManager::UpsertTopic(const store::TopicConfig& topic) {
  VELA_RETURN_IF_ERROR(CheckTopic(topic));
  return PutTopic(topic);
}

Status TopicManager::UpsertSystemTopic(const store::TopicConfig& topic) {
  VELA_RETURN_IF_ERROR(ValidateSystemTopicName(topic.name));
  VELA_RETURN_IF_ERROR(CheckTopicShape(topic));
  return PutTopic(topic);
}

Result<bool> TopicManager::EnsureSystemTopic(std::string_view name, int32_t perm) {
  store::TopicConfig t;
  t.name = std::string(name);
  if (GetTopic(t.name)) return false;
  t.read_queues = t.write_queues = 1;
  t.perm = perm;
  VELA_RETURN_IF_ERROR(UpsertSystemTopic(t));
  BrokerLogger()->info("system topic {} created", t.name);
  return true;
}

Status TopicManager::DeleteTopic(const std::string& name) {
  std::unique_lock lock(mu_);
  if (topics_.find(name) == topics_.end()) {
    return Status::NotFound(fmt::format("topic {} does not exist", name), SubCode::kTopicNotFound);
  }
  VELA_RETURN_IF_ERROR(meta_.DeleteTopic(name));
  topics_.erase(name);
  topic_generation_.fetch_add(1, std::memory_order_release);
  return Status::OK();
}

std::vector<store::TopicConfig> TopicManager::ListTopics() const {
  std::shared_lock lock(mu_);
  std::vector<store::TopicConfig> out;
  for (const auto& [name, t] : topics_) out.push_back(t);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

std::optional<store::GroupConfig> TopicManager::GetGroup(const std::string& name) const {
  std::shared_lock lock(mu_);
  auto it = groups_.find(name);
  if (it == groups_.end()) return std::nullopt;
  return it->second;
}

Status TopicManager::CheckGroup(const store::GroupConfig& group) {
  VELA_RETURN_IF_ERROR(ValidateGroupName(group.name));
  if (group.max_retries < 0 || group.max_retries > 64) {
    return Status::InvalidArgument(fmt::format("group {}: max retries must be 0..64", group.name));
  }
  return Status::OK();
}

Status TopicManager::UpsertGroup(const store::GroupConfig& group) {
  VELA_RETURN_IF_ERROR(CheckGroup(group));
  std::unique_lock lock(mu_);
  VELA_RETURN_IF_ERROR(meta_.PutGroup(group));
  groups_[group.name] = group;
  return Status::OK();
}

Result<bool> TopicManager::CreateGroupIfAbsent(const store::GroupConfig& group, size_t limit) {
  VELA_RETURN_IF_ERROR(CheckGroup(group));
  std::unique_lock lock(mu_);
  if (groups_.count(group.name) != 0) return false;
  if (groups_.size() >= limit) {
    return Status::ResourceExhausted(
        fmt::format("group {} does not exist and the broker already holds {} groups, the limit for automatic "
                    "creation (autoCreateSubscriptionGroupLimit); create it explicitly (vela-admin group create)",
                    group.name, groups_.size()));
  }
  VELA_RETURN_IF_ERROR(meta_.PutGroup(group));
  groups_[group.name] = group;
  return true;
}

size_t TopicManager::group_count() const {
  std::shared_lock lock(mu_);
  return groups_.size();
}

std::vector<store::GroupConfig> TopicManager::ListGroups() const {
  std::shared_lock lock(mu_);
  std::vector<store::GroupConfig> out;
  for (const auto& [name, g] : groups_) out.push_back(g);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

Status TopicManager::UpsertTopics(const std::vector<store::TopicConfig>& topics) {
  for (const auto& t : topics) VELA_RETURN_IF_ERROR(CheckTopic(t));
  std::unique_lock lock(mu_);
  VELA_RETURN_IF_ERROR(meta_.PutTopics(topics));
  for (const auto& t : topics) topics_[t.name] = t;
  topic_generation_.fetch_add(1, std::memory_order_release);
  return Status::OK();
}

Status TopicManager::UpsertGroups(const std::vector<store::GroupConfig>& groups) {
  for (const auto& g : groups) VELA_RETURN_IF_ERROR(CheckGroup(g));
  std::unique_lock lock(mu_);
  VELA_RETURN_IF_ERROR(meta_.PutGroups(groups));
  for (const auto& g : groups) groups_[g.name] = g;
  return Status::OK();
}

}  // namespace vela::broker
