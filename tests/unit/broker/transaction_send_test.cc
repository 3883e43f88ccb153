// The send pipeline with the broker's stages in the composition root's order (transaction, then
// timer): a transactional send lands in the half topic with a full receipt that names it, stays
// invisible, and is published by END_TRANSACTION; a transactional timer message is refused whole.
#include <future>

#include <gtest/gtest.h>

#include "broker/processors/send_processor.h"
#include "broker/timer/timer_admission.h"
#include "broker/timer/timer_service.h"
#include "broker/transaction/transaction_admission.h"
#include "broker/transaction/transaction_service.h"
#include "processor_test_util.h"

namespace vela::broker {
namespace {

std::string TransactionalRecord(const std::string& id, Properties extra = {}) {
  Properties props{{"TRAN_MSG", "true"}, {"PGROUP", "pg"}};
  for (auto& p : extra) props.push_back(std::move(p));
  const std::string encoded = EncodeProperties(props);
  RecordFields f;
  f.topic = "orders";
  f.msg_id = id;
  f.properties = encoded;
  f.body = "payload";
  std::string raw;
  EncodeRecord(f, &raw);
  return raw;
}

v1::Header SendHeader(int32_t queue_id, bool compact) {
  v1::Header h;
  h.set_code(v1::SEND_MESSAGE);
  h.set_request_id(9);
  auto* r = h.mutable_send_request();
  r->set_topic("orders");
  r->set_queue_id(queue_id);
  r->set_producer_group("pg");
  r->set_message_count(1);
  r->set_compact_receipts(compact);
  return h;
}

class TransactionSendTest : public testing::ProcessorTest {
 protected:
  TransactionSendTest() {
    timer::TimerOptions o;
    o.delay_level_ms = *timer::TimerOptions::ParseDelayLevels(timer::kDefaultDelayLevels);
    timers_ = std::make_unique<timer::TimerService>(*store_, *topics_, o, "broker-a");
    timer_stage_ = std::make_unique<timer::TimerAdmission>(*timers_);
    transactions_ = std::make_unique<transaction::TransactionService>(*store_, *topics_, transaction::TransactionOptions());
    transaction_stage_ = std::make_unique<transaction::TransactionAdmission>(*transactions_);
    send_ = std::make_unique<SendProcessor>(options_, broker_addr_, *resolver_, *store_, counters_,
                                            std::vector<AdmissionStage*>{transaction_stage_.get(), timer_stage_.get()});
  }
  ~TransactionSendTest() override {
    transactions_->Stop();
    timers_->Stop();
  }
  testing::Answer Send(v1::Header h, std::string body) {
    return testing::Call([this](net::RequestContext rc, net::Frame f) { send_->HandleSend(rc, std::move(f)); },
                         std::move(h), std::move(body));
  }

  std::unique_ptr<timer::TimerService> timers_;
  std::unique_ptr<timer::TimerAdmission> timer_stage_;
  std::unique_ptr<transaction::TransactionService> transactions_;
  std::unique_ptr<transaction::TransactionAdmission> transaction_stage_;
  std::unique_ptr<SendProcessor> send_;
};

TEST_F(TransactionSendTest, HalfMessageIsInvisibleUntilCommitted) {
  CreateTopic("orders");
  ASSERT_OK(transactions_->Start());
  testing::Answer sent = Send(SendHeader(3, /*compact=*/true), TransactionalRecord("T1"));
  ASSERT_TRUE(sent.status.has_value());
  ASSERT_OK(*sent.status);
  // A full receipt even though compact ones were asked: it names the half record.
  const auto& sr = sent.header.send_response();
  ASSERT_FALSE(sr.has_compact_receipt());
  ASSERT_EQ(sr.receipts_size(), 1);
  EXPECT_EQ(sr.receipts(0).msg_id(), "T1");
  EXPECT_EQ(sr.receipts(0).queue_id(), 0);
  const int64_t half_offset = sr.receipts(0).physical_offset();
  bool counted = false;  // RocketMQ's message type for the per-topic series
  for (const auto& series : counters_.Snapshot()) {
    if (series.SeriesName() == R"(rocketmq_messages_in_total{message_type="transaction",topic="orders"})") {
      counted = series.value == 1;
    }
  }
  EXPECT_TRUE(counted);
  store_->WaitForDispatch();
  for (uint32_t q = 0; q < 4; ++q) EXPECT_EQ(store_->MaxQueueOffset("orders", q), store::QueueOffset(0));
  EXPECT_EQ(store_->MaxQueueOffset(transaction::kHalfTopic, 0), store::QueueOffset(1));
  // No client reads the half topic.
  auto pull = resolver_->ResolveTopic(std::string(transaction::kHalfTopic), /*for_write=*/false);
  EXPECT_EQ(pull.status().code(), StatusCode::kPermissionDenied);
  auto direct = resolver_->ResolveTopic(std::string(transaction::kHalfTopic), /*for_write=*/true);
  EXPECT_EQ(direct.status().code(), StatusCode::kPermissionDenied);

  std::promise<Result<v1::EndTransactionResponse>> done;
  transaction::EndTransactionRequest end;
  end.producer_group = "pg";
  end.transaction_id = "T1";
  end.half_offsets = {half_offset};
  end.resolution = v1::TX_COMMIT;
  transactions_->EndTransaction(end, [&done](Result<v1::EndTransactionResponse> r) { done.set_value(std::move(r)); });
  auto answer = done.get_future().get();
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  EXPECT_EQ(answer->outcome(), v1::TX_END_COMMITTED);
  store_->WaitForDispatch();
  EXPECT_EQ(store_->MaxQueueOffset("orders", 3), store::QueueOffset(1));
}

TEST_F(TransactionSendTest, ATransactionalTimerMessageRefusesTheWholeRequest) {
  CreateTopic("orders");
  testing::Answer sent = Send(SendHeader(1, false), TransactionalRecord("T2", {{"TIMER_DELAY_MS", "1000"}}));
  ASSERT_TRUE(sent.status.has_value());
  EXPECT_EQ(sent.status->code(), StatusCode::kInvalidArgument);
  EXPECT_NE(sent.status->message().find("cannot also be a timer message"), std::string_view::npos)
      << sent.status->ToString();
  store_->WaitForDispatch();
  EXPECT_EQ(store_->stats().max_physical_offset, store::PhysicalOffset(0));
}

}  // namespace
}  // namespace vela::broker
