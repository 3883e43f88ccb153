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
// prepared segment, handed out as soon as it exists and then read into the page cache on this
// thread (MappedSegment::Prefault) whether or not a writer already uses it. A failed allocation
// (ENOSPC) is remembered and reported to the next Take(), which also schedules a retry, so appends
// resume once space returns.
//
// Owned by CommitLog; the FileSystem must outlive it. Thread-safe.
class SegmentAllocator final : public ServiceThread {
 public:
  SegmentAllocator(FileSystem& fs, std::string dir, int64_t segment_size, bool prewrite);
  ~SegmentAllocator() override;

  // Asks for the segment starting at `base` to be prepared in the background.
  void Request(int64_t base);
  // Returns the prepared segment starting at `base`, waiting up to `wait` for it, then schedules
  // the following one. Fails with the allocation error (e.g. ResourceExhausted/kNoSpace) or with
  // Unavailable on timeout. May block up to `wait`.
  Result<std::shared_ptr<MappedSegment>> Take(int64_t base, std::chrono::milliseconds wait);
  // Prefaults a segment already in use (the first one, made at startup) on the allocator thread.
  void PrefaultInBackground(std::shared_ptr<MappedSegment> segment);

 protected:
  void Run() override;

 private:
  FileSystem& fs_;
  const std::string dir_;
  const int64_t segment_size_;
  const bool prewrite_;  // pre-write zeros (SYNC_FLUSH: cheaper fdatasync later)
  std::mutex mu_;
  std::condition_variable cv_;
  int64_t requested_ = -1;                // base of the segment to prepare, -1 if none
  std::shared_ptr<MappedSegment> ready_;  // prepared segment (base == requested_)
  Status error_;                          // last failure for requested_
  bool attempted_ = false;                // requested_ was tried since the last Take/Request
  std::shared_ptr<MappedSegment> to_prefault_;  // in use, not yet prefaulted
};

}  // namespace vela::store
