// Issue 16: the broker's metrics name the running build.
#include <string>

#include <gtest/gtest.h>

#include "broker/broker_counters.h"
#include "common/build_info.h"

namespace vela::broker {
namespace {

TEST(BuildInfoMetricTest, OneSeriesLabelledWithVersionAndCommit) {
  BrokerCounters counters;
  RegisterBuildInfo(counters.registry);
  const std::string want = "vela_build_info{commit=\"" + std::string(BuildCommit()) + "\",version=\"" +
                           std::string(BuildVersion()) + "\"}";
  int found = 0;
  for (const auto& sample : counters.Snapshot()) {
    if (sample.name != "vela_build_info") continue;
    ++found;
    EXPECT_EQ(sample.SeriesName(), want);
    EXPECT_EQ(sample.value, 1);
  }
  EXPECT_EQ(found, 1);
  EXPECT_NE(counters.registry.SerializeText().find(want + " 1"), std::string::npos);
}

}  // namespace
}  // namespace vela::broker
