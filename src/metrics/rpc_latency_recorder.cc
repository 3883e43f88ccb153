#include "metrics/rpc_latency_recorder.h"

namespace vela::metrics {

const std::vector<double>& RpcLatencyBucketsMs() {
  static const std::vector<double> buckets = {0.1, 0.25, 0.5, 1,    2.5,  5,    10,    25,   50,
                                              100, 250,  500, 1000, 2500, 5000, 10000, 30000};
  return buckets;
}

HistogramFamily& RpcLatencyFamily(MetricsRegistry& registry) {
  return registry.Histograms("rocketmq_rpc_latency", "Request handling time in milliseconds",
                             {"request_code", "response_code"}, RpcLatencyBucketsMs());
}

void RpcLatencyRecorder::Record(int request_code, std::string_view request_name, int response_code,
                                std::string_view response_name, int64_t micros) {
  const int64_t key = (static_cast<int64_t>(request_code) << 32) | static_cast<uint32_t>(response_code);
  Histogram* series = nullptr;
  {
    std::lock_guard lock(mu_);
    auto it = series_.find(key);
    if (it == series_.end()) {
      it = series_.emplace(key, family_.WithLabels({request_name, response_name})).first;
    }
    series = &it->second;
  }
  // The map's nodes never move or go away: the handle stays valid outside the lock.
  series->Observe(static_cast<double>(micros) / 1000.0);
}

}  // namespace vela::metrics
