#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/message_record.h"
#include "common/result.h"
#include "store/file_system.h"
#include "store/mapped_segment.h"
#include "store/message_store.h"
#include "store/offsets.h"
#include "store/segment_allocator.h"

namespace vela::store {

// One validated record waiting to be appended (a view of the caller's bytes).
struct PendingRecord {
  std::string_view bytes;
  std::string_view topic;
  uint32_t queue_id = 0;
};

// CommitLog is the single append-only log of every record of every topic, kept in fixed-size
// segments under <root>/commitlog/, each named by its first byte offset (20 digits). Appends write
// through the file (pwrite); readers read the segments' read-mostly mappings of the same page
// cache. Nothing writes through a mapping, so a flush never write-protects pages the appender is
// about to fill, and only the pages appends dirtied are ever written back.
//
// Offsets, with the invariant  min_offset <= flushed_offset <= write_offset:
//  - write_offset: bytes [0, write_offset) are in the page cache and visible to readers. Published
//    with release order after the write; readers load it with acquire.
//  - flushed_offset: bytes below it are durable (advanced only by Flush()).
// Segment layout: records back to back; a record that does not fit in the rest of a segment goes
// to the next one, and the rest is marked by a blank filler (total_size = rest, magic
// kBlankMagic) or, when fewer than 8 bytes remain, left zero. Zeros where a record would start
// mean "nothing more was written".
//
// Owned by MessageStore; the FileSystem must outlive it. Thread-safe: Append serializes on one
// mutex held only for offset assignment, copy, stamping and the pwrite; readers take no append lock.
class CommitLog {
 public:
  // `prewrite_segments`: segments the allocator prepares are filled with zeros before use (meant
  // for SYNC_FLUSH, where BENCH.md measured it halving the fdatasync cost; under ASYNC_FLUSH it
  // only costs a second copy). The first segment, made at Start, never is: see Start.
  CommitLog(FileSystem& fs, std::string dir, int64_t segment_size, int64_t size_limit, uint64_t store_host,
            bool prewrite_segments = true);
  ~CommitLog();
  CommitLog(const CommitLog&) = delete;
  CommitLog& operator=(const CommitLog&) = delete;

  // Maps every existing segment. REQUIRES: before Recover/Start.
  Status Load();
  // A stretch of the log that holds no intact record but is followed by intact ones: damage in
  // the middle (a flipped byte, a zeroed page), kept as it is and skipped by readers.
  struct DamagedRange {
    PhysicalOffset begin;
    PhysicalOffset end;  // the intact record that follows starts here
    std::string reason;  // why the record at `begin` does not verify
  };
  struct RecoveryReport {
    PhysicalOffset end_offset;
    int64_t dropped_bytes = 0;     // non-zero bytes cut at and after end_offset
    int64_t deleted_segments = 0;  // whole segments removed past the end
    std::string reason;            // why the scan stopped ("" at a clean end of data)
    std::vector<DamagedRange> damaged;  // damage in the middle, kept (intact records after it stay)
    int64_t records = 0;                // intact records scanned
  };
  // The scan of Recover without the cut: what it would find from `scan_from`, changing nothing.
  RecoveryReport Scan(PhysicalOffset scan_from, PhysicalOffset durable_end = PhysicalOffset(INT64_MAX)) const;
  // Scans from the start of the segment containing `scan_from` (or the first segment), verifying
  // every CRC. A record that does not verify below `durable_end` (what the last checkpoint knew
  // to be synced; PhysicalOffset(INT64_MAX) when unknown) is damage in the middle when an intact record follows it
  // somewhere in the log: nothing is cut, the range is reported and logged, and the scan goes on
  // after it. Otherwise, and always at or past `durable_end`, it is a torn tail: the log is cut
  // there (the rest of that segment zeroed, later segments deleted, the drop logged). Intact
  // records below the durable end are never zeroed. Sets the write and flushed offsets.
  Result<RecoveryReport> Recover(PhysicalOffset scan_from, PhysicalOffset durable_end = PhysicalOffset(INT64_MAX));
  // The first offset in (after, limit) where an intact record starts: its CRC verifies and it
  // names its own physical offset. PhysicalOffset(-1) when there is none. Reads the mapped segments only.
  PhysicalOffset FindIntactRecordAfter(PhysicalOffset after, PhysicalOffset limit) const;
  // Trusts `end` (clean shutdown) as the write and flushed offset.
  void SetRecoveredEnd(PhysicalOffset end);
  // Creates the first segment if there is none and starts the allocator.
  Status Start();
  void Stop();

