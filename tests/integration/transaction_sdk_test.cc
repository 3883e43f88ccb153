// Transactional messages through the SDK and the CLI against real processes (issue 12, client
// side): one-message transactions committed and rolled back, the SDK's refusals, and
// `vela-admin send --transaction`. Multi-message transactions and check-backs need the broker side.
#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cluster.h"
#include "vela/consumer.h"
#include "vela/transaction.h"

namespace vela::testing {
namespace {

using namespace std::chrono_literals;

class ReceivedTransactions {
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

  ReceivedTransactions received;
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

// SendInTransactionAsync, with synchronous transactions of other threads beside it: their
// commits and rollbacks travel together (END_TRANSACTION_BATCH); consumers get every committed
// message once and no rolled-back one; bad calls are refused through the callback.
TEST(TransactionSdkTest, AsyncTransactionsCommitAndRollBackBesideSyncOnes) {
  TestCluster cluster;
  const std::string ns = cluster.StartNamesrv();
  cluster.StartBroker("broker-a");
  ASSERT_TRUE(cluster.WaitForBrokers(1));
  cluster.CreateTopic("TxAsync", 4);
  auto producer = client::TransactionProducerBuilder()
                      .SetNamesrvAddr(ns)
                      .SetGroup("tx_async_group")
                      .SetChecker([](const client::MessageView&) { return client::TransactionResolution::kRollback; })
                      .SetTopics({"TxAsync"})
                      .Build();
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();

  constexpr int kAsync = 2000;
  constexpr int kSyncThreads = 4;
  constexpr int kSyncEach = 50;
  std::mutex mu;
  std::condition_variable done_cv;
  int done = 0;
  std::set<std::string> committed, rolled_back;
  std::string first_error;
  auto executor = [](const client::Message& m, const client::SendReceipt& r) {
    // The async form hands over the message as sent (with its transaction properties).
    if (m.body.rfind("async", 0) == 0) {
      EXPECT_EQ(m.properties.count("TRAN_MSG"), 1u);
    }
    EXPECT_EQ(r.transaction_id, r.msg_id);
    return m.body.back() == 'c' ? client::TransactionResolution::kCommit : client::TransactionResolution::kRollback;
  };
  for (int i = 0; i < kAsync; ++i) {
    const bool commit = i % 2 == 0;
    (*producer)->SendInTransactionAsync(
        client::Message("TxAsync", fmt::format("async {} {}", i, commit ? 'c' : 'r')), executor,
        [&, commit](const client::Status& status, const client::SendReceipt& receipt) {
          std::lock_guard lock(mu);
          if (!status.ok()) {
            if (first_error.empty()) first_error = status.ToString();
          } else {
            EXPECT_EQ(receipt.transaction_id, receipt.msg_id);
            (commit ? committed : rolled_back).insert(receipt.msg_id);
          }
          ++done;
          done_cv.notify_all();
        });
  }
  std::vector<std::thread> sync_threads;
  for (int t = 0; t < kSyncThreads; ++t) {
    sync_threads.emplace_back([&, t] {
      for (int i = 0; i < kSyncEach; ++i) {
        const bool commit = (t + i) % 2 == 0;
        auto r = (*producer)->SendInTransaction(
            client::Message("TxAsync", fmt::format("sync {} {} {}", t, i, commit ? 'c' : 'r')), executor);
        std::lock_guard lock(mu);
        if (!r.ok()) {
          if (first_error.empty()) first_error = r.status().ToString();
        } else {
          (commit ? committed : rolled_back).insert(r->msg_id);
        }
      }
    });
  }
  for (auto& t : sync_threads) t.join();
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(done_cv.wait_for(lock, 60s, [&] { return done == kAsync; })) << done << " of " << kAsync;
    ASSERT_TRUE(first_error.empty()) << first_error;
  }
  ASSERT_EQ(committed.size() + rolled_back.size(), static_cast<size_t>(kAsync + kSyncThreads * kSyncEach));

  // Refused through the callback, never thrown or dropped.
  std::promise<client::Status> timer_refused, no_executor;
  client::Message timer("TxAsync", "a timer");
  timer.delay_ms = 1000;
  (*producer)->SendInTransactionAsync(timer, executor, [&](const client::Status& s, const client::SendReceipt&) {
    timer_refused.set_value(s);
  });
  (*producer)->SendInTransactionAsync(
      client::Message("TxAsync", "x"), nullptr,
      [&](const client::Status& s, const client::SendReceipt&) { no_executor.set_value(s); });
  EXPECT_EQ(timer_refused.get_future().get().code(), client::StatusCode::kInvalidArgument);
  EXPECT_EQ(no_executor.get_future().get().code(), client::StatusCode::kInvalidArgument);

  std::map<std::string, int> seen;
  std::mutex seen_mu;
  auto consumer = client::PushConsumerBuilder()
                      .SetNamesrvAddr(ns)
                      .SetGroup("tx_async_consumer")
                      .Subscribe("TxAsync", client::FilterExpression::All())
                      .SetConsumeFrom(client::ConsumeFrom::kFirst)
                      .SetListener([&](const client::MessageView& m) {
                        std::lock_guard lock(seen_mu);
                        ++seen[m.msg_id];
                        return client::ConsumeResult::kSuccess;
                      })
                      .Build();
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(seen_mu);
      if (seen.size() >= committed.size()) break;
    }
    std::this_thread::sleep_for(100ms);
  }
  std::this_thread::sleep_for(500ms);
  (*consumer)->Shutdown();
  std::lock_guard lock(seen_mu);
  EXPECT_EQ(seen.size(), committed.size());
  for (const std::string& id : committed) {
    auto it = seen.find(id);
    ASSERT_TRUE(it != seen.end()) << "committed " << id << " was not delivered";
    EXPECT_EQ(it->second, 1) << id;
  }
  for (const std::string& id : rolled_back) EXPECT_EQ(seen.count(id), 0u) << "rolled back " << id << " was delivered";
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
