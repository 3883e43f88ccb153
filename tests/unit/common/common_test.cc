#include <random>
#include <vector>
#include <string>

#include <gtest/gtest.h>

#include "common/config.h"
#include "common/crc32c.h"
#include "common/histogram.h"
#include "common/message_id.h"
#include "common/message_record.h"
#include "common/validation.h"
#include "support/test_support.h"

namespace vela {
namespace {

TEST(Crc32cTest, MatchesKnownVectors) {
  EXPECT_EQ(crc32c::Value("123456789", 9), 0xE3069283u);
  std::string zeros(32, '\0');
  EXPECT_EQ(crc32c::Value(zeros.data(), zeros.size()), 0x8A9136AAu);
}

TEST(Crc32cTest, HardwareAndPortableAgree) {
  std::mt19937 rng(7);
  // Every length up to past a round of the three-way 256-byte blocks (768), then lengths around
  // the 1024-byte blocks' round (3072).
  std::vector<size_t> lengths;
  for (size_t n = 0; n <= 800; ++n) lengths.push_back(n);
  for (size_t n : {3071, 3072, 3073, 4097, 6144, 9999, 65537}) lengths.push_back(n);
  for (size_t n : lengths) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    EXPECT_EQ(crc32c::Value(s.data(), n), crc32c::ExtendPortable(0, s.data(), n)) << n;
    // Extend is a continuation.
    if (n > 3) {
      EXPECT_EQ(crc32c::Extend(crc32c::Value(s.data(), 3), s.data() + 3, n - 3), crc32c::Value(s.data(), n));
      // An unaligned start.
      EXPECT_EQ(crc32c::Value(s.data() + 1, n - 1), crc32c::ExtendPortable(0, s.data() + 1, n - 1)) << n;
    }
  }
}

TEST(RecordTest, RoundTripsEveryField) {
  std::string props = EncodeProperties({{"TAGS", "TagA"}, {"KEYS", "k1 k2"}, {"env", "gray"}});
  RecordFields f;
  f.topic = "orders";
  f.queue_id = 3;
  f.queue_offset = 77;
  f.physical_offset = 1 << 20;
  f.flags = record::kFlagTransactionPrepared;
  f.reconsume_times = 2;
  f.born_timestamp_ms = 1700000000123;
  f.store_timestamp_ms = 1700000000456;
  f.born_host = PackHost("10.1.2.3:4567");
  f.store_host = PackHost("127.0.0.1:10911");
  f.prepared_offset = 99;
  f.msg_id = "0a0b0c";
  f.properties = props;
  f.body = std::string_view("hello\0world", 11);
  std::string buf;
  EncodeRecord(f, &buf);
  ASSERT_EQ(buf.size(), EncodedRecordSize(f));
  RecordView v;
  ASSERT_EQ(DecodeRecord(buf, true, &v), DecodeOutcome::kRecord);
  EXPECT_EQ(v.topic, "orders");
  EXPECT_EQ(v.queue_id, 3u);
  EXPECT_EQ(v.queue_offset, 77);
  EXPECT_EQ(v.physical_offset, 1 << 20);
  EXPECT_EQ(v.flags, record::kFlagTransactionPrepared);
  EXPECT_EQ(v.reconsume_times, 2u);
  EXPECT_EQ(v.born_timestamp_ms, 1700000000123);
  EXPECT_EQ(v.store_timestamp_ms, 1700000000456);
  EXPECT_EQ(UnpackHost(v.born_host), "10.1.2.3:4567");
  EXPECT_EQ(UnpackHost(v.store_host), "127.0.0.1:10911");
  EXPECT_EQ(v.prepared_offset, 99);
  EXPECT_EQ(v.msg_id, "0a0b0c");
  EXPECT_EQ(v.body, std::string_view("hello\0world", 11));
  EXPECT_EQ(v.Tag(), "TagA");
  std::string_view env;
  ASSERT_TRUE(FindProperty(v.properties, "env", &env));
  EXPECT_EQ(env, "gray");
}

TEST(RecordTest, DetectsCrcMismatchAndTruncation) {
  RecordFields f;
  f.topic = "t";
  f.body = "payload";
  std::string buf;
  EncodeRecord(f, &buf);
  RecordView v;
  std::string reason;
  std::string flipped = buf;
  flipped[flipped.size() - 2] ^= 0x40;
  EXPECT_EQ(DecodeRecord(flipped, true, &v, &reason), DecodeOutcome::kCorrupt);
  EXPECT_NE(reason.find("crc"), std::string::npos);
  EXPECT_EQ(DecodeRecord(std::string_view(buf).substr(0, buf.size() - 1), true, &v), DecodeOutcome::kCorrupt);
  EXPECT_EQ(DecodeRecord(std::string(200, '\0'), true, &v), DecodeOutcome::kEndOfData);
}

TEST(RecordTest, StampRecomputesCrc) {
  RecordFields f;
  f.topic = "t";
  f.body = "x";
  std::string buf;
  EncodeRecord(f, &buf);
  StampRecord(buf.data(), 1, 5, 4096, 123, PackHost("127.0.0.1:1"));
  RecordView v;
  ASSERT_EQ(DecodeRecord(buf, true, &v), DecodeOutcome::kRecord);
  EXPECT_EQ(v.queue_offset, 5);
  EXPECT_EQ(v.physical_offset, 4096);
}

TEST(MessageIdTest, IdsAreUniqueAndOffsetIdsRoundTrip) {
  auto a = NewMessageId(), b = NewMessageId();
  EXPECT_NE(a, b);
  EXPECT_EQ(a.size(), 32u);
  auto id = MakeOffsetId(PackHost("192.168.1.9:10911"), 123456789);
  ASSERT_OK_AND_ASSIGN(auto parsed, ParseOffsetId(id));
  EXPECT_EQ(parsed.broker_addr, "192.168.1.9:10911");
  EXPECT_EQ(parsed.physical_offset, 123456789);
  EXPECT_FALSE(ParseOffsetId("xyz").ok());
}

TEST(ValidationTest, TopicNames) {
  EXPECT_OK(ValidateTopicName("Order_Topic-1%|x"));
  EXPECT_FALSE(ValidateTopicName("").ok());
  EXPECT_FALSE(ValidateTopicName("a b").ok());
  EXPECT_FALSE(ValidateTopicName(std::string(128, 'a')).ok());
  EXPECT_OK(ValidateTopicName(std::string(127, 'a')));
  EXPECT_OK(ValidateProperty("env", "gray"));
  EXPECT_FALSE(ValidateProperty("1env", "gray").ok());
  EXPECT_FALSE(ValidateProperty("env", std::string("a\x01", 2)).ok());
}

TEST(ConfigTest, ParsesFileFormatAndOverrides) {
  ASSERT_OK_AND_ASSIGN(auto c, Config::Parse("# comment\nbrokerName = b1\n\nlistenPort=10911\nsize = 4m\n", "t"));
  EXPECT_EQ(c.GetString("brokerName", ""), "b1");
  EXPECT_EQ(*c.GetInt("listenPort", 0), 10911);
  EXPECT_EQ(*c.GetBytes("size", 0), 4 << 20);
  ASSERT_OK(c.ApplyOverride("listenPort=1"));
  EXPECT_EQ(*c.GetInt("listenPort", 0), 1);
  EXPECT_FALSE(c.ApplyOverride("nonsense").ok());
  c.Set("bad", "x1");
  EXPECT_FALSE(c.GetInt("bad", 0).ok());
  EXPECT_FALSE(Config::Parse("novalue\n", "t").ok());
}

TEST(ConfigTest, SettingsNoGetterReadAreRefusedByName) {
  ASSERT_OK_AND_ASSIGN(auto c, Config::Parse("flushDiskType = SYNC_FLUSH\nflushDiskTyp = SYNC_FLUSH\n", "t"));
  EXPECT_EQ(c.GetString("flushDiskType", ""), "SYNC_FLUSH");
  (void)c.GetInt("absentKey", 1);  // reading a key that is not set is fine
  EXPECT_EQ(c.UnreadKeys(), std::vector<std::string>{"flushDiskTyp"});
  Status st = c.RefuseUnreadKeys("vela-broker");
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("flushDiskTyp"), std::string::npos) << st.ToString();
  (void)c.GetString("flushDiskTyp", "");
  EXPECT_OK(c.RefuseUnreadKeys("vela-broker"));
}

TEST(HistogramTest, PercentilesWithinOnePercent) {
  LatencyHistogram h;
  for (int i = 1; i <= 100000; ++i) h.Record(i);
  for (double q : {0.5, 0.99, 0.999}) {
    double expected = q * 100000;
    double got = static_cast<double>(h.Percentile(q));
    EXPECT_NEAR(got, expected, expected * 0.01) << q;
  }
  EXPECT_EQ(h.max(), 100000);
  EXPECT_EQ(h.count(), 100000);
}

}  // namespace
}  // namespace vela
