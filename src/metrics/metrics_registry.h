#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// Vela's metrics: labelled counters, gauges and histograms in one registry, on prometheus-cpp's core
// library. Only this folder includes prometheus headers; callers see the handles below.
namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
struct MetricFamily;
}  // namespace prometheus

namespace vela::metrics {

template <typename Handle>
class Family;

// Counter is a handle to one counter series (one family, one label set): a value that only goes
// up. Cheap to copy; valid as long as the MetricsRegistry that made it. Thread-safe (an atomic add).
// A negative amount is ignored: a counter never goes down.
class Counter {
 public:
  using Impl = prometheus::Counter;
  void Increment(double by = 1.0) const;
  double Value() const;

 private:
  friend class Family<Counter>;
  explicit Counter(Impl* impl) : impl_(impl) {}
  Impl* impl_;
};

// Gauge is a handle to one gauge series: a value that is set, or goes up and down. Cheap to copy;
// valid as long as its MetricsRegistry. Thread-safe.
class Gauge {
 public:
  using Impl = prometheus::Gauge;
  void Set(double value) const;
  void Increment(double by = 1.0) const;
  void Decrement(double by = 1.0) const;
  double Value() const;

 private:
  friend class Family<Gauge>;
  explicit Gauge(Impl* impl) : impl_(impl) {}
  Impl* impl_;
};

// Histogram is a handle to one histogram series: observations counted into the fixed buckets of
// its family (cumulative, Prometheus style: bucket `le=b` counts every observation <= b), plus
// their count and sum. Cheap to copy; valid as long as its MetricsRegistry. Thread-safe
// (prometheus-cpp 1.0 takes a short per-series lock on Observe).
class Histogram {
 public:
  using Impl = prometheus::Histogram;
  void Observe(double value) const;
  uint64_t Count() const;
  double Sum() const;

 private:
  friend class Family<Histogram>;
  explicit Histogram(Impl* impl) : impl_(impl) {}
  Impl* impl_;
};

namespace internal {
template <typename Impl>
struct FamilyState;
}  // namespace internal

// Family is one metric name with a fixed list of label names; WithLabels returns the series for
// one list of label values (in the order of the label names), creating it on first use. Look a
// series up once and keep the handle: WithLabels takes the family's lock and hashes the values.
//
// Bounded cardinality: a family holds at most `max_series` label sets (MetricsRegistry's limit).
// Asking for a new set beyond that returns the family's overflow series, whose every label value
// is "_other" (not counted in the limit), so what would have gone to the refused sets is still
// counted, in one place; the first refusal is logged and every one is counted
// (refused_lookups()). A family without labels has exactly one series. Thread-safe.
template <typename Handle>
class Family {
 public:
  ~Family();
  Family(const Family&) = delete;
  Family& operator=(const Family&) = delete;

  // REQUIRES: as many values as the family has label names (a bug otherwise: VELA_CHECK).
  Handle WithLabels(std::initializer_list<std::string_view> values);
  Handle WithLabels(const std::vector<std::string>& values);

  const std::string& name() const;
  const std::vector<std::string>& label_names() const;
  // Label sets created, the overflow series not counted.
  size_t series_count() const;
  // WithLabels calls sent to the overflow series.
  uint64_t refused_lookups() const;

 private:
  friend class MetricsRegistry;
  explicit Family(std::unique_ptr<internal::FamilyState<typename Handle::Impl>> state);
  Handle Lookup(const std::string_view* values, size_t count);

  std::unique_ptr<internal::FamilyState<typename Handle::Impl>> state_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// One series as `vela-admin broker status` shows it. Histograms are spelled out as Prometheus
// does: one `<name>_bucket` sample per bucket (label `le`, cumulative), `<name>_sum` and
// `<name>_count`.
struct MetricSample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // sorted by label name, `le` last
  double value = 0;

  // The series as Prometheus spells it: `name{label="value",...}` (just `name` without labels),
  // label values escaped as in the text format. A key for `vela-admin broker status`.
  std::string SeriesName() const;
};

// One series of a gauge family computed when read (MetricsRegistry::CollectedGauges): its label
// values, in the order of the family's label names, and its value now.
struct GaugeReading {
  std::vector<std::string> label_values;
  double value = 0;
};

// MetricsRegistry owns every metric of one process (one prometheus::Registry). Families are
// registered by name once (asking again with the same kind, label names and buckets returns the
// same family; anything else is a bug: VELA_CHECK), so a service can build its handles at startup
// and the hot paths only touch handles. Snapshot and SerializeText read a consistent value per
// series (not one instant across series). Thread-safe; outlives every handle it gave out.
class MetricsRegistry {
 public:
  static constexpr size_t kDefaultMaxSeriesPerFamily = 1000;

