// Timer messages end to end (issue 11): real name server and broker processes, the SDK and the
// CLI. Each delivery is checked against the due time the broker put in the receipt: never early,
// exactly once in the topic (one queue offset per message id), whatever kills the broker.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cluster.h"
#include "delivery_log.h"
#include "vela/consumer.h"
#include "vela/producer.h"

namespace vela::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;


std::unique_ptr<client::Producer> Produce(const std::string& ns) {
  auto p = client::ProducerBuilder().SetNamesrvAddr(ns).SetGroup("timer-producers").Build();
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? std::move(p).value() : nullptr;
}

// Sends `messages` asynchronously and returns id -> due time from the receipts.
std::map<std::string, int64_t> SendAll(client::Producer& producer, const std::vector<client::Message>& messages) {
  std::mutex mu;
  std::map<std::string, int64_t> due;
  std::atomic<size_t> done{0};
  std::atomic<size_t> failed{0};
  for (const auto& m : messages) {
    producer.SendAsync(m, [&](const client::Status& st, const client::SendReceipt& r) {
      if (st.ok()) {
        std::lock_guard lock(mu);
        due[r.msg_id] = r.deliver_at_ms;
      } else {
        ++failed;
      }
      ++done;
    });
  }
  const auto deadline = Clock::now() + 60s;
  while (done.load() < messages.size() && Clock::now() < deadline) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(failed.load(), 0u);
  std::lock_guard lock(mu);
  return due;
}

// Every acknowledged timer delivered exactly once (one stored place), never before its due time.
void ExpectEachOnceNeverEarly(const std::map<std::string, int64_t>& due, const Deliveries& got,
                              const std::string& what) {
  auto seen = got.snapshot();
  std::vector<int64_t> lateness;
  size_t missing = 0, twice = 0, early = 0;
  for (const auto& [id, due_ms] : due) {
    auto it = seen.find(id);
    if (it == seen.end()) {
      ++missing;
      continue;
    }
    if (it->second.places.size() != 1) ++twice;
    if (due_ms > 0 && (it->second.store_ms < due_ms || it->second.received_ms < due_ms)) ++early;
    if (due_ms > 0) lateness.push_back(it->second.received_ms - due_ms);
  }
  EXPECT_EQ(missing, 0u) << what;
  EXPECT_EQ(twice, 0u) << what << ": published twice";
  EXPECT_EQ(early, 0u) << what << ": delivered early";
  if (!lateness.empty()) {
    std::sort(lateness.begin(), lateness.end());
    auto at = [&](double q) { return lateness[static_cast<size_t>(q * static_cast<double>(lateness.size() - 1))]; };
    std::cout << what << ": " << lateness.size() << " timers, lateness (receive - due) p50 " << at(0.5) << " ms, p99 "
              << at(0.99) << " ms, max " << lateness.back() << " ms (includes the consumer's pull round trip)\n";
  }
}

class TimerTest : public ::testing::Test {
 protected:
  std::string Start(const std::vector<std::string>& sets = {}) {
    cluster_.StartNamesrv();
    cluster_.StartBroker("broker-a", sets);
    if (!cluster_.WaitForBrokers(1)) return "";
    cluster_.CreateTopic("orders", 4);
    return cluster_.namesrv_addrs();
  }
  TestCluster cluster_;
};

TEST_F(TimerTest, TwentyThousandTimersEachOnceNeverEarly) {
  const std::string ns = Start();
  ASSERT_FALSE(ns.empty());
  Deliveries got;
  auto consumer = Consume(ns, "timer-group", {"orders"}, got);
  auto producer = Produce(ns);
  std::mt19937_64 rng(11);
  std::vector<client::Message> messages;
  for (int i = 0; i < 20000; ++i) {
    client::Message m("orders", "timer-" + std::to_string(i));
    m.delay_ms = static_cast<int64_t>(rng() % 20001);
    messages.push_back(std::move(m));
  }
  for (int level = 1; level <= 3; ++level) {
    for (int i = 0; i < 100; ++i) {
      client::Message m("orders", "level-" + std::to_string(level) + "-" + std::to_string(i));
      m.delay_level = level;
      messages.push_back(std::move(m));
    }
  }
  auto due = SendAll(*producer, messages);
  ASSERT_EQ(due.size(), messages.size());
  EXPECT_TRUE(got.WaitFor(due.size(), 60s)) << got.distinct() << " of " << due.size();
  std::this_thread::sleep_for(1s);  // anything published twice shows up by now
  ExpectEachOnceNeverEarly(due, got, "20,000 random timers + levels 1-3");
}

