// End-to-end messaging through the SDK and the CLI against real name servers and brokers:
// exactly-once delivery to each group when nothing fails, consumers and brokers dying
// mid-stream, name-server failover, and long polling.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cluster.h"
#include "vela/consumer.h"
#include "vela/producer.h"

namespace vela::testing {
namespace {

using namespace std::chrono_literals;
using client::ConsumeResult;
using client::MessageView;

// Everything one consumer group received, thread-safe.
class Received {
 public:
  ConsumeResult Add(const MessageView& m) {
    std::lock_guard lock(mu_);
    ++counts_[m.msg_id];
    ++total_;
    auto seq = m.properties.find("seq");
    std::string expected_body = seq == m.properties.end() ? "" : "body-" + seq->second;
    if (m.body != expected_body) ++corrupt_;
    return ConsumeResult::kSuccess;
  }
  size_t distinct() const {
    std::lock_guard lock(mu_);
    return counts_.size();
  }
  size_t total() const {
    std::lock_guard lock(mu_);
    return total_;
  }
  size_t corrupt() const {
    std::lock_guard lock(mu_);
    return corrupt_;
  }
  bool Has(const std::string& id) const {
    std::lock_guard lock(mu_);
    return counts_.count(id) != 0;
  }
  // Waits until `n` distinct messages arrived; false on timeout.
  bool WaitFor(size_t n, std::chrono::milliseconds timeout) const {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (distinct() >= n) return true;
      std::this_thread::sleep_for(50ms);
    }
    return distinct() >= n;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, int> counts_;
  size_t total_ = 0;
  size_t corrupt_ = 0;
};

std::unique_ptr<client::PushConsumer> MakeConsumer(const std::string& namesrv, const std::string& group,
                                                   const std::string& topic, Received& sink) {
  auto c = client::PushConsumerBuilder()
               .SetNamesrvAddr(namesrv)
               .SetGroup(group)
               .Subscribe(topic, client::FilterExpression::All())
               .SetConsumeFrom(client::ConsumeFrom::kFirst)
               .SetListener([&sink](const MessageView& m) { return sink.Add(m); })
               .Build();
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(c).value() : nullptr;
}

client::Message MakeMessage(const std::string& topic, const std::string& seq) {
  client::Message m(topic, "body-" + seq);
  m.tag = "TagA";
  m.keys = {"k" + seq};
  m.properties["seq"] = seq;
  return m;
}

// Sends `count` messages with sequence numbers prefix-0.. and returns the acknowledged ids.
std::vector<std::string> SendAll(client::Producer& producer, const std::string& topic, const std::string& prefix,
                                 int count) {
  std::vector<std::string> ids;
  for (int i = 0; i < count; ++i) {
    auto r = producer.Send(MakeMessage(topic, prefix + std::to_string(i)));
    if (r.ok()) ids.push_back(r->msg_id);
  }
  return ids;
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

class MessagingTest : public ::testing::Test {
 protected:
  // Starts a name server and broker-a holding `topic` with `queues` queues. Returns the name
  // servers' address list, empty when the broker did not register.
  std::string StartOneBrokerWithTopic(const std::string& topic, int queues) {
    cluster_.StartNamesrv();
    cluster_.StartBroker("broker-a");
    if (!cluster_.WaitForBrokers(1)) return "";
    cluster_.CreateTopic(topic, queues);
    return cluster_.namesrv_addrs();
  }

  TestCluster cluster_;
};

TEST_F(MessagingTest, EveryMessageConsumedOncePerGroupAcrossTwoBrokers) {
  cluster_.StartNamesrv();
  cluster_.StartBroker("broker-a");
  cluster_.StartBroker("broker-b");
  ASSERT_TRUE(cluster_.WaitForBrokers(2));
  cluster_.CreateTopic("orders", 4);
  const std::string ns = cluster_.namesrv_addrs();

  Received group1, group2;
  std::vector<std::unique_ptr<client::PushConsumer>> consumers;
  for (int i = 0; i < 3; ++i) consumers.push_back(MakeConsumer(ns, "g1", "orders", group1));
  consumers.push_back(MakeConsumer(ns, "g2", "orders", group2));
  std::this_thread::sleep_for(3s);  // let the group settle its queue assignment

  std::vector<std::string> ids_a, ids_b;
  auto p1 = MakeProducer(ns, "test-producers");
  auto p2 = MakeProducer(ns, "test-producers");
  std::thread t1([&] { ids_a = SendAll(*p1, "orders", "a", 10000); });
  std::thread t2([&] { ids_b = SendAll(*p2, "orders", "b", 10000); });
  t1.join();
  t2.join();
  ASSERT_EQ(ids_a.size() + ids_b.size(), 20000u);

  EXPECT_TRUE(group1.WaitFor(20000, 60s)) << group1.distinct();
  EXPECT_TRUE(group2.WaitFor(20000, 60s)) << group2.distinct();
  std::this_thread::sleep_for(1s);  // any duplicate would arrive meanwhile
  EXPECT_EQ(group1.total(), 20000u) << "duplicates delivered to g1";
  EXPECT_EQ(group2.total(), 20000u) << "duplicates delivered to g2";
  EXPECT_EQ(group1.corrupt() + group2.corrupt(), 0u);
  for (const auto& id : ids_a) ASSERT_TRUE(group1.Has(id) && group2.Has(id)) << id;
  for (const auto& id : ids_b) ASSERT_TRUE(group1.Has(id) && group2.Has(id)) << id;
  for (auto& c : consumers) c->Shutdown();

  // The committed offsets show no lag.
  auto progress = cluster_.Admin({"group", "progress", "g1", "--json"});
  ASSERT_EQ(progress.exit_code, 0) << progress.err;
  auto j = nlohmann::json::parse(progress.out);
  int64_t lag = 0;
  for (const auto& q : j["queues"]) lag += q["lag"].get<int64_t>();
  EXPECT_EQ(lag, 0) << progress.out;
}

TEST_F(MessagingTest, ConsumerKilledMidStreamLosesNothing) {
  const std::string ns = StartOneBrokerWithTopic("events", 6);
  ASSERT_FALSE(ns.empty());
  auto producer = MakeProducer(ns, "test-producers");
  auto first = SendAll(*producer, "events", "x", 3000);

  // Three consumer processes in one group, printing JSON lines as they consume.
  std::vector<pid_t> pids;
  std::vector<std::string> outs;
  for (int i = 0; i < 3; ++i) {
    outs.push_back(cluster_.dir().str() + "/consumer" + std::to_string(i) + ".jsonl");
    pids.push_back(SpawnToFiles({BinaryPath("vela-admin"), "--namesrv", ns, "consume", "--topic", "events", "--group",
                                 "workers", "--from", "first", "--count", "1000000", "--timeout", "8", "--json"},
                                outs.back(), cluster_.dir().str() + "/consumer" + std::to_string(i) + ".err"));
  }
  std::this_thread::sleep_for(2s);
  kill(pids[0], SIGKILL);  // mid-stream: it has consumed some messages and committed at most a part
  WaitExit(pids[0], 5000);
  auto second = SendAll(*producer, "events", "y", 3000);
  for (size_t i = 1; i < pids.size(); ++i) EXPECT_EQ(WaitExit(pids[i], 90000), 0);

  std::map<std::string, int> seen;
  for (const auto& out : outs) {
    for (const auto& line : ReadLines(out)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_object()) ++seen[j["id"].get<std::string>()];
    }
  }
  size_t duplicates = 0;
  for (const auto& [id, n] : seen) duplicates += static_cast<size_t>(n - 1);
  std::cout << "consumer killed mid-stream: " << seen.size() << " distinct, " << duplicates << " duplicates\n";
  for (const auto* ids : {&first, &second}) {
    for (const auto& id : *ids) ASSERT_TRUE(seen.count(id)) << "lost " << id;
  }
}

// Sends in a loop until told to stop, recording acknowledged ids and errors.
class BackgroundProducer {
 public:
  BackgroundProducer(client::Producer& producer, std::string topic) : producer_(producer), topic_(std::move(topic)) {
    thread_ = std::thread([this] {
      for (int i = 0; !stop_; ++i) {
        auto r = producer_.Send(MakeMessage(topic_, "p" + std::to_string(i)));
        std::lock_guard lock(mu_);
        if (r.ok()) {
          acked_.push_back(r->msg_id);
        } else {
          ++errors_;
        }
      }
    });
  }
  ~BackgroundProducer() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  size_t acked() {
    std::lock_guard lock(mu_);
    return acked_.size();
  }
  std::vector<std::string> acked_ids() {
    std::lock_guard lock(mu_);
    return acked_;
  }
  size_t errors() {
    std::lock_guard lock(mu_);
    return errors_;
  }

