#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

#include "metrics/broker_metrics.h"

namespace vela::broker {

// The broker's figures: the metrics registry (DESIGN.md §7.1) with the broker's named series,
// and the request paths' counters, relaxed atomics (figures, not synchronization), the cheapest
// thing an io thread can add to. Snapshot publishes what the atomics counted since the last call
// into the registry's series, then reads the registry, so every reader (BROKER_STATUS, later
// /metrics) sees one set of figures. Services feed `metrics` directly. Thread-safe.
struct BrokerCounters {
  metrics::MetricsRegistry registry;
  metrics::BrokerMetrics metrics{registry};

  // Every series of the registry, the request counters brought up to date first.
  std::vector<metrics::MetricSample> Snapshot();

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

 private:
  std::mutex publish_mu_;
  int64_t published_[10] = {};  // GUARDED_BY(publish_mu_): the values last added, in PublishTo's order
};

}  // namespace vela::broker
