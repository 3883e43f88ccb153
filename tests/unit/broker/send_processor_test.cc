// SendProcessor without sockets, against a real store: the checks of the validate step, and the
// admit step with a fake admission stage that rewrites records to another topic and queue.
#include <atomic>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "broker/processors/send_processor.h"
#include "common/message_record.h"
#include "common/recall_handle.h"
#include "unit/broker/processor_test_util.h"

namespace vela::broker {
namespace {

using store::testing::MakeRecord;
using testing::Answer;
using testing::Call;

v1::Header SendHeader(const std::string& topic, int32_t queue_id, uint32_t count, bool compact) {
  v1::Header h;
  h.set_code(v1::SEND_MESSAGE);
  h.set_request_id(7);
  auto* r = h.mutable_send_request();
  r->set_topic(topic);
  r->set_queue_id(queue_id);
  r->set_message_count(count);
  r->set_compact_receipts(compact);
  return h;
}

// Rewrites records whose body starts with "timer:" into a record for topic `to_topic`, queue 0,
// and reports a due time and a recall handle; leaves the others alone. Counts its calls.
class FakeTimerStage : public AdmissionStage {
 public:
  explicit FakeTimerStage(std::string to_topic) : to_topic_(std::move(to_topic)) {}
  Status Admit(const RecordView& record, uint32_t queue_id, int64_t now_ms, Admission* admission) override {
    calls.fetch_add(1);
    last_queue_id = queue_id;
    if (refuse) return Status::InvalidArgument("refused by the fake stage");
    if (!record.body.starts_with("timer:")) return Status::OK();
    RecordFields f = record.ToFields();
    f.topic = to_topic_;
    f.queue_id = 0;
    EncodeRecord(f, &admission->rewritten);
    admission->deliver_at_ms = now_ms + 60000;
    admission->recall_broker = &broker_name_;
    return Status::OK();
  }
  std::atomic<int> calls{0};
  uint32_t last_queue_id = 0;
  bool refuse = false;

