#include "metrics/broker_metrics.h"

#include <string>

#include <gtest/gtest.h>

#include "expect_text.h"

namespace vela::metrics {
namespace {

TEST(BrokerMetricsTest, FeedsTheNamedSeries) {
  MetricsRegistry registry;
  BrokerMetrics m(registry);
  m.messages_in.WithLabels({"orders", BrokerMetrics::kMessageTypeNormal}).Increment(2);
  m.throughput_in.WithLabels({"orders", BrokerMetrics::kMessageTypeNormal}).Increment(300);
  m.messages_out.WithLabels({"orders", "billing"}).Increment(1);
  m.throughput_out.WithLabels({"orders", "billing"}).Increment(150);
  m.rpc_latency.WithLabels({"SEND_MESSAGE", "OK"}).Observe(0.3);
  m.send_requests.Increment();
  m.send_errors.Increment();
  m.pull_requests.Increment(4);
  m.filter_conversion_failures.Increment();
  m.bad_requests.Increment();
  m.corrupt_records_reported.Increment();
  m.timer_pending.WithLabels({"orders"}).Set(12);
  m.timer_delivered.Increment(3);
  m.timer_recalled.Increment();
  m.timer_lateness.Observe(0.004);

  EXPECT_DOUBLE_EQ(registry.Total("rocketmq_messages_in_total"), 2);
  EXPECT_DOUBLE_EQ(registry.Total("rocketmq_throughput_in_total"), 300);
  EXPECT_DOUBLE_EQ(registry.Total("rocketmq_messages_out_total"), 1);
  EXPECT_DOUBLE_EQ(registry.Total("rocketmq_throughput_out_total"), 150);
  EXPECT_DOUBLE_EQ(registry.Total("rocketmq_rpc_latency"), 1);
  EXPECT_DOUBLE_EQ(registry.Total("vela_send_requests_total"), 1);
  EXPECT_DOUBLE_EQ(registry.Total("vela_send_errors_total"), 1);
  EXPECT_DOUBLE_EQ(registry.Total("vela_pull_requests_total"), 4);
  EXPECT_DOUBLE_EQ(registry.Total("vela_filter_conversion_failures_total"), 1);
  EXPECT_DOUBLE_EQ(registry.Total("vela_bad_requests_total"), 1);
  EXPECT_DOUBLE_EQ(registry.Total("vela_corrupt_records_reported_total"), 1);
  EXPECT_DOUBLE_EQ(registry.Total("vela_timer_pending"), 12);
  EXPECT_DOUBLE_EQ(registry.Total("vela_timer_delivered_total"), 3);
  EXPECT_DOUBLE_EQ(registry.Total("vela_timer_recalled_total"), 1);
  EXPECT_DOUBLE_EQ(registry.Total("vela_timer_lateness_seconds"), 1);

  const std::string text = registry.SerializeText();
  ExpectTextContains(
      text, {
                "rocketmq_messages_in_total{message_type=\"normal\",topic=\"orders\"} 2\n",
                "rocketmq_messages_out_total{consumer_group=\"billing\",topic=\"orders\"} 1\n",
                "rocketmq_rpc_latency_bucket{request_code=\"SEND_MESSAGE\",response_code=\"OK\",le=\"0.5\"} 1\n",
                "vela_timer_pending{topic=\"orders\"} 12\n",
                "vela_timer_lateness_seconds_bucket{le=\"0.005\"} 1\n",
                "# TYPE vela_timer_lateness_seconds histogram\n",
            });
}

TEST(BrokerMetricsTest, TwoBuildsOnOneRegistryShareTheSeries) {
  // The composition root builds one; a test or a second service asking again gets the same series.
  MetricsRegistry registry;
  BrokerMetrics a(registry);
  BrokerMetrics b(registry);
  a.send_requests.Increment();
  b.send_requests.Increment();
  EXPECT_DOUBLE_EQ(a.send_requests.Value(), 2);
  EXPECT_EQ(&a.messages_in, &b.messages_in);
}

TEST(BrokerMetricsTest, TopicLabelsAreBounded) {
  MetricsRegistry registry(/*max_series_per_family=*/2);
  BrokerMetrics m(registry);
  for (int i = 0; i < 5; ++i) m.timer_pending.WithLabels({"topic" + std::to_string(i)}).Increment();
  EXPECT_EQ(m.timer_pending.series_count(), 2u);
  EXPECT_DOUBLE_EQ(m.timer_pending.WithLabels({"_other"}).Value(), 3);
}

}  // namespace
}  // namespace vela::metrics
