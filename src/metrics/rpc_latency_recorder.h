#pragma once

#include <cstdint>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "metrics/metrics_registry.h"

namespace vela::metrics {

// rocketmq_rpc_latency's buckets, in milliseconds (RocketMQ's unit): from a fast in-memory answer
// to a long-polling pull.
const std::vector<double>& RpcLatencyBucketsMs();

// The family rocketmq_rpc_latency{request_code, response_code} of `registry` (registered on first
// use; the broker and the name server share the definition).
HistogramFamily& RpcLatencyFamily(MetricsRegistry& registry);

// RpcLatencyRecorder feeds rocketmq_rpc_latency with each answered request: it looks the series
// of a (request code, response code) pair up once, by the numbers, and keeps the handle, so a
// request costs one short lock and one observation. The names are the caller's (the request
// code's and the status code's names); both sets are small and fixed, so the label sets stay
// bounded (an unknown request number should be given one shared name such as "UNKNOWN").
// The family must outlive the recorder. Thread-safe.
class RpcLatencyRecorder {
 public:
  explicit RpcLatencyRecorder(HistogramFamily& family) : family_(family) {}

  void Record(int request_code, std::string_view request_name, int response_code, std::string_view response_name,
              int64_t micros);

 private:
  HistogramFamily& family_;
  std::mutex mu_;
  std::unordered_map<int64_t, Histogram> series_;  // GUARDED_BY(mu_), by (request << 32 | response)
};

}  // namespace vela::metrics
