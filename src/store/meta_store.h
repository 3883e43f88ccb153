#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "store/offsets.h"

namespace vela::store {

// A topic as the broker keeps it: queue counts, permission, message type.
struct TopicConfig {
  std::string name;
  int32_t read_queues = 8;
  int32_t write_queues = 8;
  uint32_t perm = 6;          // 2: write, 4: read (RocketMQ's values)
  int32_t message_type = 0;   // 0 normal, 1 fifo, 2 delay, 3 transaction
};

// A subscription group as the broker keeps it.
struct GroupConfig {
  std::string name;
  bool broadcast = false;
  int32_t max_retries = 16;
  bool consume_enable = true;
};

// MetaStore is the RocksDB database in <store>/meta/, with one column family per kind of
// metadata: topics, groups, consumer offsets, the message key and id indexes, and a generic
// "state" family that broker services (transactions, timers) use for their own records.
// Writes are synchronous to RocksDB's WAL unless said otherwise. Thread-safe.
class MetaStore {
 public:
  virtual ~MetaStore() = default;

  virtual Status PutTopic(const TopicConfig& topic) = 0;
  virtual std::optional<TopicConfig> GetTopic(std::string_view name) = 0;
  virtual Status DeleteTopic(std::string_view name) = 0;
  virtual std::vector<TopicConfig> ListTopics() = 0;

  virtual Status PutGroup(const GroupConfig& group) = 0;
  virtual std::optional<GroupConfig> GetGroup(std::string_view name) = 0;
  virtual std::vector<GroupConfig> ListGroups() = 0;
  // Many at once, in one synced write (all or nothing).
  virtual Status PutTopics(const std::vector<TopicConfig>& topics) = 0;
  virtual Status PutGroups(const std::vector<GroupConfig>& groups) = 0;

  virtual Status CommitOffset(std::string_view group, std::string_view topic, uint32_t queue_id,
                              QueueOffset offset) = 0;
  // The committed offset, or nullopt when the group never committed for this queue.
  virtual std::optional<QueueOffset> QueryOffset(std::string_view group, std::string_view topic, uint32_t queue_id) = 0;
  // Every committed offset of a group: (topic, queue id) -> offset.
  virtual std::map<std::pair<std::string, uint32_t>, QueueOffset> GroupOffsets(std::string_view group) = 0;

  // Generic state for broker services, in a column family of its own.
  virtual Status PutState(std::string_view key, std::string_view value) = 0;
  virtual std::optional<std::string> GetState(std::string_view key) = 0;
  virtual Status DeleteState(std::string_view key) = 0;
  // Calls fn(key, value) for every state key starting with prefix, in key order, until fn
  // returns false.
  virtual void ScanState(std::string_view prefix,
                         const std::function<bool(std::string_view, std::string_view)>& fn) = 0;
  // As ScanState, from the first key >= start (which should begin with prefix).
  virtual void ScanStateFrom(std::string_view prefix, std::string_view start,
                             const std::function<bool(std::string_view, std::string_view)>& fn) = 0;
  // Applies puts, then deletes, of state keys atomically: all or none, even across a crash.
  // Synced to the WAL unless `sync` is false.
  struct StateBatch {
    std::vector<std::pair<std::string, std::string>> puts;
    std::vector<std::string> deletes;
    bool sync = true;
    bool empty() const { return puts.empty() && deletes.empty(); }
  };
  virtual Status WriteState(const StateBatch& batch) = 0;
};

}  // namespace vela::store
