#include "broker/timer/timer_message.h"

#include <gtest/gtest.h>

#include "common/recall_handle.h"

namespace vela::broker::timer {
namespace {

TimerOptions Options() {
  TimerOptions o;
  o.delay_level_ms = *TimerOptions::ParseDelayLevels(kDefaultDelayLevels);
  o.max_delay_ms = 3600 * 1000;
  return o;
}

std::string Props(std::initializer_list<std::pair<std::string, std::string>> kv) {
  return EncodeProperties(Properties(kv));
}

TEST(TimerMessageTest, DefaultLevelsAreRocketMqs) {
  auto levels = TimerOptions::ParseDelayLevels(kDefaultDelayLevels);
  ASSERT_TRUE(levels.ok());
  ASSERT_EQ(levels->size(), 18u);
  EXPECT_EQ(levels->front(), 1000);
  EXPECT_EQ((*levels)[2], 10000);
  EXPECT_EQ(levels->back(), 2 * 3600 * 1000);
  EXPECT_FALSE(TimerOptions::ParseDelayLevels("1s 5x").ok());
  EXPECT_FALSE(TimerOptions::ParseDelayLevels("").ok());
  EXPECT_FALSE(TimerOptions::ParseDelayLevels("0s").ok());
  EXPECT_EQ(TimerOptions::ParseDelayLevels(" 200s  1d ")->back(), 24 * 3600 * 1000);
  // Milliseconds, so tests can make retries short.
  EXPECT_EQ(*TimerOptions::ParseDelayLevels("100ms 2s 250ms"), (std::vector<int64_t>{100, 2000, 250}));
  EXPECT_FALSE(TimerOptions::ParseDelayLevels("ms").ok());
  EXPECT_FALSE(TimerOptions::ParseDelayLevels("5mss").ok());
  EXPECT_FALSE(TimerOptions::ParseDelayLevels("-5ms").ok());
}

TEST(TimerMessageTest, DueTimeFromEachProperty) {
  const auto o = Options();
  const int64_t now = 1'700'000'000'000;
  EXPECT_FALSE(DueTimeOf(Props({{"TAGS", "a"}}), now, o)->has_value());
  EXPECT_EQ(**DueTimeOf(Props({{"TIMER_DELAY_MS", "1500"}}), now, o), now + 1500);
  EXPECT_EQ(**DueTimeOf(Props({{"TIMER_DELAY_SEC", "7"}}), now, o), now + 7000);
  EXPECT_EQ(**DueTimeOf(Props({{"TIMER_DELIVER_MS", std::to_string(now + 99)}}), now, o), now + 99);
  EXPECT_EQ(**DueTimeOf(Props({{"DELAY", "3"}}), now, o), now + 10000);
  // A time in the past is returned as is: the caller delivers at once.
  EXPECT_EQ(**DueTimeOf(Props({{"TIMER_DELIVER_MS", "5"}}), now, o), 5);
  EXPECT_EQ(**DueTimeOf(Props({{"TIMER_DELAY_MS", "0"}}), now, o), now);
  // The horizon itself is allowed, one millisecond more is not.
  EXPECT_TRUE(DueTimeOf(Props({{"TIMER_DELAY_MS", "3600000"}}), now, o).ok());
  auto beyond = DueTimeOf(Props({{"TIMER_DELAY_MS", "3600001"}}), now, o);
  ASSERT_FALSE(beyond.ok());
  EXPECT_NE(beyond.status().message().find("horizon"), std::string::npos) << beyond.status().ToString();
  EXPECT_FALSE(DueTimeOf(Props({{"TIMER_DELIVER_MS", std::to_string(now + 3600001)}}), now, o).ok());
  EXPECT_FALSE(DueTimeOf(Props({{"TIMER_DELAY_SEC", "999999999999999999"}}), now, o).ok());
}

TEST(TimerMessageTest, GarbageValuesAreRefusedByName) {
  const auto o = Options();
  for (const char* bad : {"", "abc", "-5", "+5", "1.5", " 3", "3 ", "0x10", "99999999999999999999"}) {
    auto r = DueTimeOf(Props({{"TIMER_DELAY_MS", bad}}), 1000, o);
    ASSERT_FALSE(r.ok()) << "'" << bad << "'";
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("TIMER_DELAY_MS"), std::string::npos) << r.status().ToString();
  }
  for (const char* level : {"0", "19", "-1"}) {
    auto r = DueTimeOf(Props({{"DELAY", level}}), 1000, o);
    EXPECT_FALSE(r.ok()) << level;
  }
  auto two = DueTimeOf(Props({{"TIMER_DELAY_MS", "10"}, {"DELAY", "1"}}), 1000, o);
  ASSERT_FALSE(two.ok());
  EXPECT_NE(two.status().message().find("only one"), std::string::npos) << two.status().ToString();
}

RecordView Decode(const std::string& raw) {
  RecordView v;
  EXPECT_EQ(DecodeRecord(raw, /*verify_crc=*/true, &v), DecodeOutcome::kRecord);
  return v;
}

TEST(TimerMessageTest, TimerRecordRoundTripAndDelivery) {
  const std::string user_props = Props({{"TAGS", "t1"}, {"TIMER_DELAY_MS", "500"}, {"color", "red"}});
  RecordFields f;
  f.topic = "orders";
  f.queue_id = 3;
  f.msg_id = "ID-1";
  f.born_timestamp_ms = 42;
  f.properties = user_props;
  f.body = "payload";
  std::string original;
  EncodeRecord(f, &original);

  const std::string timer_raw = EncodeTimerRecord(Decode(original), 3, 123456);
  RecordView timer_view = Decode(timer_raw);
  EXPECT_EQ(timer_view.topic, kTimerTopic);
  EXPECT_EQ(timer_view.queue_id, 0u);
  EXPECT_EQ(timer_view.msg_id, "ID-1");
  EXPECT_EQ(timer_view.body, "payload");
  auto parsed = ParseTimerRecord(timer_view);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->kind, TimerRecord::Kind::kTimer);
  EXPECT_EQ(parsed->due_ms, 123456);
  EXPECT_EQ(parsed->real_topic, "orders");
  EXPECT_EQ(parsed->real_queue, 3u);

