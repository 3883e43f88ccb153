#include "store/segment_allocator.h"

#include <algorithm>

#include "store/logger.h"

namespace vela::store {

SegmentAllocator::SegmentAllocator(FileSystem& fs, std::string dir, int64_t segment_size, bool prewrite,
                                   int64_t prefault_ahead)
    : ServiceThread("vela-seg-alloc"),
      fs_(fs),
      dir_(std::move(dir)),
      segment_size_(segment_size),
      prewrite_(prewrite),
      prefault_ahead_(prefault_ahead) {}

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

void SegmentAllocator::PrefaultAhead(std::shared_ptr<MappedSegment> segment, int64_t from, int64_t until) {
  if (prefault_ahead_ <= 0) return;
  {
    std::lock_guard lock(mu_);
    prefault_segment_ = std::move(segment);
    prefault_from_ = from;
    prefault_to_ = until;
  }
  Wakeup();
}

bool SegmentAllocator::PrefaultSome() {
  // A chunk is a few milliseconds of work; a round does at most prefault_ahead_ bytes, then lets
  // an allocation request be served.
  constexpr int64_t kChunk = 4 << 20;
  std::shared_ptr<MappedSegment> seg;
  int64_t from, to;
  {
    std::lock_guard lock(mu_);
    seg = prefault_segment_;
    from = prefault_from_;
    to = prefault_to_;
  }
  if (!seg) return false;
  const int64_t end = std::min(to, seg->end());
  from = std::max({from, prefaulted_until_.load(std::memory_order_relaxed), seg->base()});
  const int64_t round_end = std::min(end, from + prefault_ahead_);
  while (from < round_end && !stopped()) {
    const int64_t chunk_end = std::min(round_end, from + kChunk);
    seg->Prefault(from - seg->base(), chunk_end - seg->base());
    from = chunk_end;
    prefaulted_until_.store(from, std::memory_order_release);
  }
  return from < end;
}

void SegmentAllocator::Run() {
  bool more_to_prefault = false;
  while (!stopped()) {
    if (!more_to_prefault) WaitForRunning(std::chrono::milliseconds(200));
    more_to_prefault = PrefaultSome();
    int64_t base;
    {
      std::lock_guard lock(mu_);
      if (requested_ < 0 || ready_ || attempted_) continue;
      base = requested_;
    }
    const std::string path = dir_ + "/" + MappedSegment::FileName(base);
    if (fs_.Exists(path)) (void)fs_.Remove(path);  // a stale, never-used segment from before a crash
    auto seg = MappedSegment::Create(fs_, path, base, segment_size_, prewrite_);
    // The segment is ready as soon as it exists; its head is read into the page cache afterwards
    // (a writer reaching the end of its segment never waits for that), the rest as the writer
    // goes (PrefaultAhead).
    std::shared_ptr<MappedSegment> prefault_head;
    std::unique_lock lock(mu_);
    attempted_ = true;
    if (requested_ != base) {
      if (seg.ok()) (void)(*seg)->MarkDeleted(fs_);
      attempted_ = false;
      continue;
    }
    if (seg.ok()) {
      prefault_head = *seg;
      ready_ = std::move(*seg);
    } else {
      error_ = seg.status();
      Log().warn("cannot pre-allocate commit-log segment {}: {}", path, error_.ToString());
    }
    cv_.notify_all();
    lock.unlock();
    if (prefault_head && prefault_ahead_ > 0) prefault_head->Prefault(0, std::min(prefault_ahead_, segment_size_));
  }
}

}  // namespace vela::store
