#pragma once

#include <atomic>
#include <cstdint>

namespace vela::broker {

// Counters shown by BROKER_STATUS. Relaxed atomics: figures, not synchronization.
struct BrokerCounters {
  std::atomic<int64_t> send_requests{0};
  std::atomic<int64_t> messages_in{0};
  std::atomic<int64_t> bytes_in{0};
  std::atomic<int64_t> send_errors{0};
  std::atomic<int64_t> pull_requests{0};
  std::atomic<int64_t> messages_out{0};
  std::atomic<int64_t> bytes_out{0};
  std::atomic<int64_t> filter_conversion_failures{0};
  std::atomic<int64_t> bad_requests{0};
  std::atomic<int64_t> corrupt_records_reported{0};  // damaged records pulls passed over
};

}  // namespace vela::broker
