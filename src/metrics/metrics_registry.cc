#include "metrics/metrics_registry.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <type_traits>
#include <unordered_map>

#include <fmt/format.h>
#include <prometheus/check_names.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "common/check.h"
#include "metrics/logger.h"

namespace vela::metrics {

namespace {
// The label value of the overflow series of a family over its label-set limit.
constexpr std::string_view kOverflowLabelValue = "_other";

// A cache key for a list of label values: each value preceded by its length, so no two lists
// share a key whatever bytes the values hold.
std::string LabelKey(const std::string_view* values, size_t count) {
  std::string key;
  for (size_t i = 0; i < count; ++i) {
    const auto n = static_cast<uint32_t>(values[i].size());
    key.append(reinterpret_cast<const char*>(&n), sizeof(n));
    key.append(values[i]);
  }
  return key;
}

std::string FormatBound(double bound) {
  if (std::isinf(bound)) return "+Inf";
  return fmt::format("{}", bound);
}
}  // namespace

namespace internal {

// The state behind one Family: its prometheus family, and the series it made, by label values.
template <typename Impl>
struct FamilyState {
  prometheus::Family<Impl>* family = nullptr;
  std::string name;
  std::vector<std::string> label_names;
  std::vector<double> buckets;  // histograms only
  size_t max_series = 0;
  std::atomic<uint64_t> refused{0};
  mutable std::mutex mu;
  std::unordered_map<std::string, Impl*> series;  // GUARDED_BY(mu)
  Impl* overflow = nullptr;                       // GUARDED_BY(mu)

