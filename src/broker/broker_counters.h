#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "metrics/broker_metrics.h"

namespace vela::broker {

// The broker's figures: the metrics registry (DESIGN.md §7.1) with the broker's named series,
// and the request paths' counters, relaxed atomics (figures, not synchronization), the cheapest
// thing an io thread can add to. Snapshot publishes what the atomics counted since the last call
// into the registry's series, then reads the registry, so every reader (BROKER_STATUS, later
// /metrics) sees one set of figures. Services feed `metrics` directly. Thread-safe.
// Registers vela_build_info{version, commit} = 1 (Prometheus' build-info convention): which Vela
// build the process runs.
void RegisterBuildInfo(metrics::MetricsRegistry& registry);

struct BrokerCounters {
  metrics::MetricsRegistry registry;
  metrics::BrokerMetrics metrics{registry};

  // Every series of the registry, the request counters brought up to date first.
  std::vector<metrics::MetricSample> Snapshot();
  // The same, in the Prometheus text format (/metrics).
  std::string SerializeText();

  // RocketMQ's per-topic series: messages and bytes stored (rocketmq_messages_in_total and
  // rocketmq_throughput_in_total by topic and message_type) and sent to consumers (..._out_total by
  // topic and consumer_group). Each label set is looked up in the registry once, then cached;
  // the registry's label-set cap bounds them. One short lock per call (per request, not per message).
  void CountIn(std::string_view topic, std::string_view message_type, int64_t messages, int64_t bytes);
  void CountOut(std::string_view topic, std::string_view group, int64_t messages, int64_t bytes);

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
  struct MessagesAndBytes {
    metrics::Counter messages;
    metrics::Counter bytes;
  };
  // The cached series of (in or out, first label, second label). REQUIRES: series_mu_ held.
  MessagesAndBytes& SeriesOf(bool in, std::string_view first, std::string_view second);
  // Adds what the atomics counted since the last call to the registry's series.
  void PublishCounters();

  std::mutex series_mu_;
  std::unordered_map<std::string, MessagesAndBytes> series_;  // GUARDED_BY(series_mu_)
  std::mutex publish_mu_;
  int64_t published_[10] = {};  // GUARDED_BY(publish_mu_): the values last added, in PublishTo's order
};

}  // namespace vela::broker
