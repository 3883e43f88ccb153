#include "store/default_message_store.h"

#include <unistd.h>

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "common/clock.h"
#include "common/coding.h"
#include "common/validation.h"
#include "store/logger.h"

namespace vela::store {

namespace {
// Pins of a GetResult: the commit-log segments its views point into.
struct SegmentPins {
  std::vector<std::shared_ptr<MappedSegment>> segments;
  std::vector<std::unique_ptr<char[]>> copies;  // records read with pread (GetMessages)
  std::shared_ptr<std::atomic<int64_t>> copied_total;  // the store's count of copies held
  int64_t copied = 0;                                   // bytes of `copies`, counted there

  SegmentPins() = default;
  SegmentPins(const SegmentPins&) = delete;
  SegmentPins& operator=(const SegmentPins&) = delete;
  ~SegmentPins() {
    if (copied_total) copied_total->fetch_sub(copied, std::memory_order_relaxed);
  }
};

// GetMessages copies a run of adjacent records with one pread: records of the queue at most this
// far apart are read together (the bytes between are read and ignored), up to kMaxReadRun bytes.
constexpr int64_t kMaxReadGap = 4096;
constexpr int64_t kMaxReadRun = 1 << 20;
constexpr int kMinScanEntries = 2048;
// A lookup first lets the index catch up with what was appended before it, for at most this long.
constexpr auto kIndexLookupWait = std::chrono::milliseconds(1000);
}  // namespace

Result<std::unique_ptr<MessageStore>> MessageStore::Open(StoreOptions options) {
  auto store = DefaultMessageStore::OpenImpl(std::move(options));
  if (!store.ok()) return store.status();
  return std::unique_ptr<MessageStore>(std::move(*store));
}

DefaultMessageStore::DefaultMessageStore(StoreOptions options) : options_(std::move(options)) {
  fs_ = options_.fs ? options_.fs : DefaultFileSystem();
  root_ = options_.root_dir;
}

DefaultMessageStore::~DefaultMessageStore() { Shutdown(); }

void DefaultMessageStore::FitIndexFilesToSegments(StoreOptions& options) {
  // A store sized for a small disk (small commit-log segments) must not be undone by its queue and
  // index files: a consume-queue file takes at most 1/8 of a log segment, an id index file 1/2.
  const int64_t cq_cap = std::max<int64_t>(64 * 1024, options.commitlog_segment_size / 8) / 20 * 20;
  if (options.consume_queue_segment_size > cq_cap) {
    Log().info("consume-queue files of {} bytes instead of mappedFileSizeConsumeQueue {}: at most 1/8 of "
               "mappedFileSizeCommitLog {}",
               cq_cap, options.consume_queue_segment_size, options.commitlog_segment_size);
    options.consume_queue_segment_size = cq_cap;
  }
  const int64_t index_cap = options.commitlog_segment_size / 2;
  const int64_t index_bytes = MessageIdIndex::FileBytes(options.max_hash_slot_num, options.max_index_num);
  if (index_bytes > index_cap) {
    const double scale = static_cast<double>(index_cap) / static_cast<double>(index_bytes);
    const auto slots = std::max<uint32_t>(4, static_cast<uint32_t>(options.max_hash_slot_num * scale));
    const auto entries = std::max<uint32_t>(1024, static_cast<uint32_t>(options.max_index_num * scale));
    Log().info("message id index files of {} slots and {} entries instead of maxHashSlotNum {} and maxIndexNum {}: "
               "at most 1/2 of mappedFileSizeCommitLog {}",
               slots, entries, options.max_hash_slot_num, options.max_index_num, options.commitlog_segment_size);
    options.max_hash_slot_num = slots;
    options.max_index_num = entries;
  }
}

Result<std::unique_ptr<DefaultMessageStore>> DefaultMessageStore::OpenImpl(StoreOptions options) {
  if (options.root_dir.empty()) return Status::InvalidArgument("storePathRootDir is empty");
  if (options.commitlog_segment_size < 64 * 1024) {
    return Status::InvalidArgument("mappedFileSizeCommitLog must be at least 64 KiB");
  }
  if (options.max_message_size <= 0 ||
      static_cast<int64_t>(options.max_message_size) + 64 * 1024 > options.commitlog_segment_size) {
    return Status::InvalidArgument("maxMessageSize must be positive and well below mappedFileSizeCommitLog");
  }
  FitIndexFilesToSegments(options);
  std::unique_ptr<DefaultMessageStore> store(new DefaultMessageStore(std::move(options)));
  Status st = store->OpenSteps();
  if (!st.ok()) {
    store->StopServices();
    store->shut_down_ = true;  // leave the abort marker: the next open recovers
    return st;
  }
  return store;
}

Status DefaultMessageStore::OpenSteps() {
  VELA_RETURN_IF_ERROR(fs_->CreateDirs(root_));
  VELA_ASSIGN_OR_RETURN(lock_, DirLock::Acquire(root_));
  const std::string abort_path = root_ + "/abort";
  const bool crashed = fs_->Exists(abort_path);
  const auto ckpt = Checkpoint::Read(*fs_, root_ + "/checkpoint");
  VELA_RETURN_IF_ERROR(fs_->WriteFileAtomic(abort_path, fmt::format("{}\n", ::getpid())));

  VELA_RETURN_IF_ERROR(fs_->CreateDirs(root_ + "/meta"));
  VELA_ASSIGN_OR_RETURN(meta_, RocksMetaStore::Open(root_ + "/meta", options_.key_index_max_per_key));

  log_ = std::make_unique<CommitLog>(*fs_, root_ + "/commitlog", options_.commitlog_segment_size,
                                     options_.store_size_limit, options_.store_host,
                                     options_.flush_disk_type == FlushDiskType::kSync);
  VELA_RETURN_IF_ERROR(log_->Load());
  const int64_t t0 = NowMonotonicUs();
  if (crashed || !ckpt) {
    const PhysicalOffset scan_from = ckpt ? std::min(ckpt->flushed_offset, ckpt->dispatched_offset) : PhysicalOffset(0);
    Log().info("store {}: {}; scanning the commit log from offset {}", root_,
               crashed ? "abort marker present (unclean shutdown)" : "no checkpoint", scan_from);
    VELA_ASSIGN_OR_RETURN(recovery_, log_->Recover(scan_from, ckpt ? ckpt->flushed_offset : PhysicalOffset(INT64_MAX)));
  } else {
    log_->SetRecoveredEnd(ckpt->flushed_offset);
    recovery_.end_offset = log_->write_offset();
  }
  const PhysicalOffset log_end = log_->write_offset();

  const std::string cq_dir = root_ + "/consumequeue";
  const bool rebuild = !fs_->Exists(cq_dir);
  queues_ = std::make_unique<ConsumeQueueTable>(*fs_, cq_dir, options_.consume_queue_segment_size);
  VELA_RETURN_IF_ERROR(queues_->LoadAll(log_end));

  std::optional<PhysicalOffset> relink_from;
  if (crashed) relink_from = ckpt ? ckpt->dispatched_offset : PhysicalOffset(0);
  VELA_ASSIGN_OR_RETURN(ids_, MessageIdIndex::Open(*fs_, root_ + "/index",
                                                   {options_.max_hash_slot_num, options_.max_index_num}, relink_from));

  dispatcher_ = std::make_unique<Dispatcher>(*log_, *queues_, *ids_, *meta_, options_.hash_keyed_topics);
  PhysicalOffset dispatch_from = (rebuild || !ckpt) ? log_->min_offset() : ckpt->dispatched_offset;
  dispatch_from = std::clamp(dispatch_from, log_->min_offset(), log_end);
  if (rebuild && log_end > log_->min_offset()) Log().warn("store {}: consumequeue/ is missing; rebuilding it from the commit log", root_);
  if (ids_->empty() && dispatch_from > log_->min_offset()) {
    Log().warn("store {}: the message id index is missing; rebuilding it from the commit log", root_);
    VELA_RETURN_IF_ERROR(dispatcher_->IndexIds(log_->min_offset(), dispatch_from));
  }
  dispatcher_->SetStart(dispatch_from);
  VELA_RETURN_IF_ERROR(dispatcher_->DispatchAvailable());
  // Entries of segments retention removed.
  VELA_RETURN_IF_ERROR(queues_->DeleteBelow(log_->min_offset()));
  VELA_RETURN_IF_ERROR(ids_->DeleteBelow(log_->min_offset()));
  VELA_RETURN_IF_ERROR(queues_->SyncAll());
  for (const auto& q : queues_->All()) log_->SetNextQueueOffset(q.topic, q.queue_id, q.queue->max_offset());
  if (crashed) RaiseQueueCountersToCommittedOffsets();
  if (crashed || rebuild || log_end > dispatch_from) {
    Log().info("store {}: recovered in {} ms: log [{}, {}), re-dispatched {} bytes", root_,
               (NowMonotonicUs() - t0) / 1000, log_->min_offset(), log_end, log_end - dispatch_from);
  }

  VELA_RETURN_IF_ERROR(log_->Start());
  flush_ = std::make_unique<FlushService>(*log_, options_.flush_disk_type, options_.flush_interval_ms,
                                          options_.flush_least_pages, options_.sync_flush_timeout_ms,
                                          options_.flush_observer);
  flush_->Start();
  dispatcher_->Start();
  VELA_RETURN_IF_ERROR(WriteCheckpoint());
  checkpoint_ = std::make_unique<CheckpointService>([this] { return WriteCheckpoint(); },
                                                    std::max(10, options_.checkpoint_interval_ms));
  checkpoint_->Start();
  retention_ = std::make_unique<RetentionService>(*fs_, options_, *log_, *queues_, *ids_,
                                                  [this] { return dispatcher_->dispatched_offset(); });
  retention_->CheckDisk();
  retention_->Start();
  return Status::OK();
}

void DefaultMessageStore::RaiseQueueCountersToCommittedOffsets() {
  for (const auto& group : meta_->ListGroups()) {
    for (const auto& [where, committed] : meta_->GroupOffsets(group.name)) {
      const auto& [topic, queue_id] = where;
      auto cq = queues_->Find(topic, queue_id);
      const QueueOffset end = cq ? cq->max_offset() : QueueOffset(0);
      if (committed <= end) continue;
      Log().warn("store {}: group {} committed offset {} of queue {}/{}, past its recovered end {} (records lost in "
                 "the crash); new messages start at {} so that the group skips none",
                 root_, group.name, committed, topic, queue_id, end, committed);
      log_->RaiseNextQueueOffset(topic, queue_id, committed);
    }
  }
}

Status DefaultMessageStore::WriteCheckpoint() {
  std::lock_guard lock(checkpoint_mu_);
  Checkpoint c;
  // Order matters: the queues and index are synced after reading `dispatched`, so everything the
  // checkpoint claims as dispatched is durable; `flushed` is read after its own sync.
  c.dispatched_offset = dispatcher_->dispatched_offset();
  VELA_RETURN_IF_ERROR(queues_->SyncAll());
  VELA_RETURN_IF_ERROR(ids_->Sync());
  VELA_RETURN_IF_ERROR(meta_->SyncIndex());
  c.flushed_offset = log_->flushed_offset();
  return c.Write(*fs_, root_ + "/checkpoint");
}

void DefaultMessageStore::StopServices() {
  if (retention_) retention_->Stop();
  if (checkpoint_) checkpoint_->Stop();
  if (dispatcher_) dispatcher_->Stop();
  if (log_) log_->Stop();
}

void DefaultMessageStore::Shutdown() {
  std::lock_guard lock(shutdown_mu_);
  if (shut_down_) return;
  shut_down_ = true;
  closed_.store(true);
  if (retention_) retention_->Stop();
  if (checkpoint_) checkpoint_->Stop();
  if (flush_) flush_->Shutdown();
  if (dispatcher_) {
    dispatcher_->Stop();
    Status st = dispatcher_->DispatchAvailable();
    if (!st.ok()) Log().error("shutdown: dispatch: {}", st.ToString());
  }
  if (ids_) ids_->Close();  // its slots go to disk with the final checkpoint
  if (log_) log_->Stop();
  Status st = WriteCheckpoint();
  if (st.ok()) st = fs_->Remove(root_ + "/abort");
  if (!st.ok()) Log().error("shutdown of {} is not clean (recovery will run at next open): {}", root_, st.ToString());
  meta_.reset();
  lock_.reset();
}

void DefaultMessageStore::CrashForTesting() {
  std::lock_guard lock(shutdown_mu_);
  if (shut_down_) return;
  shut_down_ = true;
  closed_.store(true);
  StopServices();
  if (flush_) flush_->Abandon();  // no final flush; pending waiters fail
  meta_.reset();
  lock_.reset();
}

void DefaultMessageStore::WaitForDispatch() {
  while (dispatcher_->dispatched_offset() < log_->write_offset()) {
    dispatcher_->WaitForIndex(std::chrono::milliseconds(100));
  }
}

void DefaultMessageStore::AddDispatchListener(DispatchListener* listener) { dispatcher_->AddListener(listener); }
void DefaultMessageStore::AddRetentionFloor(std::function<PhysicalOffset()> floor) {
  retention_->AddFloor(std::move(floor));
}

void DefaultMessageStore::Append(AppendRequest request, AppendCallback on_done) {
  if (closed_.load(std::memory_order_relaxed)) {
    on_done(Status::Unavailable("the store is shut down"));
    return;
  }
  if (request.records.empty()) {
    on_done(Status::InvalidArgument("append of no records"));
    return;
  }
  // What is acknowledged must be servable: no append while new records cannot be indexed or the
  // disk is past diskSpaceWarningLevelRatio.
  if (!dispatcher_->healthy()) {
    on_done(Status::ResourceExhausted(
        "the store cannot index new messages (see the broker log: a full disk or an I/O error); sends are refused "
        "until the dispatcher catches up",
        SubCode::kNoSpace));
    return;
  }
  if (Status st = retention_->WritableStatus(); !st.ok()) {
    on_done(std::move(st));
    return;
  }
  std::vector<PendingRecord> pending;
  pending.reserve(request.records.size());
  for (size_t i = 0; i < request.records.size(); ++i) {
    RecordView view;
    std::string why;
    if (DecodeRecord(request.records[i], /*verify_crc=*/true, &view, &why) != DecodeOutcome::kRecord) {
      on_done(Status::InvalidArgument(fmt::format("record {} of the append is malformed: {}", i,
                                                  why.empty() ? "not a record" : why)));
      return;
    }
    if (view.raw.size() != request.records[i].size()) {
      on_done(Status::InvalidArgument(fmt::format("record {} has {} trailing bytes", i,
                                                  request.records[i].size() - view.raw.size())));
      return;
    }
    if (static_cast<int64_t>(view.body.size()) > options_.max_message_size) {
      on_done(Status(StatusCode::kInvalidArgument,
                     fmt::format("message body of {} bytes exceeds maxMessageSize {}", view.body.size(),
                                 options_.max_message_size),
                     SubCode::kMessageTooLarge));
      return;
    }
    if (Status st = ValidateTopicName(view.topic); !st.ok()) {
      on_done(st);
      return;
    }
    pending.push_back(PendingRecord{view.raw, view.topic, view.queue_id});
    ids_->Prefetch(view.msg_id);  // its slot is in cache when the dispatch below inserts the id
  }
  AppendResult result;
  thread_local std::string stamped;  // this thread's records as written, for the dispatch below
  Status st = log_->Append(pending, NowEpochMs(), &result, &stamped);
  if (!st.ok()) {
    on_done(st);
    return;
  }
  // Queue entries are written here, on the appending thread: consumers (and held pulls) see the
  // records now. A failure is left to the dispatcher thread, which retries; the records are in the
  // log and will be served once it succeeds, but the send is not acknowledged (the producer may
  // retry: at least once, never an acknowledged message that cannot be consumed).
  const AppendedBytes appended{result.records.empty() ? -1 : result.records.front().physical_offset.value(), stamped};
  if (Status st = dispatcher_->DispatchQueues(appended); !st.ok()) {
    on_done(Status(st.code(),
                   fmt::format("the message was written but cannot be indexed yet ({}); it may be delivered once "
                               "the dispatcher recovers, retry the send",
                               st.message()),
                   st.subcode()));
    return;
  }
  if (options_.flush_disk_type == FlushDiskType::kSync) {
    flush_->AwaitDurable(std::move(result), std::move(on_done));
  } else {
    on_done(std::move(result));
  }
}

GetResult DefaultMessageStore::GetMessages(std::string_view topic, uint32_t queue_id, QueueOffset queue_offset,
                                           int32_t max_count, int64_t max_bytes, const MessageFilter* filter, bool may_copy) {
  GetResult r;
  auto cq = queues_->Find(topic, queue_id);
  if (!cq) {
    auto tc = meta_ ? meta_->GetTopic(topic) : std::nullopt;
    r.outcome = (tc && static_cast<int64_t>(queue_id) < std::max(tc->read_queues, tc->write_queues))
                    ? GetOutcome::kNoMessageInQueue
                    : GetOutcome::kNoMatchedQueue;
    return r;
  }
  const PhysicalOffset log_min = log_->min_offset();
  r.min_offset = cq->min_offset();
  r.max_offset = cq->max_offset();
  if (r.max_offset == QueueOffset(0) || r.min_offset == r.max_offset) {
    if (queue_offset == r.max_offset) {
      r.outcome = r.max_offset == QueueOffset(0) ? GetOutcome::kNoMessageInQueue : GetOutcome::kOffsetOverflowOne;
      r.next_begin_offset = r.max_offset;
      return r;
    }
  }
  if (queue_offset < r.min_offset) {
    r.outcome = GetOutcome::kOffsetTooSmall;
    r.next_begin_offset = r.min_offset;
    return r;
  }
  if (queue_offset == r.max_offset) {
    r.outcome = GetOutcome::kOffsetOverflowOne;
    r.next_begin_offset = queue_offset;
    return r;
  }
  if (queue_offset > r.max_offset) {
    r.outcome = GetOutcome::kOffsetOverflowBadly;
    r.next_begin_offset = r.max_offset;
    return r;
  }
  max_count = std::max(1, max_count);
  const int64_t scan_limit = std::max<int64_t>(kMinScanEntries, 4LL * max_count);
  const PhysicalOffset written = log_->write_offset();
  auto pins = std::make_shared<SegmentPins>();
  std::shared_ptr<MappedSegment> seg;
  // The log bytes [copied_from, copied_to) of copied_seg are at copied_base (a copy, or the mapping).
  const char* copied_base = nullptr;
  int64_t copied_from = 0, copied_to = 0;
  const MappedSegment* copied_seg = nullptr;
  QueueOffset off = queue_offset;
  for (int64_t scanned = 0; off < r.max_offset && scanned < scan_limit; ++scanned) {
    QueueEntry e;
    if (!cq->Get(off, &e)) {
      // A hole: the record of this offset was damaged beyond reading its header.
      r.corrupt_offsets.push_back(off);
      ++off;
      continue;
    }
    if (e.physical_offset < log_min) {
      ++off;
      continue;
    }
    if (e.physical_offset + e.size > written) break;
    if (filter && !filter->MatchesTagHash(e.tag_hash)) {
      ++off;
      continue;
    }
    if (!r.records.empty() && r.total_bytes + e.size > max_bytes) break;
    if (!seg || e.physical_offset.value() < seg->base() || e.physical_offset.value() >= seg->end()) {
      seg = log_->SegmentFor(e.physical_offset);
      if (!seg) {
        ++off;
        continue;
      }
    }
    // Every record is verified before it is served: a damaged one is reported, never delivered,
    // and the consumer moves past it.
    RecordView view;
    std::string why;
    const bool fits = (e.physical_offset + e.size).value() <= seg->end();
    std::string_view bytes;
    if (fits) {
      const int64_t at = e.physical_offset.value();
      if (at < copied_from || at + e.size > copied_to || copied_seg != seg.get()) {
        // Copies this record and the next ones of the queue that lie close after it (one run of
        // the log) with one pread, instead of mapping their pages (see MappedSegment::ReadAt).
        int64_t run_end = at + e.size;
        int64_t more = std::max<int64_t>(0, max_count - static_cast<int64_t>(r.records.size()) - 1);
        for (QueueOffset next = off + 1; more > 0 && next < r.max_offset; ++next) {
          QueueEntry n;
          if (!cq->Get(next, &n)) break;
          if (filter && !filter->MatchesTagHash(n.tag_hash)) continue;
          const int64_t n_end = (n.physical_offset + n.size).value();
          if (n.physical_offset.value() < run_end || n.physical_offset.value() - run_end > kMaxReadGap ||
              n_end > seg->end() || n_end > written.value() || n_end - at > kMaxReadRun ||
              r.total_bytes + (n_end - at) > max_bytes) {
            break;
          }
          run_end = n_end;
          --more;
        }
        const int64_t len = run_end - at;
        copied_base = seg->data() + (at - seg->base());  // the mapping, unless copied below
        bool copied = false;
        // Bounded over all results held (StoreOptions::max_read_copy_bytes): a pull response lives
        // until it is sent, so slow consumers would otherwise hold copies up to their connections'
        // unsent-bytes limits (32 MiB each); past the bound, records view the page cache instead.
        if (may_copy && copied_total_->fetch_add(len, std::memory_order_relaxed) + len <= options_.max_read_copy_bytes) {
          auto copy = std::make_unique<char[]>(static_cast<size_t>(len));
          if (seg->ReadAt(at - seg->base(), len, copy.get())) {  // else an I/O error: the mapping
            copied_base = copy.get();
            pins->copies.push_back(std::move(copy));
            pins->copied += len;
            if (!pins->copied_total) pins->copied_total = copied_total_;
            copied = true;
          }
        }
        if (may_copy && !copied) copied_total_->fetch_sub(len, std::memory_order_relaxed);
        copied_from = at;
        copied_to = run_end;
        copied_seg = seg.get();
      }
      bytes = std::string_view(copied_base + (at - copied_from), static_cast<size_t>(e.size));
    }
    if (!fits || DecodeRecord(bytes, /*verify_crc=*/true, &view, &why) != DecodeOutcome::kRecord ||
        view.physical_offset != e.physical_offset.value() || static_cast<int64_t>(view.raw.size()) != e.size) {
      if (why.empty()) why = fits ? "the record does not match its queue entry" : "the entry runs past its segment";
      ReportCorrupt(topic, queue_id, off, e.physical_offset, why);
      r.corrupt_offsets.push_back(off);
      ++off;
      continue;
    }
    if (filter && !filter->MatchesRecord(view)) {
      ++off;
      continue;
    }
    std::string_view raw = view.raw;
    if (pins->segments.empty() || pins->segments.back() != seg) pins->segments.push_back(seg);
    r.records.push_back(raw);
    r.total_bytes += e.size;
    ++off;
    if (static_cast<int32_t>(r.records.size()) >= max_count) break;
  }
  r.next_begin_offset = off;
  r.outcome = r.records.empty() ? (off == queue_offset ? GetOutcome::kOffsetOverflowOne : GetOutcome::kNoMatchedMessage)
                                : GetOutcome::kFound;
  if (!r.records.empty()) r.pins = std::move(pins);
  return r;
}

void DefaultMessageStore::ReportCorrupt(std::string_view topic, uint32_t queue_id, QueueOffset queue_offset,
                                        PhysicalOffset physical_offset, const std::string& why) {
  {
    std::lock_guard lock(corrupt_mu_);
    if (!reported_corrupt_.insert(physical_offset).second) return;
  }
  corrupt_records_.fetch_add(1, std::memory_order_relaxed);
  Log().error("store {}: the record at commit-log offset {} (queue {}/{} offset {}) is corrupt: {}; it is reported to "
              "consumers and skipped",
              root_, physical_offset, topic, queue_id, queue_offset, why);
}

Result<std::string> DefaultMessageStore::ReadRecordAt(PhysicalOffset physical_offset) {
  const PhysicalOffset written = log_->write_offset();
  auto seg = physical_offset < written ? log_->SegmentFor(physical_offset) : nullptr;
  if (!seg) return Status::NotFound(fmt::format("no record at commit-log offset {}", physical_offset));
  const int64_t rel = physical_offset.value() - seg->base();
  const int64_t avail = std::min(seg->size(), written.value() - seg->base()) - rel;
  auto not_found = [&] {
    return Status::NotFound(fmt::format("no record starts at commit-log offset {}", physical_offset));
  };
  if (avail < 8) return not_found();
  // Copied with pread, as GetMessages does (no page of the mapping touched): a first read that
  // most records fit in, then the rest of a larger one. A read error falls back to the mapping.
  std::string bytes(static_cast<size_t>(std::min<int64_t>(avail, 4096)), '\0');
  bool copied = seg->ReadAt(rel, static_cast<int64_t>(bytes.size()), bytes.data());
  if (copied) {
    const int64_t size = coding::GetFixed32(bytes.data() + record::kOffTotalSize);
    if (size > static_cast<int64_t>(bytes.size()) && size <= avail) {
      const size_t have = bytes.size();
      bytes.resize(static_cast<size_t>(size));
      copied = seg->ReadAt(rel + static_cast<int64_t>(have), size - static_cast<int64_t>(have), bytes.data() + have);
    }
  }
  const std::string_view record = copied ? std::string_view(bytes) : seg->View(rel, avail);
  RecordView view;
  if (DecodeRecord(record, /*verify_crc=*/true, &view) != DecodeOutcome::kRecord ||
      view.physical_offset != physical_offset.value()) {
    return not_found();
  }
  if (view.raw.data() == bytes.data()) {  // the copy: trimmed to the record, not copied again
    bytes.resize(view.raw.size());
    return bytes;
  }
  return std::string(view.raw);
}

Result<std::string> DefaultMessageStore::LookupByMessageId(std::string_view msg_id) {
  // Ids are indexed when their records are queued, before the append is acknowledged.
  std::optional<std::string> found;
  ids_->Find(msg_id, [&](PhysicalOffset physical_offset) {
    auto raw = ReadRecordAt(physical_offset);
    RecordView view;
    if (raw.ok() && DecodeRecord(*raw, false, &view) == DecodeOutcome::kRecord && view.msg_id == msg_id) {
      found = std::move(*raw);
    }
    return !found;
  });
  if (!found) return Status::NotFound(fmt::format("no stored message with id {}", msg_id));
  return std::move(*found);
}

std::vector<std::string> DefaultMessageStore::QueryByKey(std::string_view topic, std::string_view key,
                                                         int max_results) {
  std::vector<std::string> out;
  // A candidate is kept when it is a record of `topic` whose KEYS hold `key` (the id index's
  // candidates may be other records of the same hash, or the same record twice after a crash).
  std::set<int64_t> read;
  auto keep = [&](PhysicalOffset off) {
    if (!read.insert(off.value()).second) return;
    auto raw = ReadRecordAt(off);
    if (!raw.ok()) return;
    RecordView view;
    std::string_view keys;
    if (DecodeRecord(*raw, false, &view) != DecodeOutcome::kRecord || view.topic != topic ||
        !FindProperty(view.properties, prop::kKeys, &keys)) {
      return;
    }
    bool holds_key = false;
    ForEachKey(keys, [&](std::string_view k) { holds_key = holds_key || k == key; });
    if (holds_key) out.push_back(std::move(*raw));
  };
  const auto& hashed = options_.hash_keyed_topics;
  if (std::find(hashed.begin(), hashed.end(), topic) != hashed.end()) {
    // Indexed on the append path: nothing to wait for.
    ids_->Find(key, [&](PhysicalOffset off) {
      keep(off);
      return static_cast<int>(out.size()) < max_results;
    });
    return out;
  }
  (void)dispatcher_->WaitForIndex(kIndexLookupWait);
  for (PhysicalOffset off : meta_->LookupKey(topic, key, max_results)) keep(off);
  return out;
}

QueueOffset DefaultMessageStore::MinQueueOffset(std::string_view topic, uint32_t queue_id) {
  auto cq = queues_->Find(topic, queue_id);
  return cq ? cq->min_offset() : QueueOffset(0);
}

QueueOffset DefaultMessageStore::MaxQueueOffset(std::string_view topic, uint32_t queue_id) {
  auto cq = queues_->Find(topic, queue_id);
  return cq ? cq->max_offset() : QueueOffset(0);
}

int64_t DefaultMessageStore::StoreTimestampAt(PhysicalOffset physical_offset) {
  auto seg = log_->SegmentFor(physical_offset);
  const int64_t at = physical_offset.value();
  if (!seg || at + static_cast<int64_t>(record::kOffStoreTs) + 8 > seg->end()) return INT64_MIN;
  return static_cast<int64_t>(coding::GetFixed64(seg->data() + (at - seg->base()) + record::kOffStoreTs));
}

QueueOffset DefaultMessageStore::QueueOffsetForTimestamp(std::string_view topic, uint32_t queue_id,
                                                         int64_t timestamp_ms) {
  auto cq = queues_->Find(topic, queue_id);
  if (!cq) return QueueOffset(0);
  // First offset in [lo, hi) with ts >= timestamp.
  int64_t lo = cq->min_offset().value(), hi = cq->max_offset().value();
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    QueueEntry e;
    const int64_t ts = cq->Get(QueueOffset(mid), &e) ? StoreTimestampAt(e.physical_offset) : INT64_MIN;
    if (ts >= timestamp_ms) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return QueueOffset(lo);
}

int64_t DefaultMessageStore::LastStoreTimestamp(std::string_view topic, uint32_t queue_id) {
  auto cq = queues_->Find(topic, queue_id);
  QueueEntry e;
  if (!cq || cq->max_offset() == QueueOffset(0) || !cq->Get(cq->max_offset() - 1, &e)) return 0;
  const int64_t ts = StoreTimestampAt(e.physical_offset);
  return ts == INT64_MIN ? 0 : ts;
}

void DefaultMessageStore::DeleteTopicQueues(std::string_view topic) {
  Status st = queues_->DeleteTopic(topic);
  if (!st.ok()) Log().warn("delete queues of topic {}: {}", topic, st.ToString());
  log_->EraseTopic(topic);
}

StoreStats DefaultMessageStore::stats() const {
  StoreStats s;
  s.min_physical_offset = log_->min_offset();
  s.max_physical_offset = log_->write_offset();
  s.flushed_offset = log_->flushed_offset();
  s.dispatched_offset = dispatcher_->dispatched_offset();
  s.appended_records = log_->appended_records();
  s.appended_bytes = log_->appended_bytes();
  s.disk_full_rejections = log_->disk_full_rejections();
  s.recovered_truncated_bytes = recovery_.dropped_bytes;
  s.recovered_damaged_ranges = static_cast<int64_t>(recovery_.damaged.size());
  s.corrupt_records = corrupt_records_.load(std::memory_order_relaxed) + dispatcher_->damaged_records();
  s.read_copy_bytes = copied_total_->load(std::memory_order_relaxed);
  s.dispatch_healthy = dispatcher_->healthy();
  s.disk_writable = retention_ ? retention_->WritableStatus().ok() : true;
  s.commitlog_segments = static_cast<int64_t>(log_->Segments().size());
  return s;
}

}  // namespace vela::store
