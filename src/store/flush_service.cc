#include "store/flush_service.h"

#include <vector>

#include "common/clock.h"
#include "store/logger.h"

namespace vela::store {

FlushService::FlushService(CommitLog& log, FlushDiskType type, int flush_interval_ms, int flush_least_pages,
                           int sync_flush_timeout_ms, std::function<void(int64_t)> observer)
    : ServiceThread("vela-flush"),
      log_(log),
      type_(type),
      interval_(std::max(1, flush_interval_ms)),
      least_bytes_(static_cast<int64_t>(std::max(0, flush_least_pages)) * 4096),
      sync_timeout_us_(static_cast<int64_t>(sync_flush_timeout_ms) * 1000),
      observer_(std::move(observer)) {}

FlushService::~FlushService() { Shutdown(); }

void FlushService::AwaitDurable(AppendResult result, AppendCallback on_done) {
  if (log_.flushed_offset() >= result.end_offset) {
    on_done(std::move(result));
    return;
  }
  {
    std::lock_guard lock(mu_);
    if (!closed_) {
      waiters_.push_back(Waiter{std::move(result), std::move(on_done), NowMonotonicUs() + sync_timeout_us_});
      on_done = nullptr;
    }
  }
  if (on_done) {
    on_done(Status::Aborted("the store stopped before the record was durable"));
    return;
  }
  Wakeup();
}

Status FlushService::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

void FlushService::FlushOnce(bool observe) {
  const int64_t start_us = NowMonotonicUs();
  auto flushed = log_.Flush();
  last_flush_us_ = NowMonotonicUs();
  if (observe && flushed.ok() && observer_) observer_(last_flush_us_ - start_us);
  std::lock_guard lock(mu_);
  if (!flushed.ok()) {
    Log().error("commit-log flush failed: {}", flushed.status().ToString());
    last_error_ = flushed.status();
  } else {
    last_error_ = Status::OK();
  }
}

void FlushService::CompleteWaiters(bool final_round) {
  std::vector<Waiter> done;
  std::vector<Waiter> expired;
  Status error;
  {
    std::lock_guard lock(mu_);
    const PhysicalOffset flushed = log_.flushed_offset();
    const int64_t now = NowMonotonicUs();
    error = last_error_;
    while (!waiters_.empty()) {
      Waiter& w = waiters_.front();
      if (w.result.end_offset <= flushed) {
        done.push_back(std::move(w));
      } else if (final_round || w.deadline_us <= now) {
        expired.push_back(std::move(w));
      } else {
        break;
      }
      waiters_.pop_front();
    }
    // Waiters behind a not-yet-expired one may have expired too (they arrived later, so rarely).
  }
  for (auto& w : done) w.on_done(std::move(w.result));
  for (auto& w : expired) {
    if (!error.ok()) {
      w.on_done(error.WithContext("flush failed"));
    } else {
      w.on_done(Status::DeadlineExceeded(
          fmt::format("record end {} not durable within syncFlushTimeout", w.result.end_offset)));
    }
  }
}

void FlushService::Run() {
  last_flush_us_ = NowMonotonicUs();
  while (!stopped()) {
    if (type_ == FlushDiskType::kSync) {
      bool pending;
      {
        std::lock_guard lock(mu_);
        pending = !waiters_.empty();
      }
      if (!pending) WaitForRunning(std::chrono::milliseconds(10));
      if (log_.write_offset() > log_.flushed_offset()) {
        FlushOnce(/*observe=*/true);
        if (!last_error().ok()) WaitForRunning(std::chrono::milliseconds(10));
      }
      CompleteWaiters(false);
    } else {
      // RocketMQ's rule: every interval, flush when at least flush_least_pages are dirty; flush
      // whatever is dirty once 10 intervals passed without a flush.
      WaitForRunning(interval_);
      const int64_t dirty = log_.write_offset() - log_.flushed_offset();
      const bool overdue = NowMonotonicUs() - last_flush_us_ >= 10 * interval_.count() * 1000;
      if (dirty > 0 && (overdue || dirty >= least_bytes_)) FlushOnce(/*observe=*/true);
    }
  }
}

void FlushService::Shutdown() {
  Stop();
  if (abandoned_) return;
  FlushOnce(/*observe=*/false);
  {
    std::lock_guard lock(mu_);
    closed_ = true;  // an append still racing with the shutdown fails at once (AwaitDurable)
  }
  CompleteWaiters(true);
}

void FlushService::Abandon() {
  Stop();
  abandoned_ = true;
  std::deque<Waiter> waiters;
  {
    std::lock_guard lock(mu_);
    closed_ = true;  // an append still racing with the crash fails at once (AwaitDurable)
    waiters.swap(waiters_);
  }
  for (auto& w : waiters) w.on_done(Status::Aborted("the store crashed before the record was durable"));
}

}  // namespace vela::store