  // `max_series_per_family` (>= 1) bounds the label sets of each family (see Family).
  explicit MetricsRegistry(size_t max_series_per_family = kDefaultMaxSeriesPerFamily);
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Metric and label names follow Prometheus' rules ([a-zA-Z_:][a-zA-Z0-9_:]*; labels without
  // ':' and not starting with "__"); a counter's name should end in "_total".
  CounterFamily& Counters(const std::string& name, const std::string& help, std::vector<std::string> label_names);
  GaugeFamily& Gauges(const std::string& name, const std::string& help, std::vector<std::string> label_names);
  // `buckets`: upper bounds, strictly increasing, finite (the +Inf bucket is implicit).
  HistogramFamily& Histograms(const std::string& name, const std::string& help, std::vector<std::string> label_names,
                              std::vector<double> buckets);

  // The one series of a family without labels.
  Counter SingleCounter(const std::string& name, const std::string& help);
  Gauge SingleGauge(const std::string& name, const std::string& help);
  Histogram SingleHistogram(const std::string& name, const std::string& help, std::vector<double> buckets);

  // A gauge family whose series are computed each time the registry is read (Snapshot,
  // SerializeText), by `collect`, from state the caller owns (consumer lag from committed and
  // maximum offsets, disk use): nothing is kept between reads, so a series that is gone (a deleted
  // group) disappears from the next read. The same cardinality rule as the other families: past
  // max_series_per_family readings, the rest are summed into one series whose every label value
  // is "_other". `collect` runs on the reading thread without the registry's lock: it must be
  // thread-safe, never call back into this registry, and stay cheap (it runs once per scrape); a
  // reading with the wrong number of label values is a bug (VELA_CHECK). REQUIRES: `name` not
  // registered already; `collect` and what it reads outlive the registry's last read.
  void CollectedGauges(const std::string& name, const std::string& help, std::vector<std::string> label_names,
                       std::function<std::vector<GaugeReading>()> collect);

  // Every series now, sorted by name and then labels (a histogram's buckets in bucket order).
  std::vector<MetricSample> Snapshot() const;
  // The sum of every series of family `name` (for a histogram: its observation count); 0 for a
  // name not registered. Collected gauge families are not read here (they are not run).
  double Total(std::string_view name) const;
  // Prometheus text exposition format (version 0.0.4), for a /metrics endpoint.
  std::string SerializeText() const;

  size_t max_series_per_family() const { return max_series_per_family_; }

 private:
  enum class Kind { kCounter, kGauge, kHistogram };
  struct Registered {
    Kind kind;
    std::vector<std::string> label_names;
    std::vector<double> buckets;
    void* family;  // the Family<...> of `kind`, owned by one of the vectors below
  };
  // REQUIRES: mu_ held. Returns the family already registered as `name` (checking it matches),
  // or nullptr.
  void* FindLocked(const std::string& name, Kind kind, const std::vector<std::string>& label_names,
                   const std::vector<double>& buckets) const;
  void CheckNames(const std::string& name, const std::vector<std::string>& label_names) const;
  // Returns family `name` of `kind`, registering it (in `families`) on first use.
  template <typename Handle, typename Builder>
  Family<Handle>& Register(Kind kind, Builder builder, std::vector<std::unique_ptr<Family<Handle>>>& families,
                           const std::string& name, const std::string& help, std::vector<std::string> label_names,
                           std::vector<double> buckets);

  struct Collected {
    std::string name;
    std::string help;
    std::vector<std::string> label_names;
    std::function<std::vector<GaugeReading>()> collect;
  };
  // The registered families and the collected ones, read now.
  std::vector<prometheus::MetricFamily> CollectAll() const;

  const size_t max_series_per_family_;
  std::vector<std::shared_ptr<const Collected>> collected_;  // GUARDED_BY(mu_)
  std::unique_ptr<prometheus::Registry> registry_;
  mutable std::mutex mu_;
  std::map<std::string, Registered, std::less<>> registered_;  // GUARDED_BY(mu_)
  std::vector<std::unique_ptr<CounterFamily>> counters_;       // GUARDED_BY(mu_)
  std::vector<std::unique_ptr<GaugeFamily>> gauges_;           // GUARDED_BY(mu_)
  std::vector<std::unique_ptr<HistogramFamily>> histograms_;   // GUARDED_BY(mu_)
};

}  // namespace vela::metrics
