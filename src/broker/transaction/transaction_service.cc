#include "broker/transaction/transaction_service.h"

#include <algorithm>
#include <charconv>
#include <chrono>

#include <fmt/format.h>

#include "broker/logger.h"
#include "common/clock.h"
#include "common/coding.h"

namespace vela::broker::transaction {
namespace {

// Keys of the store's state column family (docs/storage-format.md, "Transaction state").
// txn/p/<be64 half offset> -> fixed64 store ms, fixed64 discard copy + 1 (0: none),
//                             group NUL msg id NUL real topic NUL transaction id NUL immunity ms
constexpr std::string_view kPendingPrefix = "txn/p/";
// txn/c/<transaction id> -> fixed64 next check ms, fixed32 checks sent, 1 byte discarded
constexpr std::string_view kCheckPrefix = "txn/c/";
// txn/r/<be64 half offset> -> 'c'|'r', group NUL transaction id
constexpr std::string_view kResolvedPrefix = "txn/r/";
constexpr std::string_view kHalfIngestKey = "txn/half_ingest";  // fixed64 next queue offset of the half queue
constexpr std::string_view kOpIngestKey = "txn/op_ingest";      // fixed64 next queue offset of the op queue
constexpr std::string_view kInFlightKey = "txn/inflight";       // fixed64 log end

constexpr int32_t kIngestBatch = 1024;
constexpr size_t kResolveBatch = 1024;
// Checks sent in one round at most (the rest go in the next round, a second later).
constexpr size_t kChecksPerRound = 20000;
// Transactions discarded in one round at most (two appends each).
constexpr size_t kDiscardsPerRound = 1000;
// Bytes of records one round of resolutions appends at most (further requests wait a round).
constexpr size_t kRoundBytes = 64 << 20;
// Half messages read from the half queue are saved (txn/p) once the oldest unsaved one is this old
// and still pending: a restart reads at most this much of the half queue again.
constexpr int64_t kSaveDelayMs = 1000;
// Bytes of unsaved half records kept in memory at most (beyond, a resolution reads them back).
constexpr size_t kMaxCachedBytes = 32 << 20;
// While END_TRANSACTIONs keep coming (a round within this long), the half queue is read at most
// this often; otherwise at once.
constexpr int64_t kHalfReadDelayMs = 100;

std::string OffsetKey(std::string_view prefix, int64_t offset) {
  std::string k(prefix);
  coding::AppendBigEndian64(&k, static_cast<uint64_t>(offset));
  return k;
}
std::string CheckKey(std::string_view id) { return std::string(kCheckPrefix).append(id); }
std::string Fixed64(int64_t v) {
  std::string s;
  coding::AppendFixed64(&s, static_cast<uint64_t>(v));
  return s;
}
int64_t ReadFixed64(const std::optional<std::string>& v) {
  return v && v->size() == 8 ? static_cast<int64_t>(coding::GetFixed64(v->data())) : 0;
}
// Splits `value` at NULs into exactly `n` fields.
bool SplitFields(std::string_view value, size_t n, std::vector<std::string_view>* out) {
  out->clear();
  for (size_t i = 0; i + 1 < n; ++i) {
    const auto nul = value.find('\0');
    if (nul == std::string_view::npos) return false;
    out->push_back(value.substr(0, nul));
    value.remove_prefix(nul + 1);
  }
  out->push_back(value);
  return true;
}
int64_t ParseDecimal(std::string_view text) {
  int64_t v = 0;
  std::from_chars(text.data(), text.data() + text.size(), v);
  return v;
}

std::string ResolvedValue(Resolution r, std::string_view group, std::string_view txn_id) {
  std::string v(1, r == Resolution::kCommit ? 'c' : 'r');
  v.append(group).append(1, '\0').append(txn_id);
  return v;
}

v1::EndTransactionResponse Answer(v1::EndTransactionOutcome outcome, std::string_view txn_id, size_t count) {
  v1::EndTransactionResponse r;
  r.set_outcome(outcome);
  r.set_transaction_id(std::string(txn_id));
  r.set_message_count(static_cast<int32_t>(count));
  return r;
}

}  // namespace

TransactionService::TransactionService(store::MessageStore& store, TopicManager& topics, TransactionOptions options,
                                       metrics::BrokerMetrics* metrics, trace::TraceWriter* traces)
    : store_(store),
      meta_(store.meta()),
      topics_(topics),
      options_(options),
      metrics_(metrics),
      traces_(traces),
      half_reader_(store, kHalfTopic, 0, [this] { WakeForHalves(); }),
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
  SaveHalves(NowEpochMs(), /*force=*/true);
  // Every half record before the log's end was written before this start (read now, or in an
  // earlier life when the saved offset is past it): its resolution, if any, is in txn/r. Only
  // those after it are this process's, and what resolved them is in memory (ResolvedHalf).
  last_half_offset_ = std::max(last_half_offset_, store_.stats().max_physical_offset.value() - 1);
  started_ = true;
  RecomputeFloor();
  {
    std::lock_guard lock(admit_mu_);
    const int64_t now = NowEpochMs();
    for (const auto& [id, txn] : txns_) {
      if (!txn.discarded) admitted_[id] = Admitted{static_cast<int64_t>(txn.halves.size()), now};
    }
  }
  BrokerLogger()->info("transactions: {} half messages pending, {} transactions discarded, half queue at {}, op "
                       "queue at {}",
                       pending_.load(), discarded_.load(), half_ingest_, op_ingest_);
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
    if (signalled_) return;  // told already
    signalled_ = true;
  }
  wake_.notify_one();
}

void TransactionService::WakeForHalves() {
  {
    std::lock_guard lock(mu_);
    if (halves_signalled_) return;
    halves_signalled_ = true;
  }
  wake_.notify_one();
}

bool TransactionService::ResolutionsStreaming(int64_t now_ms) const {
  return now_ms - last_round_ms_ < kHalfReadDelayMs && now_ms - last_half_read_ms_ < kHalfReadDelayMs;
}

void TransactionService::CheckNowForTesting() {
  {
    std::lock_guard lock(mu_);
    check_now_ = true;
  }
  wake_.notify_one();
}

Status TransactionService::EnsureTopics() {
  if (topics_ready_.load(std::memory_order_acquire)) return Status::OK();
  std::lock_guard lock(topic_mu_);
  if (topics_ready_.load()) return Status::OK();
  for (std::string_view name : {kHalfTopic, kOpTopic, kDiscardTopic}) {
    // Half messages and op records: write only (no client may pull them). Discarded transactions:
    // readable, for operators.
    VELA_RETURN_IF_ERROR(topics_.EnsureSystemTopic(name, name == kDiscardTopic ? 6 : 2).status());
  }
  topics_ready_.store(true, std::memory_order_release);
  return Status::OK();
}

Status TransactionService::AdmitHalf(std::string_view transaction_id) {
  const int64_t now = NowEpochMs();
  std::lock_guard lock(admit_mu_);
  Admitted& a = admitted_[std::string(transaction_id)];
  if (a.count >= options_.max_messages) {
    return Status::InvalidArgument(fmt::format(
        "transaction {} already has {} messages on this broker: transactionMaxMessages is {}", transaction_id,
        a.count, options_.max_messages));
  }
  ++a.count;
  a.last_ms = now;
  return Status::OK();
}

