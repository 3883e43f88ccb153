#include "metrics/metrics_registry.h"

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/logging.h"
#include "expect_text.h"

namespace vela::metrics {
namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

// The sample named `name` with exactly `labels`, or nullptr.
const MetricSample* FindSample(const std::vector<MetricSample>& samples, const std::string& name,
                               const Labels& labels) {
  for (const auto& s : samples) {
    if (s.name == name && s.labels == labels) return &s;
  }
  return nullptr;
}

TEST(MetricsRegistryTest, CounterCountsAndNeverGoesDown) {
  MetricsRegistry registry;
  Counter c = registry.SingleCounter("vela_test_events_total", "events");
  c.Increment();
  c.Increment(2.5);
  c.Increment(-10);  // ignored: a counter never goes down
  EXPECT_DOUBLE_EQ(c.Value(), 3.5);
  // Asking again returns the same series.
  EXPECT_DOUBLE_EQ(registry.SingleCounter("vela_test_events_total", "events").Value(), 3.5);
}

TEST(MetricsRegistryTest, GaugeGoesUpAndDown) {
  MetricsRegistry registry;
  Gauge g = registry.SingleGauge("vela_test_depth", "depth");
  g.Set(10);
  g.Increment(5);
  g.Decrement(7);
  g.Decrement();
  EXPECT_DOUBLE_EQ(g.Value(), 7);
}

TEST(MetricsRegistryTest, LabelledSeriesAreDistinctAndCached) {
  MetricsRegistry registry;
  CounterFamily& family = registry.Counters("vela_test_in_total", "in", {"topic", "message_type"});
  EXPECT_EQ(&family, &registry.Counters("vela_test_in_total", "in", {"topic", "message_type"}));
  family.WithLabels({"orders", "normal"}).Increment(3);
  family.WithLabels({"orders", "delay"}).Increment(1);
  family.WithLabels(std::vector<std::string>{"orders", "normal"}).Increment(2);
  EXPECT_DOUBLE_EQ(family.WithLabels({"orders", "normal"}).Value(), 5);
  EXPECT_DOUBLE_EQ(family.WithLabels({"orders", "delay"}).Value(), 1);
  EXPECT_EQ(family.series_count(), 2u);
  EXPECT_EQ(family.refused_lookups(), 0u);
  EXPECT_DOUBLE_EQ(registry.Total("vela_test_in_total"), 6);
  EXPECT_DOUBLE_EQ(registry.Total("vela_test_unknown_total"), 0);
}

TEST(MetricsRegistryTest, LabelValuesAreNotConfusedByTheirBytes) {
  MetricsRegistry registry;
  CounterFamily& family = registry.Counters("vela_test_pairs_total", "pairs", {"a", "b"});
  family.WithLabels({"ab", "c"}).Increment();
  family.WithLabels({"a", "bc"}).Increment();
  EXPECT_EQ(family.series_count(), 2u);
}

TEST(MetricsRegistryTest, HistogramCountsIntoCumulativeBuckets) {
  MetricsRegistry registry;
  HistogramFamily& family = registry.Histograms("vela_test_latency_seconds", "latency", {"code"}, {0.01, 0.1, 1});
  Histogram h = family.WithLabels({"SEND"});
  for (double v : {0.005, 0.01, 0.05, 0.5, 5.0}) h.Observe(v);
  EXPECT_EQ(h.Count(), 5u);
  EXPECT_DOUBLE_EQ(h.Sum(), 5.565);

  auto samples = registry.Snapshot();
  auto bucket = [&](const std::string& le) {
    const MetricSample* s = FindSample(samples, "vela_test_latency_seconds_bucket", {{"code", "SEND"}, {"le", le}});
    return s == nullptr ? -1.0 : s->value;
  };
  EXPECT_EQ(bucket("0.01"), 2);  // the bound itself is in its bucket
  EXPECT_EQ(bucket("0.1"), 3);
  EXPECT_EQ(bucket("1"), 4);
  EXPECT_EQ(bucket("+Inf"), 5);
  const MetricSample* count = FindSample(samples, "vela_test_latency_seconds_count", {{"code", "SEND"}});
  ASSERT_NE(count, nullptr);
  EXPECT_EQ(count->value, 5);
  const MetricSample* sum = FindSample(samples, "vela_test_latency_seconds_sum", {{"code", "SEND"}});
  ASSERT_NE(sum, nullptr);
  EXPECT_DOUBLE_EQ(sum->value, 5.565);
  EXPECT_DOUBLE_EQ(registry.Total("vela_test_latency_seconds"), 5);
}

TEST(MetricsRegistryTest, FamilyOverItsLimitCountsIntoTheOtherSeries) {
  MetricsRegistry registry(/*max_series_per_family=*/3);
  CounterFamily& family = registry.Counters("vela_test_capped_total", "capped", {"topic", "group"});
  for (int i = 0; i < 3; ++i) family.WithLabels({"t" + std::to_string(i), "g"}).Increment();
  // Beyond the limit: every new label set lands in {topic="_other",group="_other"}.
  family.WithLabels({"t3", "g"}).Increment(10);
  family.WithLabels({"t4", "g"}).Increment(5);
  // Label sets made before the limit keep their own series.
  family.WithLabels({"t0", "g"}).Increment();
  EXPECT_EQ(family.series_count(), 3u);
  EXPECT_EQ(family.refused_lookups(), 2u);

  auto samples = registry.Snapshot();
  const MetricSample* other = FindSample(samples, "vela_test_capped_total", {{"group", "_other"}, {"topic", "_other"}});
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->value, 15);
  const MetricSample* t0 = FindSample(samples, "vela_test_capped_total", {{"group", "g"}, {"topic", "t0"}});
  ASSERT_NE(t0, nullptr);
  EXPECT_EQ(t0->value, 2);
  EXPECT_EQ(FindSample(samples, "vela_test_capped_total", {{"group", "g"}, {"topic", "t3"}}), nullptr);
  EXPECT_EQ(std::count_if(samples.begin(), samples.end(),
                          [](const MetricSample& s) { return s.name == "vela_test_capped_total"; }),
            4);
  // The overflow is visible in the text output too.
  EXPECT_NE(registry.SerializeText().find("vela_test_capped_total{group=\"_other\",topic=\"_other\"} 15"),
            std::string::npos);
}

