#include "broker/timer/timer_service.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <future>

#include <pthread.h>

#include <fmt/format.h>

#include "broker/logger.h"
#include "common/clock.h"
#include "common/coding.h"

namespace vela::broker::timer {
namespace {

// Keys of the store's state column family (docs/storage-format.md, "Timer state").
constexpr std::string_view kDuePrefix = "timer/d/";       // + be64 due + be64 offset -> msg_id NUL topic
constexpr std::string_view kSegmentPrefix = "timer/seg/";  // + be64 segment base -> fixed64 count, fixed64 first queue offset
// Older brokers kept every timer a second time by log position; read once to build timer/seg/, then deleted.
constexpr std::string_view kLegacyOffsetPrefix = "timer/o/";  // + be64 offset -> be64 due
constexpr std::string_view kRecalledPrefix = "timer/r/";  // + be64 due + msg_id -> ""
constexpr std::string_view kPendingPrefix = "timer/pending/";  // + topic -> fixed64 count
constexpr std::string_view kIngestKey = "timer/ingest";        // fixed64 next queue offset
constexpr std::string_view kInFlightKey = "timer/inflight";    // fixed64 log end
constexpr std::string_view kDeliveredKey = "timer/stat/delivered";
constexpr std::string_view kRecalledKey = "timer/stat/recalled";
constexpr std::string_view kDroppedKey = "timer/stat/dropped";

constexpr int32_t kIngestBatch = 1024;
constexpr size_t kDeliverBatch = 1024;
constexpr int64_t kRecallMarkerKeepMs = 3600 * 1000;
// Timer records the roll walk reads per round (a point lookup each); a round that stops at this
// budget is followed by the next one soon.
constexpr size_t kRollExamineBudget = 4096;
constexpr int64_t kRollBehindIntervalMs = 20;

std::string DueKey(int64_t due_ms, int64_t offset) {
  std::string k(kDuePrefix);
  coding::AppendBigEndian64(&k, static_cast<uint64_t>(due_ms));
  coding::AppendBigEndian64(&k, static_cast<uint64_t>(offset));
  return k;
}
std::string DuePrefixOf(int64_t due_ms) {
  std::string k(kDuePrefix);
  coding::AppendBigEndian64(&k, static_cast<uint64_t>(due_ms));
  return k;
}
std::string SegmentKey(int64_t base) {
  std::string k(kSegmentPrefix);
  coding::AppendBigEndian64(&k, static_cast<uint64_t>(base));
  return k;
}
std::string RecalledKey(int64_t due_ms, std::string_view msg_id) {
  std::string k(kRecalledPrefix);
  coding::AppendBigEndian64(&k, static_cast<uint64_t>(due_ms));
  k.append(msg_id);
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
std::string DueValue(std::string_view msg_id, std::string_view topic) {
  std::string v;
  v.reserve(msg_id.size() + 1 + topic.size());
  v.append(msg_id);
  v.push_back('\0');
  v.append(topic);
  return v;
}
std::string RecallingKey(int64_t due_ms, std::string_view msg_id) { return fmt::format("{}/{}", due_ms, msg_id); }

// A due-index entry from its key and value; false when malformed.
bool ParseDueEntry(std::string_view key, std::string_view value, int64_t* due, int64_t* offset, std::string* msg_id,
                   std::string* topic) {
  if (key.size() != kDuePrefix.size() + 16) return false;
  *due = static_cast<int64_t>(coding::GetBigEndian64(key.data() + kDuePrefix.size()));
  *offset = static_cast<int64_t>(coding::GetBigEndian64(key.data() + kDuePrefix.size() + 8));
  const auto nul = value.find('\0');
  if (nul == std::string_view::npos) return false;
  *msg_id = std::string(value.substr(0, nul));
  *topic = std::string(value.substr(nul + 1));
  return true;
}

}  // namespace

TimerService::TimerService(store::MessageStore& store, TopicManager& topics, TimerOptions options,
                           std::string broker_name, metrics::BrokerMetrics* metrics, trace::TraceWriter* traces)
    : store_(store), meta_(store.meta()), topics_(topics), options_(std::move(options)),
      broker_name_(std::move(broker_name)), metrics_(metrics), traces_(traces), reader_(store, kTimerTopic, 0, [this] { Wake(); }) {}

TimerService::~TimerService() { Stop(); }

Status TimerService::Start() {
  VELA_RETURN_IF_ERROR(LoadState());
  reader_.Start();
  store_.AddRetentionFloor([this] { return store::PhysicalOffset(RetentionFloor()); });
  started_ms_ = NowEpochMs();
  thread_ = std::thread([this] { Run(); });
  return Status::OK();
}

void TimerService::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::deque<PendingRecall> left;
  {
    std::lock_guard lock(mu_);
    left.swap(recalls_);
  }
  for (auto& r : left) r.done(Status::Unavailable("the broker is stopping"));
}

void TimerService::Wake() {
  {
    std::lock_guard lock(mu_);
    signalled_ = true;
  }
  wake_.notify_one();
}

Status TimerService::EnsureTimerTopic() {
  if (topic_ready_.load(std::memory_order_acquire)) return Status::OK();
  std::lock_guard lock(topic_mu_);
  if (topic_ready_.load()) return Status::OK();
  VELA_RETURN_IF_ERROR(topics_.EnsureSystemTopic(kTimerTopic, 6).status());
  topic_ready_.store(true, std::memory_order_release);
  return Status::OK();
}

Status TimerService::LoadState() {
  ingest_offset_ = ReadFixed64(meta_.GetState(kIngestKey));
  const int64_t max_offset = reader_.MaxOffset().value();
  if (ingest_offset_ > max_offset) {
    // The offsets of the lost records are written again: an entry of a lost record may have the
    // same key as a new one, which must then not be counted twice.
    recheck_below_ = ingest_offset_;
    // The log lost its tail in a crash (ASYNC_FLUSH): entries for the lost records are found
    // missing at delivery and dropped; the records written from now on are indexed.
    BrokerLogger()->warn("timer: the timer queue ends at {} but {} was indexed: its tail was lost in a crash",
                         max_offset, ingest_offset_);
    ingest_offset_ = max_offset;
  }
  VELA_RETURN_IF_ERROR(LoadSegmentCounts());
  std::lock_guard lock(stats_mu_);
  meta_.ScanState(kPendingPrefix, [&](std::string_view k, std::string_view v) {
    const int64_t n = v.size() == 8 ? static_cast<int64_t>(coding::GetFixed64(v.data())) : 0;
    if (n <= 0) return true;
    const std::string_view topic = k.substr(kPendingPrefix.size());
    pending_by_topic_[std::string(topic)] = n;
    if (metrics_ != nullptr) metrics_->timer_pending.WithLabels({topic}).Set(static_cast<double>(n));
    pending_ += n;
    return true;
  });
  delivered_ = ReadFixed64(meta_.GetState(kDeliveredKey));
  recalled_ = ReadFixed64(meta_.GetState(kRecalledKey));
  dropped_ = ReadFixed64(meta_.GetState(kDroppedKey));
  BrokerLogger()->info("timer: {} pending in {} commit-log segments, resuming the timer queue at offset {}", pending_,
                       segments_.size(), ingest_offset_);
  return Status::OK();
}

Status TimerService::LoadSegmentCounts() {
  segments_.clear();
  meta_.ScanState(kSegmentPrefix, [&](std::string_view k, std::string_view v) {
    if (k.size() != kSegmentPrefix.size() + 8 || v.size() != 16) return true;
    SegmentPending p;
    p.count = static_cast<int64_t>(coding::GetFixed64(v.data()));
    p.first_queue_offset = static_cast<int64_t>(coding::GetFixed64(v.data() + 8));
    if (p.count > 0) segments_[static_cast<int64_t>(coding::GetBigEndian64(k.data() + kSegmentPrefix.size()))] = p;
    return true;
  });
  // An older broker's state: one timer/o/ key per pending timer. Counted into timer/seg/ (written
  // first, in one batch), then deleted; a crash while deleting finds timer/seg/ written and only
  // deletes the rest.
  bool legacy = false;
  meta_.ScanState(kLegacyOffsetPrefix, [&](std::string_view, std::string_view) {
    legacy = true;
    return false;
  });
  if (!legacy) {
    offset_floor_.store(segments_.empty() ? INT64_MAX : segments_.begin()->first, std::memory_order_relaxed);
    return Status::OK();
  }
  if (segments_.empty()) {
    meta_.ScanState(kLegacyOffsetPrefix, [&](std::string_view k, std::string_view) {
      if (k.size() == kLegacyOffsetPrefix.size() + 8) {
        ++segments_[SegmentOf(static_cast<int64_t>(coding::GetBigEndian64(k.data() + kLegacyOffsetPrefix.size())))].count;
      }
      return true;
    });
    store::MetaStore::StateBatch batch;
    for (const auto& [base, p] : segments_) {
      std::string v = Fixed64(p.count);
      coding::AppendFixed64(&v, static_cast<uint64_t>(p.first_queue_offset));
      batch.puts.emplace_back(SegmentKey(base), std::move(v));
    }
    if (!batch.empty()) VELA_RETURN_IF_ERROR(meta_.WriteState(batch));
    BrokerLogger()->info("timer: counted the pending timers of an older broker's by-offset index into {} segments",
                         segments_.size());
  }
  int64_t deleted = 0;
  std::string from(kLegacyOffsetPrefix);  // past the keys already deleted (not over their tombstones)
  while (true) {
    store::MetaStore::StateBatch batch;
    batch.sync = false;
    meta_.ScanStateFrom(kLegacyOffsetPrefix, from, [&](std::string_view k, std::string_view) {
      batch.deletes.emplace_back(k);
      return batch.deletes.size() < 10000;
    });
    if (batch.empty()) break;
    from = batch.deletes.back() + std::string(1, '\0');
    VELA_RETURN_IF_ERROR(meta_.WriteState(batch));
    deleted += static_cast<int64_t>(batch.deletes.size());
  }
  BrokerLogger()->info("timer: deleted {} keys of the older by-offset index", deleted);
  offset_floor_.store(segments_.empty() ? INT64_MAX : segments_.begin()->first, std::memory_order_relaxed);
  return Status::OK();
}

int64_t TimerService::SegmentOf(int64_t offset) const {
  const int64_t size = store_.options().commitlog_segment_size;
  return offset - offset % size;
}

void TimerService::AddSegmentPending(int64_t offset, int64_t queue_offset, int64_t delta) {
  SegmentPending& change = segment_changes_[SegmentOf(offset)];
  change.count += delta;
  if (delta > 0 && (change.first_queue_offset < 0 || queue_offset < change.first_queue_offset)) {
    change.first_queue_offset = queue_offset;
  }
}

void TimerService::Run() {
  pthread_setname_np(pthread_self(), "vela-timer");
  if (Status st = ResolveInFlight(); !st.ok()) BrokerLogger()->error("timer: {}", st.ToString());
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
      signalled_ = false;
    }
    // One batch of indexing per round, between deliveries: timers already indexed and due do not
    // wait while a burst of later ones is indexed. At start the whole backlog is indexed first,
    // so that overdue timers go out in due order.
    bool more = Ingest();
    while (more && !caught_up_once_) more = Ingest();
    caught_up_once_ = true;
    ingest_behind_ = more;
    // Recalls are answered before the deliveries of this round (one whose timer may not be
    // indexed yet waits until indexing has caught up).
    ProcessRecalls();
    int64_t next_due = 0;
    const bool delivered = DeliverDue(&next_due);
    const int64_t now = NowEpochMs();
    if (now - last_roll_ms_ >= (roll_behind_ ? kRollBehindIntervalMs : 1000)) {
      last_roll_ms_ = now;
      RollOld();
    }
    if (now - last_marker_cleanup_ms_ >= 60 * 1000) {
      last_marker_cleanup_ms_ = now;
      ForgetOldRecallMarkers();
    }
    if (delivered || more) continue;  // more may be due already, or waiting to be indexed
    next_due_ms_.store(next_due, std::memory_order_relaxed);
    // Idle: nothing is in flight, so the marker goes (a restart then scans nothing for it).
    if (marker_end_ >= 0 && now - last_delivery_ms_ >= 1000) ClearInFlightMarker();
    std::unique_lock lock(mu_);
    if (stop_ || signalled_ || !recalls_.empty()) continue;
    // At least 1 ms: an entry due already but not deliverable (its recall is being stored) waits.
    int64_t wait_ms = next_due == 0 ? 1000 : std::clamp<int64_t>(next_due - NowEpochMs(), 1, 1000);
    if (roll_behind_) wait_ms = std::min(wait_ms, kRollBehindIntervalMs);
    wake_.wait_for(lock, std::chrono::milliseconds(wait_ms),
                   [&] { return stop_ || signalled_ || !recalls_.empty(); });
  }
}

