#include "client/message_codec.h"

#include <gtest/gtest.h>

#include "client/status_convert.h"
#include "common/message_id.h"

namespace vela::client {
namespace {

Message Sample() {
  Message m("Orders", std::string("body\0with zero", 14));
  m.tag = "TagA";
  m.keys = {"k1", "k2"};
  m.properties = {{"env", "gray"}, {"region", "eu"}};
  m.sharding_key = "user-1";
  m.delay_ms = 5000;
  return m;
}

TEST(MessageCodecTest, RoundTripsThroughTheRecordFormat) {
  Message m = Sample();
  std::string records;
  AppendMessageRecord(m, "ID1", PackHost("10.0.0.1:0"), 1234, &records);
  m.topic = "Orders";
  m.tag = "TagB";
  m.keys.clear();
  AppendMessageRecord(m, "ID2", 0, 1235, &records);

  auto decoded = DecodeMessages(records, "127.0.0.1:10911");
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ASSERT_EQ(decoded->size(), 2u);
  const auto& a = (*decoded)[0];
  EXPECT_EQ(a.msg_id, "ID1");
  EXPECT_EQ(a.topic, "Orders");
  EXPECT_EQ(a.body, std::string("body\0with zero", 14));
  EXPECT_EQ(a.tag, "TagA");
  EXPECT_EQ(a.keys, (std::vector<std::string>{"k1", "k2"}));
  EXPECT_EQ(a.properties.at("env"), "gray");
  EXPECT_EQ(a.properties.at("region"), "eu");
  EXPECT_EQ(a.properties.at("SHARDING_KEY"), "user-1");
  EXPECT_EQ(a.properties.at("TIMER_DELAY_MS"), "5000");  // RocketMQ's name on the wire
  EXPECT_EQ(a.properties.count("TAGS"), 0u);
  EXPECT_EQ(a.born_timestamp_ms, 1234);
  EXPECT_EQ(a.born_host, "10.0.0.1:0");
  EXPECT_EQ(a.broker_addr, "127.0.0.1:10911");
  auto offset_id = ParseOffsetId(a.offset_id);
  ASSERT_TRUE(offset_id.ok());
  EXPECT_EQ(offset_id->broker_addr, "127.0.0.1:10911");
  const auto& b = (*decoded)[1];
  EXPECT_EQ(b.tag, "TagB");
  EXPECT_TRUE(b.keys.empty());
}

TEST(MessageCodecTest, CorruptRecordIsReported) {
  std::string records;
  AppendMessageRecord(Sample(), "ID1", 0, 1, &records);
  records[records.size() - 1] ^= 0x5a;
  auto decoded = DecodeMessages(records, "b");
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), vela::StatusCode::kCorruption);
}

TEST(MessageCodecTest, EmptyBodyDecodesToNothing) {
  auto decoded = DecodeMessages("", "b");
  ASSERT_TRUE(decoded.ok());
  EXPECT_TRUE(decoded->empty());
}

TEST(MessageCodecTest, ValidationRefusesWhatTheBrokerWould) {
  EXPECT_TRUE(ValidateMessage(Sample(), 1024).ok());
  Message m = Sample();
  m.body.clear();
  EXPECT_FALSE(ValidateMessage(m, 1024).ok());
  m = Sample();
  m.body.assign(2000, 'x');
  auto big = ValidateMessage(m, 1024);
  EXPECT_EQ(big.subcode(), vela::SubCode::kMessageTooLarge);
  m = Sample();
  m.topic = "bad topic";
  EXPECT_FALSE(ValidateMessage(m, 1024).ok());
  m = Sample();
  m.keys = {"has space"};
  EXPECT_FALSE(ValidateMessage(m, 1024).ok());
  m = Sample();
  m.properties["1bad"] = "x";
  EXPECT_FALSE(ValidateMessage(m, 1024).ok());
  m = Sample();
  m.deliver_at_ms = 99;
  EXPECT_FALSE(ValidateMessage(m, 1024).ok());
  // Only a TransactionProducer makes transactional messages.
  m = Sample();
  m.properties["TRAN_MSG"] = "true";
  auto tx = ValidateMessage(m, 1024);
  EXPECT_FALSE(tx.ok());
  EXPECT_NE(tx.message().find("transactional"), std::string_view::npos);
}

TEST(StatusConvertTest, MapsCodesAndFilterPositions) {
  auto s = ToPublic(vela::Status(vela::StatusCode::kInvalidArgument, "unexpected ')' at position 7",
                                 vela::SubCode::kBadFilter));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.subcode(), SubCode::kBadFilter);
  EXPECT_EQ(s.position(), 7);
  EXPECT_EQ(s.ToString(), "InvalidArgument: unexpected ')' at position 7");
  EXPECT_TRUE(ToPublic(vela::Status::OK()).ok());
  EXPECT_EQ(ToPublic(vela::Status::Unavailable("x")).code(), StatusCode::kUnavailable);
}

// Timer fields travel as RocketMQ's properties; at most one of them per message.
TEST(MessageCodecTest, TimerFieldsAreRocketMqPropertiesAndAtMostOne) {
  Message m("Orders", "b");
  m.delay_level = 3;
  EXPECT_TRUE(ValidateMessage(m, 1024).ok());
  std::string_view level;
  const std::string with_level = EncodeMessageProperties(m);
  ASSERT_TRUE(FindProperty(with_level, "DELAY", &level));
  EXPECT_EQ(level, "3");
  m.delay_level = 0;
  m.deliver_at_ms = 1'700'000'000'000;
  std::string_view at;
  const std::string with_time = EncodeMessageProperties(m);
  ASSERT_TRUE(FindProperty(with_time, "TIMER_DELIVER_MS", &at));
  EXPECT_EQ(at, "1700000000000");
  m.delay_ms = 10;
  EXPECT_FALSE(ValidateMessage(m, 1024).ok());
  m.deliver_at_ms = 0;
  m.delay_level = 1;
  EXPECT_FALSE(ValidateMessage(m, 1024).ok());
  m.delay_ms = 0;
  m.delay_level = -1;
  EXPECT_FALSE(ValidateMessage(m, 1024).ok());
}

}  // namespace
}  // namespace vela::client