void TransactionService::PruneAdmitted(int64_t now_ms) {
  // A transaction resolved before its half messages were read, or whose send failed after
  // admission, is not in the index: its count goes once no message of it came for a while.
  constexpr int64_t kQuietMs = 10 * 60 * 1000;
  std::lock_guard lock(admit_mu_);
  std::erase_if(admitted_, [&](const auto& entry) {
    return now_ms - entry.second.last_ms > kQuietMs && txns_.count(entry.first) == 0;
  });
}

std::string TransactionService::PendingValue(const Txn& txn, const Half& half) const {
  std::string v = Fixed64(half.store_ms);
  coding::AppendFixed64(&v, static_cast<uint64_t>(half.discard_copy + 1));
  v.append(txn.group).append(1, '\0').append(half.msg_id).append(1, '\0').append(half.real_topic);
  v.append(1, '\0').append(txn.id).append(1, '\0').append(std::to_string(txn.immunity_ms));
  return v;
}

std::string TransactionService::CheckStateValue(const Txn& txn) const {
  std::string v = Fixed64(txn.next_check_ms);
  coding::AppendFixed32(&v, static_cast<uint32_t>(txn.checks));
  v.push_back(txn.discarded ? 1 : 0);
  return v;
}

TransactionService::Txn& TransactionService::AddHalf(const HalfRecord& half, int64_t offset, int64_t store_ms,
                                                     int64_t discard_copy) {
  std::lock_guard lock(index_mu_);
  auto [it, fresh] = txns_.try_emplace(half.transaction_id);
  Txn& txn = it->second;
  if (fresh) {
    txn.id = half.transaction_id;
    txn.group = half.producer_group;
  }
  txn.immunity_ms = std::max(txn.immunity_ms, half.immunity_ms);
  Half& h = txn.halves[offset];
  h.store_ms = store_ms;
  h.msg_id = half.msg_id;
  h.real_topic = half.real_topic;
  h.discard_copy = discard_copy;
  // CHECK_IMMUNITY_TIME_IN_SECONDS, when set, stands in for transactionTimeOut (as in RocketMQ).
  if (fresh) txn.next_check_ms = store_ms + (txn.immunity_ms > 0 ? txn.immunity_ms : options_.timeout_ms);
  by_offset_[offset] = half.transaction_id;
  return txn;
}

void TransactionService::RemoveHalf(int64_t offset) {
  std::lock_guard lock(index_mu_);
  auto at = by_offset_.find(offset);
  if (at == by_offset_.end()) return;
  auto it = txns_.find(at->second);
  by_offset_.erase(at);
  if (it == txns_.end()) return;
  if (!it->second.discarded) pending_.fetch_sub(1);
  if (auto h = it->second.halves.find(offset); h != it->second.halves.end()) DropCached(h->second);
  it->second.halves.erase(offset);
  if (it->second.halves.empty()) {
    if (it->second.discarded) discarded_.fetch_sub(1);
    {
      std::lock_guard admit(admit_mu_);
      admitted_.erase(it->first);
    }
    txns_.erase(it);
  }
}

void TransactionService::RemoveTxn(const std::string& id) {
  std::vector<int64_t> offsets;
  {
    std::lock_guard lock(index_mu_);
    auto it = txns_.find(id);
    if (it == txns_.end()) return;
    for (const auto& [offset, half] : it->second.halves) offsets.push_back(offset);
  }
  for (int64_t offset : offsets) RemoveHalf(offset);
}

Status TransactionService::LoadState() {
  half_ingest_ = ReadFixed64(meta_.GetState(kHalfIngestKey));
  half_saved_ = half_ingest_;
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
  // Entries at or past the log's end name records an ASYNC_FLUSH crash lost (their offsets will
  // be reused): they go.
  {
    const int64_t log_end = store_.stats().max_physical_offset.value();
    store::MetaStore::StateBatch stale;
    for (std::string_view prefix : {kPendingPrefix, kResolvedPrefix}) {
      meta_.ScanStateFrom(prefix, OffsetKey(prefix, log_end), [&](std::string_view k, std::string_view) {
        stale.deletes.emplace_back(k);
        return true;
      });
    }
    if (!stale.empty()) {
      BrokerLogger()->warn("transactions: dropping {} index entries past the log's end {} (lost in a crash)",
                           stale.deletes.size(), log_end);
      VELA_RETURN_IF_ERROR(meta_.WriteState(stale));
    }
  }
  std::vector<std::string_view> fields;
  int64_t pending = 0;
  meta_.ScanState(kPendingPrefix, [&](std::string_view k, std::string_view v) {
    if (k.size() != kPendingPrefix.size() + 8 || v.size() < 16 || !SplitFields(v.substr(16), 5, &fields)) {
      BrokerLogger()->warn("transactions: ignoring a malformed pending entry");
      return true;
    }
    const int64_t offset = static_cast<int64_t>(coding::GetBigEndian64(k.data() + kPendingPrefix.size()));
    HalfRecord half;
    half.producer_group = std::string(fields[0]);
    half.msg_id = std::string(fields[1]);
    half.real_topic = std::string(fields[2]);
    half.transaction_id = std::string(fields[3]);
    half.immunity_ms = ParseDecimal(fields[4]);
    AddHalf(half, offset, static_cast<int64_t>(coding::GetFixed64(v.data())),
            static_cast<int64_t>(coding::GetFixed64(v.data() + 8)) - 1)
        .halves.at(offset)
        .saved = true;
    ++pending;
    return true;
  });
  int64_t discarded = 0;
  meta_.ScanState(kCheckPrefix, [&](std::string_view k, std::string_view v) {
    auto it = txns_.find(std::string(k.substr(kCheckPrefix.size())));
    if (it == txns_.end() || v.size() != 13) return true;
    it->second.next_check_ms = static_cast<int64_t>(coding::GetFixed64(v.data()));
    it->second.checks = static_cast<int32_t>(coding::GetFixed32(v.data() + 8));
    it->second.discarded = v[12] != 0;
    it->second.check_saved = true;
    if (it->second.discarded) {
      ++discarded;
      pending -= static_cast<int64_t>(it->second.halves.size());
    }
    return true;
  });
  pending_.store(pending);
  discarded_.store(discarded);
  // Retention is held back from the start, before the queues are read again.
  RecomputeFloor();
  return Status::OK();
}