bool TimerService::Ingest() {
  const int64_t from = ingest_offset_;
  store::QueueOffset next(ingest_offset_);
  store::GetResult got = reader_.Read(&next, kIngestBatch);
  ingest_offset_ = next.value();
  if (ingest_offset_ == from) return false;
  store::MetaStore::StateBatch batch;
  batch.sync = false;  // the log holds the records: a lost batch is indexed again from the saved offset
  // New timers of one topic in a row are counted once (one lock, one map lookup per run).
  std::string run_topic;
  int64_t run_count = 0;
  auto count_new = [&](std::string_view topic) {
    if (run_count > 0 && topic == run_topic) {
      ++run_count;
      return;
    }
    if (run_count > 0) AddPending(run_topic, run_count);
    run_topic.assign(topic);
    run_count = 1;
  };
  // Every batch saves the offset of the first record it does not cover, so that a crash re-reads
  // exactly the records whose entries and counts are not written (none is counted twice).
  auto flush = [&](int64_t next_to_index) {
    if (run_count > 0) AddPending(run_topic, run_count);
    run_count = 0;
    batch.puts.emplace_back(std::string(kIngestKey), Fixed64(next_to_index));
    if (Status st = Write(&batch); !st.ok()) BrokerLogger()->error("timer: index write: {}", st.ToString());
    batch = {};
    batch.sync = false;
  };
  // Indexes the timer record `view` under `key`. After the log lost its tail, a lost record's
  // entry may have the same key: it is replaced, not counted twice.
  auto add_entry = [&](const RecordView& view, const TimerRecord& parsed, std::string key) {
    if (view.queue_offset < recheck_below_) {
      if (auto old = meta_.GetState(key)) {
        const auto nul = old->find('\0');
        if (nul != std::string::npos) AddPending(old->substr(nul + 1), -1);
        AddSegmentPending(view.physical_offset, view.queue_offset, -1);
      }
    }
    batch.puts.emplace_back(std::move(key), DueValue(parsed.msg_id, parsed.real_topic));
    AddSegmentPending(view.physical_offset, view.queue_offset, 1);
    next_scan_ms_ = std::min(next_scan_ms_, parsed.due_ms);
  };
  int64_t indexed = 0;
  for (std::string_view raw : got.records) {
    RecordView view;
    if (DecodeRecord(raw, /*verify_crc=*/false, &view) != DecodeOutcome::kRecord) continue;  // verified by the read
    auto parsed = ParseTimerRecord(view);
    if (!parsed.ok()) {
      BrokerLogger()->warn("timer: ignoring a record of the timer queue: {}", parsed.status().ToString());
      continue;
    }
    switch (parsed->kind) {
      case TimerRecord::Kind::kTimer: {
        add_entry(view, *parsed, DueKey(parsed->due_ms, view.physical_offset));
        count_new(parsed->real_topic);
        scan_from_ms_ = std::min(scan_from_ms_, parsed->due_ms);
        ++indexed;
        break;
      }
      case TimerRecord::Kind::kRolled: {
        flush(view.queue_offset);  // the entry it replaces may be in this batch
        std::string old_key = DueKey(parsed->due_ms, parsed->rolled_from);
        if (!meta_.GetState(old_key)) break;  // delivered or recalled meanwhile
        add_entry(view, *parsed, DueKey(parsed->due_ms, view.physical_offset));
        batch.deletes.push_back(std::move(old_key));
        AddSegmentPending(parsed->rolled_from, view.queue_offset, -1);
        break;
      }
      case TimerRecord::Kind::kRecall: {
        flush(view.queue_offset);
        DueEntry entry;
        recalling_.erase(RecallingKey(parsed->due_ms, parsed->msg_id));
        if (!FindEntry(parsed->due_ms, parsed->msg_id, parsed->real_topic, &entry)) break;
        RemoveEntries({entry}, &batch, kRecalledKey);
        batch.puts.emplace_back(RecalledKey(parsed->due_ms, parsed->msg_id), "");
        BrokerLogger()->debug("timer: message {} of {} due at {} recalled", parsed->msg_id, parsed->real_topic,
                              parsed->due_ms);
        break;
      }
    }
  }
  flush(ingest_offset_);
  if (indexed > 0) BrokerLogger()->debug("timer: indexed {} timers, queue offset now {}", indexed, ingest_offset_);
  return true;
}

