#include "store/commit_log.h"

#include <algorithm>
#include <string.h>  // memmem

#include <cstring>

#include <fmt/format.h>

#include "common/check.h"
#include "common/coding.h"
#include "store/logger.h"

namespace vela::store {

namespace {
constexpr int64_t kMinTail = 8;  // below this many bytes a segment's tail is left zero, no filler
constexpr auto kAllocatorWait = std::chrono::milliseconds(3000);
}  // namespace

CommitLog::CommitLog(FileSystem& fs, std::string dir, int64_t segment_size, int64_t size_limit, uint64_t store_host,
                     bool prewrite_segments)
    : fs_(fs),
      dir_(std::move(dir)),
      segment_size_(segment_size),
      size_limit_(size_limit),
      store_host_(store_host),
      allocator_(fs, dir_, segment_size, prewrite_segments, kPrefaultAhead) {}

CommitLog::~CommitLog() { Stop(); }

std::string CommitLog::QueueKey(std::string_view topic, uint32_t queue_id) {
  std::string key(topic);
  key.push_back('\0');
  key.append(reinterpret_cast<const char*>(&queue_id), sizeof(queue_id));
  return key;
}

Status CommitLog::Load() {
  VELA_RETURN_IF_ERROR(fs_.CreateDirs(dir_));
  VELA_ASSIGN_OR_RETURN(auto names, fs_.ListDir(dir_));
  std::vector<int64_t> bases;
  for (const auto& name : names) {
    int64_t base;
    if (MappedSegment::ParseFileName(name, &base)) {
      bases.push_back(base);
    } else if (name.ends_with(".tmp")) {
      (void)fs_.Remove(dir_ + "/" + name);
    }
  }
  std::sort(bases.begin(), bases.end());
  std::lock_guard lock(segments_mu_);
  segments_.clear();
  for (int64_t base : bases) {
    if (base % segment_size_ != 0) {
      return Status::Corruption(fmt::format("commit-log segment {} is not aligned to the segment size {}",
                                            PathOf(base), segment_size_));
    }
    if (!segments_.empty() && base != segments_.back()->end()) {
      return Status::Corruption(
          fmt::format("commit log has a gap: {} follows segment ending at {}", PathOf(base), segments_.back()->end()));
    }
    VELA_ASSIGN_OR_RETURN(auto seg, MappedSegment::OpenExisting(fs_, PathOf(base), base, segment_size_));
    segments_.push_back(std::move(seg));
  }
  if (!segments_.empty()) {
    write_offset_.store(segments_.front()->base());
    flushed_offset_.store(segments_.front()->base());
  }
  return Status::OK();
}

void CommitLog::SetRecoveredEnd(PhysicalOffset recovered_end) {
  int64_t end = recovered_end.value();
  std::lock_guard lock(segments_mu_);
  if (!segments_.empty()) end = std::clamp(end, segments_.front()->base(), segments_.back()->end());
  // Segments past the end are spares the allocator prepared and never used.
  while (!segments_.empty() && segments_.back()->base() > end) {
    (void)segments_.back()->MarkDeleted(fs_);
    segments_.pop_back();
  }
  write_offset_.store(end);
  flushed_offset_.store(end);
}

PhysicalOffset CommitLog::FindIntactRecordAfter(PhysicalOffset after_offset, PhysicalOffset limit_offset) const {
  const int64_t after = after_offset.value();
  const int64_t limit = limit_offset.value();
  char magic[4];
  coding::PutFixed32(magic, record::kRecordMagic);
  for (const auto& seg : Segments()) {
    if (seg->end() <= after + 1 || seg->base() >= limit) continue;
    const int64_t stop = std::min(seg->size(), limit - seg->base());
    int64_t rel = std::max<int64_t>(after + 1 - seg->base(), 0);
    while (stop - rel >= static_cast<int64_t>(record::kMinRecordSize)) {
      // A record starts 4 bytes before its magic number.
      const char* from = seg->data() + rel + record::kOffMagic;
      const void* hit = ::memmem(from, static_cast<size_t>(stop - rel - record::kOffMagic), magic, sizeof(magic));
      if (!hit) break;
      const int64_t candidate = static_cast<const char*>(hit) - seg->data() - static_cast<int64_t>(record::kOffMagic);
      RecordView view;
      if (DecodeRecord(seg->View(candidate, stop - candidate), /*verify_crc=*/true, &view) == DecodeOutcome::kRecord &&
          view.physical_offset == seg->base() + candidate) {
        return PhysicalOffset(seg->base() + candidate);
      }
      rel = candidate + 1;
    }
  }
  return PhysicalOffset(-1);
}

CommitLog::RecoveryReport CommitLog::Scan(PhysicalOffset scan_from_offset, PhysicalOffset durable_end_offset) const {
  const int64_t scan_from = scan_from_offset.value();
  const int64_t durable_end = durable_end_offset.value();
  auto segs = Segments();
  RecoveryReport report;
  if (segs.empty()) return report;
  size_t idx = 0;
  for (size_t i = 0; i < segs.size(); ++i) {
    if (segs[i]->base() <= scan_from && scan_from < segs[i]->end()) idx = i;
  }
  const int64_t log_limit = segs.back()->end();
  int64_t pos = segs[idx]->base();
  int64_t end = -1;
  // A record at `pos` does not verify: skip to the next intact record, or end the log here.
  auto damaged = [&](std::string why) {
    // Past the durable end the crash itself tore the log: what follows was never synced.
    const int64_t next =
        pos < durable_end ? FindIntactRecordAfter(PhysicalOffset(pos), PhysicalOffset(log_limit)).value() : -1;
    if (next < 0) {
      end = pos;
      report.reason = std::move(why);
      return;
    }
    Log().error("commit log: bytes [{}, {}) hold no intact record ({}); intact records follow and are kept, the "
                "damaged range is skipped by readers",
                pos, next, why);
    report.damaged.push_back(DamagedRange{PhysicalOffset(pos), PhysicalOffset(next), std::move(why)});
    pos = next;
  };
  while (end < 0) {
    while (idx < segs.size() && pos >= segs[idx]->end()) ++idx;
    if (idx == segs.size()) {
      end = log_limit;
      break;
    }
    const auto& seg = segs[idx];
    const int64_t rel = pos - seg->base();
    const int64_t rest = seg->size() - rel;
    if (rest < kMinTail) {  // zero tail: the next segment holds what follows
      pos = seg->end();
      continue;
    }
    const bool last = idx + 1 == segs.size();
    RecordView view;
    std::string why;
    switch (DecodeRecord(seg->View(rel, rest), /*verify_crc=*/true, &view, &why)) {
      case DecodeOutcome::kRecord:
        if (view.physical_offset != pos) {
          damaged(fmt::format("record claims physical offset {}", view.physical_offset));
        } else {
          pos += static_cast<int64_t>(view.raw.size());
          ++report.records;
        }
        break;
      case DecodeOutcome::kBlank: {
        const int64_t filler = coding::GetFixed32(seg->data() + rel);
        if (filler != rest) {
          damaged(fmt::format("blank filler of {} bytes where {} remain", filler, rest));
        } else if (last) {
          end = pos;  // the roll never completed: drop the filler
        } else {
          pos = seg->end();
        }
        break;
      }
      case DecodeOutcome::kEndOfData:
        // Zeros below the durable end, before a later segment that was written to, are damage too
        // (a lost page).
        if (pos < durable_end && !last && coding::GetFixed64(segs[idx + 1]->data()) != 0) {
          damaged("zeros where a record should start");
        } else {
          end = pos;
        }
        break;
      case DecodeOutcome::kCorrupt:
        damaged(std::move(why));
        break;
    }
  }
  report.end_offset = PhysicalOffset(end);
  return report;
}

Result<CommitLog::RecoveryReport> CommitLog::Recover(PhysicalOffset scan_from, PhysicalOffset durable_end) {
  RecoveryReport report = Scan(scan_from, durable_end);
  auto segs = Segments();
  if (segs.empty()) {
    write_offset_.store(0);
    flushed_offset_.store(0);
    return report;
  }
  const int64_t end = report.end_offset.value();
  // Cut: zero the rest of the segment holding `end`, delete every later segment.
  size_t keep = segs.size();
  for (size_t i = 0; i < segs.size(); ++i) {
    if (segs[i]->base() <= end && end < segs[i]->end()) {
      VELA_ASSIGN_OR_RETURN(int64_t last_nonzero, segs[i]->ZeroFrom(end - segs[i]->base()));
      report.dropped_bytes += std::max<int64_t>(0, last_nonzero - (end - segs[i]->base()));
      keep = i + 1;
      break;
    }
  }
  for (size_t i = keep; i < segs.size(); ++i) {
    const bool unused = coding::GetFixed64(segs[i]->data()) == 0;  // a spare the allocator prepared
    if (!unused) {
      report.dropped_bytes += segs[i]->size();
      ++report.deleted_segments;
    }
    VELA_RETURN_IF_ERROR(segs[i]->MarkDeleted(fs_));
  }
  {
    std::lock_guard lock(segments_mu_);
    segments_.resize(keep);
  }
  if (report.dropped_bytes > 0 || !report.reason.empty()) {
    Log().warn("commit-log recovery: truncated at offset {} ({}); dropped up to {} bytes after it, {} later segment(s) "
               "deleted",
               end, report.reason.empty() ? "torn tail" : report.reason, report.dropped_bytes,
               report.deleted_segments);
  } else {
    Log().info("commit-log recovery: log ends at offset {}", end);
  }
  write_offset_.store(end);
  flushed_offset_.store(end);
  return report;
}

Status CommitLog::Start() {
  {
    std::lock_guard lock(segments_mu_);
    if (segments_.empty()) {
      const int64_t base = write_offset_.load() / segment_size_ * segment_size_;
      // The first segment is needed now: map it at once, without pre-writing it (zeros over a whole
      // segment are seconds of disk writes before the broker could listen; a fallocated extent
      // costs about as much to sync into on this machine's disk: docs/performance.md).
      VELA_ASSIGN_OR_RETURN(auto seg,
                            MappedSegment::Create(fs_, PathOf(base), base, segment_size_, /*prewrite=*/false));
      segments_.push_back(std::move(seg));
      write_offset_.store(base);
      flushed_offset_.store(base);
    }
    allocator_.Request(segments_.back()->end());
    // Pages ahead of where the writer starts are read in on the allocator thread.
    std::lock_guard append_lock(append_mu_);
    prefault_asked_until_ = write_offset_.load() + kPrefaultAhead;
    allocator_.PrefaultAhead(segments_.back(), write_offset_.load(), prefault_asked_until_);
  }
  allocator_.Start();
  return Status::OK();
}

void CommitLog::Stop() { allocator_.Stop(); }

PhysicalOffset CommitLog::min_offset() const {
  std::lock_guard lock(segments_mu_);
  return PhysicalOffset(segments_.empty() ? write_offset_.load(std::memory_order_acquire) : segments_.front()->base());
}

std::shared_ptr<MappedSegment> CommitLog::SegmentFor(PhysicalOffset physical_offset) const {
  const int64_t offset = physical_offset.value();
  std::lock_guard lock(segments_mu_);
  if (segments_.empty() || offset < segments_.front()->base()) return nullptr;
  const auto i = static_cast<size_t>((offset - segments_.front()->base()) / segment_size_);
  return i < segments_.size() ? segments_[i] : nullptr;
}

std::vector<std::shared_ptr<MappedSegment>> CommitLog::Segments() const {
  std::lock_guard lock(segments_mu_);
  return segments_;
}

Status CommitLog::DeleteOldestSegment() {
  std::shared_ptr<MappedSegment> victim;
  {
    std::lock_guard lock(segments_mu_);
    VELA_CHECK(segments_.size() > 1, "deleting the only commit-log segment");
    victim = segments_.front();
    segments_.erase(segments_.begin());
  }
  Log().info("retention: deleted commit-log segment {} [{}, {})", victim->path(), victim->base(), victim->end());
  return victim->MarkDeleted(fs_);
}

void CommitLog::SetNextQueueOffset(std::string_view topic, uint32_t queue_id, QueueOffset next) {
  std::lock_guard lock(append_mu_);
  next_queue_offset_[QueueKey(topic, queue_id)] = next.value();
}

void CommitLog::RaiseNextQueueOffset(std::string_view topic, uint32_t queue_id, QueueOffset next) {
  std::lock_guard lock(append_mu_);
  int64_t& current = next_queue_offset_[QueueKey(topic, queue_id)];
  current = std::max(current, next.value());
}

void CommitLog::EraseTopic(std::string_view topic) {
  std::lock_guard lock(append_mu_);
  std::erase_if(next_queue_offset_, [&](const auto& kv) {
    return kv.first.size() == topic.size() + 5 && std::string_view(kv.first).substr(0, topic.size()) == topic;
  });
}

Status CommitLog::Append(const std::vector<PendingRecord>& records, int64_t now_ms, AppendResult* out,
                         std::string* stamped) {
  if (stamped != nullptr) stamped->clear();
  int64_t total = 0;
  for (const auto& r : records) total += static_cast<int64_t>(r.bytes.size());
  if (total > segment_size_) {
    return Status::InvalidArgument(
        fmt::format("append of {} bytes is larger than a commit-log segment ({} bytes)", total, segment_size_));
  }
  out->records.reserve(out->records.size() + records.size());

  std::lock_guard lock(append_mu_);
  int64_t pos = write_offset_.load(std::memory_order_relaxed);
  MappedSegment* cur;
  size_t seg_count;
  {
    std::lock_guard seg_lock(segments_mu_);
    cur = segments_.back().get();
    seg_count = segments_.size();
  }
  // Does the batch need the next segment? (At most one: the batch fits in a segment.)
  bool roll = false;
  {
    int64_t p = pos;
    for (const auto& r : records) {
      if (p + static_cast<int64_t>(r.bytes.size()) > cur->end()) {
        roll = true;
        break;
      }
      p += static_cast<int64_t>(r.bytes.size());
    }
  }
  MappedSegment* next = nullptr;
  if (roll) {
    if (size_limit_ > 0 && static_cast<int64_t>(seg_count + 1) * segment_size_ > size_limit_) {
      disk_full_rejections_.fetch_add(1, std::memory_order_relaxed);
      return Status::ResourceExhausted(
          fmt::format("disk full: the commit log reached storeSizeLimit ({} bytes in {} segments)",
                      static_cast<int64_t>(seg_count) * segment_size_, seg_count),
          SubCode::kNoSpace);
    }
    auto taken = allocator_.Take(cur->end(), kAllocatorWait);
    if (!taken.ok()) {
      if (taken.status().IsNoSpace()) disk_full_rejections_.fetch_add(1, std::memory_order_relaxed);
      return taken.status();
    }
    next = taken->get();
    std::lock_guard seg_lock(segments_mu_);
    segments_.push_back(std::move(*taken));
  }

  // The bytes go to the file with one pwrite per segment touched, never through the mapping (which
  // is for readers); see MappedSegment::WriteAt.
  std::vector<int64_t*> bumped;  // queue offsets taken, returned if a write fails
  bumped.reserve(records.size());
  int64_t buf_start = pos;       // log offset of write_buf_[0]
  MappedSegment* buf_seg = cur;
  write_buf_.clear();
  auto flush_buf = [&]() -> Status {
    if (write_buf_.empty()) return Status::OK();
    return buf_seg->WriteAt(buf_start - buf_seg->base(), write_buf_);
  };
  Status write_status;
  const size_t first_record = out->records.size();
  int64_t* counter = nullptr;  // next_queue_offset_ of (counter_topic, counter_queue)
  std::string_view counter_topic;
  uint32_t counter_queue = 0;
  for (const auto& r : records) {
    const auto size = static_cast<int64_t>(r.bytes.size());
    if (pos + size > cur->end()) {
      const int64_t rest = cur->end() - pos;
      if (rest >= kMinTail) {
        char blank[8];
        coding::PutFixed32(blank + record::kOffTotalSize, static_cast<uint32_t>(rest));
        coding::PutFixed32(blank + record::kOffMagic, record::kBlankMagic);
        write_buf_.append(blank, 8);
      }
      if (write_status.ok()) write_status = flush_buf();
      write_buf_.clear();
      pos = cur->end();
      cur = next;
      buf_start = pos;
      buf_seg = cur;
    }
    write_buf_.append(r.bytes.data(), r.bytes.size());
    char* dst = write_buf_.data() + write_buf_.size() - r.bytes.size();
    // A request's records mostly share one queue: its counter is looked up once.
    if (!counter || r.queue_id != counter_queue || r.topic != counter_topic) {
      key_buf_.assign(r.topic);
      key_buf_.push_back('\0');
      key_buf_.append(reinterpret_cast<const char*>(&r.queue_id), sizeof(r.queue_id));
      auto it = next_queue_offset_.find(key_buf_);
      if (it == next_queue_offset_.end()) it = next_queue_offset_.emplace(key_buf_, 0).first;
      counter = &it->second;
      counter_topic = r.topic;
      counter_queue = r.queue_id;
    }
    bumped.push_back(counter);
    const int64_t queue_offset = (*counter)++;
    StampRecord(dst, r.queue_id, queue_offset, pos, now_ms, store_host_);
    AppendedRecord& rec = out->records.emplace_back();
    rec.queue_id = r.queue_id;
    rec.queue_offset = QueueOffset(queue_offset);
    rec.physical_offset = PhysicalOffset(pos);
    rec.size = static_cast<uint32_t>(size);
    rec.store_timestamp_ms = now_ms;
    pos += size;
  }
  if (write_status.ok()) write_status = flush_buf();
  if (!write_status.ok()) {
    // Nothing is published: the offsets are handed back and the bytes will be overwritten.
    for (auto* q : bumped) --*q;
    out->records.resize(first_record);
    if (write_status.IsNoSpace()) disk_full_rejections_.fetch_add(1, std::memory_order_relaxed);
    return write_status;
  }
  write_offset_.store(pos, std::memory_order_seq_cst);
  // write_buf_ holds exactly this batch's bytes unless the batch rolled to the next segment
  // (the roll cleared the first segment's part).
  if (stamped != nullptr && !roll) std::swap(*stamped, write_buf_);
  if (pos + kPrefaultAhead / 2 > prefault_asked_until_) {
    // The writer is half way through the pages asked for: ask for the next stretch.
    prefault_asked_until_ = pos + kPrefaultAhead;
    std::shared_ptr<MappedSegment> writing;
    {
      std::lock_guard seg_lock(segments_mu_);
      writing = segments_.back();
    }
    allocator_.PrefaultAhead(std::move(writing), pos, prefault_asked_until_);
  }
  appended_records_.fetch_add(static_cast<int64_t>(records.size()), std::memory_order_relaxed);
  appended_bytes_.fetch_add(total, std::memory_order_relaxed);
  out->end_offset = PhysicalOffset(pos);
  return Status::OK();
}

Result<PhysicalOffset> CommitLog::Flush() {
  const int64_t from = flushed_offset_.load(std::memory_order_relaxed);
  const int64_t to = write_offset().value();
  if (to <= from) return PhysicalOffset(from);
  for (const auto& seg : Segments()) {
    if (seg->end() <= from || seg->base() >= to) continue;
    const int64_t a = std::max(from, seg->base()) - seg->base();
    const int64_t b = std::min(to, seg->end()) - seg->base();
    VELA_RETURN_IF_ERROR(seg->Sync(a, b));
  }
  VELA_CHECK(to <= write_offset().value(), "flushed {} past written {}", to, write_offset());
  flushed_offset_.store(to, std::memory_order_release);
  return PhysicalOffset(to);
}

}  // namespace vela::store
