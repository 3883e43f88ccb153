// Trace records (common/trace_record.h): the event encoding round-trips, malformed bodies and
// records are refused with a reason, and the batch record TraceRecordBuilder writes is what
// ValidateTraceRecord accepts: keyed by the distinct ids of its events, cut when full.
#include "common/trace_record.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/coding.h"
#include "common/message_id.h"
#include "common/message_record.h"
#include "common/validation.h"
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

TEST(TraceRecordTest, EncodingSaysWhereTheIdIs) {
  const TraceEvent e = FullSendEvent();
  size_t id_at = 0;
  const std::string encoded = EncodeTraceEvent(e, &id_at);
  EXPECT_EQ(encoded.substr(id_at, e.msg_id.size()), e.msg_id);
  EXPECT_EQ(encoded, EncodeTraceEvent(e));
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
  const std::string base = Pair("v", "2") + Pair("type", "send") + Pair("id", id) + Pair("time", "10");
  EXPECT_OK(DecodeTraceEvent(base).status());
  const std::pair<std::string, std::string> cases[] = {
      {"", "no format version"},
      {Pair("type", "send") + Pair("id", id) + Pair("time", "10"), "no format version"},
      {Pair("v", "1") + Pair("type", "send") + Pair("id", id) + Pair("time", "10"), "version"},
      {Pair("v", "2") + Pair("type", "fly") + Pair("id", id) + Pair("time", "10"), "unknown trace event type"},
      {Pair("v", "2") + Pair("id", id) + Pair("time", "10"), "lacks"},
      {Pair("v", "2") + Pair("type", "send") + Pair("time", "10"), "lacks"},
      {Pair("v", "2") + Pair("type", "send") + Pair("id", id), "lacks"},
      {Pair("v", "2") + Pair("type", "send") + Pair("id", "has space") + Pair("time", "10"), "message id"},
      {Pair("v", "2") + Pair("type", "send") + Pair("id", id) + Pair("time", "x1"), "not a number"},
      {Pair("v", "2") + Pair("type", "send") + Pair("id", id) + Pair("time", "0"), "no time"},
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

// The body of a record holding `events`, as TraceRecordBuilder lays it out.
std::string Body(const std::vector<TraceEvent>& events) {
  std::string body;
  for (const TraceEvent& e : events) {
    const std::string encoded = EncodeTraceEvent(e);
    coding::AppendFixed32(&body, static_cast<uint32_t>(encoded.size()));
    body += encoded;
  }
  return body;
}

TEST(TraceRecordTest, OneRecordHoldsABatchKeyedByTheDistinctIdsOfItsEvents) {
  TraceEvent send = FullSendEvent();
  TraceEvent store = send;
  store.type = EventType::kStore;
  store.broker = "127.0.0.1:10911";
  store.queue_id = 2;
  store.queue_offset = 7;
  TraceEvent other = FullSendEvent();  // another message
  TraceRecordBuilder builder;
  for (const TraceEvent* e : {&send, &store, &other}) ASSERT_EQ(builder.Add(*e), TraceRecordBuilder::AddOutcome::kAdded);
  EXPECT_EQ(builder.events(), 3u);
  const std::string record_id = NewMessageId();
  std::string raw;
  builder.Finish(record_id, PackHost("127.0.0.1:0"), 77, &raw);
  EXPECT_TRUE(builder.empty());

  RecordView view;
  ASSERT_EQ(DecodeRecord(raw, /*verify_crc=*/true, &view), DecodeOutcome::kRecord);
  EXPECT_EQ(view.topic, kTraceTopic);
  EXPECT_EQ(view.msg_id, record_id);
  EXPECT_EQ(view.queue_id, 0u);
  std::string_view keys;
  ASSERT_TRUE(FindProperty(view.properties, prop::kKeys, &keys));
  EXPECT_EQ(keys, send.msg_id + " " + other.msg_id);
  EXPECT_EQ(view.Tag(), kTraceTag);
  ASSERT_OK_AND_ASSIGN(size_t count, ValidateTraceRecord(view.topic, view.flags, view.properties, view.body));
  EXPECT_EQ(count, 3u);
  ASSERT_OK_AND_ASSIGN(auto decoded, DecodeTraceEvents(view.body));
  EXPECT_EQ(decoded, (std::vector<TraceEvent>{send, store, other}));

  std::vector<TraceEvent> of_send;
  ASSERT_OK(AppendEventsOfMessage(view.body, send.msg_id, &of_send));
  EXPECT_EQ(of_send, (std::vector<TraceEvent>{send, store}));
  std::vector<TraceEvent> none;
  ASSERT_OK(AppendEventsOfMessage(view.body, NewMessageId(), &none));
  EXPECT_TRUE(none.empty());
  EXPECT_FALSE(AppendEventsOfMessage("junk", send.msg_id, &none).ok());
}

TEST(TraceRecordTest, ASendCarryingItsStoreIsReadAsTwoEvents) {
  TraceEvent send = FullSendEvent();
  send.detail = "timer message due at 1700000009000";
  send.broker = "127.0.0.1:10911";
  send.queue_id = 5;
  send.queue_offset = 41;
  send.store_time_ms = send.time_ms + 2;
  ASSERT_OK_AND_ASSIGN(TraceEvent round_trip, DecodeTraceEvent(EncodeTraceEvent(send)));
  EXPECT_EQ(round_trip, send);

  std::vector<TraceEvent> timeline;
  ASSERT_OK(AppendEventsOfMessage(Body({send}), send.msg_id, &timeline));
  ASSERT_EQ(timeline.size(), 2u);
  TraceEvent expected_send = send;
  expected_send.broker.clear();
  expected_send.queue_id = -1;
  expected_send.queue_offset = -1;
  expected_send.store_time_ms = -1;
  expected_send.detail.clear();
  EXPECT_EQ(timeline[0], expected_send);
  TraceEvent expected_store;
  expected_store.type = EventType::kStore;
  expected_store.msg_id = send.msg_id;
  expected_store.time_ms = send.store_time_ms;
  expected_store.topic = send.topic;
  expected_store.broker = "127.0.0.1:10911";
  expected_store.queue_id = 5;
  expected_store.queue_offset = 41;
  expected_store.detail = "timer message due at 1700000009000";
  EXPECT_EQ(timeline[1], expected_store);

  // Only a send names a store time, and only with the broker that stored it.
  TraceEvent no_broker = send;
  no_broker.broker.clear();
  EXPECT_FALSE(ValidateTraceEvent(no_broker).ok());
  TraceEvent consume = send;
  consume.type = EventType::kConsume;
  EXPECT_FALSE(ValidateTraceEvent(consume).ok());
  TraceEvent negative = send;
  negative.store_time_ms = -5;
  EXPECT_FALSE(ValidateTraceEvent(negative).ok());
}

TEST(TraceRecordTest, BuilderRefusesInvalidEventsAndCutsFullRecords) {
  TraceRecordBuilder builder;
  TraceEvent bad = FullSendEvent();
  bad.time_ms = 0;
  Status why;
  EXPECT_EQ(builder.Add(bad, &why), TraceRecordBuilder::AddOutcome::kInvalid);
  EXPECT_NE(why.message().find("no time"), std::string::npos) << why.ToString();
  EXPECT_TRUE(builder.empty());

  // Full by event count: kMaxEventsPerRecord events of one message.
  const TraceEvent e = FullSendEvent();
  for (size_t i = 0; i < kMaxEventsPerRecord; ++i) ASSERT_EQ(builder.Add(e), TraceRecordBuilder::AddOutcome::kAdded);
  EXPECT_EQ(builder.Add(e), TraceRecordBuilder::AddOutcome::kFull);
  std::string raw;
  builder.Finish(NewMessageId(), 0, 1, &raw);
  RecordView view;
  ASSERT_EQ(DecodeRecord(raw, true, &view), DecodeOutcome::kRecord);
  EXPECT_OK(ValidateTraceRecord(view.topic, view.flags, view.properties, view.body).status());

  // Full by keys: the KEYS value reaches the properties' value limit before the event count does.
  size_t added = 0;
  for (;;) {
    TraceEvent next = FullSendEvent();
    if (builder.Add(next) == TraceRecordBuilder::AddOutcome::kFull) break;
    ++added;
  }
  EXPECT_LT(added, kMaxEventsPerRecord);
  EXPECT_GT(added, 100u);
  raw.clear();
  builder.Finish(NewMessageId(), 0, 1, &raw);
  ASSERT_EQ(DecodeRecord(raw, true, &view), DecodeOutcome::kRecord);
  EXPECT_OK(ValidatePropertiesBlock(view.properties));
  EXPECT_OK(ValidateTraceRecord(view.topic, view.flags, view.properties, view.body).status());
}

TEST(TraceRecordTest, ValidateTraceRecordRefusesForgeries) {
  const TraceEvent e = FullSendEvent();
  const TraceEvent f = FullSendEvent();
  const std::string body = Body({e, f, e});
  const std::string ids = e.msg_id + " " + f.msg_id;
  const std::string good_props = Pair("KEYS", ids) + Pair("TAGS", "TRACE");
  EXPECT_OK(ValidateTraceRecord(kTraceTopic, 0, good_props, body).status());
  EXPECT_FALSE(ValidateTraceRecord("orders", 0, good_props, body).ok());
  EXPECT_FALSE(ValidateTraceRecord(kTraceTopic, record::kFlagTransactionCommit, good_props, body).ok());
  // KEYS naming another message, missing one, out of order, or with a duplicate.
  // Also: cut short, with a doubled, leading or trailing space, or run together.
  for (const std::string& keys : {e.msg_id + " " + NewMessageId(), e.msg_id, f.msg_id + " " + e.msg_id,
                                  ids + " " + e.msg_id, ids.substr(0, ids.size() - 1), e.msg_id + "  " + f.msg_id,
                                  " " + ids, ids + " ", e.msg_id + f.msg_id, std::string()}) {
    EXPECT_FALSE(ValidateTraceRecord(kTraceTopic, 0, Pair("KEYS", keys) + Pair("TAGS", "TRACE"), body).ok()) << keys;
  }
  EXPECT_FALSE(ValidateTraceRecord(kTraceTopic, 0, Pair("KEYS", ids), body).ok());
  EXPECT_FALSE(ValidateTraceRecord(kTraceTopic, 0, good_props + Pair("KEYS", ids), body).ok());
  EXPECT_FALSE(ValidateTraceRecord(kTraceTopic, 0, good_props + Pair("REAL_TOPIC", "x"), body).ok());
  // Bodies that are not whole length-prefixed events.
  for (const std::string& bad : {std::string(), std::string("not a trace event"), body.substr(0, body.size() - 1),
                                 body + std::string(3, '\0'), EncodeTraceEvent(e)}) {
    EXPECT_FALSE(ValidateTraceRecord(kTraceTopic, 0, good_props, bad).ok());
  }
}

// The broker checks records with events decoded in place: the same fields, the same refusals.
TEST(TraceRecordTest, AnEventDecodedInPlaceHoldsWhatTheOwnedDecodeHolds) {
  const TraceEvent e = FullSendEvent();
  const std::string encoded = EncodeTraceEvent(e);
  auto owned = DecodeTraceEvent(encoded);
  auto view = DecodeTraceEventView(encoded);
  ASSERT_OK(owned.status());
  ASSERT_OK(view.status());
  EXPECT_EQ(view->msg_id, owned->msg_id);
  EXPECT_EQ(view->topic, owned->topic);
  EXPECT_EQ(view->client_id, owned->client_id);
  EXPECT_EQ(view->keys, owned->keys);
  EXPECT_EQ(view->time_ms, owned->time_ms);
  EXPECT_EQ(view->cost_us, owned->cost_us);
  EXPECT_EQ(view->type, owned->type);
  EXPECT_GE(view->msg_id.data(), encoded.data());  // in place
  EXPECT_LE(view->msg_id.data() + view->msg_id.size(), encoded.data() + encoded.size());
  EXPECT_FALSE(DecodeTraceEventView(encoded.substr(0, encoded.size() - 1)).ok());
  EXPECT_FALSE(DecodeTraceEventView(encoded + encoded).ok());  // every field twice
}

// Looking a message up in a record keeps only its events, and nothing when the body is bad.
TEST(TraceRecordTest, AppendEventsOfMessageKeepsOnlyThatMessagesEvents) {
  const TraceEvent e = FullSendEvent();
  TraceEvent f = FullSendEvent();
  f.type = EventType::kStore;
  const std::string body = Body({e, f, e});
  std::vector<TraceEvent> out;
  ASSERT_OK(AppendEventsOfMessage(body, e.msg_id, &out));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], e);
  EXPECT_EQ(out[1], e);
  EXPECT_FALSE(AppendEventsOfMessage(body + "x", e.msg_id, &out).ok());
  EXPECT_EQ(out.size(), 2u);
}

TEST(TraceRecordTest, RanksOrderEventsOfTheSameMillisecond) {
  EXPECT_LT(EventTypeRank(EventType::kSend), EventTypeRank(EventType::kStore));
  EXPECT_LT(EventTypeRank(EventType::kStore), EventTypeRank(EventType::kTimerDue));
  EXPECT_LT(EventTypeRank(EventType::kTransactionCheck), EventTypeRank(EventType::kTransactionCommit));
  EXPECT_LT(EventTypeRank(EventType::kTransactionCommit), EventTypeRank(EventType::kConsume));
}

}  // namespace
}  // namespace vela::trace
