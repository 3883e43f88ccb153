#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/result.h"
#include "store/file_system.h"
#include "store/mapped_segment.h"
#include "store/offsets.h"

namespace vela::store {

// One consume-queue entry: where a record of the queue sits in the commit log.
struct QueueEntry {
  PhysicalOffset physical_offset;
  int32_t size = 0;  // 0 means "no entry here"
  int64_t tag_hash = 0;
};

inline constexpr int64_t kQueueEntrySize = 20;  // i64 physical offset, i32 size, i64 tag hash (LE)

// ConsumeQueue is the index of one (topic, queue): entry i (the queue offset) sits at byte i * 20 of
// the queue, stored in fixed-size mapped segment files under <root>/consumequeue/<topic>/<queue>/
// named by their first byte offset (20 digits). Entries are written positionally, so re-dispatching
// a record after a crash rewrites the same bytes (idempotent).
//
// Owned by the store's queue table through shared_ptr (readers may hold one across a delete).
// The FileSystem must outlive it. Thread-safety: one writer (the dispatcher, or recovery before
// the services start) and any number of concurrent readers.
class ConsumeQueue {
 public:
  ConsumeQueue(FileSystem& fs, std::string dir, int64_t segment_size);
  ConsumeQueue(const ConsumeQueue&) = delete;
  ConsumeQueue& operator=(const ConsumeQueue&) = delete;

  // Maps the existing files and finds the min/max offsets. Entries pointing at or past
  // `log_end` are removed (zeroed), so the queue only names records the log holds.
  Status Load(PhysicalOffset log_end);
  // Writes entry `queue_offset`; creates segments as needed. Writer only.
  Status Put(QueueOffset queue_offset, const QueueEntry& entry);
  // Reads entry `queue_offset` (size 0 if absent). Sets *pin to its segment.
  bool Get(QueueOffset queue_offset, QueueEntry* entry, std::shared_ptr<MappedSegment>* pin = nullptr) const;

  QueueOffset min_offset() const { return QueueOffset(min_offset_.load(std::memory_order_acquire)); }
  QueueOffset max_offset() const { return QueueOffset(max_offset_.load(std::memory_order_acquire)); }  // next to write

  // Syncs entries written since the last call (from the queue's min after Load). Called by one
  // thread at a time; may run concurrently with Put. May block on the disk.
  Status Sync();
  // Deletes whole segments whose entries all point below `min_physical` (never the last one), and
  // moves min_offset to the first entry at or above it.
  Status DeleteBelow(PhysicalOffset min_physical);
  // Unmaps and deletes the whole queue directory.
  Status Destroy();

 private:
  int64_t EntriesPerSegment() const { return segment_size_ / kQueueEntrySize; }
  std::shared_ptr<MappedSegment> SegmentForLocked(int64_t byte_offset) const;
  static QueueEntry Decode(const char* p);

  FileSystem& fs_;
  const std::string dir_;
  int64_t segment_size_;  // a multiple of kQueueEntrySize; set before Load, or by Load from existing files
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<MappedSegment>> segments_;  // GUARDED_BY(mu_), ascending base
  std::atomic<int64_t> min_offset_{0};  // queue offsets
  std::atomic<int64_t> max_offset_{0};
  int64_t synced_to_ = 0;  // only Sync() callers: entries below are durable
};

}  // namespace vela::store
