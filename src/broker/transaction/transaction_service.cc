#include "broker/transaction/transaction_service.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <map>
#include <set>

#include <fmt/format.h>

#include "broker/logger.h"
#include "common/clock.h"
#include "common/coding.h"

namespace vela::broker::transaction {
namespace {

// Keys of the store's state column family (docs/storage-format.md, "Transaction state").
constexpr std::string_view kPendingPrefix = "txn/p/";   // + be64 half offset -> fixed64 store ms, group NUL id NUL topic
constexpr std::string_view kResolvedPrefix = "txn/r/";  // + be64 half offset -> 'c'|'r', group NUL id
constexpr std::string_view kHalfIngestKey = "txn/half_ingest";  // fixed64 next queue offset of the half queue
constexpr std::string_view kOpIngestKey = "txn/op_ingest";      // fixed64 next queue offset of the op queue
constexpr std::string_view kInFlightKey = "txn/inflight";       // fixed64 log end

constexpr int32_t kIngestBatch = 1024;
constexpr size_t kResolveBatch = 1024;

std::string OffsetKey(std::string_view prefix, int64_t offset) {
  std::string k(prefix);
  coding::AppendBigEndian64(&k, static_cast<uint64_t>(offset));
  return k;
}
std::string Fixed64(int64_t v) {
  std::string s;
  coding::AppendFixed64(&s, static_cast<uint64_t>(v));
  return s;
}
int64_t ReadFixed64(const std::optional<std::string>& v) {
  return v && v->size() == 8 ? static_cast<int64_t>(coding::GetFixed64(v->data())) : 0;
}

std::string PendingValue(int64_t store_ms, std::string_view group, std::string_view msg_id, std::string_view topic) {
  std::string v = Fixed64(store_ms);
  v.append(group).append(1, '\0').append(msg_id).append(1, '\0').append(topic);
  return v;
}
bool ParsePending(std::string_view key, std::string_view value, PendingHalf* out) {
  if (key.size() != kPendingPrefix.size() + 8 || value.size() < 8) return false;
  out->half_offset = static_cast<int64_t>(coding::GetBigEndian64(key.data() + kPendingPrefix.size()));
  out->store_ms = static_cast<int64_t>(coding::GetFixed64(value.data()));
  value.remove_prefix(8);
  const auto a = value.find('\0');
  if (a == std::string_view::npos) return false;
  const auto b = value.find('\0', a + 1);
  if (b == std::string_view::npos) return false;
  out->producer_group = std::string(value.substr(0, a));
  out->msg_id = std::string(value.substr(a + 1, b - a - 1));
  out->real_topic = std::string(value.substr(b + 1));
  return true;
}

std::string ResolvedValue(Resolution r, std::string_view group, std::string_view msg_id) {
  std::string v(1, r == Resolution::kCommit ? 'c' : 'r');
  v.append(group).append(1, '\0').append(msg_id);
  return v;
}

v1::EndTransactionResponse Answer(v1::EndTransactionOutcome outcome, std::string_view msg_id) {
  v1::EndTransactionResponse r;
  r.set_outcome(outcome);
  r.set_transaction_id(std::string(msg_id));
  r.set_message_count(1);
  return r;
}

}  // namespace

TransactionService::TransactionService(store::MessageStore& store, TopicManager& topics, TransactionOptions options)
    : store_(store),
      meta_(store.meta()),
      topics_(topics),
      options_(options),
      half_reader_(store, kHalfTopic, 0, [this] { Wake(); }),
      op_reader_(store, kOpTopic, 0, [this] { Wake(); }) {}

TransactionService::~TransactionService() { Stop(); }

Status TransactionService::Start() {
  VELA_RETURN_IF_ERROR(LoadState());
  half_reader_.Start();
  op_reader_.Start();
  store_.AddRetentionFloor([this] { return store::PhysicalOffset(RetentionFloor()); });
  // Everything both queues hold is read before anything else happens, so that what a crash left
  // in flight is settled before the first END_TRANSACTION is answered.
  while (IngestHalf()) {
  }
  while (IngestOps()) {
  }
  VELA_RETURN_IF_ERROR(ResolveInFlight());
  RecomputeFloor();
  BrokerLogger()->info("transactions: {} half messages pending, half queue at {}, op queue at {}",
                       pending_.load(), half_ingest_, op_ingest_);
  thread_ = std::thread([this] { Run(); });
  return Status::OK();
}

void TransactionService::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::deque<Pending> left;
  {
    std::lock_guard lock(mu_);
    left.swap(requests_);
  }
  for (auto& p : left) p.done(Status::Unavailable("the broker is stopping"));
}

