#include "store/dispatcher.h"

#include <algorithm>

#include "common/validation.h"
#include "store/logger.h"

namespace vela::store {

namespace {
// How long an appended record with keys may wait before the thread indexes them: the batching
// window that keeps RocksDB writes (and their WAL writes) off the per-message path.
constexpr auto kIndexInterval = std::chrono::milliseconds(5);
constexpr auto kIdleInterval = std::chrono::milliseconds(100);
constexpr auto kRetryInterval = std::chrono::milliseconds(1000);

// Calls fn(position, segment, view) for each record in [from, end) of the log, in order, until fn
// returns false. Records inside `appended` are decoded from its bytes, the others from the
// mapping. A record that does not decode (or, with verify_crc, does not verify) is damage:
// on_damaged(position, next, reason) is called with the offset of the next intact record (or
// `end` when none follows) and the walk goes on there. Returns the position reached and, when
// the log itself cannot be read there, the error.
template <typename Fn, typename OnDamaged>
std::pair<int64_t, Status> WalkLog(CommitLog& log, int64_t from, int64_t end, bool verify_crc, Fn&& fn,
                                   OnDamaged&& on_damaged, AppendedBytes appended = {}) {
  const int64_t appended_end = appended.start + static_cast<int64_t>(appended.bytes.size());
  int64_t pos = from;
  while (pos < end) {
    auto seg = log.SegmentFor(PhysicalOffset(pos));
    if (!seg) {
      const int64_t min = log.min_offset().value();
      if (pos < min) {
        pos = min;  // retention removed what we had not read (only when far behind)
        continue;
      }
      return {pos, Status::Internal(fmt::format("dispatcher: no segment for offset {}", pos))};
    }
    const int64_t rel = pos - seg->base();
    if (seg->size() - rel < 8) {
      pos = seg->end();
      continue;
    }
    const int64_t rest = std::min(seg->size(), end - seg->base()) - rel;
    const bool in_appended = pos >= appended.start && pos < appended_end && appended_end <= seg->end();
    const std::string_view bytes =
        in_appended ? appended.bytes.substr(static_cast<size_t>(pos - appended.start),
                                            static_cast<size_t>(std::min(rest, appended_end - pos)))
                    : seg->View(rel, rest);
    RecordView view;
    std::string why;
    const auto outcome = DecodeRecord(bytes, verify_crc, &view, &why);
    if (outcome == DecodeOutcome::kBlank) {
      pos = seg->end();
      continue;
    }
    if (outcome != DecodeOutcome::kRecord || view.physical_offset != pos) {
      if (outcome == DecodeOutcome::kRecord) {
        why = fmt::format("record claims physical offset {}", view.physical_offset);
      }
      if (outcome == DecodeOutcome::kEndOfData) why = "zeros where a record should start";
      const int64_t next = log.FindIntactRecordAfter(PhysicalOffset(pos), PhysicalOffset(end)).value();
      on_damaged(pos, next < 0 ? end : next, why);
      pos = next < 0 ? end : next;
      continue;
    }
    if (!fn(pos, seg, view)) break;
    pos += static_cast<int64_t>(view.raw.size());
  }
  return {pos, Status::OK()};
}

// Logs damage the walk skipped.
void LogDamage(int64_t at, int64_t next, const std::string& why) {
  Log().error("dispatcher: commit-log bytes [{}, {}) hold no intact record ({}); skipped", at, next, why);
}
}  // namespace

Dispatcher::Dispatcher(CommitLog& log, ConsumeQueueTable& queues, MessageIdIndex& ids, RocksMetaStore& meta,
                       std::vector<std::string> hash_keyed_topics)
    : ServiceThread("vela-dispatch"),
      log_(log),
      queues_(queues),
      ids_(ids),
      meta_(meta),
      hash_keyed_topics_(std::move(hash_keyed_topics)) {}

Dispatcher::~Dispatcher() { Stop(); }

void Dispatcher::SetStart(PhysicalOffset offset) {
  queued_.store(offset.value(), std::memory_order_release);
  indexed_.store(offset.value(), std::memory_order_release);
}

Status Dispatcher::DispatchAvailable() {
  queue_failed_.store(false);
  Status st = DispatchQueuesUpTo(/*from_thread=*/true, /*verify_crc=*/true);
  Status ist = DispatchKeys();
  return st.ok() ? ist : st;
}

void Dispatcher::IndexId(std::string_view msg_id, PhysicalOffset physical_offset) {
  Status st = ids_.Insert(msg_id, physical_offset);
  if (st.ok()) {
    if (unindexed_ids_ > 0) {
      Log().warn("dispatcher: the message id index works again; {} records before offset {} are not findable by id",
                 unindexed_ids_, physical_offset);
      unindexed_ids_ = 0;
    }
    return;
  }
  // Consumers must not wait for the index: the record stays readable, only its id lookup fails.
  if (unindexed_ids_++ == 0) Log().error("dispatcher: message id index: {}; records go on unindexed", st.ToString());
}

bool Dispatcher::IndexIdsOf(const RecordView& view, PhysicalOffset physical_offset) {
  if (!view.msg_id.empty()) IndexId(view.msg_id, physical_offset);
  if (std::find(hash_keyed_topics_.begin(), hash_keyed_topics_.end(), view.topic) == hash_keyed_topics_.end()) {
    return false;
  }
  if (std::string_view keys; FindProperty(view.properties, prop::kKeys, &keys)) {
    ForEachKey(keys, [&](std::string_view key) { IndexId(key, physical_offset); });
  }
  return true;
}

Status Dispatcher::IndexIds(PhysicalOffset from, PhysicalOffset to) {
  return WalkLog(
             log_, from.value(), to.value(), /*verify_crc=*/true,
             [&](int64_t at, const std::shared_ptr<MappedSegment>&, const RecordView& view) {
               IndexIdsOf(view, PhysicalOffset(at));
               return true;
             },
             LogDamage)
      .second;
}

void Dispatcher::PlaceDamagedRecord(int64_t at, int64_t next, const std::string& why) {
  LogDamage(at, next, why);
  damaged_records_.fetch_add(1, std::memory_order_relaxed);
  // When the header still reads (a flipped byte in the body or properties) and names the next
  // offset of its queue, the entry is written: the queue offset stays taken, and pulls report the
  // record as corrupt to the consumer instead of silently skipping a number.
  auto seg = log_.SegmentFor(PhysicalOffset(at));
  if (!seg) return;
  const int64_t len = std::min(next, seg->end()) - at;
  RecordView view;
  if (len <= 0 ||
      DecodeRecord(seg->View(at - seg->base(), len), /*verify_crc=*/false, &view) != DecodeOutcome::kRecord ||
      view.physical_offset != at || !ValidateTopicName(view.topic).ok()) {
    return;
  }
  auto cq = view.queue_offset == 0 ? queues_.FindOrCreate(view.topic, view.queue_id)
                                   : queues_.Find(view.topic, view.queue_id);
  if (!cq || cq->max_offset() != QueueOffset(view.queue_offset)) return;
  const auto size = static_cast<int32_t>(view.raw.size());
  if (Status st = cq->Put(QueueOffset(view.queue_offset), QueueEntry{PhysicalOffset(at), size, TagHash(view.Tag())});
      !st.ok()) {
    Log().error("dispatcher: entry of the damaged record at {}: {}", at, st.ToString());
    return;
  }
  Log().error("dispatcher: the damaged record at {} keeps offset {} of queue {}/{}; pulls report it as corrupt", at,
              view.queue_offset, view.topic, view.queue_id);
}

Status Dispatcher::DispatchQueuesUpTo(bool from_thread, bool verify_crc, AppendedBytes appended) {
  if (!from_thread && queue_failed_.load(std::memory_order_acquire)) return Status::OK();
  // What this round dispatched, told to the listeners after the lock is released (the segments
  // are pinned so the views stay valid).
  struct Told {
    RecordView view;
    int64_t physical_offset;
    int64_t tag_hash;
  };
  std::vector<Told> told;
  std::vector<std::shared_ptr<MappedSegment>> pins;
  Status status;
  {
    std::lock_guard lock(queue_mu_);
    const int64_t end = log_.write_offset().value();
    int64_t from = queued_.load(std::memory_order_relaxed);
    if (from >= end) return Status::OK();
    std::shared_ptr<ConsumeQueue> cq;
    std::string cq_topic;
    uint32_t cq_id = 0;
    Status put_status;
    auto on_record = [&](int64_t at, const std::shared_ptr<MappedSegment>& seg, const RecordView& view) {
      const int64_t tag_hash = TagHash(view.Tag());
      if (!cq || cq_id != view.queue_id || cq_topic != view.topic) {
        cq = queues_.FindOrCreate(view.topic, view.queue_id);
        cq_topic.assign(view.topic);
        cq_id = view.queue_id;
      }
      if (QueueOffset(view.queue_offset) > cq->max_offset() && cq->max_offset() > QueueOffset(0)) {
        Log().error("dispatcher: queue {}/{} has no intact record at offsets [{}, {}); pulls report them as missing",
                    view.topic, view.queue_id, cq->max_offset(), view.queue_offset);
      }
      const auto size = static_cast<uint32_t>(view.raw.size());
      put_status = cq->Put(QueueOffset(view.queue_offset),
                           QueueEntry{PhysicalOffset(at), static_cast<int32_t>(size), tag_hash});
      if (!put_status.ok()) return false;
      const bool hash_keyed = IndexIdsOf(view, PhysicalOffset(at));
      if (std::string_view keys; !hash_keyed && FindProperty(view.properties, prop::kKeys, &keys) && !keys.empty()) {
        std::string_view topic = view.topic;
        if (view.raw.data() >= appended.bytes.data() &&
            view.raw.data() < appended.bytes.data() + appended.bytes.size()) {
          // The appender reuses its bytes: the entry keeps copies until the key index is written.
          const std::string& copy = pending_key_copies_.emplace_back(std::string(topic).append(keys));
          topic = std::string_view(copy).substr(0, topic.size());
          keys = std::string_view(copy).substr(topic.size());
        } else if (pending_key_pins_.empty() || pending_key_pins_.back() != seg) {
          pending_key_pins_.push_back(seg);
        }
        pending_keys_.push_back(KeyIndexEntry{topic, keys, PhysicalOffset(at), size});
      }
      if (!listeners_.empty()) {
        told.push_back(Told{view, at, tag_hash});
        if (pins.empty() || pins.back() != seg) pins.push_back(seg);
      }
      // Published per record: a reader that sees the queue's max offset move may rely on it.
      queued_.store(at + size, std::memory_order_release);
      return true;
    };
    auto on_damaged = [&](int64_t at, int64_t next, const std::string& why) {
      cq.reset();  // the damaged record's queue may be the one cached
      PlaceDamagedRecord(at, next, why);
      queued_.store(next, std::memory_order_release);
    };
    auto walked = WalkLog(log_, from, end, verify_crc, on_record, on_damaged, appended);
    status = walked.second.ok() ? put_status : walked.second;
    queued_.store(walked.first, std::memory_order_release);
  }
  if (!status.ok() && !queue_failed_.exchange(true)) {
    Log().error("{}; the dispatcher thread will retry", status.ToString());
  }
  if (status.ok() && from_thread) queue_failed_.store(false, std::memory_order_release);
  for (const Told& t : told) {
    DispatchedRecord d;
    d.topic = t.view.topic;
    d.queue_id = t.view.queue_id;
    d.queue_offset = QueueOffset(t.view.queue_offset);
    d.physical_offset = PhysicalOffset(t.physical_offset);
    d.size = static_cast<uint32_t>(t.view.raw.size());
    d.tag_hash = t.tag_hash;
    d.store_timestamp_ms = t.view.store_timestamp_ms;
    d.flags = t.view.flags;
    d.record = &t.view;
    for (auto* l : listeners_) l->OnDispatch(d);
  }
  return status;
}

Status Dispatcher::DispatchKeys() {
  std::vector<KeyIndexEntry> keys;
  std::vector<std::shared_ptr<MappedSegment>> pins;  // keep the entries' views mapped until written
  std::deque<std::string> copies;                     // or their copies alive
  int64_t upto;
  {
    std::lock_guard lock(queue_mu_);
    keys.swap(pending_keys_);
    pins.swap(pending_key_pins_);
    copies.swap(pending_key_copies_);
    upto = queued_.load(std::memory_order_relaxed);
  }
  Status st;
  if (!keys.empty()) {
    st = meta_.WriteKeyIndex(keys);
    if (!st.ok()) Log().error("dispatcher: key index write failed ({} records not findable by key): {}", keys.size(),
                              st.ToString());
  }
  indexed_.store(upto, std::memory_order_release);
  std::lock_guard lock(index_wait_mu_);
  index_cv_.notify_all();
  return st;
}

bool Dispatcher::WaitForIndex(std::chrono::milliseconds timeout) {
  const PhysicalOffset target = log_.write_offset();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (indexed_offset() < target) {
    Wakeup();
    std::unique_lock lock(index_wait_mu_);
    if (index_cv_.wait_until(lock, std::min(deadline, std::chrono::steady_clock::now() + kIndexInterval),
                             [&] { return indexed_offset() >= target; })) {
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
  }
  return true;
}

void Dispatcher::Run() {
  bool failed = false;
  while (!stopped()) {
    const bool behind = indexed_offset() < log_.write_offset();
    WaitForRunning(failed ? kRetryInterval : behind ? kIndexInterval : kIdleInterval);
    Status st;
    // Normally the appenders have queued everything; after a failed queue write, or a race with
    // its recovery, the rest is queued here.
    if (queued_offset() < log_.write_offset()) st = DispatchQueuesUpTo(/*from_thread=*/true);
    Status ist = DispatchKeys();
    if (st.ok()) st = ist;
    if (!st.ok() && !failed) Log().error("{}", st.ToString());
    failed = !st.ok();
  }
}

}  // namespace vela::store