TEST(MetricsRegistryTest, SnapshotListsEverySeriesSorted) {
  MetricsRegistry registry;
  registry.SingleGauge("vela_test_b", "b").Set(2);
  CounterFamily& a = registry.Counters("vela_test_a_total", "a", {"topic"});
  a.WithLabels({"z"}).Increment(1);
  a.WithLabels({"m"}).Increment(4);
  registry.SingleHistogram("vela_test_c_seconds", "c", {1}).Observe(0.5);

  auto samples = registry.Snapshot();
  std::vector<std::string> seen;
  for (const auto& s : samples) {
    std::string line = s.name;
    for (const auto& [k, v] : s.labels) line += " " + k + "=" + v;
    seen.push_back(line + " " + std::to_string(static_cast<int>(s.value)));
  }
  EXPECT_EQ(seen, (std::vector<std::string>{
                      "vela_test_a_total topic=m 4",
                      "vela_test_a_total topic=z 1",
                      "vela_test_b 2",
                      "vela_test_c_seconds_bucket le=1 1",
                      "vela_test_c_seconds_bucket le=+Inf 1",
                      "vela_test_c_seconds_sum 0",  // 0.5 truncated by the test's formatting
                      "vela_test_c_seconds_count 1",
                  }));
}

TEST(MetricsRegistryTest, TextOutputIsPrometheusFormat) {
  MetricsRegistry registry;
  registry.Counters("vela_test_out_total", "Messages out", {"topic"}).WithLabels({"orders"}).Increment(7);
  registry.SingleGauge("vela_test_pending", "Pending").Set(3);
  registry.Histograms("vela_test_wait_seconds", "Wait", {"code"}, {0.5}).WithLabels({"PULL"}).Observe(0.25);
  // A label value with a quote and a backslash is escaped.
  registry.Counters("vela_test_odd_total", "Odd", {"topic"}).WithLabels({"a\"b\\c"}).Increment();

  const std::string text = registry.SerializeText();
  ExpectTextContains(text, {
                               "# HELP vela_test_out_total Messages out\n",
                               "# TYPE vela_test_out_total counter\n",
                               "vela_test_out_total{topic=\"orders\"} 7\n",
                               "# TYPE vela_test_pending gauge\n",
                               "vela_test_pending 3\n",
                               "# TYPE vela_test_wait_seconds histogram\n",
                               "vela_test_wait_seconds_count{code=\"PULL\"} 1\n",
                               "vela_test_wait_seconds_sum{code=\"PULL\"} 0.25\n",
                               "vela_test_wait_seconds_bucket{code=\"PULL\",le=\"0.5\"} 1\n",
                               "vela_test_wait_seconds_bucket{code=\"PULL\",le=\"+Inf\"} 1\n",
                               "vela_test_odd_total{topic=\"a\\\"b\\\\c\"} 1\n",
                           });
}

