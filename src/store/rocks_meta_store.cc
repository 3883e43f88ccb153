#include "store/rocks_meta_store.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "common/coding.h"
#include "common/message_record.h"

namespace vela::store {

namespace {

// "msgid_index" is no longer written (ids live in MessageIdIndex); it is still listed because
// RocksDB opens a store only with all of its column families named.
const char* const kCfNames[] = {"topics", "groups", "offsets", "msgid_index", "key_index", "state"};

// The one conversion from rocksdb::Status to vela::Status.
Status FromRocks(const rocksdb::Status& s, std::string_view context) {
  if (s.ok()) return Status::OK();
  const std::string msg = fmt::format("rocksdb {}: {}", context, s.ToString());
  if (s.IsNotFound()) return Status::NotFound(msg);
  if (s.IsCorruption()) return Status::Corruption(msg);
  if (s.IsNoSpace()) return Status::ResourceExhausted("disk full: " + msg, SubCode::kNoSpace);
  if (s.IsIOError()) return Status::IOError(msg);
  if (s.IsInvalidArgument()) return Status::InvalidArgument(msg);
  if (s.IsBusy() || s.IsTimedOut() || s.IsTryAgain()) return Status::Unavailable(msg);
  return Status::Internal(msg);
}

using coding::AppendBigEndian64;
using coding::GetBigEndian64;

std::string OffsetKey(std::string_view group, std::string_view topic, uint32_t queue_id) {
  std::string k(group);
  k.push_back('\0');
  k.append(topic);
  k.push_back('\0');
  char b[4];
  coding::PutBigEndian32(b, queue_id);
  k.append(b, 4);
  return k;
}

std::string KeyPrefix(std::string_view topic, std::string_view key) {
  std::string k(topic);
  k.push_back('\0');
  k.append(key);
  k.push_back('\0');
  return k;
}

constexpr uint32_t kValueVersion = 1;

}  // namespace

Result<std::unique_ptr<RocksMetaStore>> RocksMetaStore::Open(const std::string& dir, int key_index_max_per_key) {
  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.max_background_jobs = 2;
  options.keep_log_file_num = 3;
  // Memory is bounded and small: offsets are rewritten constantly under the same keys, so a large
  // memtable only holds garbage longer (64 MiB per family by default: the soak saw the broker's
  // heap climb toward it). The key index takes the most writes and gets a larger buffer; all
  // memtables together are flushed past db_write_buffer_size.
  // The state family holds the timer index: a timer's entry is written when it is sent and
  // deleted when it is delivered, often within one memtable's life, so a larger buffer there
  // turns most of them into nothing at flush instead of compaction work.
  options.db_write_buffer_size = 64 << 20;
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  for (int cf = 0; cf < kNumCf; ++cf) {
    rocksdb::ColumnFamilyOptions cf_options;
    cf_options.write_buffer_size = cf == kKey ? (16 << 20) : cf == kState ? (32 << 20) : (4 << 20);
    cf_options.max_write_buffer_number = 2;
    // Timer index keys ("timer/d/", due order) mostly arrive in order within
    // their 8-byte prefix: a per-prefix insert hint spares most of the skip list's comparisons.
    if (cf == kState) cf_options.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(8));
    descs.emplace_back(kCfNames[cf], cf_options);
  }
  descs.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());
  std::unique_ptr<RocksMetaStore> store(new RocksMetaStore());
  store->key_index_max_per_key_ = std::max(1, key_index_max_per_key);
  rocksdb::DB* db = nullptr;
  VELA_RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(options, dir, descs, &store->cfs_, &db), "open " + dir));
  store->db_.reset(db);
  return store;
}

RocksMetaStore::~RocksMetaStore() {
  if (db_) {
    for (auto* cf : cfs_) (void)db_->DestroyColumnFamilyHandle(cf);
    (void)db_->Close();
  }
}

Status RocksMetaStore::Put(Cf cf, std::string_view key, std::string_view value) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(db_->Put(wo, cfs_[cf], rocksdb::Slice(key.data(), key.size()),
                            rocksdb::Slice(value.data(), value.size())),
                   fmt::format("put {}", kCfNames[cf]));
}

std::optional<std::string> RocksMetaStore::Get(Cf cf, std::string_view key) {
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions(), cfs_[cf], rocksdb::Slice(key.data(), key.size()), &value);
  if (!s.ok()) return std::nullopt;
  return value;
}

void RocksMetaStore::Scan(Cf cf, std::string_view prefix,
                          const std::function<bool(std::string_view, std::string_view)>& fn, std::string_view start) {
  if (start.empty()) start = prefix;
  // The first key past the prefix bounds the iterator, so a scan never walks deleted keys (a
  // timer index's tombstones) beyond its range.
  std::string upper(prefix);
  while (!upper.empty() && static_cast<unsigned char>(upper.back()) == 0xff) upper.pop_back();
  if (!upper.empty()) upper.back() = static_cast<char>(static_cast<unsigned char>(upper.back()) + 1);
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions read;
  if (!upper.empty()) read.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, cfs_[cf]));
  for (it->Seek(rocksdb::Slice(start.data(), start.size())); it->Valid(); it->Next()) {
    std::string_view k(it->key().data(), it->key().size());
    if (!k.starts_with(prefix)) break;
    if (!fn(k, std::string_view(it->value().data(), it->value().size()))) break;
  }
}