void TimerService::AddPending(const std::string& topic, int64_t delta) {
  std::lock_guard lock(stats_mu_);
  int64_t& n = pending_by_topic_[topic];
  n = std::max<int64_t>(0, n + delta);
  pending_ = std::max<int64_t>(0, pending_ + delta);
  changed_topics_.insert(topic);
}

Status TimerService::Write(store::MetaStore::StateBatch* batch) {
  {
    std::lock_guard lock(stats_mu_);
    for (const std::string& topic : changed_topics_) {
      auto it = pending_by_topic_.find(topic);
      const int64_t n = it == pending_by_topic_.end() ? 0 : it->second;
      batch->puts.emplace_back(std::string(kPendingPrefix) + topic, Fixed64(n));
      if (metrics_ != nullptr) metrics_->timer_pending.WithLabels({topic}).Set(static_cast<double>(n));
      if (n == 0 && it != pending_by_topic_.end()) pending_by_topic_.erase(it);
    }
    changed_topics_.clear();
  }
  // The segments' counts as they are once this batch is written.
  std::map<int64_t, SegmentPending> changed;
  for (const auto& [base, change] : segment_changes_) {
    if (change.count == 0) continue;
    auto it = segments_.find(base);
    SegmentPending now = it == segments_.end() ? SegmentPending{} : it->second;
    now.count += change.count;
    if (it == segments_.end()) {  // a segment's first indexed timer record (kept, even when unknown)
      now.first_queue_offset = change.first_queue_offset;
    }
    if (now.count < 0) {
      BrokerLogger()->error("timer: pending count of commit-log segment {} went below zero", base);
      now.count = 0;
    }
    if (now.count == 0) {
      batch->deletes.push_back(SegmentKey(base));
    } else {
      std::string v = Fixed64(now.count);
      coding::AppendFixed64(&v, static_cast<uint64_t>(now.first_queue_offset));
      batch->puts.emplace_back(SegmentKey(base), std::move(v));
    }
    changed[base] = now;
  }
  segment_changes_.clear();
  if (batch->empty()) return Status::OK();
  VELA_RETURN_IF_ERROR(meta_.WriteState(*batch));
  // Applied in memory only once written: a failed batch leaves the counts as saved.
  for (const auto& [base, now] : changed) {
    if (now.count == 0) {
      segments_.erase(base);
    } else {
      segments_[base] = now;
    }
  }
  if (!changed.empty()) {
    offset_floor_.store(segments_.empty() ? INT64_MAX : segments_.begin()->first, std::memory_order_relaxed);
  }
  return Status::OK();
}

