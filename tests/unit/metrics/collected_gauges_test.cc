#include "metrics/metrics_registry.h"

#include <atomic>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "expect_text.h"
#include "metrics/rpc_latency_recorder.h"

namespace vela::metrics {
namespace {

TEST(CollectedGaugesTest, AreComputedAtEachReadAndKeepNothing) {
  MetricsRegistry registry;
  std::vector<GaugeReading> now = {{{"orders", "g1"}, 5}, {{"orders", "g2"}, 7}};
  std::atomic<int> reads{0};
  registry.CollectedGauges("vela_test_lag", "lag", {"topic", "consumer_group"}, [&] {
    ++reads;
    return now;
  });
  ExpectTextContains(registry.SerializeText(), {"# TYPE vela_test_lag gauge",
                                                "vela_test_lag{consumer_group=\"g1\",topic=\"orders\"} 5",
                                                "vela_test_lag{consumer_group=\"g2\",topic=\"orders\"} 7"});
  // A group gone is gone from the next read: nothing is kept between reads.
  now = {{{"orders", "g2"}, 1}};
  const std::string text = registry.SerializeText();
  EXPECT_EQ(text.find("g1"), std::string::npos) << text;
  ExpectTextContains(text, {"vela_test_lag{consumer_group=\"g2\",topic=\"orders\"} 1"});
  EXPECT_EQ(reads.load(), 2);
  // Snapshot reads them too, labels sorted by name; Total does not run collectors.
  auto samples = registry.Snapshot();
  ASSERT_EQ(samples.size(), 1u);
  EXPECT_EQ(samples[0].SeriesName(), "vela_test_lag{consumer_group=\"g2\",topic=\"orders\"}");
  EXPECT_DOUBLE_EQ(registry.Total("vela_test_lag"), 0);
  EXPECT_EQ(reads.load(), 3);
}

TEST(CollectedGaugesTest, ReadingsPastTheLimitAreSummedIntoTheOtherSeries) {
  MetricsRegistry registry(/*max_series_per_family=*/2);
  registry.CollectedGauges("vela_test_queue_lag", "lag", {"queue_id"}, [] {
    return std::vector<GaugeReading>{{{"0"}, 1}, {{"1"}, 2}, {{"2"}, 3}, {{"3"}, 4}};
  });
  const std::string text = registry.SerializeText();
  ExpectTextContains(text, {"vela_test_queue_lag{queue_id=\"0\"} 1", "vela_test_queue_lag{queue_id=\"1\"} 2",
                            "vela_test_queue_lag{queue_id=\"_other\"} 7"});
  EXPECT_EQ(text.find("queue_id=\"2\""), std::string::npos) << text;
}

TEST(CollectedGaugesTest, AnEmptyReadingListIsAFamilyWithoutSeries) {
  MetricsRegistry registry;
  registry.CollectedGauges("vela_test_disk", "disk", {}, [] { return std::vector<GaugeReading>{}; });
  EXPECT_TRUE(registry.Snapshot().empty());
}

TEST(RpcLatencyRecorderTest, ObservesMillisecondsPerCodePair) {
  MetricsRegistry registry;
  RpcLatencyRecorder recorder(RpcLatencyFamily(registry));
  recorder.Record(10, "SEND_MESSAGE", 0, "OK", 1500);  // 1.5 ms
  recorder.Record(10, "SEND_MESSAGE", 0, "OK", 500);
  recorder.Record(10, "SEND_MESSAGE", 3, "InvalidArgument", 100);
  const std::string text = registry.SerializeText();
  ExpectTextContains(text, {
                               "rocketmq_rpc_latency_count{request_code=\"SEND_MESSAGE\",response_code=\"OK\"} 2",
                               "rocketmq_rpc_latency_sum{request_code=\"SEND_MESSAGE\",response_code=\"OK\"} 2",
                               "rocketmq_rpc_latency_bucket{request_code=\"SEND_MESSAGE\",response_code=\"OK\",le=\"1\"} 1",
                               "rocketmq_rpc_latency_count{request_code=\"SEND_MESSAGE\",response_code=\"InvalidArgument\"} 1",
                           });
  // The family is shared: asking again gives the same one (the broker and name server agree).
  EXPECT_EQ(&RpcLatencyFamily(registry), &RpcLatencyFamily(registry));
}

}  // namespace
}  // namespace vela::metrics
