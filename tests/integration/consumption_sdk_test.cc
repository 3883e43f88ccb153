// Issue 13, the SDK's consumption modes against real name servers and brokers:
//  - broadcast: every instance receives every message, keeps its offsets in a local file and
//    resumes from it after a restart; failures are skipped;
//  - retries through %RETRY%<group> and dead letters in %DLQ%<group> (CONSUMER_SEND_BACK);
//  - orderly consumption with broker queue locks while consumers join and leave.
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
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

// Sends `count` messages (property seq = prefix + i); returns the acknowledged ids.
std::vector<std::string> SendAll(client::Producer& producer, const std::string& topic, const std::string& prefix,
                                 int count) {
  std::vector<std::string> ids;
  for (int i = 0; i < count; ++i) {
    client::Message m(topic, "body-" + prefix + std::to_string(i));
    m.properties["seq"] = prefix + std::to_string(i);
    auto r = producer.Send(m);
    if (r.ok()) ids.push_back(r->msg_id);
  }
  return ids;
}

// Everything one consumer received: deliveries per unique id, thread-safe.
class Deliveries {
 public:
  void Add(const MessageView& m, bool ok) {
    std::lock_guard lock(mu_);
    auto& d = by_id_[m.msg_id];
    ++d.deliveries;
    if (ok) {
      ++d.successes;
      d.reconsume_on_success = m.reconsume_times;
    }
    d.topic = m.topic;
    if (m.properties.count("RETRY_TOPIC")) d.saw_retry_topic = true;
  }
  int Deliveries_(const std::string& id) const {
    std::lock_guard lock(mu_);
    auto it = by_id_.find(id);
    return it == by_id_.end() ? 0 : it->second.deliveries;
  }
  size_t SucceededOnce() const {
    std::lock_guard lock(mu_);
    size_t n = 0;
    for (const auto& [id, d] : by_id_) n += d.successes >= 1 ? 1 : 0;
    return n;
  }
  size_t total() const {
    std::lock_guard lock(mu_);
    size_t n = 0;
    for (const auto& [id, d] : by_id_) n += static_cast<size_t>(d.deliveries);
    return n;
  }
  size_t distinct() const {
    std::lock_guard lock(mu_);
    return by_id_.size();
  }
  struct Entry {
    int deliveries = 0;
    int successes = 0;
    int32_t reconsume_on_success = -1;
    std::string topic;
    bool saw_retry_topic = false;
  };
  std::map<std::string, Entry> snapshot() const {
    std::lock_guard lock(mu_);
    return by_id_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, Entry> by_id_;
};

class SdkConsumptionTest : public ::testing::Test {
 protected:
  TestCluster cluster_;
};

std::unique_ptr<client::PushConsumer> BroadcastConsumer(const std::string& ns, const std::string& dir,
                                                        const std::string& instance, Deliveries& sink,
                                                        bool fail_every_tenth = false) {
  client::ClientConfig config;
  config.namesrv_addr = ns;
  config.instance_name = instance;
  client::PushConsumerOptions options;
  options.group = "caches";
  options.model = client::MessageModel::kBroadcasting;
  options.consume_from = client::ConsumeFrom::kFirst;
  options.offset_store_dir = dir;
  options.commit_interval_ms = 500;
  auto c = client::PushConsumerBuilder()
               .SetClientConfig(config)
               .SetOptions(options)
               .Subscribe("prices")
               .SetListener([&sink, fail_every_tenth](const MessageView& m) {
                 const bool fail = fail_every_tenth && m.properties.at("seq").back() == '0';
                 sink.Add(m, !fail);
                 return fail ? ConsumeResult::kFailure : ConsumeResult::kSuccess;
               })
               .Build();
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(c).value() : nullptr;
}

TEST_F(SdkConsumptionTest, BroadcastEveryInstanceReceivesEverythingAndResumesFromLocalOffsets) {
  cluster_.StartNamesrv();
  cluster_.StartBroker("broker-a");
  ASSERT_TRUE(cluster_.WaitForBrokers(1));
  cluster_.CreateTopic("prices", 4);
  const std::string ns = cluster_.namesrv_addrs();
  const std::string dir = cluster_.dir().str() + "/offsets";

  Deliveries d0, d1, d2;
  auto c0 = BroadcastConsumer(ns, dir, "i0", d0, /*fail_every_tenth=*/true);
  auto c1 = BroadcastConsumer(ns, dir, "i1", d1);
  auto c2 = BroadcastConsumer(ns, dir, "i2", d2);
  ASSERT_TRUE(c0 && c1 && c2);
  // A second live instance with the same group and instance name would share the offset file.
  Deliveries unused;
  client::ClientConfig config;
  config.namesrv_addr = ns;
  config.instance_name = "i1";
  client::PushConsumerOptions options;
  options.group = "caches";
  options.model = client::MessageModel::kBroadcasting;
  options.offset_store_dir = dir;
  auto twin = client::PushConsumerBuilder()
                  .SetClientConfig(config)
                  .SetOptions(options)
                  .Subscribe("prices")
                  .SetListener([](const MessageView&) { return ConsumeResult::kSuccess; })
                  .Build();
  ASSERT_FALSE(twin.ok());
  EXPECT_NE(twin.status().message().find("in use"), std::string::npos) << twin.status().message();

  auto producer = MakeProducer(ns, "consumption-producers");
  auto first = SendAll(*producer, "prices", "a", 3000);
  ASSERT_EQ(first.size(), 3000u);
  for (auto* d : {&d0, &d1, &d2}) {
    EXPECT_TRUE(WaitUntil([&] { return d->distinct() >= 3000; }, 60s)) << d->distinct();
  }
  std::this_thread::sleep_for(1s);  // a duplicate (or a retried failure) would arrive meanwhile
  EXPECT_EQ(d0.total(), 3000u) << "broadcast failures must be skipped, not redelivered";
  EXPECT_EQ(d1.total(), 3000u);
  EXPECT_EQ(d2.total(), 3000u);

  // Instance 2 stops (its offsets are written at shutdown), misses 1000 messages, and resumes.
  c2->Shutdown();
  c2.reset();
  EXPECT_TRUE(std::filesystem::exists(dir + "/caches/i2.offsets"));
  auto second = SendAll(*producer, "prices", "b", 1000);
  ASSERT_EQ(second.size(), 1000u);
  Deliveries d2_again;
  auto c2b = BroadcastConsumer(ns, dir, "i2", d2_again);
  ASSERT_TRUE(c2b);
  EXPECT_TRUE(WaitUntil([&] { return d2_again.distinct() >= 1000; }, 60s)) << d2_again.distinct();
  for (auto* d : {&d0, &d1}) {
    EXPECT_TRUE(WaitUntil([&] { return d->distinct() >= 4000; }, 60s)) << d->distinct();
  }
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(d2_again.total(), 1000u) << "the restarted instance received again what it had consumed";
  auto seen = d2_again.snapshot();
  for (const auto& id : second) EXPECT_TRUE(seen.count(id)) << id;
  c0->Shutdown();
  c1->Shutdown();
  c2b->Shutdown();
}

TEST_F(SdkConsumptionTest, FailedMessagesComeBackThroughTheRetryTopic) {
  cluster_.StartNamesrv();
  // Every delay level 1 s, so retries come back quickly.
  std::string levels;
  for (int i = 0; i < 18; ++i) levels += i == 0 ? "1s" : " 1s";
  cluster_.StartBroker("broker-a", {"messageDelayLevel=" + levels});
  ASSERT_TRUE(cluster_.WaitForBrokers(1));
  cluster_.CreateTopic("jobs", 4);
  const std::string ns = cluster_.namesrv_addrs();

  Deliveries seen;
  std::mutex mu;
  std::map<std::string, int> attempts;
  auto consumer = client::PushConsumerBuilder()
                      .SetNamesrvAddr(ns)
                      .SetGroup("workers")
                      .Subscribe("jobs")
                      .SetConsumeFrom(client::ConsumeFrom::kFirst)
                      .SetListener([&](const MessageView& m) {
                        int attempt = 0;
                        {
                          std::lock_guard lock(mu);
                          attempt = ++attempts[m.msg_id];
                        }
                        const bool ok = attempt > 2;  // fails each message twice
                        seen.Add(m, ok);
                        return ok ? ConsumeResult::kSuccess : ConsumeResult::kFailure;
                      })
                      .Build();
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  auto producer = MakeProducer(ns, "consumption-producers");
  auto ids = SendAll(*producer, "jobs", "r", 300);
  ASSERT_EQ(ids.size(), 300u);
  EXPECT_TRUE(WaitUntil([&] { return seen.SucceededOnce() >= 300; }, 120s)) << seen.SucceededOnce();
  std::this_thread::sleep_for(2s);
  auto snapshot = seen.snapshot();
  for (const auto& id : ids) {
    const auto& e = snapshot[id];
    EXPECT_EQ(e.successes, 1) << id;
    EXPECT_EQ(e.deliveries, 3) << id;
    EXPECT_EQ(e.reconsume_on_success, 2) << id;
    EXPECT_EQ(e.topic, "jobs") << id << ": the listener sees the origin topic";
    EXPECT_TRUE(e.saw_retry_topic) << id << " never came back through %RETRY%workers";
  }
  (*consumer)->Shutdown();
}

TEST_F(SdkConsumptionTest, MessagesFailingEveryTimeEndInTheDeadLetterTopic) {
  cluster_.StartNamesrv();
  std::string levels;
  for (int i = 0; i < 18; ++i) levels += i == 0 ? "1s" : " 1s";
  cluster_.StartBroker("broker-a", {"messageDelayLevel=" + levels});
  ASSERT_TRUE(cluster_.WaitForBrokers(1));
  cluster_.CreateTopic("jobs", 2);
  auto created = cluster_.Admin({"group", "create", "doomed", "--max-retries", "2"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string ns = cluster_.namesrv_addrs();

  Deliveries failing;
  auto consumer = client::PushConsumerBuilder()
                      .SetNamesrvAddr(ns)
                      .SetGroup("doomed")
                      .Subscribe("jobs")
                      .SetConsumeFrom(client::ConsumeFrom::kFirst)
                      .SetListener([&](const MessageView& m) {
                        failing.Add(m, false);
                        return ConsumeResult::kFailure;
                      })
                      .Build();
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  auto producer = MakeProducer(ns, "consumption-producers");
  auto ids = SendAll(*producer, "jobs", "d", 100);
  ASSERT_EQ(ids.size(), 100u);

  // The dead letters, read by another group from %DLQ%doomed.
  Deliveries dead;
  std::mutex mu;
  std::map<std::string, std::string> origin;
  auto reader = [&]() -> std::unique_ptr<client::PushConsumer> {
    for (int attempt = 0; attempt < 60; ++attempt) {  // the DLQ topic exists once the first letter arrives
      auto r = client::PushConsumerBuilder()
                   .SetNamesrvAddr(ns)
                   .SetGroup("dlq-reader")
                   .Subscribe("%DLQ%doomed")
                   .SetConsumeFrom(client::ConsumeFrom::kFirst)
                   .SetListener([&](const MessageView& m) {
                     std::lock_guard lock(mu);
                     auto it = m.properties.find("RETRY_TOPIC");
                     origin[m.msg_id] = it == m.properties.end() ? "" : it->second;
                     dead.Add(m, true);
                     return ConsumeResult::kSuccess;
                   })
                   .Build();
      if (r.ok()) return std::move(r).value();
      std::this_thread::sleep_for(1s);
    }
    return nullptr;
  }();
  ASSERT_TRUE(reader);
  EXPECT_TRUE(WaitUntil([&] { return dead.distinct() >= 100; }, 120s)) << dead.distinct();
  std::this_thread::sleep_for(2s);
  for (const auto& id : ids) {
    EXPECT_EQ(failing.Deliveries_(id), 3) << id << ": one delivery and two retries";
    std::lock_guard lock(mu);
    EXPECT_EQ(origin[id], "jobs") << id;
  }
  (*consumer)->Shutdown();
  reader->Shutdown();
}

TEST_F(SdkConsumptionTest, OrderlyKeysStayInOrderWhileConsumersJoinAndLeave) {
  cluster_.StartNamesrv();
  cluster_.StartBroker("broker-a");
  ASSERT_TRUE(cluster_.WaitForBrokers(1));
  cluster_.CreateTopic("registrations", 4);
  const std::string ns = cluster_.namesrv_addrs();

  struct Record {
    std::string consumer;
    int seq;
    int64_t start_ns;
    int64_t end_ns;
    bool ok;
  };
  std::mutex mu;
  std::map<std::string, std::vector<Record>> by_key;
  auto now_ns = [] {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  };
  auto make = [&](const std::string& name) {
    client::PushConsumerOptions options;
    options.group = "registrations-sync";
    options.orderly = true;
    options.consume_from = client::ConsumeFrom::kFirst;
    options.consume_threads = 4;
    options.lock_renew_interval_ms = 2000;
    options.suspend_current_queue_time_ms = 100;
    options.rebalance_interval_ms = 1000;
    client::ClientConfig config;
    config.namesrv_addr = ns;
    config.instance_name = name;
    auto c = client::PushConsumerBuilder()
                 .SetClientConfig(config)
                 .SetOptions(options)
                 .Subscribe("registrations")
                 .SetListener([&, name](const MessageView& m) {
                   Record r{name, std::stoi(m.properties.at("seq")), now_ns(), 0, true};
                   std::this_thread::sleep_for(std::chrono::microseconds(std::hash<std::string>{}(m.msg_id) % 2000));
                   // 5 % of first deliveries fail.
                   r.ok = !(m.reconsume_times == 0 && std::hash<std::string>{}(m.msg_id) % 20 == 0);
                   r.end_ns = now_ns();
                   std::lock_guard lock(mu);
                   by_key[m.properties.at("key")].push_back(r);
                   return r.ok ? ConsumeResult::kSuccess : ConsumeResult::kFailure;
                 })
                 .Build();
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(c).value() : nullptr;
  };
  auto a = make("a");
  auto b = make("b");
  auto producer = MakeProducer(ns, "consumption-producers");
  constexpr int kKeys = 40;
  constexpr int kSeqs = 25;
  std::thread sender([&] {
    for (int seq = 0; seq < kSeqs; ++seq) {
      for (int k = 0; k < kKeys; ++k) {
        client::Message m("registrations", "event");
        m.sharding_key = "user-" + std::to_string(k);
        m.properties["key"] = m.sharding_key;
        m.properties["seq"] = std::to_string(seq);
        EXPECT_TRUE(producer->Send(m).ok());
      }
      std::this_thread::sleep_for(20ms);
    }
  });
  std::this_thread::sleep_for(150ms);
  auto c = make("c");  // joins mid-way
  std::this_thread::sleep_for(150ms);
  a->Shutdown();  // leaves mid-way: finishes, commits and unlocks first
  sender.join();
  auto done = [&] {
    std::lock_guard lock(mu);
    size_t ok = 0;
    for (const auto& [key, records] : by_key) {
      for (const auto& r : records) ok += r.ok ? 1 : 0;
    }
    return ok >= static_cast<size_t>(kKeys * kSeqs);
  };
  EXPECT_TRUE(WaitUntil(done, 120s));
  std::this_thread::sleep_for(2s);
  b->Shutdown();
  c->Shutdown();
  std::lock_guard lock(mu);
  ASSERT_EQ(by_key.size(), static_cast<size_t>(kKeys));
  for (const auto& [key, records] : by_key) {
    std::vector<int> succeeded;
    for (const auto& r : records) {
      if (r.ok) succeeded.push_back(r.seq);
    }
    ASSERT_EQ(succeeded.size(), static_cast<size_t>(kSeqs)) << key;
    for (int i = 0; i < kSeqs; ++i) EXPECT_EQ(succeeded[static_cast<size_t>(i)], i) << key;
    for (size_t i = 0; i < records.size(); ++i) {
      for (size_t j = i + 1; j < records.size(); ++j) {
        const bool overlap = records[i].start_ns < records[j].end_ns && records[j].start_ns < records[i].end_ns;
        EXPECT_FALSE(overlap) << key << ": two deliveries at once, by " << records[i].consumer << " and "
                              << records[j].consumer;
      }
    }
  }
}

std::vector<nlohmann::json> JsonLines(const std::string& out) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
  }
  return lines;
}

TEST_F(SdkConsumptionTest, CliFailEveryRetriesUntilEveryMessageSucceedsOnce) {
  cluster_.StartNamesrv();
  std::string levels;
  for (int i = 0; i < 18; ++i) levels += i == 0 ? "1s" : " 1s";
  cluster_.StartBroker("broker-a", {"messageDelayLevel=" + levels});
  ASSERT_TRUE(cluster_.WaitForBrokers(1));
  cluster_.CreateTopic("cli-jobs", 2);
  auto producer = MakeProducer(cluster_.namesrv_addrs(), "consumption-producers");
  auto ids = SendAll(*producer, "cli-jobs", "c", 10);
  ASSERT_EQ(ids.size(), 10u);
  // The failed messages come back through %RETRY%cli-workers after 1 s (within the 4 s the
  // command waits for something new), and each succeeds exactly once.
  auto r = cluster_.Admin({"consume", "--topic", "cli-jobs", "--group", "cli-workers", "--from", "first",
                           "--fail-every", "2", "--timeout", "4", "--json"},
                          120000);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, int> ok;
  std::set<std::string> failed_once;
  size_t failed = 0;
  for (const auto& j : JsonLines(r.out)) {
    const std::string id = j["id"];
    EXPECT_EQ(j["topic"], "cli-jobs") << j.dump();
    if (j["result"] == "failed") {
      ++failed;
      failed_once.insert(id);
    } else {
      ASSERT_EQ(j["result"], "ok") << j.dump();
      ++ok[id];
      if (failed_once.count(id)) {
        EXPECT_GE(j["reconsume"].get<int>(), 1) << j.dump();
      }
    }
  }
  EXPECT_GE(failed, 5u);
  EXPECT_EQ(ok.size(), 10u) << r.out;
  for (const auto& id : ids) EXPECT_EQ(ok[id], 1) << id;
}

TEST_F(SdkConsumptionTest, CliBroadcastSkipsFailuresAndResumesFromItsLocalFile) {
  const std::string home = cluster_.dir().str() + "/home";
  std::filesystem::create_directories(home);
  ASSERT_EQ(setenv("HOME", home.c_str(), 1), 0);  // vela-admin keeps its offsets under $HOME/.vela/offsets
  cluster_.StartNamesrv();
  cluster_.StartBroker("broker-a");
  ASSERT_TRUE(cluster_.WaitForBrokers(1));
  cluster_.CreateTopic("cli-prices", 2);
  auto producer = MakeProducer(cluster_.namesrv_addrs(), "consumption-producers");
  ASSERT_EQ(SendAll(*producer, "cli-prices", "p", 30).size(), 30u);
  auto first = cluster_.Admin({"consume", "--topic", "cli-prices", "--group", "cli-caches", "--broadcast", "--from",
                               "first", "--fail-every", "3", "--timeout", "4", "--json"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto lines = JsonLines(first.out);
  ASSERT_EQ(lines.size(), 30u) << first.out;  // failures are skipped, never redelivered
  size_t failed = 0;
  for (const auto& j : lines) {
    failed += j["result"] == "failed" ? 1 : 0;
    EXPECT_EQ(j["reconsume"], 0) << j.dump();
  }
  EXPECT_EQ(failed, 10u);
  EXPECT_TRUE(std::filesystem::exists(home + "/.vela/offsets/cli-caches/vela-admin-consume.offsets"));
  ASSERT_EQ(SendAll(*producer, "cli-prices", "q", 5).size(), 5u);
  auto second = cluster_.Admin({"consume", "--topic", "cli-prices", "--group", "cli-caches", "--broadcast", "--from",
                                "first", "--timeout", "4", "--json"});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(JsonLines(second.out).size(), 5u) << second.out;  // resumed: only the new messages
}

}  // namespace
}  // namespace vela::testing
