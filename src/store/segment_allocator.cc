#include "store/segment_allocator.h"

#include "store/logger.h"

namespace vela::store {

SegmentAllocator::SegmentAllocator(FileSystem& fs, std::string dir, int64_t segment_size, bool prewrite)
    : ServiceThread("vela-seg-alloc"), fs_(fs), dir_(std::move(dir)), segment_size_(segment_size), prewrite_(prewrite) {}

SegmentAllocator::~SegmentAllocator() {
  Stop();
  // A prepared but unused segment is left on disk empty; recovery deletes segments past the end.
}

void SegmentAllocator::Request(int64_t base) {
  {
    std::lock_guard lock(mu_);
    if (requested_ == base) return;
    requested_ = base;
    attempted_ = false;
    error_ = Status::OK();
  }
  Wakeup();
}

Result<std::shared_ptr<MappedSegment>> SegmentAllocator::Take(int64_t base, std::chrono::milliseconds wait) {
  std::unique_lock lock(mu_);
  if (requested_ != base) {
    requested_ = base;
    attempted_ = false;
    error_ = Status::OK();
    ready_.reset();
    lock.unlock();
    Wakeup();
    lock.lock();
  } else if (!ready_ && attempted_ && !error_.ok()) {
    // The last attempt failed: report it now and let the allocator try again for the next caller.
    Status st = error_;
    attempted_ = false;
    error_ = Status::OK();
    lock.unlock();
    Wakeup();
    return st;
  }
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (!(ready_ && ready_->base() == base) && !(attempted_ && !error_.ok())) {
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
      return Status::Unavailable("timed out waiting for the next commit-log segment");
    }
  }
  if (!ready_) {
    Status st = error_;
    attempted_ = false;
    error_ = Status::OK();
    lock.unlock();
    Wakeup();
    return st;
  }
  auto seg = std::move(ready_);
  ready_.reset();
  requested_ = base + segment_size_;
  attempted_ = false;
  lock.unlock();
  Wakeup();
  return seg;
}

void SegmentAllocator::PrefaultInBackground(std::shared_ptr<MappedSegment> segment) {
  {
    std::lock_guard lock(mu_);
    to_prefault_ = std::move(segment);
  }
  Wakeup();
}

void SegmentAllocator::Run() {
  while (!stopped()) {
    WaitForRunning(std::chrono::milliseconds(200));
    std::shared_ptr<MappedSegment> in_use;
    {
      std::lock_guard lock(mu_);
      in_use = std::move(to_prefault_);
    }
    if (in_use) in_use->Prefault();
    int64_t base;
    {
      std::lock_guard lock(mu_);
      if (requested_ < 0 || ready_ || attempted_) continue;
      base = requested_;
    }
    const std::string path = dir_ + "/" + MappedSegment::FileName(base);
    if (fs_.Exists(path)) (void)fs_.Remove(path);  // a stale, never-used segment from before a crash
    auto seg = MappedSegment::Create(fs_, path, base, segment_size_, prewrite_);
    // The segment is ready as soon as it exists, and is read into the page cache afterwards, while
    // it waits or is already in use: a writer reaching the end of its segment never waits for a
    // prefault (for a 1 GiB segment, seconds of CPU on a busy 2-core machine, longer than a send
    // may wait).
    std::shared_ptr<MappedSegment> prefault_after;
    std::unique_lock lock(mu_);
    attempted_ = true;
    if (requested_ != base) {
      if (seg.ok()) (void)(*seg)->MarkDeleted(fs_);
      attempted_ = false;
      continue;
    }
    if (seg.ok()) {
      prefault_after = *seg;
      ready_ = std::move(*seg);
    } else {
      error_ = seg.status();
      Log().warn("cannot pre-allocate commit-log segment {}: {}", path, error_.ToString());
    }
    cv_.notify_all();
    lock.unlock();
    if (prefault_after) prefault_after->Prefault();
  }
}

}  // namespace vela::store