 private:
  client::Producer& producer_;
  std::string topic_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::string> acked_;
  size_t errors_ = 0;
  std::thread thread_;
};

void BrokerRestartScenario(TestCluster& cluster, bool hard_kill) {
  cluster.StartNamesrv();
  cluster.StartBroker("broker-a", {"flushDiskType=SYNC_FLUSH"});
  cluster.StartBroker("broker-b", {"flushDiskType=SYNC_FLUSH"});
  ASSERT_TRUE(cluster.WaitForBrokers(2));
  cluster.CreateTopic("payments", 4);
  const std::string ns = cluster.namesrv_addrs();
  auto producer = MakeProducer(ns, "test-producers");
  {
    BackgroundProducer bg(*producer, "payments");
    std::this_thread::sleep_for(1500ms);
    if (hard_kill) {
      cluster.broker("broker-a").Kill();
    } else {
      EXPECT_EQ(cluster.broker("broker-a").Terminate(), 0);
    }
    size_t at_stop = bg.acked();
    std::this_thread::sleep_for(2s);
    EXPECT_GT(bg.acked(), at_stop + 100) << "producer did not carry on through broker-b";
    ASSERT_FALSE(cluster.RestartBroker("broker-a").empty());
    std::this_thread::sleep_for(1500ms);
    bg.Stop();
    std::cout << (hard_kill ? "SIGKILL" : "SIGTERM") << " restart: " << bg.acked() << " acknowledged, " << bg.errors()
              << " failed sends\n";
    // Every acknowledged message is there, read back by a new group from the first offset.
    Received all;
    auto consumer = MakeConsumer(ns, "audit", "payments", all);
    auto acked = bg.acked_ids();
    EXPECT_TRUE(all.WaitFor(acked.size(), 60s)) << all.distinct() << " of " << acked.size();
    for (const auto& id : acked) ASSERT_TRUE(all.Has(id)) << "acknowledged message lost: " << id;
    EXPECT_EQ(all.corrupt(), 0u);
    consumer->Shutdown();
  }
}

TEST_F(MessagingTest, BrokerTerminatedMidStreamUnderSyncFlushLosesNoAcknowledgedMessage) {
  BrokerRestartScenario(cluster_, /*hard_kill=*/false);
}

TEST_F(MessagingTest, BrokerKilledMidStreamUnderSyncFlushLosesNoAcknowledgedMessage) {
  BrokerRestartScenario(cluster_, /*hard_kill=*/true);
}

TEST_F(MessagingTest, ClientsCarryOnWhenOneNameServerDies) {
  cluster_.StartNamesrv();  // and a second one below: the first dies mid-test
  const std::string ns = StartOneBrokerWithTopic("sync", 2);
  ASSERT_FALSE(ns.empty());
  Received got;
  auto consumer = MakeConsumer(ns, "cache", "sync", got);
  auto producer = MakeProducer(ns, "test-producers");
  auto before = SendAll(*producer, "sync", "a", 100);
  cluster_.namesrv(0).Kill();
  auto after = SendAll(*producer, "sync", "b", 100);
  // Clients created after the death find the route through the survivor.
  auto late_producer = MakeProducer(ns, "test-producers");
  auto late = SendAll(*late_producer, "sync", "c", 100);
  EXPECT_EQ(before.size() + after.size() + late.size(), 300u);
  EXPECT_TRUE(got.WaitFor(300, 30s)) << got.distinct();
  Received late_got;
  auto late_consumer = MakeConsumer(ns, "cache2", "sync", late_got);
  EXPECT_TRUE(late_got.WaitFor(300, 30s)) << late_got.distinct();
}

TEST_F(MessagingTest, AsyncSendsShareRequestsAndEachGetsItsOwnReceipt) {
  cluster_.StartNamesrv();
  std::string broker = cluster_.StartBroker("broker-a");
  ASSERT_TRUE(cluster_.WaitForBrokers(1));
  cluster_.CreateTopic("bulk", 4);
  const std::string ns = cluster_.namesrv_addrs();
  auto producer = MakeProducer(ns, "test-producers");
  constexpr int kCount = 5000;
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, client::SendReceipt> receipts;
  int done = 0, failed = 0;
  for (int i = 0; i < kCount; ++i) {
    producer->SendAsync(MakeMessage("bulk", std::to_string(i)),
                        [&](const client::Status& status, const client::SendReceipt& receipt) {
                          std::lock_guard lock(mu);
                          if (status.ok()) {
                            receipts[receipt.msg_id] = receipt;
                          } else {
                            ++failed;
                          }
                          if (++done == kCount) cv.notify_all();
                        });
  }
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 60s, [&] { return done == kCount; }));
  }
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(receipts.size(), static_cast<size_t>(kCount));
  // Offsets per queue are distinct: every message got its own place.
  std::set<std::pair<int, int64_t>> places;
  for (const auto& [id, r] : receipts) places.insert({r.queue_id, r.queue_offset});
  EXPECT_EQ(places.size(), static_cast<size_t>(kCount));
  Received got;
  auto consumer = MakeConsumer(ns, "bulk-readers", "bulk", got);
  EXPECT_TRUE(got.WaitFor(kCount, 30s)) << got.distinct();
  EXPECT_EQ(got.corrupt(), 0u);
  for (const auto& [id, r] : receipts) ASSERT_TRUE(got.Has(id)) << id;
  // The sends shared requests.
  auto status = cluster_.Admin({"broker", "status", broker, "--json"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  auto j = nlohmann::json::parse(status.out);
  EXPECT_LT(std::stoll(j["sendRequests"].get<std::string>()), kCount) << status.out;
}

// Five groups park long polls on the one queue of a topic: each send wakes all five, two answered
// by the appending thread itself and three on their own connections' io threads.
TEST_F(MessagingTest, EveryGroupParkedOnAQueueGetsEveryMessage) {
  const std::string ns = StartOneBrokerWithTopic("fanout", 1);
  ASSERT_FALSE(ns.empty());
  constexpr int kGroups = 5;
  std::vector<std::unique_ptr<Received>> sinks;
  std::vector<std::unique_ptr<client::PushConsumer>> consumers;
  for (int g = 0; g < kGroups; ++g) {
    sinks.push_back(std::make_unique<Received>());
    consumers.push_back(MakeConsumer(ns, "fan-" + std::to_string(g), "fanout", *sinks.back()));
    ASSERT_NE(consumers.back(), nullptr);
  }
  auto producer = MakeProducer(ns, "test-producers");
  ASSERT_NE(producer, nullptr);
  std::this_thread::sleep_for(2s);  // every group's pull is parked now
  const auto ids = SendAll(*producer, "fanout", "f", 30);
  ASSERT_EQ(ids.size(), 30u);
  for (int g = 0; g < kGroups; ++g) {
    EXPECT_TRUE(sinks[g]->WaitFor(ids.size(), 20s)) << "group " << g << " got " << sinks[g]->distinct();
    for (const auto& id : ids) EXPECT_TRUE(sinks[g]->Has(id)) << "group " << g << " misses " << id;
    EXPECT_EQ(sinks[g]->corrupt(), 0u);
  }
  for (auto& c : consumers) c->Shutdown();
}

TEST_F(MessagingTest, LongPollingDeliversAMessageAtOnce) {
  const std::string ns = StartOneBrokerWithTopic("signals", 1);
  ASSERT_FALSE(ns.empty());
  std::mutex mu;
  std::chrono::steady_clock::time_point received;
  std::atomic<bool> got{false};
  auto consumer = client::PushConsumerBuilder()
                      .SetNamesrvAddr(ns)
                      .SetGroup("waiter")
                      .Subscribe("signals")
                      .SetListener([&](const MessageView&) {
                        std::lock_guard lock(mu);
                        received = std::chrono::steady_clock::now();
                        got = true;
                        return ConsumeResult::kSuccess;
                      })
                      .Build();
  ASSERT_TRUE(consumer.ok());
  auto producer = MakeProducer(ns, "test-producers");
  std::this_thread::sleep_for(3s);  // the consumer is now parked in a long poll
  auto sent_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(producer->Send(client::Message("signals", "wake up")).ok());
  auto deadline = sent_at + 5s;
  while (!got && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(got);
  std::lock_guard lock(mu);
  auto delay = std::chrono::duration_cast<std::chrono::milliseconds>(received - sent_at).count();
  EXPECT_LT(delay, 1000) << "delivered after " << delay << " ms";
}

}  // namespace
}  // namespace vela::testing
