// Issue 16: unknown settings named with the nearest known key, effective settings with their
// sources, the size-rotating log file reopened on demand (SIGHUP), and the build version.
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "common/build_info.h"
#include "common/config.h"
#include "common/logging.h"
#include "support/test_support.h"

namespace vela {
namespace {

TEST(ConfigSuggestionTest, UnknownKeyNamesTheNearestKnownOne) {
  ASSERT_OK_AND_ASSIGN(auto c, Config::Parse("flushDiskTyp = SYNC_FLUSH\nbrokerName = b\n", "b.conf"));
  (void)c.GetString("flushDiskType", "ASYNC_FLUSH");
  (void)c.GetString("brokerName", "");
  (void)c.GetInt("flushIntervalCommitLog", 500);
  Status st = c.RefuseUnreadKeys("vela-broker");
  ASSERT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("unknown setting flushDiskTyp (file b.conf:1); did you mean flushDiskType?"),
            std::string::npos)
      << st.ToString();
}

TEST(ConfigSuggestionTest, CaseSwapsAndFarKeys) {
  Config c;
  for (const char* known : {"autoCreateTopicEnable", "brokerExpiryMs", "listenPort", "logLevel"}) {
    (void)c.GetString(known, "");
  }
  EXPECT_EQ(c.NearestKnownKey("brokerExpiryMS"), "brokerExpiryMs");
  EXPECT_EQ(c.NearestKnownKey("autoCreateTopicEnabled"), "autoCreateTopicEnable");
  EXPECT_EQ(c.NearestKnownKey("lsitenPort"), "listenPort");  // neighbours swapped
  EXPECT_EQ(c.NearestKnownKey("loglevel"), "logLevel");
  EXPECT_EQ(c.NearestKnownKey("zzzzzz"), "");
  c.Set("zzzzzz", "1", "flag --set");
  Status st = c.RefuseUnreadKeys("vela-namesrv");
  EXPECT_NE(st.message().find("unknown setting zzzzzz (flag --set): not a setting of this version"),
            std::string::npos)
      << st.ToString();
}

TEST(ConfigSourcesTest, EffectiveSettingsNameDefaultFileAndFlag) {
  ASSERT_OK_AND_ASSIGN(auto c, Config::Parse("# x\nbrokerName = file-name\nmaxPullMessages = 64\n", "f.conf"));
  ASSERT_OK(c.ApplyOverride("maxPullMessages=32"));
  c.Set("listen", "127.0.0.1:0", "flag --listen");
  c.Set("typo", "1", "flag --set");
  (void)c.GetString("brokerName", "broker-a");
  (void)c.GetInt("maxPullMessages", 256);
  (void)c.GetString("listen", "0.0.0.0:10911");
  (void)c.GetBool("autoCreateTopicEnable", false);
  (void)c.GetBytes("mappedFileSizeCommitLog", 1 << 30);
  auto settings = c.EffectiveSettings();
  auto find = [&](const std::string& key) {
    for (const auto& s : settings) {
      if (s.key == key) return s;
    }
    return Config::Effective{};
  };
  EXPECT_EQ(find("brokerName").value, "file-name");
  EXPECT_EQ(find("brokerName").source, "file f.conf:2");
  EXPECT_EQ(find("maxPullMessages").value, "32");
  EXPECT_EQ(find("maxPullMessages").source, "flag --set");
  EXPECT_EQ(find("listen").source, "flag --listen");
  EXPECT_EQ(find("autoCreateTopicEnable").value, "false");
  EXPECT_EQ(find("autoCreateTopicEnable").source, "default");
  EXPECT_EQ(find("mappedFileSizeCommitLog").value, std::to_string(1 << 30));
  EXPECT_EQ(find("typo").source, "flag --set (unknown)");
}

TEST(LoggingTest, RejectsUnknownLevelsAndBadLimits) {
  LogSettings s;
  s.level = "loud";
  EXPECT_EQ(SetUpLogging(s).code(), StatusCode::kInvalidArgument);
  s.level = "warn";
  s.max_files = 0;
  EXPECT_EQ(ValidateLogSettings(s).code(), StatusCode::kInvalidArgument);
  s.max_files = 1;
  testing::TempDir dir;
  { std::ofstream(dir.str() + "/plain-file") << "x"; }
  s.file = dir.str() + "/plain-file/y.log";  // a directory that cannot exist
  EXPECT_FALSE(SetUpLogging(s).ok());
}

TEST(LoggingTest, FileRotatesBySizeAndIsReopenedUnderItsName) {
  testing::TempDir dir;
  const std::string file = dir.str() + "/unit.log";
  LogSettings s;
  s.level = "info";
  s.file = file;
  s.max_file_bytes = 1024;
  s.max_files = 2;
  ASSERT_OK(SetUpLogging(s));
  auto logger = GetLogger("rotation-test");
  for (int i = 0; i < 200; ++i) logger->info("line {} of a log that outgrows its file", i);
  logger->flush();
  namespace fs = std::filesystem;
  EXPECT_TRUE(fs::exists(dir.str() + "/unit.1.log"));
  EXPECT_TRUE(fs::exists(dir.str() + "/unit.2.log"));
  EXPECT_FALSE(fs::exists(dir.str() + "/unit.3.log"));  // max_files older files only
  EXPECT_LE(fs::file_size(file), 1024u);

  fs::rename(file, dir.str() + "/moved-by-logrotate");
  ASSERT_OK(ReopenLogFile());
  logger->warn("after reopening");
  logger->flush();
  ASSERT_TRUE(fs::exists(file));
  EXPECT_NE(testing::ReadFile(file).find("after reopening"), std::string::npos);

  LogSettings back;  // stderr again for the tests that follow
  ASSERT_OK(SetUpLogging(back));
  EXPECT_OK(ReopenLogFile());  // a no-op on stderr
}

TEST(BuildInfoTest, VersionNamesProjectVersionAndCommit) {
  EXPECT_FALSE(BuildVersion().empty());
  EXPECT_FALSE(BuildCommit().empty());
  EXPECT_EQ(BuildVersionString(), std::string(BuildVersion()) + " (commit " + std::string(BuildCommit()) + ")");
}

}  // namespace
}  // namespace vela
