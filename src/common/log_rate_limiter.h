#pragma once

#include <cstdint>
#include <mutex>

#include "common/clock.h"

namespace vela {

// LogRateLimiter keeps a repeated log line (an accept error, a refused connection) from flooding
// the log: at most `max_per_interval` lines pass in each interval of `interval_ms`; the others
// are counted, and the next line that passes reports how many were held back before it.
// Guarantees: Allow never blocks on I/O, and every suppressed call is reported by a later
// allowed one (if any). Thread-safe.
//
//   static LogRateLimiter limiter(5, 10000);
//   if (uint64_t suppressed; limiter.Allow(&suppressed)) log->warn("accept failed: {} ({} similar suppressed)", ...);
class LogRateLimiter {
 public:
  LogRateLimiter(uint32_t max_per_interval, int64_t interval_ms)
      : max_per_interval_(max_per_interval == 0 ? 1 : max_per_interval),
        interval_ns_((interval_ms <= 0 ? 1 : interval_ms) * 1000000) {}

  // True when the caller should write its line now; then *suppressed is the number of calls held
  // back since the previous line that passed.
  bool Allow(uint64_t* suppressed) { return AllowAt(NowMonotonicNs(), suppressed); }

  // Allow with an explicit monotonic time (tests).
  bool AllowAt(int64_t now_ns, uint64_t* suppressed) {
    std::lock_guard lock(mu_);
    if (!started_ || now_ns - window_start_ns_ >= interval_ns_) {
      started_ = true;
      window_start_ns_ = now_ns;
      passed_in_window_ = 0;
    }
    if (passed_in_window_ >= max_per_interval_) {
      ++suppressed_;
      return false;
    }
    ++passed_in_window_;
    *suppressed = suppressed_;
    suppressed_ = 0;
    return true;
  }

 private:
  const uint32_t max_per_interval_;
  const int64_t interval_ns_;
  std::mutex mu_;
  bool started_ = false;           // GUARDED_BY(mu_)
  int64_t window_start_ns_ = 0;    // GUARDED_BY(mu_)
  uint32_t passed_in_window_ = 0;  // GUARDED_BY(mu_)
  uint64_t suppressed_ = 0;        // GUARDED_BY(mu_)
};

}  // namespace vela