namespace {
// topics value: u32 version, i32 read_queues, i32 write_queues, u32 perm, i32 message_type.
std::string EncodeTopic(const TopicConfig& t) {
  std::string v;
  coding::AppendFixed32(&v, kValueVersion);
  coding::AppendFixed32(&v, static_cast<uint32_t>(t.read_queues));
  coding::AppendFixed32(&v, static_cast<uint32_t>(t.write_queues));
  coding::AppendFixed32(&v, t.perm);
  coding::AppendFixed32(&v, static_cast<uint32_t>(t.message_type));
  return v;
}
// groups value: u32 version, u8 broadcast, i32 max_retries, u8 consume_enable.
std::string EncodeGroup(const GroupConfig& g) {
  std::string v;
  coding::AppendFixed32(&v, kValueVersion);
  v.push_back(g.broadcast ? 1 : 0);
  coding::AppendFixed32(&v, static_cast<uint32_t>(g.max_retries));
  v.push_back(g.consume_enable ? 1 : 0);
  return v;
}
}  // namespace

Status RocksMetaStore::PutTopic(const TopicConfig& t) { return Put(kTopics, t.name, EncodeTopic(t)); }

Status RocksMetaStore::PutTopics(const std::vector<TopicConfig>& topics) {
  rocksdb::WriteBatch batch;
  for (const auto& t : topics) {
    auto s = batch.Put(cfs_[kTopics], t.name, EncodeTopic(t));
    if (!s.ok()) return FromRocks(s, "batch put topics");
  }
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(db_->Write(wo, &batch), "put topics");
}

Status RocksMetaStore::PutGroups(const std::vector<GroupConfig>& groups) {
  rocksdb::WriteBatch batch;
  for (const auto& g : groups) {
    auto s = batch.Put(cfs_[kGroups], g.name, EncodeGroup(g));
    if (!s.ok()) return FromRocks(s, "batch put groups");
  }
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(db_->Write(wo, &batch), "put groups");
}

namespace {
std::optional<TopicConfig> DecodeTopic(std::string_view name, std::string_view v) {
  if (v.size() < 20) return std::nullopt;
  TopicConfig t;
  t.name = std::string(name);
  t.read_queues = static_cast<int32_t>(coding::GetFixed32(v.data() + 4));
  t.write_queues = static_cast<int32_t>(coding::GetFixed32(v.data() + 8));
  t.perm = coding::GetFixed32(v.data() + 12);
  t.message_type = static_cast<int32_t>(coding::GetFixed32(v.data() + 16));
  return t;
}
std::optional<GroupConfig> DecodeGroup(std::string_view name, std::string_view v) {
  if (v.size() < 10) return std::nullopt;
  GroupConfig g;
  g.name = std::string(name);
  g.broadcast = v[4] != 0;
  g.max_retries = static_cast<int32_t>(coding::GetFixed32(v.data() + 5));
  g.consume_enable = v[9] != 0;
  return g;
}
}  // namespace

std::optional<TopicConfig> RocksMetaStore::GetTopic(std::string_view name) {
  auto v = Get(kTopics, name);
  return v ? DecodeTopic(name, *v) : std::nullopt;
}

Status RocksMetaStore::DeleteTopic(std::string_view name) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(db_->Delete(wo, cfs_[kTopics], rocksdb::Slice(name.data(), name.size())), "delete topic");
}

std::vector<TopicConfig> RocksMetaStore::ListTopics() {
  std::vector<TopicConfig> out;
  Scan(kTopics, "", [&](std::string_view k, std::string_view v) {
    if (auto t = DecodeTopic(k, v)) out.push_back(std::move(*t));
    return true;
  });
  return out;
}

Status RocksMetaStore::PutGroup(const GroupConfig& g) { return Put(kGroups, g.name, EncodeGroup(g)); }

std::optional<GroupConfig> RocksMetaStore::GetGroup(std::string_view name) {
  auto v = Get(kGroups, name);
  return v ? DecodeGroup(name, *v) : std::nullopt;
}

std::vector<GroupConfig> RocksMetaStore::ListGroups() {
  std::vector<GroupConfig> out;
  Scan(kGroups, "", [&](std::string_view k, std::string_view v) {
    if (auto g = DecodeGroup(k, v)) out.push_back(std::move(*g));
    return true;
  });
  return out;
}

