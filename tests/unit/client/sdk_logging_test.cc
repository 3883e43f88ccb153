// Issue 16: the SDK's log level and destination set through its builders, and its version.
#include <string>

#include <gtest/gtest.h>

#include "common/logging.h"
#include "support/test_support.h"
#include "vela/consumer.h"
#include "vela/producer.h"
#include "vela/version.h"

namespace vela::client {
namespace {

TEST(SdkLoggingTest, UnknownLevelFailsBuild) {
  auto producer = ProducerBuilder().SetNamesrvAddr("127.0.0.1:1").SetLogLevel("loud").Build();
  ASSERT_FALSE(producer.ok());
  EXPECT_EQ(producer.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(producer.status().message().find("loud"), std::string::npos) << producer.status().ToString();
}

TEST(SdkLoggingTest, BuilderSendsTheLogToAFileAtTheGivenLevel) {
  vela::testing::TempDir dir;
  const std::string file = dir.str() + "/sdk.log";
  // The SQL error fails Build after the log settings were applied (they are process-wide).
  auto consumer = PushConsumerBuilder()
                      .SetNamesrvAddr("127.0.0.1:1")
                      .SetGroup("g")
                      .Subscribe("T", FilterExpression::Sql92("a > "))
                      .SetListener([](const MessageView&) { return ConsumeResult::kSuccess; })
                      .SetLogLevel("debug")
                      .SetLogFile(file)
                      .Build();
  ASSERT_FALSE(consumer.ok());
  auto logger = GetLogger("client");
  logger->debug("a debug line of the SDK");
  logger->flush();
  EXPECT_NE(vela::testing::ReadFile(file).find("a debug line of the SDK"), std::string::npos);
  ASSERT_TRUE(SetUpLogging(LogSettings{}).ok());  // stderr at info for the other tests
}

TEST(SdkVersionTest, NamesVersionAndCommit) {
  const std::string v = SdkVersion();
  ASSERT_FALSE(v.empty());
  EXPECT_TRUE(v[0] >= '0' && v[0] <= '9') << v;
  EXPECT_NE(v.find("(commit "), std::string::npos) << v;
}

}  // namespace
}  // namespace vela::client
