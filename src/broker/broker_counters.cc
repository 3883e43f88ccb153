#include "broker/broker_counters.h"

namespace vela::broker {

std::vector<metrics::MetricSample> BrokerCounters::Snapshot() {
  metrics::BrokerMetrics& m = metrics;
  const std::pair<const std::atomic<int64_t>*, metrics::Counter*> pairs[] = {
      {&send_requests, &m.send_requests},
      {&messages_in, &m.messages_in_all},
      {&bytes_in, &m.bytes_in_all},
      {&send_errors, &m.send_errors},
      {&pull_requests, &m.pull_requests},
      {&messages_out, &m.messages_out_all},
      {&bytes_out, &m.bytes_out_all},
      {&filter_conversion_failures, &m.filter_conversion_failures},
      {&bad_requests, &m.bad_requests},
      {&corrupt_records_reported, &m.corrupt_records_reported},
  };
  static_assert(std::size(pairs) == sizeof(published_) / sizeof(published_[0]));
  std::lock_guard lock(publish_mu_);
  for (size_t i = 0; i < std::size(pairs); ++i) {
    const int64_t now = pairs[i].first->load(std::memory_order_relaxed);
    if (now > published_[i]) pairs[i].second->Increment(static_cast<double>(now - published_[i]));
    published_[i] = now;
  }
  return registry.Snapshot();
}

}  // namespace vela::broker
