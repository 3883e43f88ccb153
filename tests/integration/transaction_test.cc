// Transactional messages end to end (issue 12): real name server and broker processes, producers
// as vela-admin processes and through the SDK, consumers through the SDK. What every test holds a
// consumer to: each committed message received once (one stored place), no rolled-back message
// ever, and a transaction's messages all or none.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cluster.h"
#include "delivery_log.h"
#include "common/message_id.h"
#include "common/message_record.h"
#include "net/rpc_client.h"
#include "vela/producer.h"
#include "vela/transaction.h"

namespace vela::testing {
namespace {

using namespace std::chrono_literals;
using client::TransactionResolution;

// The JSON lines a command wrote to `path` so far.
std::vector<nlohmann::json> JsonLines(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] != '{') continue;
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

// What an application decided for each of its transactions, as its database would say: the
// checker answers from it, and the test holds consumers to it.
class Decisions {
 public:
  void Set(const std::string& txn, TransactionResolution r) {
    std::lock_guard lock(mu_);
    by_txn_[txn] = r;
  }
  TransactionResolution Get(const std::string& txn) const {
    std::lock_guard lock(mu_);
    auto it = by_txn_.find(txn);
    return it == by_txn_.end() ? TransactionResolution::kUnknown : it->second;
  }
  client::TransactionChecker Checker() {
    return [this](const client::MessageView& m) {
      auto id = m.properties.find("__transactionId__");
      return Get(id != m.properties.end() ? id->second : m.msg_id);
    };
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, TransactionResolution> by_txn_;
};

class TransactionTest : public ::testing::Test {
 protected:
  // A name server and one broker with quick check-backs; topics t1..t3 and orders.
  std::string Start(std::vector<std::string> sets = {}) {
    for (const char* quick : {"transactionTimeOut=1500", "transactionCheckInterval=500"}) sets.push_back(quick);
    cluster_.StartNamesrv();
    cluster_.StartBroker("broker-a", sets);
    if (!cluster_.WaitForBrokers(1)) return "";
    for (const char* topic : {"orders", "t1", "t2", "t3"}) cluster_.CreateTopic(topic, 4);
    return cluster_.namesrv_addrs();
  }

  std::unique_ptr<client::TransactionProducer> TxProducer(const std::string& ns, const std::string& group,
                                                          client::TransactionChecker checker) {
    auto p = client::TransactionProducerBuilder()
                 .SetNamesrvAddr(ns)
                 .SetGroup(group)
                 .SetChecker(std::move(checker))
                 .SetTopics({"orders", "t1", "t2", "t3"})
                 .Build();
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? std::move(p).value() : nullptr;
  }