void TransactionService::Wake() {
  {
    std::lock_guard lock(mu_);
    signalled_ = true;
  }
  wake_.notify_one();
}

Status TransactionService::EnsureTopics() {
  if (topics_ready_.load(std::memory_order_acquire)) return Status::OK();
  std::lock_guard lock(topic_mu_);
  if (topics_ready_.load()) return Status::OK();
  for (std::string_view name : {kHalfTopic, kOpTopic}) {
    if (topics_.GetTopic(std::string(name))) continue;
    store::TopicConfig t;
    t.name = std::string(name);
    t.read_queues = t.write_queues = 1;
    t.perm = 2;  // write only: no client may pull a half message or an op record
    VELA_RETURN_IF_ERROR(topics_.UpsertSystemTopic(t));
    BrokerLogger()->info("transaction topic {} created", name);
  }
  topics_ready_.store(true, std::memory_order_release);
  return Status::OK();
}

Status TransactionService::LoadState() {
  half_ingest_ = ReadFixed64(meta_.GetState(kHalfIngestKey));
  op_ingest_ = ReadFixed64(meta_.GetState(kOpIngestKey));
  // A queue shorter than what was read lost its tail in a crash (ASYNC_FLUSH): read on from its end.
  const int64_t half_max = half_reader_.MaxOffset().value();
  const int64_t op_max = op_reader_.MaxOffset().value();
  if (half_ingest_ > half_max) {
    BrokerLogger()->warn("transactions: the half queue ends at {} but {} was read: its tail was lost in a crash",
                         half_max, half_ingest_);
    half_ingest_ = half_max;
  }
  if (op_ingest_ > op_max) {
    BrokerLogger()->warn("transactions: the op queue ends at {} but {} was read: its tail was lost in a crash", op_max,
                         op_ingest_);
    op_ingest_ = op_max;
  }
  int64_t pending = 0;
  meta_.ScanState(kPendingPrefix, [&](std::string_view, std::string_view) {
    ++pending;
    return true;
  });
  pending_.store(pending);
  return Status::OK();
}

void TransactionService::Run() {
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
      signalled_ = false;
    }
    const bool more_half = IngestHalf();
    const bool more_ops = IngestOps();
    ProcessResolutions();
    const int64_t now = NowEpochMs();
    if (now - last_prune_ms_ >= 60 * 1000) {
      last_prune_ms_ = now;
      ForgetResolvedBefore(store_.stats().min_physical_offset.value());
    }
    if (more_half || more_ops) continue;
    // Idle: nothing is in flight, so the marker goes (a restart then scans nothing for it).
    if (marker_end_ >= 0 && now - last_commit_ms_ >= 1000) {
      if (Status st = meta_.DeleteState(kInFlightKey); st.ok()) {
        marker_end_ = -1;
      } else {
        BrokerLogger()->warn("transactions: cannot clear the in-flight marker: {}", st.ToString());
      }
    }
    std::unique_lock lock(mu_);
    if (stop_ || signalled_ || !requests_.empty()) continue;
    wake_.wait_for(lock, std::chrono::milliseconds(marker_end_ >= 0 ? 200 : 1000),
                   [&] { return stop_ || signalled_ || !requests_.empty(); });
  }
}

std::optional<TransactionService::Resolved> TransactionService::GetResolved(int64_t offset) {
  auto v = meta_.GetState(OffsetKey(kResolvedPrefix, offset));
  if (!v || v->empty()) return std::nullopt;
  Resolved r;
  r.resolution = (*v)[0] == 'c' ? Resolution::kCommit : Resolution::kRollback;
  std::string_view rest = std::string_view(*v).substr(1);
  const auto nul = rest.find('\0');
  r.producer_group = std::string(rest.substr(0, nul));
  r.msg_id = nul == std::string_view::npos ? std::string() : std::string(rest.substr(nul + 1));
  return r;
}

