#pragma once

#include <chrono>
#include <cstdint>

// Clocks: wall time in epoch milliseconds (stored timestamps, timers) and a monotonic clock in
// nanoseconds / microseconds (latencies, deadlines).
namespace vela {

inline int64_t NowEpochMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
inline int64_t NowMonotonicNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
inline int64_t NowMonotonicUs() { return NowMonotonicNs() / 1000; }

}  // namespace vela
