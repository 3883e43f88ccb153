// The SDK's side of the check-back against a stand-in broker (one server that also answers as the
// name server): the producer heartbeats every broker of the cluster naming its group, runs its
// checker on a callback thread for each CHECK_TRANSACTION_STATE, and answers with
// END_TRANSACTION{from_check} over the same connection; no answer for another group's check or
// when the checker throws.
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "client/message_codec.h"
#include "net/dispatcher.h"
#include "net/frame_codec.h"
#include "net/server.h"
#include "vela/transaction.h"

namespace vela::client {
namespace {

using namespace std::chrono_literals;

class FakeBroker {
 public:
  FakeBroker() {
    dispatcher_.RegisterProcessor(v1::GET_CLUSTER_INFO, [this](net::RequestContext ctx, net::Frame) {
      v1::Header response;
      auto* broker = response.mutable_cluster_info_response()->add_brokers();
      broker->set_cluster_name("c");
      broker->set_broker_name("broker-a");
      (*broker->mutable_addrs())[0] = address();
      ctx.Reply(vela::Status::OK(), std::move(response));
    });
    dispatcher_.RegisterProcessor(v1::HEARTBEAT, [this](net::RequestContext ctx, net::Frame frame) {
      {
        std::lock_guard lock(mu_);
        for (const auto& p : frame.header.heartbeat_request().producers()) producer_groups_.insert(p.group());
      }
      auto connection = ctx.connection();
      ctx.Reply(vela::Status::OK());
      if (connection && !checks_sent_.exchange(true)) {
        SendCheck(*connection, "other-group", "TXOTHER");
        SendCheck(*connection, "pg", "TXTHROW");
        SendCheck(*connection, "pg", "TX1");
      }
    });
    dispatcher_.RegisterProcessor(v1::END_TRANSACTION, [this](net::RequestContext ctx, net::Frame frame) {
      {
        std::lock_guard lock(mu_);
        answers_.push_back(frame.header.end_transaction_request());
      }
      v1::Header response;
      response.mutable_end_transaction_response()->set_outcome(v1::TX_END_COMMITTED);
      ctx.Reply(vela::Status::OK(), std::move(response));
    });
    dispatcher_.RegisterProcessor(v1::UNREGISTER_CLIENT, [](net::RequestContext, net::Frame) {});
    server_ = std::make_unique<net::Server>(net::ServerOptions{"127.0.0.1:0", 1}, &dispatcher_);
    EXPECT_TRUE(server_->Start().ok());
  }
  ~FakeBroker() { server_->Stop(); }
  std::string address() const { return server_->listen_address(); }

  std::vector<v1::EndTransactionRequest> answers() const {
    std::lock_guard lock(mu_);
    return answers_;
  }
  std::set<std::string> producer_groups() const {
    std::lock_guard lock(mu_);
    return producer_groups_;
  }

 private:
  void SendCheck(net::Connection& connection, const std::string& group, const std::string& txn) {
    v1::Header header;
    header.set_code(v1::CHECK_TRANSACTION_STATE);
    header.set_flags(net::kFlagOneway);
    header.set_request_id(next_id_++);
    auto* check = header.mutable_check_transaction_request();
    check->set_producer_group(group);
    check->set_transaction_id(txn);
    check->add_half_physical_offsets(4096);
    check->add_half_physical_offsets(8192);
    check->set_topic("Orders");
    check->set_check_times(1);
    Message half("RMQ_SYS_TRANS_HALF_TOPIC", "body of " + txn);
    half.properties = {{"REAL_TOPIC", "Orders"}, {"REAL_QID", "2"}, {"TRAN_MSG", "true"}, {"PGROUP", group},
                       {"__transactionId__", txn}};
    std::string body;
    AppendMessageRecord(half, txn, 0, 1, &body);
    connection.SendFrame(std::move(header), net::OutBody(std::move(body)));
  }

  net::Dispatcher dispatcher_;
  std::unique_ptr<net::Server> server_;
  std::atomic<bool> checks_sent_{false};
  std::atomic<uint64_t> next_id_{1000};
  mutable std::mutex mu_;
  std::vector<v1::EndTransactionRequest> answers_;  // GUARDED_BY(mu_)
  std::set<std::string> producer_groups_;           // GUARDED_BY(mu_)
};

TEST(TransactionCheckTest, AnswersChecksOfItsGroupOverTheSameConnection) {
  FakeBroker broker;
  std::mutex mu;
  std::vector<std::string> checked;  // transaction ids the checker saw
  std::vector<std::string> topics;
  std::atomic<bool> on_caller_thread{false};
  const auto caller = std::this_thread::get_id();
  auto producer = TransactionProducerBuilder()
                      .SetNamesrvAddr(broker.address())
                      .SetGroup("pg")
                      .SetLogLevel("off")
                      .SetChecker([&](const MessageView& m) {
                        if (std::this_thread::get_id() == caller) on_caller_thread = true;
                        const std::string id = m.properties.at("__transactionId__");
                        {
                          std::lock_guard lock(mu);
                          checked.push_back(id);
                          topics.push_back(m.topic);
                        }
                        if (id == "TXTHROW") throw std::runtime_error("local store down");
                        return TransactionResolution::kCommit;
                      })
                      .Build();
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  EXPECT_EQ(broker.producer_groups(), std::set<std::string>{"pg"});  // heartbeat at Build, naming the group

  const auto deadline = std::chrono::steady_clock::now() + 20s;
  auto seen = [&] {
    std::lock_guard lock(mu);
    return checked.size();
  };
  while (std::chrono::steady_clock::now() < deadline && (broker.answers().empty() || seen() < 2)) {
    std::this_thread::sleep_for(20ms);
  }
  std::this_thread::sleep_for(200ms);  // room for a wrong extra answer to show up
  auto answers = broker.answers();
  ASSERT_EQ(answers.size(), 1u);
  const auto& a = answers.front();
  EXPECT_EQ(a.producer_group(), "pg");
  EXPECT_EQ(a.transaction_id(), "TX1");
  ASSERT_EQ(a.half_physical_offsets_size(), 2);
  EXPECT_EQ(a.half_physical_offsets(0), 4096);
  EXPECT_EQ(a.half_physical_offsets(1), 8192);
  EXPECT_EQ(a.resolution(), v1::TX_COMMIT);
  EXPECT_TRUE(a.from_check());
  EXPECT_FALSE(a.by_operator());
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(std::set<std::string>(checked.begin(), checked.end()), (std::set<std::string>{"TX1", "TXTHROW"}));
    for (const auto& t : topics) EXPECT_EQ(t, "Orders");
  }
  EXPECT_FALSE(on_caller_thread.load());
  (*producer)->Shutdown();
}

}  // namespace
}  // namespace vela::client