bool TransactionService::IngestHalf() {
  store::QueueOffset next(half_ingest_);
  store::GetResult got = half_reader_.Read(&next, kIngestBatch);
  if (next.value() == half_ingest_) return false;
  const int64_t from = half_ingest_;
  half_ingest_ = next.value();
  store::MetaStore::StateBatch batch;
  batch.sync = false;  // the log holds the records: a lost batch is read again from the saved offset
  int64_t added = 0;
  for (std::string_view raw : got.records) {
    RecordView view;
    if (DecodeRecord(raw, /*verify_crc=*/false, &view) != DecodeOutcome::kRecord) continue;  // verified by the read
    auto half = ParseHalfRecord(view);
    if (!half.ok()) {
      BrokerLogger()->warn("transactions: ignoring a record of the half queue: {}", half.status().ToString());
      continue;
    }
    // Resolved before it was read here (the dispatcher lagged), or read again after a lost batch.
    const std::string key = OffsetKey(kPendingPrefix, view.physical_offset);
    if (GetResolved(view.physical_offset) || meta_.GetState(key)) continue;
    batch.puts.emplace_back(key, PendingValue(view.store_timestamp_ms, half->producer_group, half->msg_id,
                                              half->real_topic));
    LowerFloor(view.physical_offset);
    ++added;
  }
  batch.puts.emplace_back(std::string(kHalfIngestKey), Fixed64(half_ingest_));
  if (Status st = meta_.WriteState(batch); !st.ok()) {
    BrokerLogger()->error("transactions: pending index write: {}", st.ToString());
    half_ingest_ = from;  // read again next round
    return false;
  }
  pending_.fetch_add(added);
  return true;
}

bool TransactionService::IngestOps() {
  store::QueueOffset next(op_ingest_);
  store::GetResult got = op_reader_.Read(&next, kIngestBatch);
  if (next.value() == op_ingest_) return false;
  const int64_t from = op_ingest_;
  op_ingest_ = next.value();
  store::MetaStore::StateBatch batch;
  batch.sync = false;
  std::set<int64_t> seen;  // resolved in this batch
  int64_t removed = 0;
  for (std::string_view raw : got.records) {
    RecordView view;
    if (DecodeRecord(raw, /*verify_crc=*/false, &view) != DecodeOutcome::kRecord) continue;
    auto op = ParseOpRecord(view);
    if (!op.ok()) {
      BrokerLogger()->warn("transactions: ignoring a record of the op queue: {}", op.status().ToString());
      continue;
    }
    if (seen.count(op->half_offset) != 0 || GetResolved(op->half_offset)) continue;  // applied already
    seen.insert(op->half_offset);
    batch.puts.emplace_back(OffsetKey(kResolvedPrefix, op->half_offset),
                            ResolvedValue(op->resolution, op->producer_group, op->msg_id));
    const std::string pending_key = OffsetKey(kPendingPrefix, op->half_offset);
    if (meta_.GetState(pending_key)) {
      batch.deletes.push_back(pending_key);
      ++removed;
    }
  }
  batch.puts.emplace_back(std::string(kOpIngestKey), Fixed64(op_ingest_));
  if (Status st = meta_.WriteState(batch); !st.ok()) {
    BrokerLogger()->error("transactions: resolution index write: {}", st.ToString());
    op_ingest_ = from;  // read again next round
    return false;
  }
  if (removed > 0) {
    pending_.fetch_sub(removed);
    RecomputeFloor();
  }
  return true;
}

bool TransactionService::ReadHalf(int64_t offset, std::string* raw, HalfRecord* half) {
  auto read = store_.ReadRecordAt(store::PhysicalOffset(offset));
  if (!read.ok()) return false;
  RecordView view;
  if (DecodeRecord(*read, /*verify_crc=*/true, &view) != DecodeOutcome::kRecord || view.topic != kHalfTopic ||
      view.physical_offset != offset) {
    return false;
  }
  auto parsed = ParseHalfRecord(view);
  if (!parsed.ok()) return false;
  *half = std::move(parsed).value();
  *raw = std::move(read).value();
  return true;
}

