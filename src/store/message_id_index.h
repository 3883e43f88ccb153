#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "store/file_system.h"
#include "store/mapped_segment.h"
#include "store/offsets.h"

namespace vela::store {

// MessageIdIndex finds a record's commit-log offset by its producer-assigned message id. It is a
// chained hash table in mapped files under <root>/index/ (the idea of RocketMQ's IndexFile, here
// for ids only; keys stay in RocksDB), each file named by the commit-log offset of the first
// record it indexed (20 digits).
//
// File layout (little-endian), in docs/storage-format.md: a 64-byte header (magic, version, slot
// count, entry capacity, entry count), the slots (u32: 1 + the newest entry of that hash, 0 for
// none), then the entries (16 bytes: u32 id hash, u32 1 + the slot's previous entry, i64 physical
// offset). An insert writes one entry and one slot: constant time, no sorting, no compaction.
// A full file stays as it is and a new one is started; retention deletes files whose records are
// all gone.
//
// What Find reports are candidates: another id may share the hash, and after a crash an entry may
// name a record recovery cut off. Callers read the record and compare its id. Inserting a record
// again (re-dispatch after a crash) adds a duplicate candidate, which is harmless. The slots of
// the file being written live in memory (huge pages: they are hit at random) and are written to
// it when it is full or at Close; after a crash Open rebuilds the chains of the files written
// since the checkpoint from their entries, so every entry that was synced is found again.
//
// Thread-safety: one writer (Insert) and any number of concurrent readers (Find, Prefetch, empty); Sync and
// DeleteBelow are called by one thread at a time, concurrently with both.
class MessageIdIndex {
 public:
  struct Geometry {
    uint32_t slots = 5'000'000;     // maxHashSlotNum
    uint32_t entries = 20'000'000;  // maxIndexNum: entries per file
  };

  // Bytes of a file of this geometry.
  static int64_t FileBytes(uint32_t slots, uint32_t entries);

  // Opens (creating the directory if needed) the files in `dir`. A file that does not parse is
  // reported in the log and the whole index is dropped: it is rebuilt from the commit log by the
  // caller, which sees empty(). New files take `geometry`; existing ones keep their own. After a
  // crash `relink_from` is the checkpoint's dispatched offset (0 without one): the files written
  // at or after it get their chains rebuilt.
  static Result<std::unique_ptr<MessageIdIndex>> Open(FileSystem& fs, std::string dir, Geometry geometry,
                                                      std::optional<PhysicalOffset> relink_from);
  ~MessageIdIndex();
  MessageIdIndex(const MessageIdIndex&) = delete;
  MessageIdIndex& operator=(const MessageIdIndex&) = delete;

  // Indexes `msg_id` at `physical_offset`. Starts a new file when the newest is full (fallocate:
  // may fail with ResourceExhausted/kNoSpace on a full disk; after such a failure, inserts fail
  // at once for a second before the next try). Writer only.
  Status Insert(std::string_view msg_id, PhysicalOffset physical_offset);
  // Asks the processor to bring the slot `msg_id` will use into the cache, so a later Insert does
  // not wait for memory (the slot array is too large to stay cached). A hint only; any thread.
  void Prefetch(std::string_view msg_id) const;
  // Calls fn(physical_offset) for each candidate of `msg_id`, newest first, until fn returns false.
  void Find(std::string_view msg_id, const std::function<bool(PhysicalOffset)>& fn) const;
  // True when no entry exists in any file (a new or dropped index).
  bool empty() const;

  // Makes every entry inserted before the call durable (and the directory, after a new file).
  // The slots of the file being written are kept in memory and reach the disk only when it is
  // full or at Close; after a crash they are rebuilt from the entries.
  Status Sync();
  // Puts the slots of the file being written into its mapping, for the next Sync: a clean stop
  // then needs no relink at the next Open. The writer only; a later Insert is still allowed.
  void Close();
  // Deletes every file whose records all lie below `min_physical` (never the newest file).
  Status DeleteBelow(PhysicalOffset min_physical);

 private:
  class File;
  MessageIdIndex(FileSystem& fs, std::string dir, Geometry geometry);
  Status StartFile(int64_t first_offset);
  std::vector<std::shared_ptr<File>> Snapshot() const;
  void PrepareSpareSlots(const std::vector<std::shared_ptr<File>>& files);

  FileSystem& fs_;
  const std::string dir_;
  const Geometry geometry_;
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<File>> files_;  // GUARDED_BY(mu_), ascending first offset
  std::shared_ptr<File> active_;              // the newest file; the writer's
  // The newest file's slots, for Prefetch from any thread. The newest file is never deleted
  // (retention keeps the segment being appended to, and so the file whose first offset is in it).
  std::atomic<const File*> prefetch_file_{nullptr};
  // Zeroed, touched slots for the next file started: made at Open when the first insert will
  // start one (a new store), and by Sync when the newest file is nearly full. GUARDED_BY(mu_)
  std::shared_ptr<uint32_t> spare_hot_slots_;
  int64_t start_retry_at_us_ = 0;             // the writer's: no new file before (after a failure)
  uint64_t files_created_ = 0;                // GUARDED_BY(mu_)
  uint64_t files_created_synced_ = 0;         // Sync's: files_created_ when the directory was last synced
};

}  // namespace vela::store