void TimerService::RemoveEntries(const std::vector<DueEntry>& entries, store::MetaStore::StateBatch* batch,
                                 std::string_view counter_key) {
  for (const DueEntry& e : entries) {
    batch->deletes.push_back(DueKey(e.due_ms, e.offset));
    AddPending(e.topic, -1);
    AddSegmentPending(e.offset, -1, -1);
  }
  std::lock_guard lock(stats_mu_);
  int64_t* total = counter_key == kDeliveredKey ? &delivered_ : counter_key == kRecalledKey ? &recalled_ : &dropped_;
  *total += static_cast<int64_t>(entries.size());
  if (metrics_ != nullptr && counter_key == kDeliveredKey) metrics_->timer_delivered.Increment(static_cast<double>(entries.size()));
  if (metrics_ != nullptr && counter_key == kRecalledKey) metrics_->timer_recalled.Increment(static_cast<double>(entries.size()));
  batch->puts.emplace_back(std::string(counter_key), Fixed64(*total));
}

bool TimerService::FindEntry(int64_t due_ms, std::string_view msg_id, std::string_view topic, DueEntry* entry) {
  bool found = false;
  meta_.ScanState(DuePrefixOf(due_ms), [&](std::string_view k, std::string_view v) {
    DueEntry e;
    if (ParseDueEntry(k, v, &e.due_ms, &e.offset, &e.msg_id, &e.topic) && e.msg_id == msg_id && e.topic == topic) {
      e.key = std::string(k);
      *entry = std::move(e);
      found = true;
      return false;
    }
    return true;
  });
  return found;
}