void TransactionService::Run() {
  for (;;) {
    bool check_now = false;
    {
      std::lock_guard lock(mu_);
      if (stop_) return;  // what is unsaved is read again at the next start, as after a crash
      signalled_ = false;
      std::swap(check_now, check_now_);
    }
    // While resolutions stream in, the half queue is read every kHalfReadDelayMs only: most half
    // messages are resolved by then, and are skipped without entering the index.
    if (!ResolutionsStreaming(NowEpochMs())) {
      {
        std::lock_guard lock(mu_);
        halves_signalled_ = false;
      }
      last_half_read_ms_ = NowEpochMs();
      while (IngestHalf()) {
      }
    }
    const bool more_ops = IngestOps();
    if (ProcessResolutions()) last_round_ms_ = NowEpochMs();
    const int64_t now = NowEpochMs();
    SaveHalves(now, /*force=*/false);
    if (check_now || now - last_check_round_ms_ >= std::min<int64_t>(options_.check_interval_ms, 1000)) {
      last_check_round_ms_ = now;
      CheckRound(now);
    }
    if (now - last_prune_ms_ >= 60 * 1000) {
      last_prune_ms_ = now;
      const int64_t log_start = store_.stats().min_physical_offset.value();
      ForgetResolvedBefore(log_start);
      ForgetDiscardedBefore(log_start);
      PruneAdmitted(now);
    }
    if (more_ops) continue;
    // Idle: nothing is in flight, so the marker goes (a restart then scans nothing for it).
    if (marker_end_ >= 0 && now - last_commit_ms_ >= 1000) {
      if (Status st = meta_.DeleteState(kInFlightKey); st.ok()) {
        marker_end_ = -1;
      } else {
        BrokerLogger()->warn("transactions: cannot clear the in-flight marker: {}", st.ToString());
      }
    }
    std::unique_lock lock(mu_);
    const bool streaming = ResolutionsStreaming(now);
    if (stop_ || signalled_ || check_now_ || !requests_.empty() || (halves_signalled_ && !streaming)) continue;
    int64_t wait_ms = std::min<int64_t>(marker_end_ >= 0 ? 200 : 1000, options_.check_interval_ms);
    if (halves_signalled_) {
      // Half messages wait for the next read: at most until the stream's delay has passed.
      const int64_t read_at = std::min(last_round_ms_, last_half_read_ms_) + kHalfReadDelayMs;
      wait_ms = std::max<int64_t>(1, std::min(wait_ms, read_at - now));
    }
    wake_.wait_for(lock, std::chrono::milliseconds(wait_ms), [&] {
      return stop_ || signalled_ || check_now_ || !requests_.empty() || (halves_signalled_ && !streaming);
    });
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
  r.transaction_id = nul == std::string_view::npos ? std::string() : std::string(rest.substr(nul + 1));
  return r;
}

std::optional<TransactionService::Resolved> TransactionService::ResolvedHalf(int64_t offset) {
  // A half record past the last one read (and past the log's end at start) is this process's,
  // and what resolved it is in memory.
  if (started_ && offset > last_half_offset_) {
    auto it = resolved_early_.find(offset);
    if (it == resolved_early_.end()) return std::nullopt;
    return it->second;
  }
  return GetResolved(offset);
}

bool TransactionService::IngestHalf() {
  store::QueueOffset next(half_ingest_);
  store::GetResult got = half_reader_.Read(&next, kIngestBatch);
  if (next.value() == half_ingest_) return false;
  if (half_ingest_ == half_saved_) unsaved_since_ms_ = NowEpochMs();
  half_ingest_ = next.value();
  bool added = false;
  for (std::string_view raw : got.records) {
    RecordView view;
    if (DecodeRecord(raw, /*verify_crc=*/false, &view) != DecodeOutcome::kRecord) continue;  // verified by the read
    const int64_t offset = view.physical_offset;
    last_half_offset_ = std::max(last_half_offset_, offset);
    // Read again (a restart reads on from the saved offset), or resolved before it was read here
    // (the dispatcher lags behind the acknowledgement).
    if (by_offset_.count(offset) != 0) continue;
    if (started_ ? resolved_early_.erase(offset) != 0 : GetResolved(offset).has_value()) continue;
    auto half = ParseHalfRecord(view);
    if (!half.ok()) {
      BrokerLogger()->warn("transactions: ignoring a record of the half queue: {}", half.status().ToString());
      continue;
    }
    Txn& txn = AddHalf(*half, offset, view.store_timestamp_ms, -1);
    if (!txn.discarded) pending_.fetch_add(1);
    if (cached_bytes_ + raw.size() <= kMaxCachedBytes) {
      txn.halves.at(offset).raw.assign(raw);
      cached_bytes_ += raw.size();
    }
    unsaved_.push_back(offset);
    added = true;
  }
  if (added) RecomputeFloor();
  return true;
}

void TransactionService::SaveHalves(int64_t now_ms, bool force) {
  if (half_ingest_ == half_saved_ || (!force && now_ms - unsaved_since_ms_ < kSaveDelayMs)) return;
  store::MetaStore::StateBatch batch;
  batch.sync = false;  // the log holds the records: a lost batch is read again from the saved offset
  std::vector<Half*> saving;
  for (int64_t offset : unsaved_) {
    auto at = by_offset_.find(offset);
    if (at == by_offset_.end()) continue;  // resolved meanwhile: txn/r says so
    Txn& txn = txns_.at(at->second);
    Half& half = txn.halves.at(offset);
    DropCached(half);  // it stays pending a while: read back when it is resolved
    if (half.saved) continue;
    batch.puts.emplace_back(OffsetKey(kPendingPrefix, offset), PendingValue(txn, half));
    saving.push_back(&half);
  }
  batch.puts.emplace_back(std::string(kHalfIngestKey), Fixed64(half_ingest_));
  if (Status st = meta_.WriteState(batch); !st.ok()) {
    // The memory index has them; the saved offset makes a restart read them again.
    BrokerLogger()->error("transactions: pending index write: {}", st.ToString());
    return;
  }
  for (Half* half : saving) half->saved = true;
  unsaved_.clear();
  half_saved_ = half_ingest_;
}

bool TransactionService::IngestOps() {
  store::QueueOffset next(op_ingest_);
  store::GetResult got = op_reader_.Read(&next, kIngestBatch);
  if (next.value() == op_ingest_) return false;
  op_ingest_ = next.value();
  store::MetaStore::StateBatch batch;
  batch.sync = false;
  std::set<int64_t> seen;  // resolved in this batch
  bool changed = false;
  for (std::string_view raw : got.records) {
    RecordView view;
    if (DecodeRecord(raw, /*verify_crc=*/false, &view) != DecodeOutcome::kRecord) continue;
    auto op = ParseOpRecord(view);
    if (!op.ok()) {
      BrokerLogger()->warn("transactions: ignoring a record of the op queue: {}", op.status().ToString());
      continue;
    }
    if (op->resolution == Resolution::kDiscard) {
      // Applied already by the thread that wrote it, unless the state batch after it was lost.
      auto at = by_offset_.find(op->half_offset);
      if (at == by_offset_.end()) continue;
      Txn& txn = txns_.at(at->second);
      Half& half = txn.halves.at(op->half_offset);
      if (half.discard_copy == op->discard_offset && txn.discarded) continue;
      {
        std::lock_guard lock(index_mu_);
        half.discard_copy = op->discard_offset;
        if (!txn.discarded) {
          txn.discarded = true;
          discarded_.fetch_add(1);
          pending_.fetch_sub(static_cast<int64_t>(txn.halves.size()));
        }
      }
      batch.puts.emplace_back(OffsetKey(kPendingPrefix, op->half_offset), PendingValue(txn, half));
      batch.puts.emplace_back(CheckKey(txn.id), CheckStateValue(txn));
      half.saved = true;
      txn.check_saved = true;
      changed = true;
      continue;
    }
    // Applied already: written by this process (which applied it then), or read before.
    if (seen.count(op->half_offset) != 0 || own_ops_.erase(op->half_offset) != 0 || GetResolved(op->half_offset)) {
      continue;
    }
    seen.insert(op->half_offset);
    batch.puts.emplace_back(OffsetKey(kResolvedPrefix, op->half_offset),
                            ResolvedValue(op->resolution, op->producer_group, op->transaction_id));
    if (auto at = by_offset_.find(op->half_offset); at != by_offset_.end()) {
      const std::string id = at->second;
      const Txn& txn = txns_.at(id);
      const bool check_saved = txn.check_saved;
      if (txn.halves.at(op->half_offset).saved) batch.deletes.push_back(OffsetKey(kPendingPrefix, op->half_offset));
      RemoveHalf(op->half_offset);
      if (txns_.count(id) == 0 && check_saved) batch.deletes.push_back(CheckKey(id));
      changed = true;
    }
  }
  batch.puts.emplace_back(std::string(kOpIngestKey), Fixed64(op_ingest_));
  if (Status st = meta_.WriteState(batch); !st.ok()) {
    BrokerLogger()->error("transactions: resolution index write: {}", st.ToString());
  }
  if (changed) RecomputeFloor();
  return true;
}

void TransactionService::DropCached(Half& half) {
  cached_bytes_ -= half.raw.size();
  std::string().swap(half.raw);
}

bool TransactionService::TakeCached(int64_t offset, Half& half, HalfRead* out) {
  if (half.raw.empty()) return false;
  cached_bytes_ -= half.raw.size();
  out->raw = std::move(half.raw);
  half.raw.clear();
  RecordView view;
  if (DecodeRecord(out->raw, /*verify_crc=*/false, &view) != DecodeOutcome::kRecord) return false;  // checked when read
  auto parsed = ParseHalfRecord(view);
  if (!parsed.ok()) return false;
  out->offset = offset;
  out->half = std::move(parsed).value();
  return true;
}

bool TransactionService::ReadHalf(int64_t offset, int64_t discard_copy, HalfRead* out) {
  const int64_t at = offset < store_.stats().min_physical_offset.value() && discard_copy >= 0 ? discard_copy : offset;
  auto read = store_.ReadRecordAt(store::PhysicalOffset(at));
  if (!read.ok()) return false;
  RecordView view;
  if (DecodeRecord(*read, /*verify_crc=*/true, &view) != DecodeOutcome::kRecord ||
      view.topic != (at == offset ? kHalfTopic : kDiscardTopic) || view.physical_offset != at) {
    return false;
  }
  auto parsed = ParseHalfRecord(view);
  if (!parsed.ok()) return false;
  out->offset = offset;
  out->half = std::move(parsed).value();
  out->raw = std::move(read).value();
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

void TransactionService::EndTransactions(std::vector<EndTransactionRequest> requests, EndBatchCallback done) {
  // The answers gather here; the last one to arrive hands them all over (they arrive on the
  // service thread, or on the stopping thread once it has joined it).
  struct Gather {
    std::vector<Result<v1::EndTransactionResponse>> results;
    std::atomic<size_t> left{0};
    EndBatchCallback done;
  };
  auto gather = std::make_shared<Gather>();
  gather->results.resize(requests.size(), Status::Internal("not decided"));
  gather->left.store(requests.size());
  gather->done = std::move(done);
  if (requests.empty()) {
    gather->done({});
    return;
  }
  auto answer = [gather](size_t i, Result<v1::EndTransactionResponse> result) {
    gather->results[i] = std::move(result);
    if (gather->left.fetch_sub(1) == 1) gather->done(std::move(gather->results));
  };
  {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < requests.size(); ++i) {
      EndCallback one = [answer, i](Result<v1::EndTransactionResponse> r) { answer(i, std::move(r)); };
      if (stop_) {
        one(Status::Unavailable("the broker is stopping"));
        continue;
      }
      requests_.push_back(Pending{std::move(requests[i]), std::move(one)});
    }
  }
  wake_.notify_one();
}

Status TransactionService::BuildResolution(Resolution resolution, const std::string& group, const std::string& txn_id,
                                           const std::vector<HalfRead>& reads,
                                           const std::set<int64_t>& already_published,
                                           std::vector<std::string>* records, store::MetaStore::StateBatch* state) {
  std::vector<std::string> published;
  if (resolution == Resolution::kCommit) {
    for (const HalfRead& r : reads) {
      auto topic = topics_.GetTopic(r.half.real_topic);
      if (!topic || topic->write_queues <= 0) {
        return Status::FailedPrecondition(fmt::format(
            "transaction {} cannot be committed: the topic {} of its message {} no longer exists; it stays pending",
            txn_id, r.half.real_topic, r.half.msg_id));
      }
      if (already_published.count(r.offset) != 0) continue;
      RecordView view;
      (void)DecodeRecord(r.raw, /*verify_crc=*/false, &view);  // checked by ReadHalf
      // A copy read from the discard topic publishes as the original would: ORIGIN_OFFSET names
      // the half record.
      view.physical_offset = r.offset;
      published.push_back(
          EncodeCommittedRecord(view, r.half, r.half.real_queue % static_cast<uint32_t>(topic->write_queues)));
    }
  }
  for (auto& p : published) records->push_back(std::move(p));
  const int64_t now = NowEpochMs();
  if (traces_ != nullptr) {
    for (const HalfRead& r : reads) {
      RecordView view;
      if (DecodeRecord(r.raw, /*verify_crc=*/false, &view) != DecodeOutcome::kRecord ||
          !trace::TraceWriter::IsTraced(view.properties)) {
        continue;
      }
      vela::trace::TraceEvent e;
      e.type = resolution == Resolution::kCommit ? vela::trace::EventType::kTransactionCommit
                                                 : vela::trace::EventType::kTransactionRollback;
      e.msg_id = r.half.msg_id;
      e.time_ms = now;
      e.topic = r.half.real_topic;
      e.group = group;
      e.detail = fmt::format("transaction {}", txn_id);
      trace_pending_.push_back(std::move(e));
    }
  }
  // Only what was written is deleted (SaveHalves writes txn/p late, CheckRound txn/c).
  const auto indexed = txns_.find(txn_id);
  for (const HalfRead& r : reads) {
    OpRecord op;
    op.resolution = resolution;
    op.half_offset = r.offset;
    op.msg_id = r.half.msg_id;
    op.producer_group = group;
    op.transaction_id = txn_id;
    records->push_back(EncodeOpRecord(op, now));
    round_ops_.push_back(records->size() - 1);
    state->puts.emplace_back(OffsetKey(kResolvedPrefix, r.offset), ResolvedValue(resolution, group, txn_id));
    round_resolved_.emplace_back(r.offset, Resolved{resolution, group, txn_id});
    uncounted_.emplace_back(r.half.real_topic, resolution);
    if (indexed != txns_.end()) {
      if (auto h = indexed->second.halves.find(r.offset); h != indexed->second.halves.end() && h->second.saved) {
        state->deletes.push_back(OffsetKey(kPendingPrefix, r.offset));
      }
    }
  }
  if (indexed != txns_.end() && indexed->second.check_saved) state->deletes.push_back(CheckKey(txn_id));
  return Status::OK();
}

Result<v1::EndTransactionResponse> TransactionService::Decide(const EndTransactionRequest& r,
                                                              std::map<std::string, Decided>& decided,
                                                              std::vector<std::string>& records,
                                                              store::MetaStore::StateBatch& state,
                                                              std::vector<std::string>& resolved_ids,
                                                              int64_t* commits, int64_t* rollbacks,
                                                              bool* needs_append) {
  if (r.producer_group.empty() && !r.by_operator) {
    return Status::InvalidArgument("END_TRANSACTION needs the producer group");
  }
  if (r.transaction_id.empty()) return Status::InvalidArgument("END_TRANSACTION needs the transaction id");
  if (static_cast<int64_t>(r.half_offsets.size()) > options_.max_messages) {
    return Status::InvalidArgument(fmt::format("END_TRANSACTION names {} half messages: transactionMaxMessages is {}",
                                               r.half_offsets.size(), options_.max_messages));
  }
  if (r.resolution != v1::TX_COMMIT && r.resolution != v1::TX_ROLLBACK && r.resolution != v1::TX_UNKNOWN) {
    return Status::InvalidArgument(fmt::format("unknown transaction resolution {}", static_cast<int>(r.resolution)));
  }
  const std::string& id = r.transaction_id;
  auto wrong_group = [&](const std::string& owner) {
    return Status::PermissionDenied(fmt::format(
        "transaction {} belongs to producer group {}; END_TRANSACTION from group {} refused", id, owner,
        r.producer_group));
  };
  auto answer_known = [&](Resolution known, size_t count) -> Result<v1::EndTransactionResponse> {
    const bool committed = known == Resolution::kCommit;
    if (r.resolution == v1::TX_UNKNOWN || (r.resolution == v1::TX_COMMIT) == committed) {
      return Answer(committed ? v1::TX_END_ALREADY_COMMITTED : v1::TX_END_ALREADY_ROLLED_BACK, id, count);
    }
    return Status::FailedPrecondition(fmt::format("transaction {} was already {}; this {} changes nothing", id,
                                                  committed ? "committed" : "rolled back",
                                                  r.resolution == v1::TX_COMMIT ? "commit" : "rollback"));
  };
  if (auto it = decided.find(id); it != decided.end()) {
    if (!r.by_operator && it->second.group != r.producer_group) return wrong_group(it->second.group);
    *needs_append = true;  // the answer rests on this round's append
    return answer_known(it->second.resolution, r.half_offsets.size());
  }
  // The half messages: those the index holds, plus those the request names that the index has
  // not read yet (the dispatcher lags behind the acknowledgement).
  std::vector<HalfRead> reads;
  std::string group;
  Txn* txn = nullptr;
  if (auto it = txns_.find(id); it != txns_.end()) {
    txn = &it->second;
    group = txn->group;
    for (auto& [offset, half] : txn->halves) {
      HalfRead read;
      if (!TakeCached(offset, half, &read) && !ReadHalf(offset, half.discard_copy, &read)) {
        return Status::FailedPrecondition(fmt::format(
            "transaction {} is pending but its message at commit-log offset {} can no longer be read", id, offset));
      }
      reads.push_back(std::move(read));
    }
  }
  std::optional<Resolved> earlier;
  std::set<int64_t> named;
  for (int64_t offset : r.half_offsets) {
    if ((txn && txn->halves.count(offset) != 0) || !named.insert(offset).second) continue;
    if (auto known = ResolvedHalf(offset)) {
      if (known->transaction_id != id) {
        return Status::NotFound(fmt::format("no half message of transaction {} at commit-log offset {}", id, offset));
      }
      earlier = known;
      continue;
    }
    if (offset < store_.stats().min_physical_offset.value()) {
      // Its resolution, if any, was forgotten with it: never resolve it (again) from a stale copy.
      return Status::NotFound(fmt::format(
          "the half message of transaction {} at commit-log offset {} is older than this broker's log (deleted by "
          "retention)", id, offset));
    }
    HalfRead read;
    if (offset < 0 || !ReadHalf(offset, -1, &read) || read.half.transaction_id != id) {
      return Status::NotFound(fmt::format("no half message of transaction {} at commit-log offset {} on this broker",
                                          id, offset));
    }
    if (!group.empty() && read.half.producer_group != group) return wrong_group(group);
    group = read.half.producer_group;
    reads.push_back(std::move(read));
  }
  if (reads.empty()) {
    if (earlier) {
      if (!r.by_operator && earlier->producer_group != r.producer_group) return wrong_group(earlier->producer_group);
      return answer_known(earlier->resolution, r.half_offsets.size());
    }
    return Status::NotFound(fmt::format(
        "no pending transaction {} on this broker (unknown here, or resolved and its messages deleted by retention)",
        id));
  }
  if (!r.by_operator && group != r.producer_group) return wrong_group(group);
  if (earlier) {
    // Some of its messages were resolved already: the rest follow that decision.
    if (r.resolution != v1::TX_UNKNOWN && (r.resolution == v1::TX_COMMIT) != (earlier->resolution == Resolution::kCommit)) {
      return answer_known(earlier->resolution, reads.size());
    }
  }
  if (txn && txn->discarded && !r.by_operator) {
    return Status::FailedPrecondition(fmt::format(
        "transaction {} was discarded after {} check-backs without a decision; an operator resolves it "
        "(vela-admin transaction resolve {} --commit|--rollback)",
        id, txn->checks, id));
  }
  if (r.resolution == v1::TX_UNKNOWN && !earlier) return Answer(v1::TX_END_LEFT_PENDING, id, reads.size());
  const Resolution resolution =
      earlier ? earlier->resolution : (r.resolution == v1::TX_COMMIT ? Resolution::kCommit : Resolution::kRollback);
  VELA_RETURN_IF_ERROR(BuildResolution(resolution, group, id, reads, {}, &records, &state));
  decided[id] = Decided{resolution, group};
  resolved_ids.push_back(id);
  ++(resolution == Resolution::kCommit ? *commits : *rollbacks);
  *needs_append = true;
  if (earlier) return answer_known(earlier->resolution, reads.size());
  return Answer(resolution == Resolution::kCommit ? v1::TX_END_COMMITTED : v1::TX_END_ROLLED_BACK, id, reads.size());
}

void TransactionService::SettleFailedAppend() {
  if (unsettled_from_ < 0) return;
  while (IngestHalf()) {
  }
  if (Status st = SettleFrom(unsettled_from_); !st.ok()) {
    BrokerLogger()->error("transactions: settling a failed write from log offset {}: {} (tried again before the next "
                          "resolution)",
                          unsettled_from_, st.ToString());
    return;
  }
  unsettled_from_ = -1;
}

bool TransactionService::ProcessResolutions() {
  SettleFailedAppend();
  std::deque<Pending> batch;
  {
    std::lock_guard lock(mu_);
    while (!requests_.empty() && batch.size() < kResolveBatch) {
      batch.push_back(std::move(requests_.front()));
      requests_.pop_front();
    }
  }
  if (batch.empty()) return false;
  trace_pending_.clear();  // events of an earlier settle: not part of this round
  round_resolved_.clear();
  round_ops_.clear();
  if (unsettled_from_ >= 0) {
    for (Pending& p : batch) {
      p.done(Status::Unavailable("the broker is settling an earlier failed write of resolutions; ask again"));
    }
    return true;
  }
  struct Work {
    Pending* pending = nullptr;
    Result<v1::EndTransactionResponse> answer = Status::Internal("not decided");
    bool needs_append = false;  // answered only once the round's records are in the log
  };
  std::vector<Work> work;
  work.reserve(batch.size());
  std::map<std::string, Decided> decided;  // this round's resolutions, by transaction id
  std::vector<std::string> records;
  std::vector<std::string> resolved_ids;
  store::MetaStore::StateBatch state;
  state.sync = false;  // the op records are the durable resolution (crash window 3)
  int64_t commits = 0, rollbacks = 0;
  size_t round_bytes = 0;
  size_t taken = 0;
  for (Pending& p : batch) {
    if (round_bytes >= kRoundBytes) break;  // the rest wait for the next round
    Work w;
    w.pending = &p;
    const size_t before = records.size();
    w.answer = Decide(p.request, decided, records, state, resolved_ids, &commits, &rollbacks, &w.needs_append);
    if (!w.answer.ok()) w.needs_append = false;
    for (size_t i = before; i < records.size(); ++i) round_bytes += records[i].size();
    work.push_back(std::move(w));
    ++taken;
  }
  if (taken < batch.size()) {
    std::lock_guard lock(mu_);
    for (size_t i = batch.size(); i-- > taken;) requests_.push_front(std::move(batch[i]));
  }

  Status appended = Status::OK();
  const int64_t log_end_before = store_.stats().max_physical_offset.value();
  if (!records.empty()) {
    // The marker is in place before commits are appended (crash window 2).
    if (commits > 0 && marker_end_ < 0) appended = WriteInFlightMarker();
    Result<store::AppendResult> stored = Status::Internal("not appended");
    if (appended.ok()) {
      stored = AppendAndWait(records);
      appended = stored.status();
    }
    if (appended.ok()) {
      // This round's op records sit next in the op queue (its reading is caught up): the queue
      // offset past them is saved with their txn/r entries, and the reading skips them.
      int64_t op_queue_end = op_ingest_;
      for (size_t i : round_ops_) {
        if (op_queue_end < 0 || stored->records[i].queue_offset.value() != op_queue_end) {
          op_queue_end = -1;
          break;
        }
        ++op_queue_end;
      }
      const bool skip_ops = op_queue_end > op_ingest_;
      if (skip_ops) state.puts.emplace_back(std::string(kOpIngestKey), Fixed64(op_queue_end));
      if (commits > 0) {
        // Moved past this round's commits in the batch that resolves them: if the batch is lost,
        // the older marker still covers them.
        const int64_t end = store_.stats().max_physical_offset.value();
        state.puts.emplace_back(std::string(kInFlightKey), Fixed64(end));
        last_commit_ms_ = NowEpochMs();
      }
      const Status written = meta_.WriteState(state);
      if (!written.ok()) {
        // The op records are in the log: reading the op queue resolves them again.
        BrokerLogger()->error("transactions: resolution index write: {}", written.ToString());
      } else if (commits > 0) {
        marker_end_ = store_.stats().max_physical_offset.value();
      }
      if (written.ok() && skip_ops) op_ingest_ = op_queue_end;
      for (auto& [offset, resolved] : round_resolved_) {
        if (written.ok() && !skip_ops) own_ops_.insert(offset);
        if (offset > last_half_offset_) resolved_early_.emplace(offset, std::move(resolved));
      }
      for (const std::string& id : resolved_ids) RemoveTxn(id);
      {
        std::lock_guard lock(admit_mu_);
        for (const std::string& id : resolved_ids) admitted_.erase(id);
      }
      CountResolved();
      for (auto& e : trace_pending_) traces_->Record(std::move(e));
      trace_pending_.clear();
      committed_.fetch_add(commits);
      rolled_back_.fetch_add(rollbacks);
      RecomputeFloor();
    } else {
      BrokerLogger()->warn("transactions: storing {} resolutions failed: {}", commits + rollbacks, appended.ToString());
      uncounted_.clear();
      // All, part or none of the append may have reached the log: what did is applied (and a torn
      // commit finished) before anything else is answered, so a retry cannot publish twice.
      unsettled_from_ = log_end_before;
      SettleFailedAppend();
    }
  }
  for (Work& w : work) {
    if (w.needs_append && !appended.ok()) {
      w.pending->done(appended.WithContext("the resolution could not be stored; ask again"));
      continue;
    }
    if (!w.answer.ok()) {
      BrokerLogger()->debug("END_TRANSACTION for {} from group {} refused: {}", w.pending->request.transaction_id,
                            w.pending->request.producer_group, w.answer.status().ToString());
    }
    w.pending->done(std::move(w.answer));
  }
  return true;
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
  marker_end_ = static_cast<int64_t>(coding::GetFixed64(marker->data()));
  VELA_RETURN_IF_ERROR(SettleFrom(marker_end_));
  VELA_RETURN_IF_ERROR(meta_.DeleteState(kInFlightKey));
  marker_end_ = -1;
  return Status::OK();
}

Status TransactionService::SettleFrom(int64_t from) {
  // Every record appended since `from`: committed messages by the half record they name, and op
  // records by the half record they resolve.
  std::map<int64_t, std::string> published;  // half offset -> msg id of the published copy
  std::map<int64_t, OpRecord> ops;
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
      if (auto op = ParseOpRecord(view); op.ok() && op->resolution != Resolution::kDiscard) {
        ops.emplace(op->half_offset, std::move(op).value());
      }
    } else if (view.topic != kHalfTopic && (view.flags & record::kFlagTransactionCommit) != 0 &&
               FindProperty(view.properties, kPropOriginOffset, &origin)) {
      int64_t o = 0;
      auto [p, ec] = std::from_chars(origin.data(), origin.data() + origin.size(), o);
      if (ec == std::errc() && p == origin.data() + origin.size()) published[o] = std::string(view.msg_id);
    }
    pos += static_cast<int64_t>(view.raw.size());
  }
  store::MetaStore::StateBatch batch;
  batch.sync = false;  // the op records are the durable resolution
  // Resolutions that reached the log: applied as reading the op queue would apply them.
  std::set<std::string> settled;
  for (const auto& [offset, op] : ops) {
    if (GetResolved(offset)) continue;
    batch.puts.emplace_back(OffsetKey(kResolvedPrefix, offset),
                            ResolvedValue(op.resolution, op.producer_group, op.transaction_id));
    if (by_offset_.count(offset) != 0) {
      batch.deletes.push_back(OffsetKey(kPendingPrefix, offset));
      settled.insert(by_offset_.at(offset));
    }
  }
  // A transaction with a published message whose op record is missing (a torn append): the rest
  // of it is published and every op record written. The published copy must name a half record
  // of ours with its own id (a client cannot fake one: send refuses the transaction flags).
  std::map<std::string, std::vector<HalfRead>> torn;  // by transaction id
  std::set<int64_t> published_offsets;
  for (const auto& [offset, msg_id] : published) {
    published_offsets.insert(offset);
    if (ops.count(offset) != 0 || GetResolved(offset)) continue;
    HalfRead read;
    if (!ReadHalf(offset, -1, &read) || read.half.msg_id != msg_id) continue;
    auto& reads = torn[read.half.transaction_id];
    if (reads.empty()) {
      // Its other messages, as the index holds them.
      if (auto it = txns_.find(read.half.transaction_id); it != txns_.end()) {
        for (const auto& [o, half] : it->second.halves) {
          HalfRead member;
          if (o != offset && ReadHalf(o, half.discard_copy, &member)) reads.push_back(std::move(member));
        }
      }
    }
    const int64_t at = offset;  // (clang 14 cannot capture a structured binding)
    if (std::none_of(reads.begin(), reads.end(), [at](const HalfRead& r) { return r.offset == at; })) {
      reads.push_back(std::move(read));
    }
  }
  std::vector<std::string> records;
  std::vector<std::string> finished;
  Status unfinished = Status::OK();
  for (auto& [id, reads] : torn) {
    const std::string group = reads.front().half.producer_group;
    if (Status st = BuildResolution(Resolution::kCommit, group, id, reads, published_offsets, &records, &batch);
        !st.ok()) {
      BrokerLogger()->error("transactions: cannot finish the commit in flight of {}: {}", id, st.ToString());
      unfinished = st;
      continue;
    }
    finished.push_back(id);
  }
  if (!records.empty()) {
    auto appended = AppendAndWait(records);
    if (!appended.ok()) {
      uncounted_.clear();
      return appended.status().WithContext("finishing the commits in flight");
    }
  }
  round_resolved_.clear();  // the op queue's reading looks these up in txn/r
  round_ops_.clear();
  VELA_RETURN_IF_ERROR(meta_.WriteState(batch));
  for (const auto& [offset, op] : ops) RemoveHalf(offset);
  for (const std::string& id : finished) RemoveTxn(id);
  for (const std::string& id : settled) {
    if (txns_.count(id) == 0) (void)meta_.DeleteState(CheckKey(id));
  }
  CountResolved();
  committed_.fetch_add(static_cast<int64_t>(finished.size()));
  {
    std::lock_guard lock(admit_mu_);
    for (const std::string& id : finished) admitted_.erase(id);
    for (const std::string& id : settled) admitted_.erase(id);
  }
  RecomputeFloor();
  if (!finished.empty()) {
    BrokerLogger()->info("transactions: {} commits in flight are finished now (every message published once, op "
                         "records written)",
                         finished.size());
  }
  return unfinished.ok() ? Status::OK()
                         : unfinished.WithContext("a commit in flight stays unfinished (the marker is kept)");
}

