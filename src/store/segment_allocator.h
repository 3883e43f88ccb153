#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "common/result.h"
#include "common/service_thread.h"
#include "store/mapped_segment.h"

namespace vela::store {

// SegmentAllocator is the background service that creates the next commit-log segment
// (fallocate + pre-write zeros + sync + map) before the writer needs it (RocketMQ's
// AllocateMappedFileService), so the append path never creates files. It keeps at most one
// prepared segment, handed out as soon as it exists. It also reads pages into the page cache a
// little ahead of the writer (MappedSegment::Prefault, `prefault_ahead` bytes: the head of the
// prepared segment, then wherever the writer asks), so appends mostly find their pages there
// while neither the start-up cost nor the resident size grows with the segment size. A failed
// allocation (ENOSPC) is remembered and reported to the next Take(), which also schedules a
// retry, so appends resume once space returns.
//
// Owned by CommitLog; the FileSystem must outlive it. Thread-safe.
class SegmentAllocator final : public ServiceThread {
 public:
  // `prefault_ahead`: how far ahead of the writer pages are read in (0: never).
  SegmentAllocator(FileSystem& fs, std::string dir, int64_t segment_size, bool prewrite, int64_t prefault_ahead);
  ~SegmentAllocator() override;

  // Asks for the segment starting at `base` to be prepared in the background.
  void Request(int64_t base);
  // Returns the prepared segment starting at `base`, waiting up to `wait` for it, then schedules
  // the following one. Fails with the allocation error (e.g. ResourceExhausted/kNoSpace) or with
  // Unavailable on timeout. May block up to `wait`.
  Result<std::shared_ptr<MappedSegment>> Take(int64_t base, std::chrono::milliseconds wait);
  // Asks for the pages of `segment` (the one being written) in log offsets [from, until) to be
  // read into the page cache on the allocator thread (those read in already are skipped). Cheap;
  // call it when the writer nears the last offset asked for.
  void PrefaultAhead(std::shared_ptr<MappedSegment> segment, int64_t from, int64_t until);
  // The log offset up to which pages were read in (for tests and status).
  int64_t prefaulted_until() const { return prefaulted_until_.load(std::memory_order_acquire); }

 protected:
  void Run() override;

 private:
  // Reads in the pages asked for by PrefaultAhead, a bounded stretch per call so that an
  // allocation request waits little. Returns true when more is left.
  bool PrefaultSome();

  FileSystem& fs_;
  const std::string dir_;
  const int64_t segment_size_;
  const bool prewrite_;  // pre-write zeros (SYNC_FLUSH: cheaper fdatasync later)
  const int64_t prefault_ahead_;
  std::mutex mu_;
  std::condition_variable cv_;
  int64_t requested_ = -1;                // base of the segment to prepare, -1 if none
  std::shared_ptr<MappedSegment> ready_;  // prepared segment (base == requested_)
  Status error_;                          // last failure for requested_
  bool attempted_ = false;                // requested_ was tried since the last Take/Request
  std::shared_ptr<MappedSegment> prefault_segment_;  // the segment being written
  int64_t prefault_from_ = 0, prefault_to_ = 0;       // log offsets to read pages in
  std::atomic<int64_t> prefaulted_until_{0};         // written by the allocator thread only
};

}  // namespace vela::store