  nlohmann::json Status() {
    auto r = cluster_.Admin({"transaction", "status", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    return j.is_discarded() ? nlohmann::json::object() : j;
  }
  // Waits until the broker holds no pending half message.
  bool WaitNothingPending(std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto s = Status();
      if (s.value("pending", -1) == 0) return true;
      std::this_thread::sleep_for(200ms);
    }
    return false;
  }

  // Records the broker holds in `topics` (every queue, from its first offset).
  int64_t Stored(const std::vector<std::string>& topics) {
    int64_t n = 0;
    for (const auto& topic : topics) {
      auto r = cluster_.Admin({"topic", "status", topic, "--json"});
      auto j = nlohmann::json::parse(r.out, nullptr, false);
      if (j.is_discarded()) return -1;
      for (const auto& q : j["queues"]) n += q.value("max_offset", 0) - q.value("min_offset", 0);
    }
    return n;
  }
  // Waits until `got` received every record `topics` hold: a message published twice has shown up.
  bool WaitAllStoredReceived(const Deliveries& got, const std::vector<std::string>& topics) {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < deadline) {
      const int64_t stored = Stored(topics);
      if (stored >= 0 && static_cast<int64_t>(got.places()) >= stored) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }

  TestCluster cluster_;
};

// Every message of `committed` received exactly once, none of `rolled_back`, nothing else.
void ExpectExactly(const Deliveries& got, const std::set<std::string>& committed,
                   const std::set<std::string>& rolled_back) {
  auto seen = got.snapshot();
  size_t missing = 0, twice = 0, leaked = 0, unknown = 0;
  for (const auto& id : committed) {
    auto it = seen.find(id);
    if (it == seen.end()) {
      ++missing;
    } else if (it->second.places.size() != 1) {
      ++twice;
    }
  }
  for (const auto& [id, one] : seen) {
    if (rolled_back.count(id) != 0) {
      ++leaked;
    } else if (committed.count(id) == 0) {
      ++unknown;
    }
  }
  EXPECT_EQ(missing, 0u) << "committed messages never received";
  EXPECT_EQ(twice, 0u) << "committed messages published twice";
  EXPECT_EQ(leaked, 0u) << "rolled-back messages received";
  EXPECT_EQ(unknown, 0u) << "messages nobody sent";
}

TEST_F(TransactionTest, ThreeProducerProcessesCommitRollBackAndOrphanASurvivingCheckerCommitsTheOrphans) {
  const std::string ns = Start();
  ASSERT_FALSE(ns.empty());
  const std::string dir = cluster_.dir().str();
  auto spawn = [&](const std::string& outcome) {
    return SpawnToFiles({BinaryPath("vela-admin"), "--namesrv", ns, "send", "--topic", "orders", "--count", "1000",
                         "--transaction", outcome, "--producer-group", "orders-tx", "--json"},
                        dir + "/" + outcome + ".out", dir + "/" + outcome + ".err");
  };
  const pid_t committer = spawn("commit");
  const pid_t roller = spawn("rollback");
  const pid_t orphaner = spawn("unknown");
  // The third is killed as soon as its last half message is acknowledged.
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (JsonLines(dir + "/unknown.out").size() < 1000 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  ::kill(orphaner, SIGKILL);
  WaitExit(orphaner, 10000);
  EXPECT_EQ(WaitExit(committer, 120000), 0) << ReadFile(dir + "/commit.err");
  EXPECT_EQ(WaitExit(roller, 120000), 0) << ReadFile(dir + "/rollback.err");
  auto ids = [&](const std::string& outcome) {
    std::set<std::string> out;
    for (const auto& j : JsonLines(dir + "/" + outcome + ".out")) out.insert(j.value("id", ""));
    return out;
  };
  std::set<std::string> committed = ids("commit");
  const std::set<std::string> rolled_back = ids("rollback");
  const std::set<std::string> orphans = ids("unknown");
  ASSERT_EQ(committed.size(), 1000u);
  ASSERT_EQ(rolled_back.size(), 1000u);
  ASSERT_EQ(orphans.size(), 1000u);
  committed.insert(orphans.begin(), orphans.end());

  // The surviving producer of the group: its checker commits whatever it is asked about.
  const pid_t checker =
      SpawnToFiles({BinaryPath("vela-admin"), "--namesrv", ns, "transaction", "checker", "--producer-group",
                    "orders-tx", "--answer", "commit", "--timeout", "20"},
                   dir + "/checker.out", dir + "/checker.err");
  Deliveries got;
  auto consumer = Consume(ns, "orders-readers", {"orders"}, got);
  EXPECT_TRUE(got.WaitFor(2000, 90s)) << got.distinct() << " of 2000";
  EXPECT_TRUE(WaitNothingPending(30s));
  EXPECT_TRUE(WaitAllStoredReceived(got, {"orders"}));
  ExpectExactly(got, committed, rolled_back);
  std::set<std::string> checked;
  for (const auto& j : JsonLines(dir + "/checker.out")) checked.insert(j.value("id", ""));
  for (const auto& id : checked) EXPECT_EQ(orphans.count(id), 1u) << "checked a transaction that was resolved: " << id;
  EXPECT_GT(checked.size(), 0u);
  auto status = Status();
  EXPECT_EQ(status.value("committed", 0), 2000);
  EXPECT_EQ(status.value("rolled_back", 0), 1000);
  EXPECT_GE(status.value("checks_sent", 0), 1000);
  ::kill(checker, SIGTERM);
  WaitExit(checker, 30000);
}

// Transactions of one to three messages sent and resolved from four threads while the broker is
// killed three times: after each restart nothing committed is lost or duplicated, nothing rolled
// back appears, and check-backs resolve what the kills left open.
TEST_F(TransactionTest, BrokerKilledThreeTimesWithTransactionsInFlightLosesAndDuplicatesNothing) {
  const std::string ns = Start();
  ASSERT_FALSE(ns.empty());
  Decisions decisions;
  auto producer = TxProducer(ns, "crash-tx", decisions.Checker());
  ASSERT_NE(producer, nullptr);
  std::mutex mu;
  std::set<std::string> committed, rolled_back;  // message ids, by what the application decided
  std::atomic<bool> stop{false};
  std::atomic<int> transactions{0}, failed_ends{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(100 + t);
      for (int i = 0; !stop.load(); ++i) {
        auto txn = producer->BeginTransaction();
        std::vector<std::string> ids;
        bool sent_all = true;
        const int size = 1 + static_cast<int>(rng() % 3);
        for (int m = 0; m < size && sent_all; ++m) {
          client::Message msg(m == 1 ? "t1" : "orders", fmt::format("crash-{}-{}-{}", t, i, m));
          auto r = producer->Send(msg, *txn);
          if (r.ok()) {
            ids.push_back(r->msg_id);
          } else {
            sent_all = false;
          }
        }
        if (ids.empty()) {
          std::this_thread::sleep_for(20ms);  // the broker is down
          continue;
        }
        // The local transaction: commits two in three, and always rolls back after a failed send.
        const TransactionResolution decision =
            sent_all && rng() % 3 != 0 ? TransactionResolution::kCommit : TransactionResolution::kRollback;
        decisions.Set(txn->id(), decision);
        {
          std::lock_guard lock(mu);
          (decision == TransactionResolution::kCommit ? committed : rolled_back).insert(ids.begin(), ids.end());
        }
        const client::Status end = decision == TransactionResolution::kCommit ? txn->Commit() : txn->Rollback();
        if (!end.ok()) ++failed_ends;  // left to the check-back
        ++transactions;
      }
    });
  }
  // Each kill comes once a few hundred transactions were resolved since the last restart, so every
  // round has transactions pending and commits in flight.
  auto wait_progress = [&](int more) {
    const int target = transactions.load() + more;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (transactions.load() < target && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(10ms);
    }
    return transactions.load() >= target;
  };
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(wait_progress(300)) << "round " << round;
    cluster_.broker("broker-a").Kill();
    ASSERT_FALSE(cluster_.RestartBroker("broker-a").empty()) << "round " << round;
  }
  EXPECT_TRUE(wait_progress(300));  // and traffic resumed after the last restart
  stop = true;
  for (auto& t : threads) t.join();
  std::cout << transactions.load() << " transactions, " << failed_ends.load()
            << " commits/rollbacks left to the check-back\n";
  ASSERT_GT(transactions.load(), 100);
  EXPECT_TRUE(WaitNothingPending(60s)) << Status().dump();
  Deliveries got;
  auto consumer = Consume(ns, "crash-readers", {"orders", "t1"}, got);
  EXPECT_TRUE(got.WaitFor(committed.size(), 60s)) << got.distinct() << " of " << committed.size();
  EXPECT_TRUE(WaitAllStoredReceived(got, {"orders", "t1"}));
  ExpectExactly(got, committed, rolled_back);
}

TEST_F(TransactionTest, UnknownAnswersDriveATransactionToTheDiscardTopicAndAnOperatorCommitsIt) {
  const std::string ns = Start({"transactionCheckMax=2"});
  ASSERT_FALSE(ns.empty());
  auto producer = TxProducer(ns, "undecided", [](const client::MessageView&) { return TransactionResolution::kUnknown; });
  ASSERT_NE(producer, nullptr);
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto r = producer->SendInTransaction(client::Message("orders", fmt::format("undecided-{}", i)),
                                         [](const client::Message&, const client::SendReceipt&) {
                                           return TransactionResolution::kUnknown;
                                         });
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ids.push_back(r->transaction_id);
  }
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (Status().value("discarded", 0) < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(200ms);
  }
  auto status = Status();
  ASSERT_EQ(status.value("discarded", 0), 3) << status.dump();
  EXPECT_EQ(status.value("pending", -1), 0);
  EXPECT_GE(status.value("checks_sent", 0), 6);
  auto list = cluster_.Admin({"transaction", "list", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  auto listed = nlohmann::json::parse(list.out);
  ASSERT_EQ(listed["transactions"].size(), 3u) << list.out;
  for (const auto& t : listed["transactions"]) EXPECT_TRUE(t.value("discarded", false)) << t.dump();
  // Logged, with the way out.
  const std::string log = ReadFile(cluster_.broker("broker-a").log_file());
  for (const auto& id : ids) {
    EXPECT_NE(log.find("transaction " + id + " of producer group undecided"), std::string::npos) << id;
  }
  EXPECT_NE(log.find("copied to TRANS_CHECK_MAX_TIME_TOPIC"), std::string::npos);
  // A late producer answer changes nothing; the operator's does.
  auto resolved = cluster_.Admin({"transaction", "resolve", ids[1], "--commit"});
  EXPECT_EQ(resolved.exit_code, 0) << resolved.out << resolved.err;
  auto again = cluster_.Admin({"transaction", "resolve", ids[1], "--rollback"});
  EXPECT_EQ(again.exit_code, 1) << again.out;
  Deliveries got;
  auto consumer = Consume(ns, "undecided-readers", {"orders"}, got);
  EXPECT_TRUE(got.WaitFor(1, 30s));
  EXPECT_TRUE(WaitAllStoredReceived(got, {"orders"}));
  ExpectExactly(got, {ids[1]}, {ids[0], ids[2]});
  EXPECT_EQ(Status().value("discarded", 0), 2);
}

TEST_F(TransactionTest, AThousandFiveMessageTransactionsOverThreeTopicsArriveAllOrNothing) {
  const std::string ns = Start();
  ASSERT_FALSE(ns.empty());
  Decisions decisions;
  auto producer = TxProducer(ns, "multi-tx", decisions.Checker());
  ASSERT_NE(producer, nullptr);
  std::mutex mu;
  std::map<std::string, std::vector<std::string>> members;  // transaction -> message ids
  std::set<std::string> committed, rolled_back;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(7 + t);
      for (int i = t; i < 1000; i += 4) {
        auto txn = producer->BeginTransaction();
        std::vector<std::string> ids;
        for (int m = 0; m < 5; ++m) {
          client::Message msg(fmt::format("t{}", 1 + (i + m) % 3), fmt::format("multi-{}-{}", i, m));
          auto r = producer->Send(msg, *txn);
          ASSERT_TRUE(r.ok()) << r.status().ToString();
          ids.push_back(r->msg_id);
        }
        // Committed, rolled back, or orphaned: decided by the application, never said by the
        // producer (dropped open), so the check-back asks the checker, which reads `decisions`.
        const unsigned pick = rng() % 3;
        const TransactionResolution decision =
            pick == 0 || (pick == 2 && rng() % 2 == 0) ? TransactionResolution::kCommit : TransactionResolution::kRollback;
        decisions.Set(txn->id(), decision);
        {
          std::lock_guard lock(mu);
          members[txn->id()] = ids;
          (decision == TransactionResolution::kCommit ? committed : rolled_back).insert(ids.begin(), ids.end());
        }
        if (pick == 0) {
          ASSERT_TRUE(txn->Commit().ok());
        } else if (pick == 1) {
          ASSERT_TRUE(txn->Rollback().ok());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(members.size(), 1000u);
  EXPECT_TRUE(WaitNothingPending(90s)) << Status().dump();
  Deliveries got;
  auto consumer = Consume(ns, "multi-readers", {"t1", "t2", "t3"}, got);
  EXPECT_TRUE(got.WaitFor(committed.size(), 60s)) << got.distinct() << " of " << committed.size();
  EXPECT_TRUE(WaitAllStoredReceived(got, {"t1", "t2", "t3"}));
  ExpectExactly(got, committed, rolled_back);
  auto seen = got.snapshot();
  size_t partial = 0;
  for (const auto& [txn, ids] : members) {
    size_t n = 0;
    for (const auto& id : ids) n += seen.count(id);
    if (n != 0 && n != ids.size()) ++partial;
  }
  EXPECT_EQ(partial, 0u) << "transactions received in part";
}

TEST_F(TransactionTest, BadTransactionRequestsGetClearStatusesAndTheBrokerKeepsServing) {
  const std::string ns = Start({"transactionMaxMessages=3"});
  ASSERT_FALSE(ns.empty());
  const std::string broker = cluster_.broker("broker-a").address();
  Decisions decisions;
  auto producer = TxProducer(ns, "owner", decisions.Checker());
  ASSERT_NE(producer, nullptr);
  auto txn = producer->BeginTransaction();
  for (int i = 0; i < 3; ++i) {
    auto r = producer->Send(client::Message("orders", fmt::format("bad-{}", i)), *txn);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  // Over transactionMaxMessages: the broker refuses the fourth message.
  auto over = producer->Send(client::Message("orders", "bad-3"), *txn);
  ASSERT_FALSE(over.ok());
  EXPECT_NE(over.status().message().find("transactionMaxMessages"), std::string::npos) << over.status().ToString();

  net::RpcClient rpc;
  // END_TRANSACTION as a producer would send it, naming the half messages by their receipts.
  auto end = [&](const std::string& group, const std::string& id, v1::TransactionResolution resolution,
                 const std::vector<client::SendReceipt>& receipts) {
    v1::Header h;
    h.set_code(v1::END_TRANSACTION);
    auto* req = h.mutable_end_transaction_request();
    req->set_producer_group(group);
    req->set_transaction_id(id);
    for (const auto& r : receipts) {
      auto where = ParseOffsetId(r.offset_id);
      EXPECT_TRUE(where.ok()) << r.offset_id;
      if (where.ok()) req->add_half_physical_offsets(where->physical_offset);
    }
    req->set_resolution(resolution);
    return rpc.InvokeSync(broker, h, {}, 10000);
  };
  // An unknown transaction; another group's; a duplicate; the other way after a commit.
  auto unknown = end("owner", "00000000000000000000000000000000", v1::TX_COMMIT, {});
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound) << unknown.status().ToString();
  auto stranger = end("stranger", txn->id(), v1::TX_COMMIT, txn->receipts());
  EXPECT_EQ(stranger.status().code(), StatusCode::kPermissionDenied) << stranger.status().ToString();
  EXPECT_NE(stranger.status().message().find("belongs to producer group owner"), std::string::npos);
  ASSERT_TRUE(txn->Commit().ok());
  auto duplicate = end("owner", txn->id(), v1::TX_COMMIT, txn->receipts());
  ASSERT_TRUE(duplicate.ok()) << duplicate.status().ToString();
  EXPECT_EQ(duplicate->header.end_transaction_response().outcome(), v1::TX_END_ALREADY_COMMITTED);
  auto reverse = end("owner", txn->id(), v1::TX_ROLLBACK, txn->receipts());
  EXPECT_EQ(reverse.status().code(), StatusCode::kFailedPrecondition) << reverse.status().ToString();
  EXPECT_NE(reverse.status().message().find("already committed"), std::string::npos);
  // A client sending straight to a transaction system topic.
  auto plain = client::ProducerBuilder().SetNamesrvAddr(ns).SetGroup("plain").Build();
  ASSERT_TRUE(plain.ok());
  for (const char* system : {"RMQ_SYS_TRANS_HALF_TOPIC", "RMQ_SYS_TRANS_OP_HALF_TOPIC", "TRANS_CHECK_MAX_TIME_TOPIC"}) {
    v1::Header h;
    h.set_code(v1::SEND_MESSAGE);
    h.mutable_send_request()->set_topic(system);
    h.mutable_send_request()->set_queue_id(0);
    h.mutable_send_request()->set_message_count(1);
    RecordFields f;
    f.topic = system;
    const std::string id = NewMessageId();
    f.msg_id = id;
    f.body = "sneaky";
    std::string raw;
    EncodeRecord(f, &raw);
    auto sent = rpc.InvokeSync(broker, h, net::OutBody(raw), 10000);
    EXPECT_EQ(sent.status().code(), StatusCode::kPermissionDenied) << system << ": " << sent.status().ToString();
  }
  // Still serving everyone else.
  ASSERT_TRUE((*plain)->Send(client::Message("orders", "still here")).ok());
  Deliveries got;
  auto consumer = Consume(ns, "bad-readers", {"orders"}, got);
  EXPECT_TRUE(got.WaitFor(4, 30s));
  std::set<std::string> expected;
  for (const auto& r : txn->receipts()) expected.insert(r.msg_id);
  EXPECT_EQ(got.distinct(), 4u);
  for (const auto& id : expected) EXPECT_EQ(got.snapshot().count(id), 1u);
}

}  // namespace
}  // namespace vela::testing
