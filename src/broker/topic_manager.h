#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "store/meta_store.h"

namespace vela::broker {

// TopicManager is the broker's view of its topics and subscription groups: an in-memory cache in
// front of the store's MetaStore, which persists every change before the cache sees it.
// Thread-safe; lookups take a shared lock only.
class TopicManager {
 public:
  // `meta` must outlive this object.
  explicit TopicManager(store::MetaStore& meta);

  std::optional<store::TopicConfig> GetTopic(const std::string& name) const;
  // Creates or updates a user topic (a name passing ValidateUserTopicName: never a reserved system
  // name, never '%'; 1..1024 queues). Every client-driven creation goes through here.
  Status UpsertTopic(const store::TopicConfig& topic);
  // The internal path for the broker's own services: creates or updates a reserved system topic
  // (ValidateSystemTopicName). Never reachable from a client request.
  Status UpsertSystemTopic(const store::TopicConfig& topic);
  // The broker's services' one-queue system topics (timer, transaction, retry, dead-letter, trace
  // topics): creates `name` with one read and write queue and `perm` unless it exists, and logs
  // it. Returns whether it was created now. Callers serialize their own calls for one name.
  Result<bool> EnsureSystemTopic(std::string_view name, int32_t perm);
  Status DeleteTopic(const std::string& name);
  std::vector<store::TopicConfig> ListTopics() const;
  // Changes whenever the topic table changes (a topic created, updated or deleted), so that a
  // reader can tell "unchanged" without listing 100,000 topics.
  uint64_t topic_generation() const { return topic_generation_.load(std::memory_order_acquire); }
  // Creates or updates many user topics in one synced metadata write: all valid, or none written.
  Status UpsertTopics(const std::vector<store::TopicConfig>& topics);

  std::optional<store::GroupConfig> GetGroup(const std::string& name) const;
  Status UpsertGroup(const store::GroupConfig& group);
  // Creates `group` unless it exists (true when created). Refuses with ResourceExhausted when the
  // broker already holds `limit` groups; the check and the creation are atomic.
  Result<bool> CreateGroupIfAbsent(const store::GroupConfig& group, size_t limit);
  std::vector<store::GroupConfig> ListGroups() const;
  size_t group_count() const;
  // Creates or updates many groups in one synced metadata write: all valid, or none written.
  Status UpsertGroups(const std::vector<store::GroupConfig>& groups);

  // The checks every client-driven topic / group creation passes (a user topic name: never a
  // reserved system name).
  static Status CheckTopic(const store::TopicConfig& topic);
  static Status CheckGroup(const store::GroupConfig& group);

 private:
  Status PutTopic(const store::TopicConfig& topic);  // stores a checked topic

  store::MetaStore& meta_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, store::TopicConfig> topics_;  // GUARDED_BY(mu_)
  std::unordered_map<std::string, store::GroupConfig> groups_;  // GUARDED_BY(mu_)
  std::atomic<uint64_t> topic_generation_{1};
};

}  // namespace vela::broker
