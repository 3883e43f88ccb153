// The input rules shared by the SDK and the broker: reserved topic names, properties blocks,
// message ids, and the shape that tells an offset id from a unique id.
#include <string>

#include <gtest/gtest.h>

#include "common/coding.h"
#include "common/message_id.h"
#include "common/message_record.h"
#include "common/validation.h"
#include "support/test_support.h"

namespace vela {
namespace {

TEST(ReservedTopicTest, SystemNamesAreReserved) {
  for (const char* name : {"%RETRY%orders-group", "%DLQ%orders-group", "%anything", "RMQ_SYS_TRANS_HALF_TOPIC",
                           "RMQ_SYS_TRANS_OP_HALF_TOPIC", "RMQ_SYS_TRACE_TOPIC", "rmq_sys_wheel_timer",
                           "Rmq_Sys_x", "TRANS_CHECK_MAX_TIME_TOPIC", "SCHEDULE_TOPIC_XXXX"}) {
    EXPECT_TRUE(IsReservedTopicName(name)) << name;
    Status user = ValidateUserTopicName(name);
    EXPECT_EQ(user.code(), StatusCode::kInvalidArgument) << name;
    EXPECT_NE(user.message().find("reserved"), std::string_view::npos) << user.ToString();
    EXPECT_OK(ValidateSystemTopicName(name));
    EXPECT_OK(ValidateTopicName(name));  // the log holds them
  }
}

TEST(ReservedTopicTest, UserNamesAreNotReserved) {
  for (const char* name : {"orders", "RMQ_SY", "RMQ-SYS_x", "my_RMQ_SYS_topic", "TRANS_CHECK_MAX_TIME_TOPIC2",
                           "a|b", "Order_Topic-1"}) {
    EXPECT_FALSE(IsReservedTopicName(name)) << name;
    EXPECT_OK(ValidateUserTopicName(name));
    EXPECT_FALSE(ValidateSystemTopicName(name).ok()) << name;
  }
}

TEST(ReservedTopicTest, PercentIsNotLegalInUserTopicNames) {
  Status s = ValidateUserTopicName("orders%x");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("'%'"), std::string_view::npos) << s.ToString();
  EXPECT_OK(ValidateTopicName("orders%x"));
  // The syntax rules still apply to user names.
  EXPECT_FALSE(ValidateUserTopicName("").ok());
  EXPECT_FALSE(ValidateUserTopicName("a b").ok());
  EXPECT_FALSE(ValidateUserTopicName(std::string(128, 'a')).ok());
}

TEST(PropertiesBlockTest, AcceptsWellFormedBlocks) {
  EXPECT_OK(ValidatePropertiesBlock(""));
  EXPECT_OK(ValidatePropertiesBlock(EncodeProperties({{"TAGS", "TagA"}, {"KEYS", "k1 k2"}, {"env", ""}})));
}

TEST(PropertiesBlockTest, RefusesBlocksWithoutSeparators) {
  Status no_separators = ValidatePropertiesBlock("just some bytes");
  EXPECT_EQ(no_separators.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(no_separators.message().find("malformed"), std::string_view::npos) << no_separators.ToString();
  // A pair without its key/value separator.
  EXPECT_FALSE(ValidatePropertiesBlock(std::string("TAGS\x02", 5)).ok());
  // The last pair cut short.
  EXPECT_FALSE(ValidatePropertiesBlock(EncodeProperties({{"TAGS", "a"}}) + std::string("env\x01x", 5)).ok());
  // A value holding a second name separator.
  EXPECT_FALSE(ValidatePropertiesBlock(std::string("env\x01" "a\x01" "b\x02", 8)).ok());
  // A key SQL92 could not name.
  EXPECT_FALSE(ValidatePropertiesBlock(EncodeProperties({{"1bad", "x"}})).ok());
  // An empty key.
  EXPECT_FALSE(ValidatePropertiesBlock(std::string("\x01x\x02", 3)).ok());
}

TEST(PropertiesBlockTest, RefusesOversizedBlocks) {
  std::string big;
  for (int i = 0; big.size() <= kMaxPropertiesBytes; ++i) {
    big += EncodeProperties({{"k" + std::to_string(i), std::string(1000, 'v')}});
  }
  Status s = ValidatePropertiesBlock(big);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("limit"), std::string_view::npos) << s.ToString();
}

TEST(MessageIdValidationTest, AcceptsPrintableIdsUpToTheLimit) {
  EXPECT_OK(ValidateMessageId(NewMessageId()));
  EXPECT_OK(ValidateMessageId("order-1:abc/DEF"));
  EXPECT_OK(ValidateMessageId(std::string(kMaxMessageIdLength, 'a')));
}

TEST(MessageIdValidationTest, RefusesLongEmptyAndNonPrintableIds) {
  EXPECT_FALSE(ValidateMessageId("").ok());
  Status long_id = ValidateMessageId(std::string(5000, 'a'));
  EXPECT_FALSE(long_id.ok());
  EXPECT_NE(long_id.message().find("5000"), std::string_view::npos) << long_id.ToString();
  EXPECT_FALSE(ValidateMessageId(std::string(kMaxMessageIdLength + 1, 'a')).ok());
  Status nul = ValidateMessageId(std::string("ab\0cd", 5));
  EXPECT_FALSE(nul.ok());
  EXPECT_NE(nul.message().find("0x00"), std::string_view::npos) << nul.ToString();
  EXPECT_FALSE(ValidateMessageId("has space").ok());
  EXPECT_FALSE(ValidateMessageId("tab\there").ok());
  EXPECT_FALSE(ValidateMessageId("\x7f").ok());
  EXPECT_FALSE(ValidateMessageId("caf\xc3\xa9").ok());
}

// A unique id laid out as NewMessageId lays it out: IPv4, pid, start second, counter.
std::string UniqueIdWith(uint32_t ip, uint16_t pid, uint32_t start_second, uint64_t counter) {
  char raw[16];
  coding::PutFixed32(raw, ip);
  coding::PutFixed16(raw + 4, pid);
  coding::PutFixed32(raw + 6, start_second);
  for (int i = 0; i < 6; ++i) raw[10 + i] = static_cast<char>((counter >> (8 * (5 - i))) & 0xff);
  return coding::ToHex(std::string_view(raw, 16));
}

TEST(OffsetIdShapeTest, UniqueIdsDoNotParseAsOffsetIds) {
  // 192.0.2.2, pid 10911: read naively as an offset id this named 192.0.2.2:10911.
  std::string id = UniqueIdWith(0x020200c0, 10911, 1796000000, 42);
  ASSERT_EQ(id.size(), 32u);
  auto parsed = ParseOffsetId(id);
  EXPECT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("not an offset id"), std::string_view::npos) << parsed.status().ToString();
}

TEST(OffsetIdShapeTest, OffsetIdsStillRoundTrip) {
  auto id = MakeOffsetId(PackHost("10.1.2.3:10911"), 987654321);
  ASSERT_OK_AND_ASSIGN(auto parsed, ParseOffsetId(id));
  EXPECT_EQ(parsed.broker_addr, "10.1.2.3:10911");
  EXPECT_EQ(parsed.physical_offset, 987654321);
  // No host (an offset id is never made without one) or no port: not an offset id.
  EXPECT_FALSE(ParseOffsetId(MakeOffsetId(0, 5)).ok());
  EXPECT_FALSE(ParseOffsetId(MakeOffsetId(PackHost("10.1.2.3:0"), 5)).ok());
}

}  // namespace
}  // namespace vela