Result<store::AppendResult> TimerService::AppendAndWait(std::vector<std::string> records) {
  store::AppendRequest request;
  request.records.reserve(records.size());
  for (const auto& r : records) request.records.push_back(r);
  return store_.AppendAndWait(std::move(request));
}

bool TimerService::DeliverDue(int64_t* next_due_ms) {
  const int64_t now = NowEpochMs();
  if (now < next_scan_ms_) {  // nothing indexed is due yet: no scan
    *next_due_ms = next_scan_ms_ == INT64_MAX ? 0 : next_scan_ms_;
    return false;
  }
  next_scan_ms_ = 0;
  std::vector<DueEntry> due;
  int64_t skipped_from = INT64_MAX;  // the earliest entry left for later (a recall in progress)
  int64_t first_future = 0;          // the first entry due after now (0: none seen)
  meta_.ScanStateFrom(kDuePrefix, DuePrefixOf(scan_from_ms_), [&](std::string_view k, std::string_view v) {
    DueEntry e;
    if (!ParseDueEntry(k, v, &e.due_ms, &e.offset, &e.msg_id, &e.topic)) return true;
    if (e.due_ms > now) {
      first_future = e.due_ms;
      return false;
    }
    if (recalling_.count(RecallingKey(e.due_ms, e.msg_id)) != 0) {
      skipped_from = std::min(skipped_from, e.due_ms);
      return true;
    }
    e.key = std::string(k);
    due.push_back(std::move(e));
    return due.size() < kDeliverBatch;
  });
  *next_due_ms = skipped_from != INT64_MAX ? skipped_from : first_future;
  if (due.empty()) {
    // Nothing before the next entry but tombstones and entries being recalled.
    scan_from_ms_ = std::min(skipped_from, first_future > 0 ? first_future : now + 1);
    // Entries left for a recall are looked at again next round; otherwise the next scan is due
    // when the first entry is, or when an earlier one is indexed.
    if (skipped_from == INT64_MAX) next_scan_ms_ = first_future > 0 ? first_future : INT64_MAX;
    return false;
  }
  // Build the messages; entries whose record is gone or whose topic was deleted are dropped.
  std::vector<std::string> records;
  std::vector<DueEntry> delivering, dropped;
  // Due events of traced messages, recorded once delivered, with the index of their record.
  std::vector<std::pair<size_t, vela::trace::TraceEvent>> traced;
  for (DueEntry& e : due) {
    auto raw = store_.ReadRecordAt(store::PhysicalOffset(e.offset));
    RecordView view;
    Result<TimerRecord> parsed = Status::NotFound("no record");
    if (raw.ok() && DecodeRecord(*raw, false, &view) == DecodeOutcome::kRecord && view.topic == kTimerTopic &&
        view.msg_id == e.msg_id) {
      parsed = ParseTimerRecord(view);
    }
    auto topic = parsed.ok() ? topics_.GetTopic(parsed->real_topic) : std::nullopt;
    if (!parsed.ok() || parsed->due_ms != e.due_ms || !topic || topic->write_queues <= 0) {
      BrokerLogger()->error("timer: dropping message {} of {} due at {}: {}", e.msg_id, e.topic, e.due_ms,
                            !parsed.ok() ? "its timer record is no longer in the log" : "its topic no longer exists");
      dropped.push_back(std::move(e));
      continue;
    }
    const uint32_t queue = parsed->real_queue % static_cast<uint32_t>(topic->write_queues);
    records.push_back(EncodeDeliveredRecord(view, *parsed, queue));
    if (traces_ != nullptr && trace::TraceWriter::IsTraced(view.properties)) {
      vela::trace::TraceEvent event;
      event.type = vela::trace::EventType::kTimerDue;
      event.msg_id = e.msg_id;
      event.topic = parsed->real_topic;
      event.queue_id = static_cast<int32_t>(queue);
      event.detail = parsed->real_topic.starts_with("%RETRY%")
                         ? fmt::format("retry due at {}, redelivered through {}", e.due_ms, parsed->real_topic)
                         : fmt::format("due at {}, published into its topic", e.due_ms);
      traced.emplace_back(records.size() - 1, std::move(event));
    }
    delivering.push_back(std::move(e));
  }
  store::MetaStore::StateBatch done;
  done.sync = false;
  if (!dropped.empty()) RemoveEntries(dropped, &done, kDroppedKey);
  if (!delivering.empty()) {
    // The marker is in place before the append: a crash after it finds the re-put records from
    // the log end the marker names.
    if (marker_end_ < 0) {
      if (Status st = WriteInFlightMarker(); !st.ok()) {
        BrokerLogger()->error("timer: cannot record the deliveries in flight: {}", st.ToString());
        // The dropped entries still go, with their counts (a batch applies both or neither).
        if (Status written = Write(&done); !written.ok()) BrokerLogger()->error("timer: index write: {}", written.ToString());
        return false;
      }
    }
    auto appended = AppendAndWait(std::move(records));
    if (!appended.ok()) {
      BrokerLogger()->warn("timer: delivering {} due messages failed: {}; trying again", delivering.size(),
                           appended.status().ToString());
      if (Status written = Write(&done); !written.ok()) BrokerLogger()->error("timer: index write: {}", written.ToString());
      if (Status st = ResolveInFlight(); !st.ok()) BrokerLogger()->error("timer: {}", st.ToString());
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      return true;
    }
    last_delivery_ms_ = NowEpochMs();
    for (auto& [index, event] : traced) {
      // The re-put record's store time: a consumer cannot have received it earlier.
      event.time_ms = index < appended->records.size() ? appended->records[index].store_timestamp_ms : 0;
      if (event.time_ms <= 0) event.time_ms = last_delivery_ms_;
      traces_->Record(std::move(event));
    }
    const int64_t delivered_at_us = last_delivery_ms_ * 1000;
    {
      std::lock_guard lock(stats_mu_);
      for (const DueEntry& e : delivering) {
        const int64_t late_us = std::max<int64_t>(0, delivered_at_us - e.due_ms * 1000);
        lateness_us_.Record(late_us);
        if (metrics_ != nullptr) metrics_->timer_lateness.Observe(static_cast<double>(late_us) / 1e6);
      }
    }
    RemoveEntries(delivering, &done, kDeliveredKey);
    // The entries go with the marker moved past their re-puts, in one batch. Not synced: if it
    // is lost, the older marker still covers these re-puts and the ones that follow.
    const int64_t end = store_.stats().max_physical_offset.value();
    done.puts.emplace_back(std::string(kInFlightKey), Fixed64(end));
    marker_end_ = end;
  }
  if (Status st = Write(&done); !st.ok()) {
    BrokerLogger()->error("timer: index write: {}", st.ToString());
    // The saved marker still covers the re-puts: find them again from it.
    if (!delivering.empty()) {
      if (Status resolved = ResolveInFlight(); !resolved.ok()) BrokerLogger()->error("timer: {}", resolved.ToString());
    }
  }
  // The head of the index is now tombstones: the next scan starts at the last entry taken.
  scan_from_ms_ = std::min(skipped_from, due.back().due_ms);
  return true;
}

