// Transactional messages through the SDK and the CLI against real processes (issue 12, client
// side): one-message transactions committed and rolled back, the SDK's refusals, and
// `vela-admin send --transaction`. Multi-message transactions and check-backs need the broker side.
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cluster.h"
#include "vela/consumer.h"
#include "vela/transaction.h"

namespace vela::testing {
namespace {

using namespace std::chrono_literals;

class Received {
 public:
  client::ConsumeResult Add(const client::MessageView& m) {
    std::lock_guard lock(mu_);
    ids_.insert(m.msg_id);
    if (m.properties.count("TRAN_MSG") != 0 && m.properties.at("TRAN_MSG") == "true") saw_tran_msg_ = true;
    return client::ConsumeResult::kSuccess;
  }
  bool Has(const std::string& id) const {
    std::lock_guard lock(mu_);
    return ids_.count(id) != 0;
  }
  bool WaitFor(const std::string& id, std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline && !Has(id)) std::this_thread::sleep_for(50ms);
    return Has(id);
  }
  bool saw_tran_msg() const {
    std::lock_guard lock(mu_);
    return saw_tran_msg_;
  }

 private:
  mutable std::mutex mu_;
  std::set<std::string> ids_;
  bool saw_tran_msg_ = false;
};

TEST(TransactionSdkTest, CommitPublishesRollbackDropsAndRepeatsAreRefused) {
  TestCluster cluster;
  const std::string ns = cluster.StartNamesrv();
  cluster.StartBroker("broker-a");
  ASSERT_TRUE(cluster.WaitForBrokers(1));
  cluster.CreateTopic("TxOrders", 4);

  auto producer = client::TransactionProducerBuilder()
                      .SetNamesrvAddr(ns)
                      .SetGroup("tx_it_group")
                      .SetChecker([](const client::MessageView&) { return client::TransactionResolution::kUnknown; })
                      .SetTopics({"TxOrders"})
                      .Build();
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();

  // Rolled back first: never published.
  auto rolled = (*producer)->SendInTransaction(
      client::Message("TxOrders", "rolled back"),
      [](const client::Message&, const client::SendReceipt&) { return client::TransactionResolution::kRollback; });
  ASSERT_TRUE(rolled.ok()) << rolled.status().ToString();
  EXPECT_EQ(rolled->transaction_id, rolled->msg_id);

  auto tx = (*producer)->BeginTransaction();
  EXPECT_TRUE(tx->id().empty());
  auto sent = (*producer)->Send(client::Message("TxOrders", "committed"), *tx);
  ASSERT_TRUE(sent.ok()) << sent.status().ToString();
  EXPECT_EQ(tx->id(), sent->msg_id);
  EXPECT_EQ(sent->transaction_id, sent->msg_id);
  EXPECT_FALSE(tx->broker_addr().empty());
  ASSERT_EQ(tx->receipts().size(), 1u);
  auto committed = tx->Commit();
  ASSERT_TRUE(committed.ok()) << committed.ToString();

  // Repeats and late sends are refused.
  EXPECT_EQ(tx->Commit().code(), client::StatusCode::kFailedPrecondition);
  EXPECT_EQ(tx->Rollback().code(), client::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*producer)->Send(client::Message("TxOrders", "late"), *tx).status().code(),
            client::StatusCode::kFailedPrecondition);

  Received received;
  auto consumer = client::PushConsumerBuilder()
                      .SetNamesrvAddr(ns)
                      .SetGroup("tx_it_consumer")
                      .Subscribe("TxOrders", client::FilterExpression::All())
                      .SetConsumeFrom(client::ConsumeFrom::kFirst)
                      .SetListener([&received](const client::MessageView& m) { return received.Add(m); })
                      .Build();
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  EXPECT_TRUE(received.WaitFor(sent->msg_id, 30000ms)) << "the committed message was not delivered";
  std::this_thread::sleep_for(500ms);
  EXPECT_FALSE(received.Has(rolled->msg_id)) << "a rolled-back message was delivered";
  EXPECT_FALSE(received.saw_tran_msg()) << "a published message still carries TRAN_MSG=true";
  (*consumer)->Shutdown();
  (*producer)->Shutdown();
}

TEST(TransactionSdkTest, CliSendsTransactionsAndRefusesBadUsage) {
  TestCluster cluster;
  cluster.StartNamesrv();
  cluster.StartBroker("broker-a");
  ASSERT_TRUE(cluster.WaitForBrokers(1));
  cluster.CreateTopic("TxCli", 2);

  auto commit = cluster.Admin({"send", "--topic", "TxCli", "--body", "x", "--transaction", "commit", "--count", "2",
                               "--json"});
  ASSERT_EQ(commit.exit_code, 0) << commit.err;
  int lines = 0;
  size_t start = 0;
  while (start < commit.out.size()) {
    size_t end = commit.out.find('\n', start);
    if (end == std::string::npos) end = commit.out.size();
    if (end > start) {
      auto doc = nlohmann::json::parse(commit.out.substr(start, end - start));
      EXPECT_EQ(doc.at("transaction_id"), doc.at("id"));
      ++lines;
    }
    start = end + 1;
  }
  EXPECT_EQ(lines, 2);

  auto rollback = cluster.Admin({"send", "--topic", "TxCli", "--transaction", "rollback", "--producer-group", "pg2"});
  EXPECT_EQ(rollback.exit_code, 0) << rollback.err;
  EXPECT_NE(rollback.out.find("rolled back transaction"), std::string::npos) << rollback.out;

  EXPECT_EQ(cluster.Admin({"send", "--topic", "TxCli", "--tx-size", "2"}).exit_code, 2);
  EXPECT_EQ(cluster.Admin({"send", "--topic", "TxCli", "--transaction", "maybe"}).exit_code, 2);
  EXPECT_EQ(cluster.Admin({"send", "--topic", "TxCli", "--transaction", "commit", "--tx-size", "65"}).exit_code, 2);
  EXPECT_EQ(cluster.Admin({"transaction", "resolve", "0123456789ABCDEF0123456789ABCDEF"}).exit_code, 2);
  EXPECT_EQ(cluster.Admin({"transaction", "checker", "--answer", "commit"}).exit_code, 2);
  // A user-set TRAN_MSG on a plain send is still refused.
  auto spoofed = cluster.Admin({"send", "--topic", "TxCli", "--prop", "TRAN_MSG=true"});
  EXPECT_EQ(spoofed.exit_code, 1);
  EXPECT_NE(spoofed.err.find("TransactionProducer"), std::string::npos) << spoofed.err;
}

}  // namespace
}  // namespace vela::testing