// offsets: key group 0x00 topic 0x00 u32 queue (big-endian); value i64 offset (little-endian).
Status RocksMetaStore::CommitOffset(std::string_view group, std::string_view topic, uint32_t queue_id,
                                    QueueOffset offset) {
  std::string v;
  coding::AppendFixed64(&v, static_cast<uint64_t>(offset.value()));
  rocksdb::WriteOptions wo;  // offsets are re-committed constantly; the WAL is synced by SyncIndex
  std::string k = OffsetKey(group, topic, queue_id);
  return FromRocks(db_->Put(wo, cfs_[kOffsets], k, v), "commit offset");
}

std::optional<QueueOffset> RocksMetaStore::QueryOffset(std::string_view group, std::string_view topic,
                                                       uint32_t queue_id) {
  auto v = Get(kOffsets, OffsetKey(group, topic, queue_id));
  if (!v || v->size() != 8) return std::nullopt;
  return QueueOffset(static_cast<int64_t>(coding::GetFixed64(v->data())));
}

std::map<std::pair<std::string, uint32_t>, QueueOffset> RocksMetaStore::GroupOffsets(std::string_view group) {
  std::map<std::pair<std::string, uint32_t>, QueueOffset> out;
  std::string prefix(group);
  prefix.push_back('\0');
  Scan(kOffsets, prefix, [&](std::string_view k, std::string_view v) {
    std::string_view rest = k.substr(prefix.size());
    auto sep = rest.find('\0');
    if (sep == std::string_view::npos || rest.size() != sep + 5 || v.size() != 8) return true;
    out[{std::string(rest.substr(0, sep)), coding::GetBigEndian32(rest.data() + sep + 1)}] =
        QueueOffset(static_cast<int64_t>(coding::GetFixed64(v.data())));
    return true;
  });
  return out;
}

Status RocksMetaStore::PutState(std::string_view key, std::string_view value) { return Put(kState, key, value); }
std::optional<std::string> RocksMetaStore::GetState(std::string_view key) { return Get(kState, key); }
Status RocksMetaStore::DeleteState(std::string_view key) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(db_->Delete(wo, cfs_[kState], rocksdb::Slice(key.data(), key.size())), "delete state");
}
void RocksMetaStore::ScanState(std::string_view prefix,
                               const std::function<bool(std::string_view, std::string_view)>& fn) {
  Scan(kState, prefix, fn);
}
void RocksMetaStore::ScanStateFrom(std::string_view prefix, std::string_view start,
                                   const std::function<bool(std::string_view, std::string_view)>& fn) {
  Scan(kState, prefix, fn, start < prefix ? prefix : start);
}
Status RocksMetaStore::WriteState(const StateBatch& state) {
  rocksdb::WriteBatch batch;
  for (const auto& [k, v] : state.puts) (void)batch.Put(cfs_[kState], k, v);
  for (const auto& k : state.deletes) (void)batch.Delete(cfs_[kState], k);
  rocksdb::WriteOptions wo;
  wo.sync = state.sync;
  return FromRocks(db_->Write(wo, &batch), "write state");
}

// key_index: key topic 0x00 key 0x00 u64 big-endian (~physical offset), so newest sorts first;
// value u32 size.
Status RocksMetaStore::WriteKeyIndex(const std::vector<KeyIndexEntry>& entries) {
  rocksdb::WriteBatch batch;
  std::set<std::string> touched;
  for (const KeyIndexEntry& e : entries) {
    ForEachKey(e.keys, [&](std::string_view key) {
      std::string k = KeyPrefix(e.topic, key);
      touched.insert(k);
      AppendBigEndian64(&k, ~static_cast<uint64_t>(e.physical_offset.value()));
      std::string sv;
      coding::AppendFixed32(&sv, e.size);
      (void)batch.Put(cfs_[kKey], k, sv);
    });
  }
  VELA_RETURN_IF_ERROR(FromRocks(db_->Write(rocksdb::WriteOptions(), &batch), "write index"));
  // Bound each touched key to the newest entries.
  rocksdb::WriteBatch trim;
  for (const auto& prefix : touched) {
    int n = 0;
    Scan(kKey, prefix, [&](std::string_view k, std::string_view) {
      if (++n > key_index_max_per_key_) (void)trim.Delete(cfs_[kKey], rocksdb::Slice(k.data(), k.size()));
      return true;
    });
  }
  if (trim.Count() > 0) return FromRocks(db_->Write(rocksdb::WriteOptions(), &trim), "trim key index");
  return Status::OK();
}

std::vector<PhysicalOffset> RocksMetaStore::LookupKey(std::string_view topic, std::string_view key,
                                                     int max_results) {
  std::vector<PhysicalOffset> out;
  const std::string prefix = KeyPrefix(topic, key);
  Scan(kKey, prefix, [&](std::string_view k, std::string_view) {
    if (k.size() != prefix.size() + 8) return true;
    out.push_back(PhysicalOffset(static_cast<int64_t>(~GetBigEndian64(k.data() + prefix.size()))));
    return static_cast<int>(out.size()) < max_results;
  });
  return out;
}

Status RocksMetaStore::SyncIndex() { return FromRocks(db_->SyncWAL(), "sync wal"); }

}  // namespace vela::store