void TransactionService::EndTransaction(EndTransactionRequest request, EndCallback done) {
  {
    std::lock_guard lock(mu_);
    if (stop_) {
      done(Status::Unavailable("the broker is stopping"));
      return;
    }
    requests_.push_back(Pending{std::move(request), std::move(done)});
  }
  wake_.notify_one();
}

void TransactionService::ProcessResolutions() {
  std::deque<Pending> batch;
  {
    std::lock_guard lock(mu_);
    while (!requests_.empty() && batch.size() < kResolveBatch) {
      batch.push_back(std::move(requests_.front()));
      requests_.pop_front();
    }
  }
  if (batch.empty()) return;
  // What each request gets, and what the round writes.
  struct Work {
    Pending* pending = nullptr;
    Result<v1::EndTransactionResponse> answer = Status::Internal("not decided");
    bool needs_append = false;  // answered only once the round's records are in the log
  };
  bool from_round = false;  // set by decide(): the answer rests on a resolution of this round
  std::vector<Work> work;
  work.reserve(batch.size());
  std::map<int64_t, Resolved> decided;  // resolutions taken in this round, by half offset
  std::vector<std::string> records;
  store::MetaStore::StateBatch state;
  state.sync = false;  // the op records are the durable resolution (crash window 3)
  int64_t removed = 0, commits = 0, rollbacks = 0;
  const int64_t now = NowEpochMs();

  for (Pending& p : batch) {
    Work w;
    w.pending = &p;
    const EndTransactionRequest& r = p.request;
    auto decide = [&]() -> Result<v1::EndTransactionResponse> {
      if (r.producer_group.empty()) return Status::InvalidArgument("END_TRANSACTION needs the producer group");
      if (r.msg_id.empty()) return Status::InvalidArgument("END_TRANSACTION needs the message id");
      if (r.half_offset < 0) return Status::InvalidArgument("END_TRANSACTION needs the half message's commit-log offset");
      if (r.resolution != v1::TX_COMMIT && r.resolution != v1::TX_ROLLBACK && r.resolution != v1::TX_UNKNOWN) {
        return Status::InvalidArgument(fmt::format("unknown transaction resolution {}", static_cast<int>(r.resolution)));
      }
      std::optional<Resolved> known;
      if (auto it = decided.find(r.half_offset); it != decided.end()) {
        known = it->second;
        from_round = true;
      } else {
        known = GetResolved(r.half_offset);
      }
      if (known) {
        if (known->msg_id != r.msg_id) {
          return Status::NotFound(fmt::format("no half message {} at commit-log offset {} on this broker", r.msg_id,
                                              r.half_offset));
        }
        if (known->producer_group != r.producer_group) {
          return Status::PermissionDenied(fmt::format(
              "half message {} belongs to producer group {}; END_TRANSACTION from group {} refused", r.msg_id,
              known->producer_group, r.producer_group));
        }
        const bool committed = known->resolution == Resolution::kCommit;
        if (r.resolution == v1::TX_UNKNOWN || (r.resolution == v1::TX_COMMIT) == committed) {
          return Answer(committed ? v1::TX_END_ALREADY_COMMITTED : v1::TX_END_ALREADY_ROLLED_BACK, r.msg_id);
        }
        return Status::FailedPrecondition(fmt::format(
            "half message {} was already {}; this {} changes nothing", r.msg_id,
            committed ? "committed" : "rolled back", r.resolution == v1::TX_COMMIT ? "commit" : "rollback"));
      }
      if (r.half_offset < store_.stats().min_physical_offset.value()) {
        // Its resolution, if any, was forgotten with it: never resolve it (again) from a stale copy.
        return Status::NotFound(fmt::format(
            "half message {} at commit-log offset {} is older than this broker's log (deleted by retention)",
            r.msg_id, r.half_offset));
      }
      // Pending: in the index, or stored but not read from the half queue yet.
      const std::string pending_key = OffsetKey(kPendingPrefix, r.half_offset);
      const bool indexed = meta_.GetState(pending_key).has_value();
      std::string raw;
      HalfRecord half;
      if (!ReadHalf(r.half_offset, &raw, &half) || half.msg_id != r.msg_id) {
        if (indexed && half.msg_id.empty()) {
          return Status::FailedPrecondition(fmt::format(
              "half message {} at commit-log offset {} is pending but its record can no longer be read", r.msg_id,
              r.half_offset));
        }
        return Status::NotFound(fmt::format("no half message {} at commit-log offset {} on this broker", r.msg_id,
                                            r.half_offset));
      }
      if (half.producer_group != r.producer_group) {
        return Status::PermissionDenied(fmt::format(
            "half message {} belongs to producer group {}; END_TRANSACTION from group {} refused", r.msg_id,
            half.producer_group, r.producer_group));
      }
      if (r.resolution == v1::TX_UNKNOWN) return Answer(v1::TX_END_LEFT_PENDING, r.msg_id);
      const Resolution resolution = r.resolution == v1::TX_COMMIT ? Resolution::kCommit : Resolution::kRollback;
      if (resolution == Resolution::kCommit) {
        auto topic = topics_.GetTopic(half.real_topic);
        if (!topic || topic->write_queues <= 0) {
          return Status::FailedPrecondition(fmt::format(
              "half message {} cannot be committed: its topic {} no longer exists; it stays pending", r.msg_id,
              half.real_topic));
        }
        RecordView view;
        (void)DecodeRecord(raw, /*verify_crc=*/false, &view);  // checked by ReadHalf
        records.push_back(
            EncodeCommittedRecord(view, half, half.real_queue % static_cast<uint32_t>(topic->write_queues)));
      }
      records.push_back(EncodeOpRecord(resolution, r.half_offset, r.msg_id, r.producer_group, now));
      Resolved res{resolution, r.producer_group, r.msg_id};
      decided[r.half_offset] = res;
      state.puts.emplace_back(OffsetKey(kResolvedPrefix, r.half_offset),
                              ResolvedValue(resolution, r.producer_group, r.msg_id));
      if (indexed) {
        state.deletes.push_back(pending_key);
        ++removed;
      }
      ++(resolution == Resolution::kCommit ? commits : rollbacks);
      w.needs_append = true;
      return Answer(resolution == Resolution::kCommit ? v1::TX_END_COMMITTED : v1::TX_END_ROLLED_BACK, r.msg_id);
    };
    from_round = false;
    w.answer = decide();
    w.needs_append = w.needs_append || from_round;
    work.push_back(std::move(w));
  }

  Status appended = Status::OK();
  if (!records.empty()) {
    // The marker is in place before commits are appended (crash window 2).
    if (commits > 0 && marker_end_ < 0) appended = WriteInFlightMarker();
    if (appended.ok()) appended = AppendAndWait(records).status();
    if (appended.ok()) {
      if (commits > 0) {
        // Moved past this round's commits in the batch that resolves them: if the batch is lost,
        // the older marker still covers them.
        const int64_t end = store_.stats().max_physical_offset.value();
        state.puts.emplace_back(std::string(kInFlightKey), Fixed64(end));
        last_commit_ms_ = NowEpochMs();
      }
      if (Status st = meta_.WriteState(state); !st.ok()) {
        // The op records are in the log: reading the op queue resolves them again.
        BrokerLogger()->error("transactions: resolution index write: {}", st.ToString());
      } else if (commits > 0) {
        marker_end_ = store_.stats().max_physical_offset.value();
      }
      pending_.fetch_sub(removed);
      committed_.fetch_add(commits);
      rolled_back_.fetch_add(rollbacks);
      if (removed > 0) RecomputeFloor();
    } else {
      BrokerLogger()->warn("transactions: storing {} resolutions failed: {}", commits + rollbacks, appended.ToString());
      // Part of the append may have reached the log: settle it from the marker.
      if (Status st = ResolveInFlight(); !st.ok()) BrokerLogger()->error("transactions: {}", st.ToString());
    }
  }
  for (Work& w : work) {
    if (w.needs_append && !appended.ok()) {
      w.pending->done(appended.WithContext("the resolution could not be stored; ask again"));
      continue;
    }
    if (!w.answer.ok()) {
      BrokerLogger()->debug("END_TRANSACTION for {} at {} from group {} refused: {}", w.pending->request.msg_id,
                            w.pending->request.half_offset, w.pending->request.producer_group,
                            w.answer.status().ToString());
    }
    w.pending->done(std::move(w.answer));
  }
}