void TransactionService::CheckRound(int64_t now_ms) {
  PublishGauges(now_ms);
  std::vector<Txn*> due;
  for (auto& [id, txn] : txns_) {
    if (!txn.discarded && txn.next_check_ms <= now_ms) due.push_back(&txn);
  }
  if (due.empty()) return;
  // txn/c is only read back for a transaction whose txn/p is written.
  SaveHalves(now_ms, /*force=*/true);
  std::sort(due.begin(), due.end(), [](const Txn* a, const Txn* b) { return a->next_check_ms < b->next_check_ms; });
  store::MetaStore::StateBatch state;
  state.sync = false;  // a lost count only means a few more checks
  size_t sent = 0, discards = 0;
  std::set<std::string> without_producer;
  for (Txn* txn : due) {
    if (txn->checks >= options_.check_max) {
      if (discards < kDiscardsPerRound) {
        Discard(*txn, now_ms, &state);
        ++discards;
      }
      continue;
    }
    if (sent >= kChecksPerRound) continue;  // next round
    if (without_producer.count(txn->group) != 0) {
      CountWaitingForProducer(*txn);
      continue;
    }
    const auto& [first_offset, first] = *txn->halves.begin();
    HalfRead read;
    if (!ReadHalf(first_offset, first.discard_copy, &read)) {
      BrokerLogger()->warn("transactions: cannot read the half message of {} at {} to check it", txn->id,
                           first_offset);
      continue;
    }
    bool traced = false;
    if (traces_ != nullptr) {
      RecordView view;
      traced = DecodeRecord(read.raw, /*verify_crc=*/false, &view) == DecodeOutcome::kRecord &&
               trace::TraceWriter::IsTraced(view.properties);
    }
    v1::CheckTransactionRequest req;
    req.set_producer_group(txn->group);
    req.set_transaction_id(txn->id);
    for (const auto& [offset, half] : txn->halves) req.add_half_physical_offsets(offset);
    req.set_topic(first.real_topic);
    req.set_check_times(txn->checks + 1);
    if (!check_sender_ || !check_sender_(req, std::move(read.raw))) {
      without_producer.insert(txn->group);
      CountWaitingForProducer(*txn);
      continue;
    }
    ++sent;
    checks_sent_.fetch_add(1);
    if (traced) {
      vela::trace::TraceEvent e;
      e.type = vela::trace::EventType::kTransactionCheck;
      e.msg_id = first.msg_id;
      e.time_ms = now_ms;
      e.topic = first.real_topic;
      e.group = txn->group;
      e.detail = fmt::format("transaction {}: check-back {} sent to the producer group", txn->id, txn->checks + 1);
      traces_->Record(std::move(e));
    }
    if (metrics_ != nullptr) metrics_->transaction_checks.Increment();
    txn->waiting_for_producer = false;
    {
      std::lock_guard lock(index_mu_);
      ++txn->checks;
      txn->next_check_ms = now_ms + options_.check_interval_ms;
    }
    state.puts.emplace_back(CheckKey(txn->id), CheckStateValue(*txn));
    txn->check_saved = true;
  }
  for (const std::string& group : without_producer) {
    int64_t& logged = no_producer_logged_ms_[group];
    if (now_ms - logged >= 60 * 1000) {
      logged = now_ms;
      BrokerLogger()->warn("transactions: check-backs of producer group {} are due but no producer of it is connected; "
                           "its transactions stay pending until one connects",
                           group);
    }
  }
  if (!state.empty()) {
    if (Status st = meta_.WriteState(state); !st.ok()) {
      BrokerLogger()->warn("transactions: check state write: {}", st.ToString());
    }
  }
  RecomputeFloor();
}