TEST(MetricsRegistryTest, SeriesNameSpellsTheSeriesAsPrometheusDoes) {
  MetricsRegistry registry;
  registry.SingleCounter("vela_test_plain_total", "p").Increment();
  registry.Counters("vela_test_named_total", "n", {"topic", "group"}).WithLabels({"a\"b\\c\nd", "g"}).Increment();
  registry.SingleHistogram("vela_test_h_seconds", "h", {0.5}).Observe(1);
  std::vector<std::string> names;
  for (const auto& s : registry.Snapshot()) names.push_back(s.SeriesName());
  EXPECT_EQ(names, (std::vector<std::string>{
                       "vela_test_h_seconds_bucket{le=\"0.5\"}",
                       "vela_test_h_seconds_bucket{le=\"+Inf\"}",
                       "vela_test_h_seconds_sum",
                       "vela_test_h_seconds_count",
                       "vela_test_named_total{group=\"g\",topic=\"a\\\"b\\\\c\\nd\"}",
                       "vela_test_plain_total",
                   }));
}

TEST(MetricsRegistryTest, ConcurrentIncrementsAllCount) {
  MetricsRegistry registry;
  CounterFamily& family = registry.Counters("vela_test_concurrent_total", "c", {"topic"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&family, t] {
      Counter mine = family.WithLabels({t % 2 == 0 ? "even" : "odd"});
      for (int i = 0; i < 10000; ++i) mine.Increment();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_DOUBLE_EQ(registry.Total("vela_test_concurrent_total"), 40000);
  EXPECT_EQ(family.series_count(), 2u);
}

TEST(MetricsRegistryDeathTest, MisuseIsABug) {
  InitLogging("info");  // VELA_CHECK's message goes to stderr, where the death test reads it
  MetricsRegistry registry;
  CounterFamily& family = registry.Counters("vela_test_checked_total", "c", {"topic"});
  EXPECT_DEATH(family.WithLabels({"a", "b"}), "labels");
  EXPECT_DEATH(registry.Gauges("vela_test_checked_total", "c", {"topic"}), "registered twice");
  EXPECT_DEATH(registry.Counters("vela_test_checked_total", "c", {"group"}), "registered twice");
  EXPECT_DEATH(registry.SingleCounter("bad name", "c"), "invalid metric name");
  EXPECT_DEATH(registry.Counters("vela_test_x_total", "c", {"le"}), "invalid label name");
  EXPECT_DEATH(registry.SingleHistogram("vela_test_h", "h", {1, 1}), "strictly increasing");
}

}  // namespace
}  // namespace vela::metrics