Status TransactionService::WriteInFlightMarker() {
  const int64_t end = store_.stats().max_physical_offset.value();
  store::MetaStore::StateBatch batch;
  batch.puts.emplace_back(std::string(kInFlightKey), Fixed64(end));
  // Synced when the commits will be (SYNC_FLUSH), so that a power failure cannot keep them and
  // lose it; under ASYNC_FLUSH the WAL in the page cache survives a process crash, as the log does.
  batch.sync = store_.options().flush_disk_type == store::FlushDiskType::kSync;
  VELA_RETURN_IF_ERROR(meta_.WriteState(batch));
  marker_end_ = end;
  return Status::OK();
}

Status TransactionService::ResolveInFlight() {
  auto marker = meta_.GetState(kInFlightKey);
  if (!marker) {
    marker_end_ = -1;
    return Status::OK();
  }
  if (marker->size() != 8) {
    if (meta_.DeleteState(kInFlightKey).ok()) marker_end_ = -1;
    return Status::Corruption("transactions: malformed in-flight marker dropped");
  }
  const int64_t from = static_cast<int64_t>(coding::GetFixed64(marker->data()));
  marker_end_ = from;
  // Every record appended since the marker: committed messages by the half record they name, and
  // op records by the half record they resolve.
  std::map<int64_t, std::string> committed;  // half offset -> msg id
  std::set<int64_t> resolved;
  const int64_t segment = store_.options().commitlog_segment_size;
  const int64_t end = store_.stats().max_physical_offset.value();
  for (int64_t pos = from; pos < end;) {
    auto raw = store_.ReadRecordAt(store::PhysicalOffset(pos));
    RecordView view;
    if (!raw.ok() || DecodeRecord(*raw, false, &view) != DecodeOutcome::kRecord) {
      pos = (pos / segment + 1) * segment;  // the filler at a segment's end, or damage: go on at the next
      continue;
    }
    std::string_view origin;
    if (view.topic == kOpTopic) {
      if (auto op = ParseOpRecord(view); op.ok()) resolved.insert(op->half_offset);
    } else if (view.topic != kHalfTopic && (view.flags & record::kFlagTransactionCommit) != 0 &&
               FindProperty(view.properties, kPropOriginOffset, &origin)) {
      int64_t o = 0;
      auto [p, ec] = std::from_chars(origin.data(), origin.data() + origin.size(), o);
      if (ec == std::errc() && p == origin.data() + origin.size()) committed[o] = std::string(view.msg_id);
    }
    pos += static_cast<int64_t>(view.raw.size());
  }
  // A commit whose op record is missing: write the op record now (the message is published).
  std::vector<std::string> ops;
  store::MetaStore::StateBatch batch;
  int64_t removed = 0;
  for (const auto& [offset, msg_id] : committed) {
    if (resolved.count(offset) != 0 || GetResolved(offset)) continue;
    std::string raw;
    HalfRecord half;
    if (!ReadHalf(offset, &raw, &half) || half.msg_id != msg_id) continue;  // not a half record of ours
    ops.push_back(EncodeOpRecord(Resolution::kCommit, offset, msg_id, half.producer_group, NowEpochMs()));
    batch.puts.emplace_back(OffsetKey(kResolvedPrefix, offset),
                            ResolvedValue(Resolution::kCommit, half.producer_group, msg_id));
    const std::string pending_key = OffsetKey(kPendingPrefix, offset);
    if (meta_.GetState(pending_key)) {
      batch.deletes.push_back(pending_key);
      ++removed;
    }
  }
  if (!ops.empty()) {
    auto appended = AppendAndWait(ops);
    if (!appended.ok()) return appended.status().WithContext("writing the op records of commits in flight");
  }
  batch.deletes.push_back(std::string(kInFlightKey));
  VELA_RETURN_IF_ERROR(meta_.WriteState(batch));
  marker_end_ = -1;
  pending_.fetch_sub(removed);
  if (!ops.empty()) {
    BrokerLogger()->info("transactions: {} commits in flight at the last stop had published their message; their op "
                         "records are written now",
                         ops.size());
  }
  return Status::OK();
}