Status TimerService::WriteInFlightMarker() {
  const int64_t end = store_.stats().max_physical_offset.value();
  store::MetaStore::StateBatch batch;
  batch.puts.emplace_back(std::string(kInFlightKey), Fixed64(end));
  // Synced when the re-puts will be (SYNC_FLUSH), so that a power failure cannot keep them and
  // lose it; under ASYNC_FLUSH the WAL in the page cache survives a process crash, as the log does.
  batch.sync = store_.options().flush_disk_type == store::FlushDiskType::kSync;
  VELA_RETURN_IF_ERROR(meta_.WriteState(batch));
  marker_end_ = end;
  return Status::OK();
}

void TimerService::ClearInFlightMarker() {
  if (Status st = meta_.DeleteState(kInFlightKey); !st.ok()) {
    BrokerLogger()->warn("timer: cannot clear the in-flight marker: {}", st.ToString());
    return;
  }
  marker_end_ = -1;
}

Status TimerService::ResolveInFlight() {
  auto marker = meta_.GetState(kInFlightKey);
  if (!marker) {
    marker_end_ = -1;
    return Status::OK();
  }
  if (marker->size() < 8 || marker->size() % 8 != 0) {
    if (meta_.DeleteState(kInFlightKey).ok()) marker_end_ = -1;
    return Status::Corruption("timer: malformed in-flight marker dropped");
  }
  // Until it is resolved, the saved marker stays the one deliveries are covered by.
  marker_end_ = static_cast<int64_t>(coding::GetFixed64(marker->data()));
  // Every record appended since the log end the marker names: a re-put names its timer record,
  // and a timer record whose index entry is still there was delivered but not yet removed.
  std::set<int64_t> published;
  const int64_t segment = store_.options().commitlog_segment_size;
  const int64_t end = store_.stats().max_physical_offset.value();
  for (int64_t pos = static_cast<int64_t>(coding::GetFixed64(marker->data())); pos < end;) {
    auto raw = store_.ReadRecordAt(store::PhysicalOffset(pos));
    RecordView view;
    if (!raw.ok() || DecodeRecord(*raw, false, &view) != DecodeOutcome::kRecord) {
      pos = (pos / segment + 1) * segment;  // the filler at a segment's end, or damage: go on at the next
      continue;
    }
    std::string_view origin;
    if (view.topic != kTimerTopic && FindProperty(view.properties, kPropOriginOffset, &origin)) {
      int64_t o = 0;
      auto [p, ec] = std::from_chars(origin.data(), origin.data() + origin.size(), o);
      if (ec == std::errc()) published.insert(o);
    }
    pos += static_cast<int64_t>(view.raw.size());
  }
  std::vector<DueEntry> delivered;
  for (int64_t offset : published) {
    // The timer record gives its due time, hence its index key (its segment is kept while the
    // entry is pending).
    auto timer_raw = store_.ReadRecordAt(store::PhysicalOffset(offset));
    RecordView timer_view;
    if (!timer_raw.ok() || DecodeRecord(*timer_raw, false, &timer_view) != DecodeOutcome::kRecord ||
        timer_view.topic != kTimerTopic) {
      continue;
    }
    auto parsed = ParseTimerRecord(timer_view);
    if (!parsed.ok() || parsed->kind == TimerRecord::Kind::kRecall) continue;
    DueEntry e;
    const std::string key = DueKey(parsed->due_ms, offset);
    auto value = meta_.GetState(key);
    if (!value) continue;
    if (!ParseDueEntry(key, *value, &e.due_ms, &e.offset, &e.msg_id, &e.topic) || e.msg_id != timer_view.msg_id) continue;
    delivered.push_back(std::move(e));
  }
  store::MetaStore::StateBatch batch;
  if (!delivered.empty()) RemoveEntries(delivered, &batch, kDeliveredKey);
  batch.deletes.push_back(std::string(kInFlightKey));
  BrokerLogger()->info("timer: {} deliveries in flight at the last stop had reached the log", delivered.size());
  VELA_RETURN_IF_ERROR(Write(&batch));
  marker_end_ = -1;
  return Status::OK();
}