TEST_F(TimerTest, KilledThreeTimesWithTimersPendingDeliversEachOnceNeverEarly) {
  const std::string ns = Start();
  ASSERT_FALSE(ns.empty());
  auto producer = Produce(ns);
  std::mt19937_64 rng(7);
  std::vector<client::Message> messages;
  for (int i = 0; i < 5000; ++i) {
    client::Message m("orders", "k-" + std::to_string(i));
    m.delay_ms = 500 + static_cast<int64_t>(rng() % 12000);
    messages.push_back(std::move(m));
  }
  auto due = SendAll(*producer, messages);
  ASSERT_EQ(due.size(), messages.size());
  producer->Shutdown();
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(1500ms);
    cluster_.broker("broker-a").Kill();
    std::this_thread::sleep_for(1s);  // some fall due while it is down
    ASSERT_FALSE(cluster_.RestartBroker("broker-a").empty()) << "round " << round;
  }
  Deliveries got;
  auto consumer = Consume(ns, "after-kills", {"orders"}, got);
  EXPECT_TRUE(got.WaitFor(due.size(), 60s)) << got.distinct() << " of " << due.size();
  std::this_thread::sleep_for(1s);
  ExpectEachOnceNeverEarly(due, got, "5,000 timers through three SIGKILLs");
}

// Segments of 4 MiB, retention of six seconds: the timers' first segment is deleted while they
// are pending (they were rolled forward), and they are still delivered.
TEST_F(TimerTest, TimersOutliveTheRetentionOfTheirSegment) {
  const std::string ns = Start({"mappedFileSizeCommitLog=4m", "maxMessageSize=256k", "fileReservedTimeSeconds=6",
                               "timerRollAfterSec=2"});
  ASSERT_FALSE(ns.empty());
  auto producer = Produce(ns);
  std::vector<client::Message> timers;
  for (int i = 0; i < 50; ++i) {
    client::Message m("orders", "late-" + std::to_string(i));
    m.delay_ms = 25000 + i * 10;
    timers.push_back(std::move(m));
  }
  auto due = SendAll(*producer, timers);
  ASSERT_EQ(due.size(), 50u);
  // Fill the log past its first segment with plain messages.
  cluster_.CreateTopic("filler", 1);
  std::vector<client::Message> filler;
  for (int i = 0; i < 200; ++i) filler.emplace_back("filler", std::string(64 * 1024, 'f'));
  ASSERT_EQ(SendAll(*producer, filler).size(), 200u);
  Deliveries got;
  auto consumer = Consume(ns, "late-group", {"orders"}, got);
  const std::string first_segment = cluster_.StoreDir("broker-a") + "/commitlog/00000000000000000000";
  const auto deadline = Clock::now() + 20s;
  while (std::filesystem::exists(first_segment) && Clock::now() < deadline) std::this_thread::sleep_for(200ms);
  EXPECT_FALSE(std::filesystem::exists(first_segment)) << "retention never deleted the first segment";
  EXPECT_EQ(got.distinct(), 0u) << "delivered before the due time";
  EXPECT_TRUE(got.WaitFor(50, 60s)) << got.distinct();
  ExpectEachOnceNeverEarly(due, got, "timers past their segment's retention");
}