int64_t TransactionService::ForgetResolvedBefore(int64_t log_start) {
  const std::string end = OffsetKey(kResolvedPrefix, log_start);
  int64_t forgotten = 0;
  for (;;) {
    store::MetaStore::StateBatch batch;
    batch.sync = false;  // forgetting again after a lost batch is harmless
    meta_.ScanState(kResolvedPrefix, [&](std::string_view k, std::string_view) {
      if (k >= end) return false;
      batch.deletes.emplace_back(k);
      return batch.deletes.size() < 10000;
    });
    if (batch.empty()) break;
    if (Status st = meta_.WriteState(batch); !st.ok()) {
      BrokerLogger()->warn("transactions: cannot forget old resolutions: {}", st.ToString());
      break;
    }
    forgotten += static_cast<int64_t>(batch.deletes.size());
    if (batch.deletes.size() < 10000) break;
  }
  if (forgotten > 0) {
    BrokerLogger()->info("transactions: forgot {} resolutions of half messages retention deleted", forgotten);
  }
  return forgotten;
}

Result<store::AppendResult> TransactionService::AppendAndWait(const std::vector<std::string>& records) {
  store::AppendRequest request;
  request.records.reserve(records.size());
  for (const auto& r : records) request.records.push_back(r);
  return store_.AppendAndWait(std::move(request));
}