void TransactionService::CountWaitingForProducer(Txn& txn) {
  // Once per due check that found no producer (the check is tried again every round).
  if (txn.waiting_for_producer) return;
  txn.waiting_for_producer = true;
  checks_without_producer_.fetch_add(1);
  if (metrics_ != nullptr) metrics_->transaction_checks_without_producer.Increment();
}

void TransactionService::Discard(Txn& txn, int64_t now_ms, store::MetaStore::StateBatch* state) {
  // The copies first, then op records naming them: a crash between the two leaves the transaction
  // pending with its checks used up, so it is discarded again (one more copy) after the restart.
  std::vector<HalfRead> reads;
  for (const auto& [offset, half] : txn.halves) {
    HalfRead read;
    if (ReadHalf(offset, half.discard_copy, &read)) reads.push_back(std::move(read));
  }
  if (Status st = EnsureTopics(); !st.ok()) {
    BrokerLogger()->error("transactions: cannot discard {}: {}", txn.id, st.ToString());
    return;
  }
  std::vector<std::string> copies;
  for (const HalfRead& r : reads) {
    RecordView view;
    (void)DecodeRecord(r.raw, /*verify_crc=*/false, &view);
    copies.push_back(EncodeDiscardCopy(view));
  }
  auto stored = AppendAndWait(copies);
  if (!stored.ok()) {
    BrokerLogger()->error("transactions: cannot discard {}: {}", txn.id, stored.status().ToString());
    return;
  }
  std::vector<std::string> ops;
  for (size_t i = 0; i < reads.size(); ++i) {
    OpRecord op;
    op.resolution = Resolution::kDiscard;
    op.half_offset = reads[i].offset;
    op.msg_id = reads[i].half.msg_id;
    op.producer_group = txn.group;
    op.transaction_id = txn.id;
    op.discard_offset = stored->records[i].physical_offset.value();
    ops.push_back(EncodeOpRecord(op, now_ms));
  }
  if (auto appended = AppendAndWait(ops); !appended.ok()) {
    BrokerLogger()->error("transactions: cannot discard {}: {}", txn.id, appended.status().ToString());
    return;
  }
  {
    std::lock_guard lock(index_mu_);
    for (size_t i = 0; i < reads.size(); ++i) {
      txn.halves.at(reads[i].offset).discard_copy = stored->records[i].physical_offset.value();
    }
    txn.discarded = true;
  }
  pending_.fetch_sub(static_cast<int64_t>(txn.halves.size()));
  discarded_.fetch_add(1);
  if (metrics_ != nullptr) {
    for (const auto& [offset, half] : txn.halves) metrics_->transaction_discarded.WithLabels({half.real_topic}).Increment();
  }
  {
    std::lock_guard lock(admit_mu_);
    admitted_.erase(txn.id);
  }
  for (auto& [offset, half] : txn.halves) {
    state->puts.emplace_back(OffsetKey(kPendingPrefix, offset), PendingValue(txn, half));
    half.saved = true;
  }
  state->puts.emplace_back(CheckKey(txn.id), CheckStateValue(txn));
  txn.check_saved = true;
  BrokerLogger()->warn("transactions: transaction {} of producer group {} ({} messages, first for topic {}) discarded "
                       "after {} check-backs without a decision: copied to {}; resolve it with vela-admin transaction "
                       "resolve {} --commit|--rollback",
                       txn.id, txn.group, txn.halves.size(), txn.halves.begin()->second.real_topic, txn.checks,
                       kDiscardTopic, txn.id);
}

