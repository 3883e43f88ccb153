#include "broker/broker_counters.h"

#include "common/build_info.h"

namespace vela::broker {

void RegisterBuildInfo(metrics::MetricsRegistry& registry) {
  registry.Gauges("vela_build_info", "The running Vela build: version and git commit", {"version", "commit"})
      .WithLabels({BuildVersion(), BuildCommit()})
      .Set(1);
}

std::vector<metrics::MetricSample> BrokerCounters::Snapshot() {
  PublishCounters();
  return registry.Snapshot();
}

std::string BrokerCounters::SerializeText() {
  PublishCounters();
  return registry.SerializeText();
}

void BrokerCounters::PublishCounters() {
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
}

BrokerCounters::MessagesAndBytes& BrokerCounters::SeriesOf(bool in, std::string_view first, std::string_view second) {
  // One key buffer per thread: no allocation per request once it has grown.
  thread_local std::string key;
  key.clear();
  key.push_back(in ? 'i' : 'o');
  key.append(first);
  key.push_back('\0');
  key.append(second);
  auto it = series_.find(key);
  if (it == series_.end()) {
    metrics::CounterFamily& messages = in ? metrics.messages_in : metrics.messages_out;
    metrics::CounterFamily& bytes = in ? metrics.throughput_in : metrics.throughput_out;
    it = series_.emplace(key, MessagesAndBytes{messages.WithLabels({first, second}),
                                                          bytes.WithLabels({first, second})})
             .first;
  }
  return it->second;
}

void BrokerCounters::CountIn(std::string_view topic, std::string_view message_type, int64_t messages,
                             int64_t bytes) {
  std::lock_guard lock(series_mu_);
  MessagesAndBytes& s = SeriesOf(/*in=*/true, topic, message_type);
  s.messages.Increment(static_cast<double>(messages));
  s.bytes.Increment(static_cast<double>(bytes));
}

void BrokerCounters::CountOut(std::string_view topic, std::string_view group, int64_t messages, int64_t bytes) {
  std::lock_guard lock(series_mu_);
  MessagesAndBytes& s = SeriesOf(/*in=*/false, topic, group);
  s.messages.Increment(static_cast<double>(messages));
  s.bytes.Increment(static_cast<double>(bytes));
}

}  // namespace vela::broker