 private:
  std::string to_topic_;
  const std::string broker_name_ = "broker-a";
};

class SendProcessorTest : public testing::ProcessorTest {
 protected:
  Answer Send(SendProcessor& p, v1::Header h, std::string body) {
    return Call([&p](net::RequestContext rc, net::Frame f) { p.HandleSend(rc, std::move(f)); }, std::move(h),
                std::move(body));
  }
};

TEST_F(SendProcessorTest, GoodSendIsStoredWithCompactOrFullReceipts) {
  CreateTopic("orders");
  SendProcessor p(options_, broker_addr_, *resolver_, *store_, counters_);
  const std::string body = MakeRecord("orders", 0, "a") + MakeRecord("orders", 0, "b");
  Answer compact = Send(p, SendHeader("orders", 2, 2, true), body);
  ASSERT_TRUE(compact.status.has_value());
  ASSERT_OK(*compact.status);
  const auto& sr = compact.header.send_response();
  ASSERT_TRUE(sr.has_compact_receipt());
  EXPECT_EQ(sr.compact_receipt().queue_id(), 2);
  EXPECT_EQ(sr.compact_receipt().first_queue_offset(), 0);
  EXPECT_EQ(sr.compact_receipt().physical_offsets_size(), 2);
  EXPECT_EQ(sr.broker_addr(), broker_addr_);
  EXPECT_EQ(compact.header.request_id(), 7u);

  RecordView first;
  ASSERT_EQ(DecodeRecord(body, false, &first), DecodeOutcome::kRecord);
  Answer full = Send(p, SendHeader("orders", 2, 2, false), body);
  ASSERT_OK(*full.status);
  ASSERT_EQ(full.header.send_response().receipts_size(), 2);
  const auto& r0 = full.header.send_response().receipts(0);
  EXPECT_EQ(r0.msg_id(), first.msg_id);
  EXPECT_EQ(r0.queue_id(), 2);
  EXPECT_EQ(r0.queue_offset(), 2);
  EXPECT_EQ(r0.deliver_at_ms(), 0);
  EXPECT_TRUE(r0.recall_handle().empty());
  store_->WaitForDispatch();
  EXPECT_EQ(store_->MaxQueueOffset("orders", 2), store::QueueOffset(4));
  EXPECT_EQ(counters_.messages_in.load(), 4);
  // RocketMQ's per-topic series, and the total as broker status shows it.
  EXPECT_EQ(counters_.registry.Total("rocketmq_messages_in_total"), 4);
  bool found = false;
  for (const auto& s : counters_.Snapshot()) {
    if (s.SeriesName() == R"(rocketmq_messages_in_total{message_type="normal",topic="orders"})") found = s.value == 4;
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(counters_.registry.Total("vela_messages_in_total"), 4);
}

TEST_F(SendProcessorTest, ReservedUnknownTopicBadQueueAndMalformedRecordAreRefused) {
  CreateTopic("orders");
  SendProcessor p(options_, broker_addr_, *resolver_, *store_, counters_);

  Answer reserved = Send(p, SendHeader("RMQ_SYS_TRANS_HALF_TOPIC", 0, 1, true),
                         MakeRecord("RMQ_SYS_TRANS_HALF_TOPIC", 0, "x"));
  ASSERT_TRUE(reserved.status.has_value());
  EXPECT_EQ(reserved.status->code(), StatusCode::kPermissionDenied) << reserved.status->ToString();

  Answer unknown = Send(p, SendHeader("nowhere", 0, 1, true), MakeRecord("nowhere", 0, "x"));
  EXPECT_EQ(unknown.status->code(), StatusCode::kNotFound);
  EXPECT_EQ(unknown.status->subcode(), SubCode::kTopicNotFound);

  Answer bad_queue = Send(p, SendHeader("orders", 4, 1, true), MakeRecord("orders", 4, "x"));
  EXPECT_EQ(bad_queue.status->code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_queue.status->message().find("queue 4 does not exist"), std::string::npos)
      << bad_queue.status->ToString();

  std::string truncated = MakeRecord("orders", 0, "x");
  truncated.resize(truncated.size() - 3);
  Answer malformed = Send(p, SendHeader("orders", 0, 1, true), truncated);
  EXPECT_EQ(malformed.status->code(), StatusCode::kInvalidArgument);
  EXPECT_NE(malformed.status->message().find("malformed"), std::string::npos) << malformed.status->ToString();

  Answer other_topic = Send(p, SendHeader("orders", 0, 1, true), MakeRecord("payments", 0, "x"));
  EXPECT_EQ(other_topic.status->code(), StatusCode::kInvalidArgument);

  // A client may not set the broker's transaction flags (a fake commit of someone's transaction).
  RecordFields forged;
  forged.topic = "orders";
  const std::string forged_id = NewMessageId();
  forged.msg_id = forged_id;
  forged.body = "forged";
  forged.flags = record::kFlagTransactionCommit;
  std::string forged_raw;
  EncodeRecord(forged, &forged_raw);
  Answer flagged = Send(p, SendHeader("orders", 0, 1, true), forged_raw);
  EXPECT_EQ(flagged.status->code(), StatusCode::kInvalidArgument);
  EXPECT_NE(flagged.status->message().find("only the broker sets"), std::string::npos) << flagged.status->ToString();

  store_->WaitForDispatch();
  EXPECT_EQ(store_->MaxQueueOffset("orders", 0), store::QueueOffset(0));
  EXPECT_EQ(counters_.send_errors.load(), 6);
}

TEST_F(SendProcessorTest, AdmissionRewriteGoesToItsTopicWithFullReceiptsAndExtras) {
  CreateTopic("orders");
  FakeTimerStage stage("rmq_sys_wheel_timer");
  SendProcessor p(options_, broker_addr_, *resolver_, *store_, counters_, {&stage});
  const std::string plain = MakeRecord("orders", 1, "plain");
  const std::string timer = MakeRecord("orders", 1, "timer:due later");
  // The producer asks for a compact receipt; a rewritten record makes it a full one.
  Answer a = Send(p, SendHeader("orders", 1, 2, true), plain + timer);
  ASSERT_TRUE(a.status.has_value());
  ASSERT_OK(*a.status);
  EXPECT_EQ(stage.calls.load(), 2);
  EXPECT_EQ(stage.last_queue_id, 1u);
  const auto& sr = a.header.send_response();
  EXPECT_FALSE(sr.has_compact_receipt());
  ASSERT_EQ(sr.receipts_size(), 2);

  RecordView plain_view, timer_view;
  ASSERT_EQ(DecodeRecord(plain, false, &plain_view), DecodeOutcome::kRecord);
  ASSERT_EQ(DecodeRecord(timer, false, &timer_view), DecodeOutcome::kRecord);
  EXPECT_EQ(sr.receipts(0).msg_id(), plain_view.msg_id);
  EXPECT_EQ(sr.receipts(0).queue_id(), 1);
  EXPECT_EQ(sr.receipts(0).queue_offset(), 0);
  EXPECT_EQ(sr.receipts(0).deliver_at_ms(), 0);
  EXPECT_TRUE(sr.receipts(0).recall_handle().empty());

  // The rewritten record landed where the stage put it, and the receipt says so.
  EXPECT_EQ(sr.receipts(1).msg_id(), timer_view.msg_id);
  EXPECT_EQ(sr.receipts(1).queue_id(), 0);
  EXPECT_EQ(sr.receipts(1).queue_offset(), 0);
  EXPECT_GT(sr.receipts(1).deliver_at_ms(), 0);
  auto handle = DecodeRecallHandle(sr.receipts(1).recall_handle());
  ASSERT_TRUE(handle.ok()) << handle.status().ToString();
  EXPECT_EQ(handle->broker_name, "broker-a");
  EXPECT_EQ(handle->msg_id, timer_view.msg_id);
  EXPECT_EQ(handle->due_ms, sr.receipts(1).deliver_at_ms());
  store_->WaitForDispatch();
  EXPECT_EQ(store_->MaxQueueOffset("orders", 1), store::QueueOffset(1));
  EXPECT_EQ(store_->MaxQueueOffset("rmq_sys_wheel_timer", 0), store::QueueOffset(1));
  auto stored = store_->ReadRecordAt(store::PhysicalOffset(sr.receipts(1).physical_offset()));
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  RecordView stored_view;
  ASSERT_EQ(DecodeRecord(*stored, true, &stored_view), DecodeOutcome::kRecord);
  EXPECT_EQ(stored_view.topic, "rmq_sys_wheel_timer");
  EXPECT_EQ(stored_view.body, "timer:due later");

  // Records no stage acted on keep the compact receipt the producer asked for.
  Answer plain_only = Send(p, SendHeader("orders", 1, 1, true), MakeRecord("orders", 1, "plain again"));
  ASSERT_OK(*plain_only.status);
  EXPECT_TRUE(plain_only.header.send_response().has_compact_receipt());

  // A request of timer messages only keeps the compact form, with each one's due time (the
  // client makes the recall handles).
  Answer timers_only = Send(p, SendHeader("orders", 1, 2, true),
                            MakeRecord("orders", 1, "timer:x") + MakeRecord("orders", 1, "timer:y"));
  ASSERT_OK(*timers_only.status);
  const auto& tc = timers_only.header.send_response();
  ASSERT_TRUE(tc.has_compact_receipt());
  ASSERT_EQ(tc.compact_receipt().deliver_at_ms_size(), 2);
  EXPECT_GT(tc.compact_receipt().deliver_at_ms(0), 0);
  EXPECT_GT(tc.compact_receipt().deliver_at_ms(1), 0);
  EXPECT_EQ(tc.compact_receipt().queue_id(), 0);
  EXPECT_EQ(tc.compact_receipt().first_queue_offset(), 1);
  EXPECT_EQ(tc.compact_receipt().physical_offsets_size(), 2);
}

TEST_F(SendProcessorTest, StageErrorRefusesTheWholeRequestAndCorruptRecordsAreNotRewritten) {
  CreateTopic("orders");
  FakeTimerStage stage("rmq_sys_wheel_timer");
  SendProcessor p(options_, broker_addr_, *resolver_, *store_, counters_, {&stage});
  stage.refuse = true;
  Answer refused = Send(p, SendHeader("orders", 0, 2, true),
                        MakeRecord("orders", 0, "a") + MakeRecord("orders", 0, "timer:b"));
  EXPECT_EQ(refused.status->code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->MaxQueueOffset("orders", 0), store::QueueOffset(0));

  stage.refuse = false;
  std::string damaged = MakeRecord("orders", 0, "timer:abc");
  damaged[damaged.find("timer:abc") + 6] = 'X';  // in the body: the CRC no longer matches
  Answer corrupt = Send(p, SendHeader("orders", 0, 1, true), damaged);
  EXPECT_EQ(corrupt.status->code(), StatusCode::kInvalidArgument) << corrupt.status->ToString();
  store_->WaitForDispatch();
  EXPECT_EQ(store_->MaxQueueOffset("rmq_sys_wheel_timer", 0), store::QueueOffset(0));
}

}  // namespace
}  // namespace vela::broker
