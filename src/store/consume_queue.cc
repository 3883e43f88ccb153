#include "store/consume_queue.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/coding.h"
#include "store/logger.h"

namespace vela::store {

ConsumeQueue::ConsumeQueue(FileSystem& fs, std::string dir, int64_t segment_size)
    : fs_(fs), dir_(std::move(dir)), segment_size_(std::max<int64_t>(1, segment_size / kQueueEntrySize) * kQueueEntrySize) {}

QueueEntry ConsumeQueue::Decode(const char* p) {
  QueueEntry e;
  e.physical_offset = PhysicalOffset(static_cast<int64_t>(coding::GetFixed64(p)));
  e.size = static_cast<int32_t>(coding::GetFixed32(p + 8));
  e.tag_hash = static_cast<int64_t>(coding::GetFixed64(p + 12));
  return e;
}

Status ConsumeQueue::Load(PhysicalOffset log_end) {
  VELA_RETURN_IF_ERROR(fs_.CreateDirs(dir_));
  VELA_ASSIGN_OR_RETURN(auto names, fs_.ListDir(dir_));
  std::vector<int64_t> bases;
  for (const auto& n : names) {
    int64_t base;
    if (MappedSegment::ParseFileName(n, &base)) bases.push_back(base);
  }
  std::sort(bases.begin(), bases.end());
  if (!bases.empty()) {
    // Existing files keep the size they were made with (the setting may have changed since). An
    // empty one (a crash between its creation and its allocation) says nothing: it gets the
    // setting's size.
    VELA_ASSIGN_OR_RETURN(const int64_t first_size,
                          MappedSegment::SizeOf(fs_, dir_ + "/" + MappedSegment::FileName(bases[0])));
    if (first_size > 0 && first_size % kQueueEntrySize == 0 && first_size != segment_size_) {
      segment_size_ = first_size;
    }
  }
  std::erase_if(bases, [&](int64_t base) {
    if (base % segment_size_ == 0) return false;
    Log().error("consume queue {}: file {} does not fit the queue's file size {}; ignored", dir_,
                MappedSegment::FileName(base), segment_size_);
    return true;
  });
  std::vector<std::shared_ptr<MappedSegment>> segs;
  for (int64_t base : bases) {
    VELA_ASSIGN_OR_RETURN(auto seg, MappedSegment::OpenExisting(fs_, dir_ + "/" + MappedSegment::FileName(base), base,
                                                                segment_size_));
    seg->AdviseRandomAccess();
    segs.push_back(std::move(seg));
  }
  // Max: scan back from the end for the last entry that names a record the log holds; zero the
  // entries after it (they point at bytes recovery cut off, or were never completed).
  int64_t max = segs.empty() ? 0 : segs.front()->base() / kQueueEntrySize;
  int64_t removed = 0;
  for (auto it = segs.rbegin(); it != segs.rend(); ++it) {
    const auto& seg = *it;
    bool found = false;
    for (int64_t rel = seg->size() - kQueueEntrySize; rel >= 0; rel -= kQueueEntrySize) {
      QueueEntry e = Decode(seg->data() + rel);
      if (e.size == 0) continue;
      if (e.physical_offset + e.size <= log_end) {
        max = (seg->base() + rel) / kQueueEntrySize + 1;
        found = true;
        break;
      }
      std::memset(seg->data() + rel, 0, kQueueEntrySize);
      VELA_RETURN_IF_ERROR(seg->Sync(rel, rel + kQueueEntrySize));
      ++removed;
    }
    if (found) break;
  }
  if (removed > 0) Log().warn("consume queue {}: removed {} entries past the commit-log end {}", dir_, removed, log_end);
  // Min: the first non-empty entry of the first segment.
  int64_t min = max;
  if (!segs.empty()) {
    const auto& first = segs.front();
    for (int64_t rel = 0; rel < first->size(); rel += kQueueEntrySize) {
      if (Decode(first->data() + rel).size != 0) {
        min = std::min(max, (first->base() + rel) / kQueueEntrySize);
        break;
      }
    }
  }
  std::lock_guard lock(mu_);
  segments_ = std::move(segs);
  min_offset_.store(min);
  max_offset_.store(max);
  synced_to_ = min;
  return Status::OK();
}

std::shared_ptr<MappedSegment> ConsumeQueue::SegmentForLocked(int64_t byte_offset) const {
  if (segments_.empty() || byte_offset < segments_.front()->base()) return nullptr;
  const auto i = static_cast<size_t>((byte_offset - segments_.front()->base()) / segment_size_);
  return i < segments_.size() ? segments_[i] : nullptr;
}

Status ConsumeQueue::Put(QueueOffset offset, const QueueEntry& entry) {
  const int64_t queue_offset = offset.value();
  const int64_t byte = queue_offset * kQueueEntrySize;
  std::shared_ptr<MappedSegment> seg;
  {
    std::lock_guard lock(mu_);
    seg = SegmentForLocked(byte);
  }
  if (!seg) {
    const int64_t base = byte / segment_size_ * segment_size_;
    const std::string path = dir_ + "/" + MappedSegment::FileName(base);
    std::lock_guard lock(mu_);
    if (!segments_.empty() && (base < segments_.front()->base() || base > segments_.back()->end())) {
      // A hole (e.g. a rebuild starting past deleted segments): start over from this segment.
      for (auto& s : segments_) (void)s->MarkDeleted(fs_);
      segments_.clear();
    }
    if (segments_.empty()) VELA_RETURN_IF_ERROR(fs_.CreateDirs(dir_));
    if (fs_.Exists(path)) (void)fs_.Remove(path);
    VELA_ASSIGN_OR_RETURN(seg, MappedSegment::Create(fs_, path, base, segment_size_, /*prewrite=*/false));
    seg->AdviseRandomAccess();
    if (segments_.empty()) min_offset_.store(queue_offset, std::memory_order_release);
    segments_.push_back(seg);
  }
  char* p = seg->data() + (byte - seg->base());
  coding::PutFixed64(p, static_cast<uint64_t>(entry.physical_offset.value()));
  coding::PutFixed32(p + 8, static_cast<uint32_t>(entry.size));
  coding::PutFixed64(p + 12, static_cast<uint64_t>(entry.tag_hash));
  if (queue_offset + 1 > max_offset_.load(std::memory_order_relaxed)) {
    max_offset_.store(queue_offset + 1, std::memory_order_release);
  }
  if (queue_offset < min_offset_.load(std::memory_order_relaxed)) min_offset_.store(queue_offset);
  return Status::OK();
}

bool ConsumeQueue::Get(QueueOffset queue_offset, QueueEntry* entry, std::shared_ptr<MappedSegment>* pin) const {
  const int64_t byte = queue_offset.value() * kQueueEntrySize;
  std::shared_ptr<MappedSegment> seg;
  {
    std::lock_guard lock(mu_);
    seg = SegmentForLocked(byte);
  }
  if (!seg) return false;
  *entry = Decode(seg->data() + (byte - seg->base()));
  if (pin) *pin = std::move(seg);
  return entry->size != 0;
}

Status ConsumeQueue::Sync() {
  const int64_t to_entry = max_offset().value();
  if (to_entry <= synced_to_) return Status::OK();
  std::vector<std::shared_ptr<MappedSegment>> segs;
  {
    std::lock_guard lock(mu_);
    segs = segments_;
  }
  const int64_t from = synced_to_ * kQueueEntrySize;
  const int64_t to = to_entry * kQueueEntrySize;
  for (const auto& seg : segs) {
    if (seg->end() <= from || seg->base() >= to) continue;
    VELA_RETURN_IF_ERROR(seg->Sync(std::max(from, seg->base()) - seg->base(), std::min(to, seg->end()) - seg->base()));
  }
  synced_to_ = to_entry;
  return Status::OK();
}

Status ConsumeQueue::DeleteBelow(PhysicalOffset min_physical) {
  std::lock_guard lock(mu_);
  while (segments_.size() > 1) {
    const auto& seg = segments_.front();
    QueueEntry last = Decode(seg->data() + seg->size() - kQueueEntrySize);
    if (last.size == 0 || last.physical_offset + last.size > min_physical) break;
    VELA_RETURN_IF_ERROR(seg->MarkDeleted(fs_));
    segments_.erase(segments_.begin());
  }
  // Advance min past entries below the log's minimum.
  int64_t min = min_offset_.load();
  const int64_t max = max_offset_.load();
  while (min < max) {
    auto seg = SegmentForLocked(min * kQueueEntrySize);
    if (!seg) break;
    QueueEntry e = Decode(seg->data() + (min * kQueueEntrySize - seg->base()));
    if (e.size != 0 && e.physical_offset >= min_physical) break;
    ++min;
  }
  if (!segments_.empty()) min = std::max(min, segments_.front()->base() / kQueueEntrySize);
  min_offset_.store(min, std::memory_order_release);
  return Status::OK();
}

Status ConsumeQueue::Destroy() {
  std::lock_guard lock(mu_);
  segments_.clear();
  min_offset_.store(0);
  max_offset_.store(0);
  return fs_.RemoveAll(dir_);
}

}  // namespace vela::store