void TimerService::Recall(std::string topic, RecallHandle handle, RecallCallback done) {
  {
    std::lock_guard lock(mu_);
    if (stop_) {
      done(Status::Unavailable("the broker is stopping"));
      return;
    }
    recalls_.push_back(PendingRecall{std::move(topic), std::move(handle), std::move(done)});
  }
  wake_.notify_one();
}

void TimerService::ProcessRecalls() {
  std::deque<PendingRecall> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(recalls_);
  }
  std::deque<PendingRecall> deferred;
  for (auto& r : batch) {
    if (!RecallOne(r)) deferred.push_back(std::move(r));
  }
  if (deferred.empty()) return;
  std::lock_guard lock(mu_);
  for (auto it = deferred.rbegin(); it != deferred.rend(); ++it) recalls_.push_front(std::move(*it));
}

bool TimerService::RecallOne(PendingRecall& r) {
  v1::RecallResponse response;
  response.set_msg_id(r.handle.msg_id);
  response.set_deliver_at_ms(r.handle.due_ms);
  if (r.handle.broker_name != broker_name_) {
    r.done(Status::InvalidArgument(fmt::format("recall handle names broker {}, this is broker {}",
                                               r.handle.broker_name, broker_name_)));
    return true;
  }
  const std::string recalling = RecallingKey(r.handle.due_ms, r.handle.msg_id);
  DueEntry entry;
  if (recalling_.count(recalling) != 0 || meta_.GetState(RecalledKey(r.handle.due_ms, r.handle.msg_id))) {
    response.set_outcome(v1::RECALL_ALREADY_RECALLED);
    r.done(std::move(response));
    return true;
  }
  if (!FindEntry(r.handle.due_ms, r.handle.msg_id, r.topic, &entry)) {
    if (ingest_behind_) return false;  // it may be among the records not indexed yet
    if (r.handle.due_ms <= NowEpochMs()) {
      response.set_outcome(v1::RECALL_ALREADY_DELIVERED);
      r.done(std::move(response));
    } else {
      r.done(Status::NotFound(fmt::format("no pending timer message {} for topic {} due at {} on broker {}",
                                          r.handle.msg_id, r.topic, r.handle.due_ms, broker_name_)));
    }
    return true;
  }
  // Not delivered from here on: deliveries skip it until the recall record is indexed (or the
  // append failed and the recall is forgotten).
  recalling_.insert(recalling);
  std::string record = EncodeRecallRecord(r.topic, r.handle.msg_id, r.handle.due_ms, NowEpochMs());
  auto appended = AppendAndWait({std::move(record)});
  if (!appended.ok()) {
    recalling_.erase(recalling);
    r.done(appended.status().WithContext("the recall could not be stored"));
    return true;
  }
  response.set_outcome(v1::RECALL_DONE);
  r.done(std::move(response));
  if (traces_ != nullptr) {
    auto raw = store_.ReadRecordAt(store::PhysicalOffset(entry.offset));
    RecordView view;
    if (raw.ok() && DecodeRecord(*raw, false, &view) == DecodeOutcome::kRecord && view.msg_id == r.handle.msg_id &&
        trace::TraceWriter::IsTraced(view.properties)) {
      vela::trace::TraceEvent event;
      event.type = vela::trace::EventType::kTimerRecalled;
      event.msg_id = r.handle.msg_id;
      event.time_ms = NowEpochMs();
      event.topic = r.topic;
      event.detail = fmt::format("recalled before its due time {}", r.handle.due_ms);
      traces_->Record(std::move(event));
    }
  }
  return true;
}

