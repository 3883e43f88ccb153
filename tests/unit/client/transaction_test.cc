#include <gtest/gtest.h>

#include "client/message_codec.h"
#include "client/transaction_producer_impl.h"
#include "common/message_record.h"
#include "vela/transaction.h"

namespace vela::client {
namespace {

SendReceipt Receipt(const std::string& id) {
  SendReceipt r;
  r.msg_id = id;
  r.topic = "Orders";
  return r;
}

TEST(TransactionTest, StampsTheTransactionProperties) {
  Message m("Orders", "body");
  m.properties["user"] = "x";
  m.properties["PGROUP"] = "spoofed";
  Message stamped = StampTransactional(m, "pg-1", "TXID");
  EXPECT_EQ(stamped.properties.at("TRAN_MSG"), "true");
  EXPECT_EQ(stamped.properties.at("PGROUP"), "pg-1");
  EXPECT_EQ(stamped.properties.at("__transactionId__"), "TXID");
  EXPECT_EQ(stamped.properties.at("user"), "x");
  EXPECT_EQ(stamped.body, "body");
  // The stamped properties reach the record.
  std::string record;
  AppendMessageRecord(stamped, "ID1", 0, 1, &record);
  auto views = DecodeMessages(record, "127.0.0.1:1");
  ASSERT_TRUE(views.ok());
  EXPECT_EQ(views->front().properties.at("TRAN_MSG"), "true");
  EXPECT_EQ(views->front().properties.at("__transactionId__"), "TXID");
}

TEST(TransactionTest, RefusesTimersAndUserSetTranMsg) {
  Message m("Orders", "body");
  EXPECT_TRUE(ValidateTransactional(m, 1024).ok());
  m.delay_ms = 10;
  auto delayed = ValidateTransactional(m, 1024);
  EXPECT_EQ(delayed.code(), vela::StatusCode::kInvalidArgument);
  EXPECT_NE(delayed.message().find("timer"), std::string_view::npos);
  m.delay_ms = 0;
  m.properties["TRAN_MSG"] = "true";
  auto user_set = ValidateTransactional(m, 1024);
  EXPECT_EQ(user_set.code(), vela::StatusCode::kInvalidArgument);
  EXPECT_NE(user_set.message().find("TransactionProducer"), std::string_view::npos);
}

TEST(TransactionTest, StateTakesAtMost64MessagesOnOneBroker) {
  TransactionState state({}, nullptr);
  std::lock_guard lock(state.mu);
  EXPECT_EQ(state.CheckCanResolveLocked(true).code(), vela::StatusCode::kFailedPrecondition);  // empty
  ProducerImpl::Placement placed{"broker-a", "127.0.0.1:10911", 100};
  for (size_t i = 0; i < kMaxMessagesPerTransaction; ++i) {
    ASSERT_TRUE(state.CheckCanSendLocked().ok()) << i;
    placed.physical_offset = 100 + static_cast<int64_t>(i);
    ProducerImpl::Placement other{"broker-b", "127.0.0.2:10911", 5};
    state.AddLocked(Receipt("ID" + std::to_string(i)), i == 0 ? placed : other);
  }
  EXPECT_EQ(state.id, "ID0");
  EXPECT_EQ(state.broker.broker_name, "broker-a");  // the first message's broker stays
  EXPECT_EQ(state.broker.addr, "127.0.0.1:10911");
  EXPECT_EQ(state.receipts.back().transaction_id, "ID0");
  EXPECT_EQ(state.half_offsets.size(), kMaxMessagesPerTransaction);
  EXPECT_EQ(state.half_offsets.front(), 100);
  auto full = state.CheckCanSendLocked();
  EXPECT_EQ(full.code(), vela::StatusCode::kInvalidArgument);
  EXPECT_NE(full.message().find("64"), std::string_view::npos);
  EXPECT_TRUE(state.CheckCanResolveLocked(true).ok());
}

TEST(TransactionTest, StateRefusesSendsAndRepeatsAfterResolution) {
  TransactionState state({}, nullptr);
  std::lock_guard lock(state.mu);
  state.AddLocked(Receipt("ID0"), ProducerImpl::Placement{"b", "a:1", 1});
  state.phase = TransactionState::Phase::kCommitted;
  auto send = state.CheckCanSendLocked();
  EXPECT_EQ(send.code(), vela::StatusCode::kFailedPrecondition);
  EXPECT_NE(send.message().find("committed"), std::string_view::npos);
  auto again = state.CheckCanResolveLocked(true);
  EXPECT_EQ(again.code(), vela::StatusCode::kFailedPrecondition);
  EXPECT_NE(again.message().find("already committed"), std::string_view::npos);
  state.phase = TransactionState::Phase::kRolledBack;
  EXPECT_EQ(state.CheckCanResolveLocked(true).code(), vela::StatusCode::kFailedPrecondition);
  EXPECT_EQ(state.CheckCanSendLocked().code(), vela::StatusCode::kFailedPrecondition);
  // A failed commit: no more sends, but resolving may be tried again.
  state.phase = TransactionState::Phase::kResolving;
  EXPECT_EQ(state.CheckCanSendLocked().code(), vela::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(state.CheckCanResolveLocked(false).ok());
}

TEST(TransactionTest, CheckBodyBecomesAViewOfTheRealTopic) {
  Message half("RMQ_SYS_TRANS_HALF_TOPIC", "payload");
  half.tag = "TagA";
  half.keys = {"order-7"};
  half.properties = {{"REAL_TOPIC", "Orders"}, {"REAL_QID", "3"}, {"TRAN_MSG", "true"}, {"PGROUP", "pg"}};
  std::string body;
  AppendMessageRecord(half, "UNIQ1", 0, 1234, &body);
  v1::CheckTransactionRequest request;
  request.set_producer_group("pg");
  request.set_transaction_id("TX1");
  request.add_half_physical_offsets(42);
  request.set_topic("Orders");
  auto view = CheckedMessageView(request, body, "127.0.0.1:10911");
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  EXPECT_EQ(view->topic, "Orders");
  EXPECT_EQ(view->queue_id, 3);
  EXPECT_EQ(view->msg_id, "UNIQ1");
  EXPECT_EQ(view->body, "payload");
  EXPECT_EQ(view->tag, "TagA");
  EXPECT_EQ(view->keys, std::vector<std::string>{"order-7"});
  EXPECT_EQ(view->properties.at("__transactionId__"), "TX1");  // filled in: the record lacked it
  EXPECT_EQ(view->broker_addr, "127.0.0.1:10911");

  // The record's own transaction id is kept.
  half.properties["__transactionId__"] = "TXREC";
  body.clear();
  AppendMessageRecord(half, "UNIQ2", 0, 1234, &body);
  view = CheckedMessageView(request, body, "127.0.0.1:10911");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->properties.at("__transactionId__"), "TXREC");

  EXPECT_FALSE(CheckedMessageView(request, "", "127.0.0.1:10911").ok());
  EXPECT_FALSE(CheckedMessageView(request, std::string(40, 'x'), "127.0.0.1:10911").ok());
}

TEST(TransactionTest, EndTransactionRequestAndOutcomes) {
  auto header = MakeEndTransaction("pg", "TX1", {7, 9}, TransactionResolution::kRollback, true, false);
  EXPECT_EQ(header.code(), v1::END_TRANSACTION);
  const auto& r = header.end_transaction_request();
  EXPECT_EQ(r.producer_group(), "pg");
  EXPECT_EQ(r.transaction_id(), "TX1");
  ASSERT_EQ(r.half_physical_offsets_size(), 2);
  EXPECT_EQ(r.half_physical_offsets(1), 9);
  EXPECT_EQ(r.resolution(), v1::TX_ROLLBACK);
  EXPECT_TRUE(r.from_check());
  EXPECT_FALSE(r.by_operator());
  EXPECT_EQ(ToWire(TransactionResolution::kCommit), v1::TX_COMMIT);
  EXPECT_EQ(ToWire(TransactionResolution::kUnknown), v1::TX_UNKNOWN);

  auto answer = [](v1::EndTransactionOutcome outcome) -> Result<net::Frame> {
    net::Frame frame;
    frame.header.mutable_end_transaction_response()->set_outcome(outcome);
    return frame;
  };
  EXPECT_TRUE(EndTransactionOutcome(answer(v1::TX_END_COMMITTED), true, "TX1", "a:1").ok());
  EXPECT_TRUE(EndTransactionOutcome(answer(v1::TX_END_ALREADY_COMMITTED), true, "TX1", "a:1").ok());
  EXPECT_TRUE(EndTransactionOutcome(answer(v1::TX_END_ROLLED_BACK), false, "TX1", "a:1").ok());
  EXPECT_TRUE(EndTransactionOutcome(answer(v1::TX_END_ALREADY_ROLLED_BACK), false, "TX1", "a:1").ok());
  EXPECT_EQ(EndTransactionOutcome(answer(v1::TX_END_ALREADY_ROLLED_BACK), true, "TX1", "a:1").code(),
            vela::StatusCode::kFailedPrecondition);
  EXPECT_EQ(EndTransactionOutcome(answer(v1::TX_END_COMMITTED), false, "TX1", "a:1").code(),
            vela::StatusCode::kFailedPrecondition);
  EXPECT_EQ(EndTransactionOutcome(answer(v1::TX_END_LEFT_PENDING), true, "TX1", "a:1").code(),
            vela::StatusCode::kInternal);
  auto refused = EndTransactionOutcome(
      Result<net::Frame>(vela::Status::FailedPrecondition("already rolled back; this commit changes nothing")), true,
      "TX1", "a:1");
  EXPECT_EQ(refused.code(), vela::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.message().find("already rolled back"), std::string_view::npos);
}

TEST(TransactionTest, BuilderRequiresGroupAndChecker) {
  auto checker = [](const MessageView&) { return TransactionResolution::kUnknown; };
  auto no_group = TransactionProducerBuilder().SetNamesrvAddr("127.0.0.1:1").SetChecker(checker).Build();
  ASSERT_FALSE(no_group.ok());
  EXPECT_EQ(no_group.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(no_group.status().message().find("producer group"), std::string::npos);
  auto no_checker = TransactionProducerBuilder().SetNamesrvAddr("127.0.0.1:1").SetGroup("pg").Build();
  ASSERT_FALSE(no_checker.ok());
  EXPECT_NE(no_checker.status().message().find("TransactionChecker"), std::string::npos);
}

TEST(TransactionTest, ProducerRefusesWithoutReachingABroker) {
  auto checker = [](const MessageView&) { return TransactionResolution::kUnknown; };
  // Port 1: nothing listens, the heartbeat's cluster lookup fails and is only logged.
  auto producer = TransactionProducerBuilder()
                      .SetNamesrvAddr("127.0.0.1:1")
                      .SetGroup("pg")
                      .SetChecker(checker)
                      .SetLogLevel("off")
                      .Build();
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  EXPECT_EQ((*producer)->producer_group(), "pg");
  auto transaction = (*producer)->BeginTransaction();
  EXPECT_EQ(transaction->id(), "");
  EXPECT_EQ(transaction->Commit().code(), StatusCode::kFailedPrecondition);  // no message
  Message m("Orders", "body");
  m.properties["TRAN_MSG"] = "true";
  EXPECT_EQ((*producer)->Send(m, *transaction).status().code(), StatusCode::kInvalidArgument);
  m.properties.clear();
  m.delay_level = 2;
  EXPECT_EQ((*producer)->Send(m, *transaction).status().code(), StatusCode::kInvalidArgument);
  auto executor = [](const Message&, const SendReceipt&) { return TransactionResolution::kCommit; };
  EXPECT_EQ((*producer)->SendInTransaction(m, executor).status().code(), StatusCode::kInvalidArgument);

  // A transaction of another producer is refused.
  auto other = TransactionProducerBuilder().SetNamesrvAddr("127.0.0.1:1").SetGroup("pg").SetChecker(checker).Build();
  ASSERT_TRUE(other.ok());
  auto foreign = (*other)->BeginTransaction();
  m.delay_level = 0;
  auto refused = (*producer)->Send(m, *foreign);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("another"), std::string::npos);

  (*producer)->Shutdown();
  EXPECT_EQ((*producer)->Send(m, *transaction).status().code(), StatusCode::kFailedPrecondition);
  (*other)->Shutdown();
}

}  // namespace
}  // namespace vela::client
