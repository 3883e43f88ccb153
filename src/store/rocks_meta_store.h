#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "store/meta_store.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace vela::store {

// One key-index update produced by the dispatcher: a record that has keys.
struct KeyIndexEntry {
  std::string_view topic;
  std::string_view keys;  // the space-separated KEYS property, may be empty
  PhysicalOffset physical_offset;
  uint32_t size = 0;
};

// RocksMetaStore implements MetaStore over RocksDB in <root>/meta/ with the column families
// topics, groups, offsets, key_index and state (value encodings are in docs/storage-format.md),
// and adds the key index the dispatcher maintains (message ids are in MessageIdIndex).
// Metadata writes sync RocksDB's WAL; index writes are batched and not synced (SyncIndex() syncs
// the WAL before a checkpoint). Owns the DB. Thread-safe.
class RocksMetaStore final : public MetaStore {
 public:
  static Result<std::unique_ptr<RocksMetaStore>> Open(const std::string& dir, int key_index_max_per_key);
  ~RocksMetaStore() override;

  Status PutTopic(const TopicConfig& topic) override;
  std::optional<TopicConfig> GetTopic(std::string_view name) override;
  Status DeleteTopic(std::string_view name) override;
  std::vector<TopicConfig> ListTopics() override;
  Status PutGroup(const GroupConfig& group) override;
  std::optional<GroupConfig> GetGroup(std::string_view name) override;
  std::vector<GroupConfig> ListGroups() override;
  Status PutTopics(const std::vector<TopicConfig>& topics) override;
  Status PutGroups(const std::vector<GroupConfig>& groups) override;
  Status CommitOffset(std::string_view group, std::string_view topic, uint32_t queue_id, QueueOffset offset) override;
  std::optional<QueueOffset> QueryOffset(std::string_view group, std::string_view topic, uint32_t queue_id) override;
  std::map<std::pair<std::string, uint32_t>, QueueOffset> GroupOffsets(std::string_view group) override;
  Status PutState(std::string_view key, std::string_view value) override;
  std::optional<std::string> GetState(std::string_view key) override;
  Status DeleteState(std::string_view key) override;
  void ScanState(std::string_view prefix, const std::function<bool(std::string_view, std::string_view)>& fn) override;
  void ScanStateFrom(std::string_view prefix, std::string_view start,
                     const std::function<bool(std::string_view, std::string_view)>& fn) override;
  Status WriteState(const StateBatch& batch) override;

  // Indexes a batch of records in one write (topic + key -> offset), then trims each touched key
  // to the newest key_index_max_per_key entries. Idempotent.
  Status WriteKeyIndex(const std::vector<KeyIndexEntry>& entries);
  // Physical offsets of the newest records of (topic, key), newest first.
  std::vector<PhysicalOffset> LookupKey(std::string_view topic, std::string_view key, int max_results);
  // Makes index writes durable (syncs the WAL).
  Status SyncIndex();

 private:
  RocksMetaStore() = default;
  enum Cf { kTopics = 0, kGroups, kOffsets, kRetiredMsgId, kKey, kState, kNumCf };
  Status Put(Cf cf, std::string_view key, std::string_view value);
  std::optional<std::string> Get(Cf cf, std::string_view key);
  // Calls fn for the keys of cf that start with prefix, from `start` (empty: from prefix), until fn returns false.
  void Scan(Cf cf, std::string_view prefix, const std::function<bool(std::string_view, std::string_view)>& fn,
            std::string_view start = {});

  int key_index_max_per_key_ = 64;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs_;  // kNumCf handles, plus default at the end
};

}  // namespace vela::store
