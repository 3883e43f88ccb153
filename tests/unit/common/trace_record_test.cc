// Trace records (common/trace_record.h): the event encoding round-trips, malformed bodies and
// records are refused with a reason, and the record AppendTraceRecord writes is what
// ValidateTraceRecord accepts.
#include "common/trace_record.h"

#include <string>

#include <gtest/gtest.h>

#include "common/message_id.h"
#include "common/message_record.h"
#include "support/test_support.h"

namespace vela::trace {
namespace {

TraceEvent FullSendEvent() {
  TraceEvent e;
  e.type = EventType::kSend;
  e.msg_id = NewMessageId();
  e.time_ms = 1700000000123;
  e.topic = "orders";
  e.client_id = "10.0.0.1@vela@42";
  e.group = "order-producers";
  e.cost_us = 1234;
  e.status = "ok";
  e.keys = "k1 k2";
  e.tags = "TagA";
  e.detail = "some text";
  return e;
}

std::string Pair(std::string_view k, std::string_view v) {
  std::string out(k);
  out.push_back(record::kPropNameSep);
  out.append(v);
  out.push_back(record::kPropPairSep);
  return out;
}

TEST(TraceRecordTest, EveryEventTypeRoundTrips) {
  for (EventType type : {EventType::kSend, EventType::kStore, EventType::kConsume, EventType::kTimerDue,
                         EventType::kTimerRecalled, EventType::kTransactionCommit, EventType::kTransactionRollback,
                         EventType::kTransactionCheck}) {
    TraceEvent e = FullSendEvent();
    e.type = type;
    e.broker = "127.0.0.1:10911";
    e.queue_id = 3;
    e.queue_offset = 0;
    e.attempt = 2;
    ASSERT_OK_AND_ASSIGN(auto parsed, ParseEventType(EventTypeName(type)));
    EXPECT_EQ(parsed, type);
    ASSERT_OK_AND_ASSIGN(TraceEvent decoded, DecodeTraceEvent(EncodeTraceEvent(e)));
    EXPECT_EQ(decoded, e) << EventTypeName(type);
  }
}

TEST(TraceRecordTest, UnsetFieldsStayUnset) {
  TraceEvent e;
  e.type = EventType::kConsume;
  e.msg_id = NewMessageId();
  e.time_ms = 5;
  ASSERT_OK_AND_ASSIGN(TraceEvent decoded, DecodeTraceEvent(EncodeTraceEvent(e)));
  EXPECT_EQ(decoded, e);
  EXPECT_EQ(decoded.cost_us, -1);
  EXPECT_EQ(decoded.attempt, -1);
  EXPECT_TRUE(decoded.group.empty());
}

TEST(TraceRecordTest, RefusesMalformedBodies) {
  const std::string id = NewMessageId();
  const std::string base = Pair("v", "1") + Pair("type", "send") + Pair("id", id) + Pair("time", "10");
  EXPECT_OK(DecodeTraceEvent(base).status());
  const std::pair<std::string, std::string> cases[] = {
      {"", "no format version"},
      {Pair("type", "send") + Pair("id", id) + Pair("time", "10"), "no format version"},
      {Pair("v", "2") + Pair("type", "send") + Pair("id", id) + Pair("time", "10"), "version"},
      {Pair("v", "1") + Pair("type", "fly") + Pair("id", id) + Pair("time", "10"), "unknown trace event type"},
      {Pair("v", "1") + Pair("id", id) + Pair("time", "10"), "lacks"},
      {Pair("v", "1") + Pair("type", "send") + Pair("time", "10"), "lacks"},
      {Pair("v", "1") + Pair("type", "send") + Pair("id", id), "lacks"},
      {Pair("v", "1") + Pair("type", "send") + Pair("id", "has space") + Pair("time", "10"), "message id"},
      {Pair("v", "1") + Pair("type", "send") + Pair("id", id) + Pair("time", "x1"), "not a number"},
      {Pair("v", "1") + Pair("type", "send") + Pair("id", id) + Pair("time", "0"), "no time"},
      {base + Pair("cost_us", "-5"), "not a number"},
      {base + Pair("attempt", "99999999999999"), "not a number"},
      {base + Pair("status", "maybe"), "neither ok nor failed"},
      {base + Pair("colour", "red"), "unknown trace field"},
      {base + Pair("topic", "a") + Pair("topic", "b"), "given twice"},
      {base + "topic", "whole field"},
  };
  for (const auto& [body, reason] : cases) {
    auto decoded = DecodeTraceEvent(body);
    ASSERT_FALSE(decoded.ok()) << reason;
    EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(decoded.status().message().find(reason), std::string::npos) << decoded.status().ToString();
  }
}

TEST(TraceRecordTest, ValidationRefusesSeparatorsAndOversizedFields) {
  TraceEvent e = FullSendEvent();
  e.detail = std::string("a\x01" "b");
  EXPECT_FALSE(ValidateTraceEvent(e).ok());
  e.detail = std::string(17 * 1024, 'x');
  EXPECT_FALSE(ValidateTraceEvent(e).ok());
  e.detail.clear();
  e.attempt = 0;  // attempts count from 1
  EXPECT_FALSE(ValidateTraceEvent(e).ok());
}

TEST(TraceRecordTest, AppendedRecordIsAValidTraceRecordKeyedByTheTracedId) {
  const TraceEvent e = FullSendEvent();
  const std::string record_id = NewMessageId();
  std::string raw;
  AppendTraceRecord(e, record_id, PackHost("127.0.0.1:0"), 77, &raw);
  RecordView view;
  ASSERT_EQ(DecodeRecord(raw, /*verify_crc=*/true, &view), DecodeOutcome::kRecord);
  EXPECT_EQ(view.topic, kTraceTopic);
  EXPECT_EQ(view.msg_id, record_id);
  EXPECT_EQ(view.queue_id, 0u);
  std::string_view keys;
  ASSERT_TRUE(FindProperty(view.properties, prop::kKeys, &keys));
  EXPECT_EQ(keys, e.msg_id);
  EXPECT_EQ(view.Tag(), kTraceTag);
  EXPECT_OK(ValidateTraceRecord(view.topic, view.flags, view.properties, view.body));
  ASSERT_OK_AND_ASSIGN(TraceEvent decoded, DecodeTraceEvent(view.body));
  EXPECT_EQ(decoded, e);
}

TEST(TraceRecordTest, ValidateTraceRecordRefusesForgeries) {
  const TraceEvent e = FullSendEvent();
  const std::string body = EncodeTraceEvent(e);
  const std::string good_props = Pair("KEYS", e.msg_id) + Pair("TAGS", "TRACE");
  EXPECT_OK(ValidateTraceRecord(kTraceTopic, 0, good_props, body));
  EXPECT_FALSE(ValidateTraceRecord("orders", 0, good_props, body).ok());
  EXPECT_FALSE(ValidateTraceRecord(kTraceTopic, record::kFlagTransactionCommit, good_props, body).ok());
  EXPECT_FALSE(ValidateTraceRecord(kTraceTopic, 0, Pair("KEYS", NewMessageId()) + Pair("TAGS", "TRACE"), body).ok());
  EXPECT_FALSE(ValidateTraceRecord(kTraceTopic, 0, Pair("KEYS", e.msg_id), body).ok());
  EXPECT_FALSE(ValidateTraceRecord(kTraceTopic, 0, good_props + Pair("REAL_TOPIC", "x"), body).ok());
  EXPECT_FALSE(ValidateTraceRecord(kTraceTopic, 0, good_props, "not a trace event").ok());
}

TEST(TraceRecordTest, RanksOrderEventsOfTheSameMillisecond) {
  EXPECT_LT(EventTypeRank(EventType::kSend), EventTypeRank(EventType::kStore));
  EXPECT_LT(EventTypeRank(EventType::kStore), EventTypeRank(EventType::kTimerDue));
  EXPECT_LT(EventTypeRank(EventType::kTransactionCheck), EventTypeRank(EventType::kTransactionCommit));
  EXPECT_LT(EventTypeRank(EventType::kTransactionCommit), EventTypeRank(EventType::kConsume));
}

}  // namespace
}  // namespace vela::trace