TEST_F(TimerTest, CliRecallHorizonGarbageAndSystemTopicGetClearAnswers) {
  const std::string ns = Start();
  ASSERT_FALSE(ns.empty());
  // A ten-minute delay is not consumed now.
  auto sent = cluster_.Admin({"send", "--topic", "orders", "--body", "in ten minutes", "--delay-ms", "600000", "--json"});
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  auto receipt = nlohmann::json::parse(sent.out);
  ASSERT_TRUE(receipt.contains("recall_handle")) << sent.out;
  EXPECT_GE(receipt["deliver_at_ms"].get<int64_t>(), NowMs() + 590000);
  auto consumed = cluster_.Admin({"consume", "--topic", "orders", "--group", "g-now", "--timeout", "2", "--json"});
  EXPECT_EQ(consumed.out.find("in ten minutes"), std::string::npos) << consumed.out;

  auto status = cluster_.Admin({"timer", "status", "--json"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_EQ(nlohmann::json::parse(status.out)["pending"].get<int64_t>(), 1) << status.out;

  const std::string handle = receipt["recall_handle"].get<std::string>();
  auto recalled = cluster_.Admin({"message", "recall", "--topic", "orders", "--handle", handle});
  EXPECT_EQ(recalled.exit_code, 0) << recalled.err;
  EXPECT_NE(recalled.out.find("recalled"), std::string::npos) << recalled.out;
  auto twice = cluster_.Admin({"message", "recall", "--topic", "orders", "--handle", handle});
  EXPECT_EQ(twice.exit_code, 0) << twice.err;
  EXPECT_NE(twice.out.find("already recalled"), std::string::npos) << twice.out;

  // Recall after delivery: exit 1, and says so.
  auto soon = cluster_.Admin({"send", "--topic", "orders", "--body", "soon", "--delay-ms", "300", "--json"});
  ASSERT_EQ(soon.exit_code, 0) << soon.err;
  auto got_soon = cluster_.Admin({"consume", "--topic", "orders", "--group", "g-soon", "--count", "1", "--timeout", "10"});
  EXPECT_NE(got_soon.out.find("soon"), std::string::npos) << got_soon.out;
  auto too_late = cluster_.Admin({"message", "recall", "--topic", "orders", "--handle",
                                  nlohmann::json::parse(soon.out)["recall_handle"].get<std::string>()});
  EXPECT_EQ(too_late.exit_code, 1);
  EXPECT_NE(too_late.err.find("already delivered"), std::string::npos) << too_late.err;
  auto bogus = cluster_.Admin({"message", "recall", "--topic", "orders", "--handle", "not-a-handle"});
  EXPECT_EQ(bogus.exit_code, 1);
  EXPECT_NE(bogus.err.find("recall handle"), std::string::npos) << bogus.err;

  // Beyond the horizon (one year), garbage values, a level that does not exist: refused by name.
  struct Bad {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Bad> bad = {
      {{"--delay-ms", std::to_string(400LL * 24 * 3600 * 1000)}, "horizon"},
      {{"--prop", "TIMER_DELAY_MS=abc"}, "TIMER_DELAY_MS"},
      {{"--prop", "TIMER_DELIVER_MS=-5"}, "TIMER_DELIVER_MS"},
      {{"--prop", "TIMER_DELAY_SEC=1.5"}, "TIMER_DELAY_SEC"},
      {{"--prop", "DELAY=99"}, "delay level 99"},
      {{"--delay-level", "19"}, "delay level 19"},
      {{"--prop", "TIMER_DELAY_MS=10", "--prop", "DELAY=1"}, "only one"},
  };
  for (const auto& b : bad) {
    std::vector<std::string> args = {"send", "--topic", "orders", "--body", "x"};
    args.insert(args.end(), b.args.begin(), b.args.end());
    auto r = cluster_.Admin(args);
    EXPECT_EQ(r.exit_code, 1) << b.says;
    EXPECT_NE(r.err.find(b.says), std::string::npos) << r.err;
  }
  // A time in the past is delivered at once.
  auto past = cluster_.Admin({"send", "--topic", "orders", "--body", "from the past", "--deliver-at", "1000"});
  EXPECT_EQ(past.exit_code, 0) << past.err;
  auto got_past = cluster_.Admin({"consume", "--topic", "orders", "--group", "g-past", "--count", "2", "--timeout", "5"});
  EXPECT_NE(got_past.out.find("from the past"), std::string::npos) << got_past.out;
  // The timer topic is not a client's to send to, and is hidden from topic list.
  auto direct = cluster_.Admin({"send", "--topic", "rmq_sys_wheel_timer", "--body", "x"});
  EXPECT_EQ(direct.exit_code, 1);
  EXPECT_NE(direct.err.find("reserved"), std::string::npos) << direct.err;
  // The broker served everyone meanwhile.
  auto plain = cluster_.Admin({"send", "--topic", "orders", "--body", "plain"});
  EXPECT_EQ(plain.exit_code, 0) << plain.err;
}

}  // namespace
}  // namespace vela::testing