void TimerService::RollOld() {
  roll_behind_ = false;
  if (segments_.empty()) {
    roll_cursor_ = -1;
    return;
  }
  const int64_t cutoff = NowEpochMs() - options_.roll_after_ms;
  // The walk starts at the first timer record of the lowest segment holding a pending timer, or
  // goes on from where it stopped. Unknown (an older broker's state): from the queue's start.
  const SegmentPending& lowest = segments_.begin()->second;
  roll_cursor_ = std::max<int64_t>(roll_cursor_, std::max<int64_t>(lowest.first_queue_offset, 0));
  const int64_t started_at = roll_cursor_;
  std::vector<std::string> rolled;
  size_t examined = 0;  // bounded, so that deliveries do not wait long behind the walk
  bool done = false;
  // Only records already indexed: a pending timer not indexed yet would look delivered.
  while (!done && examined < kRollExamineBudget && rolled.size() < kDeliverBatch && roll_cursor_ < ingest_offset_) {
    const auto count = static_cast<int32_t>(std::min<int64_t>(256, ingest_offset_ - roll_cursor_));
    store::GetResult got = store_.GetMessages(kTimerTopic, 0, store::QueueOffset(roll_cursor_), count, 8 << 20, nullptr);
    if (got.outcome == store::GetOutcome::kOffsetTooSmall) {
      roll_cursor_ = got.min_offset.value();  // retention deleted them: nothing pending there
      continue;
    }
    if (got.outcome != store::GetOutcome::kFound && got.outcome != store::GetOutcome::kNoMatchedMessage) break;
    const int64_t walked_from = roll_cursor_;
    for (std::string_view raw : got.records) {
      RecordView view;
      if (DecodeRecord(raw, false, &view) != DecodeOutcome::kRecord) continue;
      if (view.store_timestamp_ms > cutoff) {  // queue order is store order: the rest are younger
        done = true;
        break;
      }
      ++examined;
      const int64_t segment = SegmentOf(view.physical_offset);
      auto pending = segments_.lower_bound(segment);
      if (pending == segments_.end()) {  // nothing pending in this segment or after it
        done = true;
        break;
      }
      if (pending->first != segment) {
        // Nothing pending in this segment: jump to the next one that holds some.
        if (pending->second.first_queue_offset > view.queue_offset) {
          roll_cursor_ = pending->second.first_queue_offset;
          break;
        }
        roll_cursor_ = view.queue_offset + 1;
        continue;
      }
      roll_cursor_ = view.queue_offset + 1;
      auto parsed = ParseTimerRecord(view);
      if (!parsed.ok() || parsed->kind == TimerRecord::Kind::kRecall) continue;
      // Pending when its entry is still indexed (delivered, recalled or rolled ones are not).
      if (!meta_.GetState(DueKey(parsed->due_ms, view.physical_offset))) continue;
      rolled.push_back(EncodeRolledRecord(view, view.physical_offset));
      if (rolled.size() >= kDeliverBatch || examined >= kRollExamineBudget) break;
    }
    // Past damaged records (skipped by the read) to where the read ended.
    if (!done && roll_cursor_ == walked_from) {
      if (got.next_begin_offset.value() <= roll_cursor_) break;
      roll_cursor_ = got.next_begin_offset.value();
    }
  }
  roll_behind_ = !done && (examined >= kRollExamineBudget || rolled.size() >= kDeliverBatch);
  if (rolled.empty()) return;
  auto appended = AppendAndWait(std::move(rolled));
  if (!appended.ok()) {
    BrokerLogger()->warn("timer: rolling old timers forward failed: {}", appended.status().ToString());
    roll_cursor_ = started_at;  // walked again next time
    return;
  }
  BrokerLogger()->info("timer: rolled {} timers stored before {} forward in the log", appended->records.size(), cutoff);
}

void TimerService::ForgetOldRecallMarkers() {
  const int64_t before = NowEpochMs() - kRecallMarkerKeepMs;
  store::MetaStore::StateBatch batch;
  batch.sync = false;
  meta_.ScanState(kRecalledPrefix, [&](std::string_view k, std::string_view) {
    if (k.size() < kRecalledPrefix.size() + 8) return true;
    if (static_cast<int64_t>(coding::GetBigEndian64(k.data() + kRecalledPrefix.size())) >= before) return false;
    batch.deletes.emplace_back(k);
    return batch.deletes.size() < 10000;
  });
  if (!batch.empty()) (void)meta_.WriteState(batch);
}

int64_t TimerService::RetentionFloor() const { return offset_floor_.load(std::memory_order_relaxed); }


TimerStats TimerService::stats() const {
  TimerStats s;
  std::lock_guard lock(stats_mu_);
  s.pending = pending_;
  s.delivered = delivered_;
  s.recalled = recalled_;
  s.dropped = dropped_;
  s.next_due_ms = pending_ > 0 ? next_due_ms_.load(std::memory_order_relaxed) : 0;
  s.lateness_p50_us = lateness_us_.Percentile(0.5);
  s.lateness_p99_us = lateness_us_.Percentile(0.99);
  s.lateness_max_us = lateness_us_.max();
  s.pending_by_topic = pending_by_topic_;
  return s;
}

}  // namespace vela::broker::timer