  // Appends `records` (already validated) in order, stamping queue offset, physical offset,
  // `now_ms` and the store host. Fails without writing anything with ResourceExhausted/kNoSpace
  // when the next segment cannot be created or the size limit is reached, and with
  // InvalidArgument when the batch is larger than a segment. May wait for the allocator.
  // With `stamped`: on success, when the batch stayed in one segment, *stamped receives the bytes
  // as written (stamped), starting at out->records' first physical offset, so that the caller can
  // read them back without touching the mapping (each first touch of a mapped page is a page
  // fault); otherwise it is left empty. Its old buffer is kept for the next append (no copy, no
  // allocation once the buffers have grown).
  Status Append(const std::vector<PendingRecord>& records, int64_t now_ms, AppendResult* out,
                std::string* stamped = nullptr);

  // Syncs [flushed, write) and advances flushed. Called by one thread at a time (flush service,
  // or shutdown). May block on the disk. Returns the new flushed offset.
  Result<PhysicalOffset> Flush();

  PhysicalOffset write_offset() const { return PhysicalOffset(write_offset_.load(std::memory_order_acquire)); }
  PhysicalOffset flushed_offset() const { return PhysicalOffset(flushed_offset_.load(std::memory_order_acquire)); }
  PhysicalOffset min_offset() const;
  int64_t segment_size() const { return segment_size_; }

  // The segment containing `offset`, or null (below min, or not created).
  std::shared_ptr<MappedSegment> SegmentFor(PhysicalOffset offset) const;
  // A snapshot of the segment list, oldest first.
  std::vector<std::shared_ptr<MappedSegment>> Segments() const;
  // Removes the oldest segment from the list and unlinks it (readers holding it keep it mapped).
  // REQUIRES: it is not the last segment.
  Status DeleteOldestSegment();

  // Queue offset bookkeeping (under the append lock).
  void SetNextQueueOffset(std::string_view topic, uint32_t queue_id, QueueOffset next);
  // Moves the next queue offset up to `next` (never down).
  void RaiseNextQueueOffset(std::string_view topic, uint32_t queue_id, QueueOffset next);
  void EraseTopic(std::string_view topic);

  int64_t appended_records() const { return appended_records_.load(std::memory_order_relaxed); }
  int64_t appended_bytes() const { return appended_bytes_.load(std::memory_order_relaxed); }
  int64_t disk_full_rejections() const { return disk_full_rejections_.load(std::memory_order_relaxed); }

 private:
  static std::string QueueKey(std::string_view topic, uint32_t queue_id);
  std::string PathOf(int64_t base) const { return dir_ + "/" + MappedSegment::FileName(base); }

  FileSystem& fs_;
  const std::string dir_;
  const int64_t segment_size_;
  const int64_t size_limit_;
  const uint64_t store_host_;
  // Pages are read into the page cache this far ahead of the writer (SegmentAllocator).
  static constexpr int64_t kPrefaultAhead = 32 << 20;
  SegmentAllocator allocator_;

  mutable std::mutex segments_mu_;                       // guards segments_
  std::vector<std::shared_ptr<MappedSegment>> segments_;  // contiguous, oldest first

  std::mutex append_mu_;  // the append lock
  std::unordered_map<std::string, int64_t> next_queue_offset_;  // GUARDED_BY(append_mu_)
  std::string key_buf_;                                         // GUARDED_BY(append_mu_)
  std::string write_buf_;  // GUARDED_BY(append_mu_): stamped records on their way to pwrite (SYNC_FLUSH)
  int64_t prefault_asked_until_ = 0;  // GUARDED_BY(append_mu_): the last PrefaultAhead target

  std::atomic<int64_t> write_offset_{0};
  std::atomic<int64_t> flushed_offset_{0};
  std::atomic<int64_t> appended_records_{0};
  std::atomic<int64_t> appended_bytes_{0};
  std::atomic<int64_t> disk_full_rejections_{0};
};

}  // namespace vela::store