  timer_view.physical_offset = 777;  // as the store stamps it
  const std::string delivered_raw = EncodeDeliveredRecord(timer_view, *parsed, 1);
  RecordView delivered = Decode(delivered_raw);
  EXPECT_EQ(delivered.topic, "orders");
  EXPECT_EQ(delivered.queue_id, 1u);
  EXPECT_EQ(delivered.msg_id, "ID-1");
  EXPECT_EQ(delivered.body, "payload");
  EXPECT_EQ(delivered.born_timestamp_ms, 42);
  auto props = DecodeProperties(delivered.properties);
  auto has = [&](const std::string& k) {
    for (const auto& [pk, pv] : props) {
      if (pk == k) return true;
    }
    return false;
  };
  EXPECT_TRUE(has("TAGS"));
  EXPECT_TRUE(has("color"));
  EXPECT_TRUE(has("TIMER_DELAY_MS"));  // the producer's own
  EXPECT_FALSE(has("REAL_TOPIC"));
  EXPECT_FALSE(has("REAL_QID"));
  EXPECT_FALSE(has("TIMER_OUT_MS"));
  std::string_view origin;
  ASSERT_TRUE(FindProperty(delivered.properties, kPropOriginOffset, &origin));
  EXPECT_EQ(origin, "777");

  auto rolled = ParseTimerRecord(Decode(EncodeRolledRecord(timer_view, 777)));
  ASSERT_TRUE(rolled.ok());
  EXPECT_EQ(rolled->kind, TimerRecord::Kind::kRolled);
  EXPECT_EQ(rolled->rolled_from, 777);
  EXPECT_EQ(rolled->due_ms, 123456);

  auto recall = ParseTimerRecord(Decode(EncodeRecallRecord("orders", "ID-1", 123456, 5)));
  ASSERT_TRUE(recall.ok());
  EXPECT_EQ(recall->kind, TimerRecord::Kind::kRecall);
  EXPECT_EQ(recall->msg_id, "ID-1");

  // A record of the timer topic without the broker's properties is refused.
  EXPECT_FALSE(ParseTimerRecord(Decode(original)).ok());
}

TEST(TimerMessageTest, RecallHandlesRoundTripAndGarbageIsRefused) {
  RecallHandle h{"broker-a", 1'700'000'000'123, "7F0000010001ABCDEF"};
  const std::string text = EncodeRecallHandle(h);
  for (char c : text) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << text;
  auto back = DecodeRecallHandle(text);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->broker_name, "broker-a");
  EXPECT_EQ(back->due_ms, h.due_ms);
  EXPECT_EQ(back->msg_id, h.msg_id);
  for (const char* bad : {"", "abc", "!!!!", "cjE"}) {
    EXPECT_FALSE(DecodeRecallHandle(bad).ok()) << bad;
  }
  EXPECT_FALSE(DecodeRecallHandle(text.substr(0, text.size() / 2)).ok());
}

// The handle is unpadded base64url (RFC 4648 §5) of "r1" NUL broker NUL due NUL id: checked against
// an independent encoder for inputs of each length modulo 3.
TEST(TimerMessageTest, RecallHandlesAreUnpaddedBase64UrlOfEveryLength) {
  const std::pair<const char*, const char*> cases[] = {
      {"b", "cjEAYgAxNzAwMDAwMDAwMTIzADdGMDAwMDAxMDAwMUFCQ0RFRg"},
      {"bb", "cjEAYmIAMTcwMDAwMDAwMDEyMwA3RjAwMDAwMTAwMDFBQkNERUY"},
      {"bbb", "cjEAYmJiADE3MDAwMDAwMDAxMjMAN0YwMDAwMDEwMDAxQUJDREVG"},
  };
  for (const auto& [broker, expected] : cases) {
    EXPECT_EQ(EncodeRecallHandle(broker, 1'700'000'000'123, "7F0000010001ABCDEF"), expected) << broker;
    auto back = DecodeRecallHandle(expected);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->broker_name, broker);
  }
}

}  // namespace
}  // namespace vela::broker::timer
