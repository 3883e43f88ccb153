// SEND_TRACE (broker/trace): well-formed trace records are stored in RMQ_SYS_TRACE_TOPIC (created
// as a system topic on first use) and found by the traced message's id; anything else refuses the
// whole request; the broker's own events (TraceWriter::Record) are stored the same way.
#include "broker/trace/trace_processor.h"

#include <chrono>
#include <set>
#include <thread>

#include "broker/trace/trace_writer.h"
#include "common/coding.h"
#include "common/message_id.h"
#include "common/message_record.h"
#include "common/trace_record.h"
#include "unit/broker/processor_test_util.h"

namespace vela::broker {
namespace {

using testing::Call;

class TraceProcessorTest : public testing::ProcessorTest {
 protected:
  vela::trace::TraceEvent Event(const std::string& msg_id, vela::trace::EventType type) {
    vela::trace::TraceEvent e;
    e.type = type;
    e.msg_id = msg_id;
    e.time_ms = 1000;
    e.topic = "orders";
    return e;
  }
  v1::Header Header(const std::string& topic = std::string(vela::trace::kTraceTopic)) {
    v1::Header h;
    h.set_code(v1::SEND_TRACE);
    h.mutable_send_request()->set_topic(topic);
    return h;
  }
  testing::Answer Send(v1::Header header, std::string body) {
    return Call([this](net::RequestContext rc, net::Frame f) { processor_.HandleSendTrace(rc, std::move(f)); },
                std::move(header), std::move(body));
  }
  std::vector<vela::trace::TraceEvent> Stored(const std::string& msg_id) {
    std::vector<vela::trace::TraceEvent> out;
    for (const std::string& raw : store_->QueryByKey(vela::trace::kTraceTopic, msg_id, 100)) {
      RecordView view;
      EXPECT_EQ(DecodeRecord(raw, true, &view), DecodeOutcome::kRecord);
      EXPECT_OK(vela::trace::AppendEventsOfMessage(view.body, msg_id, &out));
    }
    return out;
  }

  // One trace record holding `events`.
  static std::string Record(const std::vector<vela::trace::TraceEvent>& events) {
    vela::trace::TraceRecordBuilder builder;
    for (const auto& e : events) EXPECT_EQ(builder.Add(e), vela::trace::TraceRecordBuilder::AddOutcome::kAdded);
    std::string raw;
    builder.Finish(NewMessageId(), 0, 1, &raw);
    return raw;
  }

  trace::TraceWriter writer_{*store_, *topics_, broker_addr_, PackHost(broker_addr_)};
  trace::TraceProcessor processor_{writer_};
};

TEST_F(TraceProcessorTest, StoresABatchFindableByTheTracedId) {
  // Two records: the first holds two messages' events, the second one more of the first message.
  const std::string id = NewMessageId();
  const std::string other = NewMessageId();
  const std::string body = Record({Event(id, vela::trace::EventType::kSend),
                                   Event(other, vela::trace::EventType::kSend),
                                   Event(id, vela::trace::EventType::kStore)}) +
                           Record({Event(id, vela::trace::EventType::kConsume)});
  auto answer = Send(Header(), body);
  ASSERT_TRUE(answer.status.has_value());
  ASSERT_OK(*answer.status);
  auto topic = topics_->GetTopic(std::string(vela::trace::kTraceTopic));
  ASSERT_TRUE(topic.has_value());
  EXPECT_EQ(topic->write_queues, 1);
  const auto events = Stored(id);
  ASSERT_EQ(events.size(), 3u);
  std::multiset<vela::trace::EventType> types;
  for (const auto& e : events) types.insert(e.type);
  EXPECT_EQ(types, (std::multiset<vela::trace::EventType>{vela::trace::EventType::kSend, vela::trace::EventType::kStore,
                                                           vela::trace::EventType::kConsume}));
  EXPECT_EQ(Stored(other).size(), 1u);
  EXPECT_TRUE(Stored(NewMessageId()).empty());
  EXPECT_EQ(writer_.events_recorded(), 4u);
}

TEST_F(TraceProcessorTest, AnyBadRecordRefusesTheWholeRequest) {
  const std::string id = NewMessageId();
  const std::string good = Record({Event(id, vela::trace::EventType::kSend)});
  // A record of the trace topic that is not a trace record: a plain body, or an extra property.
  RecordFields plain;
  plain.topic = vela::trace::kTraceTopic;
  const std::string plain_id = NewMessageId();
  plain.msg_id = plain_id;
  plain.body = "not an event";
  const std::string props = EncodeProperties({{"KEYS", id}, {"TAGS", "TRACE"}, {"REAL_TOPIC", "orders"}});
  RecordView good_view;
  ASSERT_EQ(DecodeRecord(good, true, &good_view), DecodeOutcome::kRecord);
  const std::string good_body(good_view.body);
  RecordFields extra = plain;
  extra.properties = props;
  extra.body = good_body;
  // A valid record addressed to queue 1.
  std::string other_queue = good;
  coding::PutFixed32(other_queue.data() + record::kOffQueueId, 1);
  RefreshRecordCrc(other_queue.data());
  for (const auto& [body, why] : std::vector<std::pair<std::string, std::string>>{
           {good + EncodeRecordToString(plain), "claims"},
           {EncodeRecordToString(extra) + good, "exactly KEYS"},
           {other_queue, "queue 0"},
           {good.substr(0, good.size() - 1), "malformed"},
           {"", "no trace record"}}) {
    auto answer = Send(Header(), body);
    ASSERT_TRUE(answer.status.has_value()) << why;
    EXPECT_EQ(answer.status->code(), StatusCode::kInvalidArgument) << why;
    EXPECT_NE(answer.status->message().find(why), std::string::npos) << answer.status->ToString();
  }
  auto wrong_topic = Send(Header("orders"), good);
  ASSERT_TRUE(wrong_topic.status.has_value());
  EXPECT_EQ(wrong_topic.status->code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Stored(id).empty());
  EXPECT_EQ(processor_.refused(), 6u);
}

TEST_F(TraceProcessorTest, BrokerEventsAreStoredWithThisBrokersAddress) {
  const std::string id = NewMessageId();
  EXPECT_TRUE(trace::TraceWriter::IsTraced(EncodeProperties({{"TRACE_ON", "true"}})));
  EXPECT_FALSE(trace::TraceWriter::IsTraced(EncodeProperties({{"TRACE_ON", "false"}})));
  EXPECT_FALSE(trace::TraceWriter::IsTraced(""));
  vela::trace::TraceEvent e = Event(id, vela::trace::EventType::kTransactionCommit);
  e.time_ms = 0;  // filled in with now
  writer_.Record(e);
  std::vector<vela::trace::TraceEvent> stored;
  for (int i = 0; i < 200 && stored.empty(); ++i) {
    stored = Stored(id);
    if (stored.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].type, vela::trace::EventType::kTransactionCommit);
  EXPECT_EQ(stored[0].broker, broker_addr_);
  EXPECT_GT(stored[0].time_ms, 0);
  // An invalid event is counted, never stored.
  e.msg_id = "bad id";
  writer_.Record(e);
  EXPECT_EQ(writer_.events_failed(), 1u);
}

}  // namespace
}  // namespace vela::broker