int64_t TransactionService::ForgetResolvedBefore(int64_t log_start) {
  const std::string end = OffsetKey(kResolvedPrefix, log_start);
  std::string from(kResolvedPrefix);
  int64_t forgotten = 0;
  for (;;) {
    store::MetaStore::StateBatch batch;
    batch.sync = false;  // forgetting again after a lost batch is harmless
    // From where the last batch ended, not over its deleted keys again.
    meta_.ScanStateFrom(kResolvedPrefix, from, [&](std::string_view k, std::string_view) {
      if (k >= end) return false;
      batch.deletes.emplace_back(k);
      return batch.deletes.size() < 10000;
    });
    if (!batch.empty()) from = batch.deletes.back() + '\0';
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

void TransactionService::RecomputeFloor() {
  int64_t lowest = INT64_MAX;
  for (const auto& [offset, id] : by_offset_) {
    auto it = txns_.find(id);
    if (it != txns_.end() && !it->second.discarded) {
      lowest = offset;
      break;
    }
  }
  offset_floor_.store(lowest, std::memory_order_relaxed);
}

int64_t TransactionService::ForgetDiscardedBefore(int64_t log_start) {
  std::vector<std::string> gone;
  for (const auto& [id, txn] : txns_) {
    if (!txn.discarded) continue;
    const bool all_deleted = std::all_of(txn.halves.begin(), txn.halves.end(), [&](const auto& h) {
      return h.first < log_start && h.second.discard_copy < log_start;
    });
    if (all_deleted) gone.push_back(id);
  }
  if (gone.empty()) return 0;
  store::MetaStore::StateBatch batch;
  batch.sync = false;
  for (const std::string& id : gone) {
    for (const auto& [offset, half] : txns_.at(id).halves) batch.deletes.push_back(OffsetKey(kPendingPrefix, offset));
    batch.deletes.push_back(CheckKey(id));
  }
  if (Status st = meta_.WriteState(batch); !st.ok()) {
    BrokerLogger()->warn("transactions: cannot forget discarded transactions: {}", st.ToString());
    return 0;
  }
  for (const std::string& id : gone) {
    BrokerLogger()->warn("transactions: discarded transaction {} is forgotten: retention deleted its messages and "
                         "their copies in {} before an operator resolved it",
                         id, kDiscardTopic);
    RemoveTxn(id);
  }
  return static_cast<int64_t>(gone.size());
}

void TransactionService::CountResolved() {
  if (metrics_ != nullptr) {
    for (const auto& [topic, resolution] : uncounted_) {
      (resolution == Resolution::kCommit ? metrics_->transaction_committed : metrics_->transaction_rolled_back)
          .WithLabels({topic})
          .Increment();
    }
  }
  uncounted_.clear();
}

void TransactionService::PublishGauges(int64_t now_ms) {
  if (metrics_ == nullptr) return;
  std::map<std::string, int64_t> pending;
  int64_t oldest_ms = 0;
  for (const auto& [id, txn] : txns_) {
    if (txn.discarded) continue;
    for (const auto& [offset, half] : txn.halves) {
      ++pending[half.real_topic];
      if (oldest_ms == 0 || half.store_ms < oldest_ms) oldest_ms = half.store_ms;
    }
  }
  for (const std::string& topic : gauge_topics_) {
    if (pending.count(topic) == 0) metrics_->transaction_pending.WithLabels({topic}).Set(0);
  }
  gauge_topics_.clear();
  for (const auto& [topic, n] : pending) {
    metrics_->transaction_pending.WithLabels({topic}).Set(static_cast<double>(n));
    gauge_topics_.insert(topic);
  }
  metrics_->transaction_oldest_pending_age.Set(oldest_ms == 0 ? 0.0 : static_cast<double>(now_ms - oldest_ms) / 1000.0);
}

std::vector<TransactionSummary> TransactionService::List(size_t max, bool* truncated) const {
  std::vector<TransactionSummary> out;
  *truncated = false;
  std::lock_guard lock(index_mu_);
  std::set<std::string> listed;
  for (const auto& [offset, id] : by_offset_) {
    if (!listed.insert(id).second) continue;
    if (out.size() >= max) {
      *truncated = true;
      break;
    }
    const Txn& txn = txns_.at(id);
    TransactionSummary s;
    s.transaction_id = txn.id;
    s.producer_group = txn.group;
    std::set<std::string> topics;
    for (const auto& [o, half] : txn.halves) topics.insert(half.real_topic);
    s.topics.assign(topics.begin(), topics.end());
    s.message_count = static_cast<int32_t>(txn.halves.size());
    s.first_store_ms = txn.halves.begin()->second.store_ms;
    s.check_times = txn.checks;
    s.discarded = txn.discarded;
    out.push_back(std::move(s));
  }
  return out;
}

TransactionStats TransactionService::stats() const {
  TransactionStats s;
  s.pending = pending_.load();
  s.committed = committed_.load();
  s.rolled_back = rolled_back_.load();
  s.checks_sent = checks_sent_.load();
  s.checks_without_producer = checks_without_producer_.load();
  s.discarded = discarded_.load();
  const int64_t floor = offset_floor_.load(std::memory_order_relaxed);
  if (floor != INT64_MAX) {
    std::lock_guard lock(index_mu_);
    if (auto at = by_offset_.find(floor); at != by_offset_.end()) {
      if (auto it = txns_.find(at->second); it != txns_.end()) {
        if (auto h = it->second.halves.find(floor); h != it->second.halves.end()) s.oldest_pending_store_ms = h->second.store_ms;
      }
    }
  }
  return s;
}

}  // namespace vela::broker::transaction