  Impl* AddSeries(const prometheus::Labels& labels) {
    if constexpr (std::is_same_v<Impl, prometheus::Histogram>) {
      return &family->Add(labels, buckets);
    } else {
      return &family->Add(labels);
    }
  }
};

}  // namespace internal

void Counter::Increment(double by) const { impl_->Increment(by); }
double Counter::Value() const { return impl_->Value(); }

void Gauge::Set(double value) const { impl_->Set(value); }
void Gauge::Increment(double by) const { impl_->Increment(by); }
void Gauge::Decrement(double by) const { impl_->Decrement(by); }
double Gauge::Value() const { return impl_->Value(); }

void Histogram::Observe(double value) const { impl_->Observe(value); }
uint64_t Histogram::Count() const { return impl_->Collect().histogram.sample_count; }
double Histogram::Sum() const { return impl_->Collect().histogram.sample_sum; }

template <typename Handle>
Family<Handle>::Family(std::unique_ptr<internal::FamilyState<typename Handle::Impl>> state)
    : state_(std::move(state)) {}

template <typename Handle>
Family<Handle>::~Family() = default;

template <typename Handle>
Handle Family<Handle>::WithLabels(std::initializer_list<std::string_view> values) {
  return Lookup(values.begin(), values.size());
}

template <typename Handle>
Handle Family<Handle>::WithLabels(const std::vector<std::string>& values) {
  std::vector<std::string_view> views(values.begin(), values.end());
  return Lookup(views.data(), views.size());
}

template <typename Handle>
Handle Family<Handle>::Lookup(const std::string_view* values, size_t count) {
  auto& s = *state_;
  VELA_CHECK(count == s.label_names.size(), "metric {} has {} labels, asked with {} values", s.name,
             s.label_names.size(), count);
  std::string key = LabelKey(values, count);
  std::lock_guard lock(s.mu);
  if (auto it = s.series.find(key); it != s.series.end()) return Handle(it->second);
  if (s.series.size() >= s.max_series) {
    s.refused.fetch_add(1, std::memory_order_relaxed);
    if (s.overflow == nullptr) {
      prometheus::Labels labels;
      for (const auto& label : s.label_names) labels.emplace(label, kOverflowLabelValue);
      s.overflow = s.AddSeries(labels);
      MetricsLogger()->warn("metric {} reached its limit of {} label sets: further ones are counted as \"{}\"", s.name,
                            s.max_series, kOverflowLabelValue);
    }
    return Handle(s.overflow);
  }
  prometheus::Labels labels;
  for (size_t i = 0; i < count; ++i) labels.emplace(s.label_names[i], std::string(values[i]));
  auto* impl = s.AddSeries(labels);
  s.series.emplace(std::move(key), impl);
  return Handle(impl);
}

template <typename Handle>
const std::string& Family<Handle>::name() const {
  return state_->name;
}

template <typename Handle>
const std::vector<std::string>& Family<Handle>::label_names() const {
  return state_->label_names;
}

template <typename Handle>
size_t Family<Handle>::series_count() const {
  std::lock_guard lock(state_->mu);
  return state_->series.size();
}

template <typename Handle>
uint64_t Family<Handle>::refused_lookups() const {
  return state_->refused.load(std::memory_order_relaxed);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

std::string MetricSample::SeriesName() const {
  std::string out = name;
  if (labels.empty()) return out;
  out += '{';
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out += ',';
    out += labels[i].first;
    out += "=\"";
    for (char c : labels[i].second) {
      if (c == '\\' || c == '"') {
        out += '\\';
        out += c;
      } else if (c == '\n') {
        out += "\\n";
      } else {
        out += c;
      }
    }
    out += '"';
  }
  out += '}';
  return out;
}

MetricsRegistry::MetricsRegistry(size_t max_series_per_family)
    : max_series_per_family_(max_series_per_family), registry_(std::make_unique<prometheus::Registry>()) {
  VELA_CHECK(max_series_per_family >= 1, "a metric family needs room for at least one label set");
}

MetricsRegistry::~MetricsRegistry() = default;

void MetricsRegistry::CheckNames(const std::string& name, const std::vector<std::string>& label_names) const {
  VELA_CHECK(prometheus::CheckMetricName(name), "invalid metric name '{}'", name);
  for (size_t i = 0; i < label_names.size(); ++i) {
    VELA_CHECK(prometheus::CheckLabelName(label_names[i]) && label_names[i] != "le",
               "invalid label name '{}' for metric {}", label_names[i], name);
    for (size_t j = 0; j < i; ++j) {
      VELA_CHECK(label_names[i] != label_names[j], "label {} named twice for metric {}", label_names[i], name);
    }
  }
}

void* MetricsRegistry::FindLocked(const std::string& name, Kind kind, const std::vector<std::string>& label_names,
                                  const std::vector<double>& buckets) const {
  auto it = registered_.find(name);
  if (it == registered_.end()) return nullptr;
  const Registered& r = it->second;
  VELA_CHECK(r.kind == kind && r.label_names == label_names && r.buckets == buckets,
             "metric {} registered twice with different kinds, labels or buckets", name);
  return r.family;
}

template <typename Handle, typename Builder>
Family<Handle>& MetricsRegistry::Register(Kind kind, Builder builder,
                                          std::vector<std::unique_ptr<Family<Handle>>>& families,
                                          const std::string& name, const std::string& help,
                                          std::vector<std::string> label_names, std::vector<double> buckets) {
  CheckNames(name, label_names);
  std::lock_guard lock(mu_);
  if (void* f = FindLocked(name, kind, label_names, buckets)) return *static_cast<Family<Handle>*>(f);
  auto state = std::make_unique<internal::FamilyState<typename Handle::Impl>>();
  state->family = &builder.Name(name).Help(help).Register(*registry_);
  state->name = name;
  state->label_names = label_names;
  state->buckets = buckets;
  state->max_series = max_series_per_family_;
  families.push_back(std::unique_ptr<Family<Handle>>(new Family<Handle>(std::move(state))));
  registered_.emplace(name, Registered{kind, std::move(label_names), std::move(buckets), families.back().get()});
  return *families.back();
}

CounterFamily& MetricsRegistry::Counters(const std::string& name, const std::string& help,
                                         std::vector<std::string> label_names) {
  return Register<Counter>(Kind::kCounter, prometheus::BuildCounter(), counters_, name, help, std::move(label_names),
                           {});
}

GaugeFamily& MetricsRegistry::Gauges(const std::string& name, const std::string& help,
                                     std::vector<std::string> label_names) {
  return Register<Gauge>(Kind::kGauge, prometheus::BuildGauge(), gauges_, name, help, std::move(label_names), {});
}

HistogramFamily& MetricsRegistry::Histograms(const std::string& name, const std::string& help,
                                             std::vector<std::string> label_names, std::vector<double> buckets) {
  VELA_CHECK(!buckets.empty(), "histogram {} needs at least one bucket", name);
  for (size_t i = 0; i < buckets.size(); ++i) {
    VELA_CHECK(std::isfinite(buckets[i]) && (i == 0 || buckets[i - 1] < buckets[i]),
               "histogram {}: bucket bounds must be finite and strictly increasing", name);
  }
  return Register<Histogram>(Kind::kHistogram, prometheus::BuildHistogram(), histograms_, name, help,
                             std::move(label_names), std::move(buckets));
}

Counter MetricsRegistry::SingleCounter(const std::string& name, const std::string& help) {
  return Counters(name, help, {}).WithLabels({});
}

Gauge MetricsRegistry::SingleGauge(const std::string& name, const std::string& help) {
  return Gauges(name, help, {}).WithLabels({});
}

Histogram MetricsRegistry::SingleHistogram(const std::string& name, const std::string& help,
                                           std::vector<double> buckets) {
  return Histograms(name, help, {}, std::move(buckets)).WithLabels({});
}

void MetricsRegistry::CollectedGauges(const std::string& name, const std::string& help,
                                      std::vector<std::string> label_names,
                                      std::function<std::vector<GaugeReading>()> collect) {
  CheckNames(name, label_names);
  std::lock_guard lock(mu_);
  VELA_CHECK(registered_.find(name) == registered_.end(), "metric {} registered twice", name);
  for (const auto& c : collected_) VELA_CHECK(c->name != name, "metric {} registered twice", name);
  collected_.push_back(std::make_shared<const Collected>(Collected{name, help, std::move(label_names), std::move(collect)}));
}

std::vector<prometheus::MetricFamily> MetricsRegistry::CollectAll() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  std::vector<std::shared_ptr<const Collected>> collected;
  {
    std::lock_guard lock(mu_);
    collected = collected_;
  }
  for (const auto& c : collected) {
    prometheus::MetricFamily family;
    family.name = c->name;
    family.help = c->help;
    family.type = prometheus::MetricType::Gauge;
    std::vector<GaugeReading> readings = c->collect();
    double overflow = 0;
    bool overflowed = false;
    for (size_t i = 0; i < readings.size(); ++i) {
      const GaugeReading& r = readings[i];
      VELA_CHECK(r.label_values.size() == c->label_names.size(), "metric {} has {} labels, a reading has {}", c->name,
                 c->label_names.size(), r.label_values.size());
      if (i >= max_series_per_family_) {
        overflow += r.value;
        overflowed = true;
        continue;
      }
      prometheus::ClientMetric m;
      for (size_t l = 0; l < r.label_values.size(); ++l) m.label.push_back({c->label_names[l], r.label_values[l]});
      std::sort(m.label.begin(), m.label.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
      m.gauge.value = r.value;
      family.metric.push_back(std::move(m));
    }
    if (overflowed) {
      prometheus::ClientMetric m;
      for (const auto& label : c->label_names) m.label.push_back({label, std::string(kOverflowLabelValue)});
      m.gauge.value = overflow;
      family.metric.push_back(std::move(m));
    }
    families.push_back(std::move(family));
  }
  return families;
}

std::vector<MetricSample> MetricsRegistry::Snapshot() const {
  std::vector<prometheus::MetricFamily> families = CollectAll();
  std::sort(families.begin(), families.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  std::vector<MetricSample> samples;
  for (auto& family : families) {
    std::sort(family.metric.begin(), family.metric.end(),
              [](const auto& a, const auto& b) { return a.label < b.label; });
    for (const auto& m : family.metric) {
      std::vector<std::pair<std::string, std::string>> labels;
      for (const auto& l : m.label) labels.emplace_back(l.name, l.value);
      switch (family.type) {
        case prometheus::MetricType::Counter:
          samples.push_back({family.name, labels, m.counter.value});
          break;
        case prometheus::MetricType::Gauge:
          samples.push_back({family.name, labels, m.gauge.value});
          break;
        case prometheus::MetricType::Histogram: {
          for (const auto& bucket : m.histogram.bucket) {
            auto with_le = labels;
            with_le.emplace_back("le", FormatBound(bucket.upper_bound));
            samples.push_back(
                {family.name + "_bucket", std::move(with_le), static_cast<double>(bucket.cumulative_count)});
          }
          samples.push_back({family.name + "_sum", labels, m.histogram.sample_sum});
          samples.push_back({family.name + "_count", labels, static_cast<double>(m.histogram.sample_count)});
          break;
        }
        default:
          VELA_CHECK(false, "metric {} has a type this registry never makes", family.name);
      }
    }
  }
  return samples;
}

double MetricsRegistry::Total(std::string_view name) const {
  double total = 0;
  for (const auto& family : registry_->Collect()) {
    if (family.name != name) continue;
    for (const auto& m : family.metric) {
      switch (family.type) {
        case prometheus::MetricType::Counter:
          total += m.counter.value;
          break;
        case prometheus::MetricType::Gauge:
          total += m.gauge.value;
          break;
        case prometheus::MetricType::Histogram:
          total += static_cast<double>(m.histogram.sample_count);
          break;
        default:
          break;
      }
    }
  }
  return total;
}

std::string MetricsRegistry::SerializeText() const {
  return prometheus::TextSerializer().Serialize(CollectAll());
}

}  // namespace vela::metrics
