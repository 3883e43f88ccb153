#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "store/file_system.h"

namespace vela::store {

// MappedSegment is one fixed-size, pre-allocated file of the commit log or of a consume queue,
// mapped shared and read-write for its whole length. Bytes are written by memcpy into data() and
// made durable by Sync(). Segments are held by shared_ptr: the owning log's list holds one
// reference and every in-flight read holds another (GetResult::pins), so a segment that retention
// removes stays mapped until the last reader lets go; MarkDeleted() unlinks the file at once (the
// mapping stays valid).
//
// Thread-safety: data() may be written by one writer while readers read bytes the writer has
// already published (through an atomic offset owned by the caller). Sync and MarkDeleted are
// thread-safe. The FileSystem must outlive the segment.
class MappedSegment {
 public:
  // Creates `path` of `size` bytes: fallocate (ENOSPC -> ResourceExhausted/kNoSpace), then, with
  // `prewrite`, writes zeros over it and syncs, so later syncs only overwrite already-written
  // blocks. Fails with AlreadyExists if the file exists. With `prewrite` it blocks on the disk:
  // call it from a background thread then.
  static Result<std::shared_ptr<MappedSegment>> Create(FileSystem& fs, const std::string& path, int64_t base_offset,
                                                       int64_t size, bool prewrite = true);
  // Maps an existing file; its size must be `size` (a shorter file is extended with zeros), or,
  // with kCurrentSize, whatever it is (FailedPrecondition for an empty file, which cannot be
  // mapped: a crash between its creation and its allocation leaves one; see SizeOf).
  static constexpr int64_t kCurrentSize = -1;
  static Result<std::shared_ptr<MappedSegment>> OpenExisting(FileSystem& fs, const std::string& path,
                                                             int64_t base_offset, int64_t size);
  // The size of the file at `path` in bytes.
  static Result<int64_t> SizeOf(FileSystem& fs, const std::string& path);
  ~MappedSegment();
  MappedSegment(const MappedSegment&) = delete;
  MappedSegment& operator=(const MappedSegment&) = delete;

  int64_t base() const { return base_; }
  int64_t size() const { return size_; }
  int64_t end() const { return base_ + size_; }
  char* data() const { return data_; }
  const std::string& path() const { return file_->path(); }
  std::string_view View(int64_t rel, int64_t len) const { return {data_ + rel, static_cast<size_t>(len)}; }

  // Brings the pages of [rel_from, rel_to) into the page cache without dirtying them, so appends
  // there find their pages (a background thread's job; costs seconds of CPU per GiB on this
  // machine, hence done in pieces ahead of the writer). Takes no lock of the address space, so no
  // other thread waits for it. Safe while a writer uses the segment. Best effort.
  void Prefault(int64_t rel_from, int64_t rel_to) const;
  // Page faults then read only the page they need. Without it a fault reads ahead as far as the
  // disk's read_ahead_kb (8 MiB on this machine's virtual disk): for a small consume-queue file
  // that meant allocating and zeroing all of it on the send path when a queue got its first entry.
  void AdviseRandomAccess() const;
  // Copies [rel, rel + len) of the file into `out` with pread (no page of the mapping is touched:
  // on this machine's virtual CPUs mapping a page costs ~1.3 µs, copying it ~0.2 µs plus ~1.5 µs
  // per call; see bench/tools/page_cost.cc). False on an I/O error or a short read.
  bool ReadAt(int64_t rel, int64_t len, char* out) const;

  // Writes bytes at `rel` through the file (pwrite), not the mapping; readers of the mapping see
  // them at once (one page cache). The commit log appends this way: pages never dirtied through
  // the mapping need no write-protect and TLB shootdown at each fdatasync, nor a fault at the
  // next append.
  Status WriteAt(int64_t rel, std::string_view data) { return file_->WriteAt(rel, data); }

  // Makes bytes [rel_from, rel_to) durable. May block on the disk.
  Status Sync(int64_t rel_from, int64_t rel_to);
  // Zeros bytes [rel_from, size) that are not already zero (page by page, so untouched pages stay
  // clean) and syncs them. Used by recovery to cut a torn tail.
  // Returns the relative end of the last non-zero chunk found (rel_from if none).
  Result<int64_t> ZeroFrom(int64_t rel_from);
  // Unlinks the file now; the mapping lives until the last reference is dropped.
  Status MarkDeleted(FileSystem& fs);
  bool deleted() const { return deleted_.load(std::memory_order_acquire); }

  // Name of the file of a segment that starts at `offset`: 20 decimal digits.
  static std::string FileName(int64_t offset);
  // Parses a FileName; false if `name` is not one.
  static bool ParseFileName(std::string_view name, int64_t* offset);

 private:
  MappedSegment(std::unique_ptr<File> file, int64_t base, int64_t size, char* data)
      : file_(std::move(file)), base_(base), size_(size), data_(data) {}
  static Result<std::shared_ptr<MappedSegment>> Map(std::unique_ptr<File> file, int64_t base, int64_t size);

  std::unique_ptr<File> file_;
  const int64_t base_;
  const int64_t size_;
  char* const data_;
  std::atomic<bool> deleted_{false};
};

}  // namespace vela::store