void TransactionService::LowerFloor(int64_t offset) {
  int64_t floor = offset_floor_.load(std::memory_order_relaxed);
  while (offset < floor && !offset_floor_.compare_exchange_weak(floor, offset, std::memory_order_relaxed)) {
  }
}

void TransactionService::RecomputeFloor() {
  // From the current floor: the keys below it are deleted ones.
  const int64_t floor = offset_floor_.load(std::memory_order_relaxed);
  int64_t lowest = INT64_MAX;
  meta_.ScanStateFrom(kPendingPrefix, OffsetKey(kPendingPrefix, floor == INT64_MAX ? 0 : floor),
                      [&](std::string_view k, std::string_view) {
                        if (k.size() == kPendingPrefix.size() + 8) {
                          lowest = static_cast<int64_t>(coding::GetBigEndian64(k.data() + kPendingPrefix.size()));
                        }
                        return false;
                      });
  offset_floor_.store(lowest, std::memory_order_relaxed);
}

std::vector<PendingHalf> TransactionService::PendingOlderThanTimeout(int64_t now_ms, size_t max) const {
  std::vector<PendingHalf> out;
  const int64_t cutoff = now_ms - options_.timeout_ms;
  const int64_t floor = offset_floor_.load(std::memory_order_relaxed);
  meta_.ScanStateFrom(kPendingPrefix, OffsetKey(kPendingPrefix, floor == INT64_MAX ? 0 : floor),
                      [&](std::string_view k, std::string_view v) {
                        PendingHalf p;
                        if (!ParsePending(k, v, &p)) return true;
                        if (p.store_ms > cutoff) return false;  // offsets grow with store time: the rest are younger
                        out.push_back(std::move(p));
                        return out.size() < max;
                      });
  return out;
}

TransactionStats TransactionService::stats() const {
  TransactionStats s;
  s.pending = pending_.load();
  s.committed = committed_.load();
  s.rolled_back = rolled_back_.load();
  const int64_t floor = offset_floor_.load(std::memory_order_relaxed);
  if (s.pending > 0 && floor != INT64_MAX) {
    meta_.ScanStateFrom(kPendingPrefix, OffsetKey(kPendingPrefix, floor), [&](std::string_view k, std::string_view v) {
      PendingHalf p;
      if (ParsePending(k, v, &p)) s.oldest_pending_store_ms = p.store_ms;
      return false;
    });
  }
  return s;
}

}  // namespace vela::broker::transaction
