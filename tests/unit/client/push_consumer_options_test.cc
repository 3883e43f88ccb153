// PushConsumerBuilder refuses what it does not implement or cannot use, before any network:
// out-of-range tunables, a subscription to a retry topic, a corrupt broadcast offset file.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "vela/consumer.h"

namespace vela::client {
namespace {

PushConsumerBuilder Base() {
  PushConsumerBuilder builder;
  builder.SetNamesrvAddr("127.0.0.1:1")
      .SetGroup("g")
      .Subscribe("T")
      .SetListener([](const MessageView&) { return ConsumeResult::kSuccess; });
  return builder;
}

TEST(PushConsumerOptionsTest, OutOfRangeTunablesAreRefusedByName) {
  struct Case {
    std::function<void(PushConsumerOptions&)> edit;
    std::string named;
  };
  const std::vector<Case> cases = {
      {[](PushConsumerOptions& o) { o.max_reconsume_times = -1; }, "max reconsume"},
      {[](PushConsumerOptions& o) { o.suspend_current_queue_time_ms = -5; }, "suspend"},
      {[](PushConsumerOptions& o) { o.lock_renew_interval_ms = 0; }, "lock renew"},
      {[](PushConsumerOptions& o) { o.send_back_retry_delay_ms = -1; }, "send-back"},
      {[](PushConsumerOptions& o) { o.pull_batch_size = 0; }, "pull batch"},
      {[](PushConsumerOptions& o) { o.commit_interval_ms = 0; }, "intervals"},
      {[](PushConsumerOptions& o) { o.model = static_cast<MessageModel>(7); }, "message model"},
  };
  for (const auto& c : cases) {
    PushConsumerOptions options;
    options.group = "g";
    c.edit(options);
    auto built = Base().SetOptions(options).Build();
    ASSERT_FALSE(built.ok()) << c.named;
    EXPECT_EQ(built.status().code(), StatusCode::kInvalidArgument) << c.named;
    EXPECT_NE(built.status().message().find(c.named), std::string::npos) << built.status().message();
  }
}

TEST(PushConsumerOptionsTest, RetryTopicsAreNotSubscribedByHand) {
  auto built = Base().Subscribe("%RETRY%g").Build();
  ASSERT_FALSE(built.ok());
  EXPECT_EQ(built.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(built.status().message().find("retry topic"), std::string::npos) << built.status().message();
}

TEST(PushConsumerOptionsTest, BroadcastWithACorruptOffsetFileFailsAtBuild) {
  const auto dir = std::filesystem::temp_directory_path() / ("vela-build-offsets-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "g");
  {
    std::ofstream out(dir / "g" / "DEFAULT.offsets");
    out << "not an offset file\n";
  }
  PushConsumerOptions options;
  options.group = "g";
  options.model = MessageModel::kBroadcasting;
  options.offset_store_dir = dir.string();
  auto built = Base().SetOptions(options).Build();
  ASSERT_FALSE(built.ok());
  EXPECT_EQ(built.status().code(), StatusCode::kCorruption) << built.status().message();
  EXPECT_NE(built.status().message().find("DEFAULT.offsets"), std::string::npos) << built.status().message();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace vela::client
