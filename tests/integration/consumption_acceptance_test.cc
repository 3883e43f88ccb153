// Issue 13, "What it must show", at the issue's scale with real processes: a name server, a broker
// and consumer processes (vela-consume-probe, tests/integration/consume_probe.cc, the public SDK
// with a listener that fails on purpose and logs every delivery with start and end times):
//  - retries: 1,000 messages failed twice each are consumed once, on their third delivery, with
//    reconsume 2; with max retries 2 and a listener that always fails all 1,000 end in %DLQ% with
//    their properties and come back with group dlq-resend; a consumer SIGKILLed mid-way loses none;
//  - orderly: 200 sharding keys x 50 sequence numbers, three consumer processes joining, leaving
//    and SIGKILLed, 5 % failures and random sleeps: every key's sequence complete and increasing, no
//    two consumers on one key at the same time;
//  - broadcast: three instances each receive all 10,000 messages; one SIGKILLed and restarted
//    resumes from its local offset file and receives again only what it had not acknowledged.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cluster.h"
#include "vela/producer.h"

namespace vela::testing {
namespace {

using namespace std::chrono_literals;

// Short delay levels so retries come back within a fraction of a second.
const std::string kShortLevels =
    "messageDelayLevel=100ms 100ms 100ms 100ms 100ms 100ms 100ms 100ms 100ms 100ms 100ms 100ms 100ms 100ms "
    "100ms 100ms 100ms 100ms";

// One delivery as vela-consume-probe logged it.
struct Event {
  std::string id;
  std::string key;
  int seq = -1;
  int queue = -1;
  int64_t offset = -1;
  int reconsume = 0;
  int64_t start_ns = 0;
  int64_t end_ns = 0;
  bool ok = false;
  int pid = 0;
};

// Every complete JSON line of `path` (a SIGKILLed writer may leave a partial last line).
std::vector<Event> ReadEvents(const std::string& path) {
  std::vector<Event> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("pid")) continue;
    Event e;
    e.id = j.value("id", "");
    e.key = j.value("key", "");
    const std::string seq = j.value("seq", "");
    e.seq = seq.empty() ? -1 : std::stoi(seq);
    e.queue = j.value("queue", -1);
    e.offset = j.value("offset", int64_t{-1});
    e.reconsume = j.value("reconsume", 0);
    e.start_ns = j.value("start_ns", int64_t{0});
    e.end_ns = j.value("end_ns", int64_t{0});
    e.ok = j.value("result", "") == "ok";
    e.pid = j.value("pid", 0);
    out.push_back(std::move(e));
  }
  return out;
}

// A running vela-consume-probe: its pid and the file its JSON lines go to.
struct Probe {
  pid_t pid = -1;
  std::string out;
  std::string err;
  bool killed = false;
};

class ConsumptionAcceptanceTest : public ::testing::Test {
 protected:
  void StartCluster(std::vector<std::string> sets) {
    ns_ = cluster_.StartNamesrv();
    sets.push_back("flushDiskType=ASYNC_FLUSH");  // the tests measure semantics, not the disk
    broker_ = cluster_.StartBroker("broker-a", sets);
    ASSERT_FALSE(broker_.empty());
    ASSERT_TRUE(cluster_.WaitForBrokers(1));
    auto p = client::ProducerBuilder().SetNamesrvAddr(ns_).SetGroup("acceptance-producers").Build();
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    producer_ = std::move(p).value();
  }

  void TearDown() override {
    for (auto& p : probes_) {
      if (p.pid > 0) {
        ::kill(p.pid, SIGKILL);
        WaitExit(p.pid, 5000);
      }
    }
    if (producer_) producer_->Shutdown();
    if (const char* dir = std::getenv("VELA_TEST_LOG_DIR"); dir != nullptr && *dir != '\0' && !broker_.empty()) {
      std::error_code ignored;
      const auto to = std::filesystem::path(dir);
      std::filesystem::copy_file(cluster_.broker("broker-a").log_file(), to / "broker.log",
                                 std::filesystem::copy_options::overwrite_existing, ignored);
      for (const auto& p : probes_) {
        for (const auto& f : {p.out, p.err}) {
          std::filesystem::copy_file(f, to / std::filesystem::path(f).filename(),
                                     std::filesystem::copy_options::overwrite_existing, ignored);
        }
      }
    }
  }

  // Sends `count` messages (properties seq = i, key = "k<i>") in batches; returns their ids.
  std::vector<std::string> SendPlain(const std::string& topic, int count) {
    std::vector<std::string> ids;
    for (int start = 0; start < count; start += 50) {
      std::vector<client::Message> batch;
      for (int i = start; i < std::min(count, start + 50); ++i) {
        client::Message m(topic, "body-" + std::to_string(i));
        m.properties["seq"] = std::to_string(i);
        m.properties["key"] = "k" + std::to_string(i);
        m.properties["color"] = "blue";
        batch.push_back(std::move(m));
      }
      auto r = producer_->SendBatch(batch);
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (r.ok()) {
        for (const auto& receipt : *r) ids.push_back(receipt.msg_id);
      }
    }
    return ids;
  }

  Probe& StartProbe(const std::string& name, std::vector<std::string> extra) {
    std::vector<std::string> argv = {BinaryPath("vela-consume-probe"), "--namesrv", ns_};
    // VELA_TEST_LOG_DIR=DIR keeps the probes' SDK logs (info) there, for a failure's post-mortem.
    if (const char* dir = std::getenv("VELA_TEST_LOG_DIR"); dir != nullptr && *dir != '\0') {
      argv.insert(argv.end(), {"--log-file", std::string(dir) + "/" + name + ".log"});
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    Probe p;
    p.out = cluster_.dir().str() + "/" + name + ".jsonl";
    p.err = cluster_.dir().str() + "/" + name + ".err";
    p.pid = SpawnToFiles(argv, p.out, p.err);
    EXPECT_GT(p.pid, 0);
    probes_.push_back(p);
    return probes_.back();
  }
  void KillProbe(Probe& p) {
    ::kill(p.pid, SIGKILL);
    WaitExit(p.pid, 10000);
    p.pid = -1;
    p.killed = true;
  }
  // SIGTERM: the probe shuts its consumer down (commits, unlocks) and exits 0.
  void StopProbe(Probe& p) {
    ::kill(p.pid, SIGTERM);
    EXPECT_EQ(WaitExit(p.pid, 30000), 0) << p.err;
    p.pid = -1;
  }
  std::vector<Event> AllEvents() const {
    std::vector<Event> all;
    for (const auto& p : probes_) {
      auto e = ReadEvents(p.out);
      all.insert(all.end(), e.begin(), e.end());
    }
    return all;
  }
  std::set<std::string> OkIds() const {
    std::set<std::string> ok;
    for (const auto& e : AllEvents()) {
      if (e.ok) ok.insert(e.id);
    }
    return ok;
  }
  size_t DeadLetters(const std::string& group) const {
    auto r = cluster_.Admin({"--json", "group", "dlq", group});
    size_t n = 0;
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) n += line.empty() ? 0 : 1;
    return n;
  }

  TestCluster cluster_;
  std::string ns_;
  std::string broker_;
  std::unique_ptr<client::Producer> producer_;
  std::deque<Probe> probes_;  // stable references
};

TEST_F(ConsumptionAcceptanceTest, ThousandMessagesFailedTwiceAreConsumedOnceOnTheirThirdDelivery) {
  StartCluster({kShortLevels});
  cluster_.CreateTopic("orders", 4);
  const auto ids = SendPlain("orders", 1000);
  ASSERT_EQ(ids.size(), 1000u);
  StartProbe("twice", {"--topic", "orders", "--group", "twice", "--fail-first", "2"});
  ASSERT_TRUE(WaitUntil([&] { return OkIds().size() >= 1000; }, 120s)) << OkIds().size() << " of 1000";
  std::this_thread::sleep_for(1s);  // anything extra would show up now
  std::map<std::string, std::vector<Event>> by_id;
  for (const auto& e : AllEvents()) by_id[e.id].push_back(e);
  EXPECT_EQ(by_id.size(), 1000u);
  for (const auto& id : ids) {
    const auto& events = by_id[id];
    ASSERT_EQ(events.size(), 3u) << id;
    int oks = 0;
    for (const auto& e : events) {
      if (e.ok) {
        ++oks;
        EXPECT_EQ(e.reconsume, 2) << id;
      }
    }
    EXPECT_EQ(oks, 1) << id;
  }
  std::cout << "retries: " << AllEvents().size() << " deliveries of " << by_id.size() << " messages\n";
  StopProbe(probes_.back());
}

TEST_F(ConsumptionAcceptanceTest, AlwaysFailingMessagesEndInTheDeadLetterTopicAndComeBackWithResend) {
  StartCluster({kShortLevels});
  cluster_.CreateTopic("orders", 4);
  auto created = cluster_.Admin({"group", "create", "doomed", "--max-retries", "2"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const auto ids = SendPlain("orders", 1000);
  ASSERT_EQ(ids.size(), 1000u);
  Probe& failing = StartProbe("failing", {"--topic", "orders", "--group", "doomed", "--fail-always"});
  ASSERT_TRUE(WaitUntil([&] { return DeadLetters("doomed") >= 1000; }, 120s)) << DeadLetters("doomed");
  StopProbe(failing);

  // Every dead letter: one of ours, once, with its properties, origin topic and count.
  auto listed = cluster_.Admin({"--json", "group", "dlq", "doomed"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  std::set<std::string> dead;
  std::istringstream in(listed.out);
  std::string line;
  const std::set<std::string> sent(ids.begin(), ids.end());
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line);
    const std::string id = j.at("id");
    EXPECT_TRUE(sent.count(id)) << line;
    EXPECT_TRUE(dead.insert(id).second) << "dead-lettered twice: " << line;
    EXPECT_EQ(j.at("origin_topic"), "orders") << line;
    EXPECT_EQ(j.at("properties").value("color", ""), "blue") << line;
    EXPECT_EQ(j.at("properties").value("key", ""), "k" + j.at("properties").value("seq", "?")) << line;
    EXPECT_EQ(j.at("reconsume"), 3) << line;  // its failed deliveries: the first and 2 retries
  }
  EXPECT_EQ(dead.size(), 1000u);
  // The failing consumer saw each message three times (first delivery + 2 retries).
  std::map<std::string, int> deliveries;
  for (const auto& e : ReadEvents(failing.out)) ++deliveries[e.id];
  for (const auto& id : ids) EXPECT_EQ(deliveries[id], 3) << id;

  auto resent = cluster_.Admin({"group", "dlq-resend", "doomed", "--all"});
  ASSERT_EQ(resent.exit_code, 0) << resent.out << resent.err;
  Probe& healthy = StartProbe("healthy", {"--topic", "orders", "--group", "doomed"});
  auto healthy_ok = [&] {
    std::set<std::string> ok;
    for (const auto& e : ReadEvents(healthy.out)) {
      if (e.ok) ok.insert(e.id);
    }
    return ok;
  };
  ASSERT_TRUE(WaitUntil([&] { return healthy_ok().size() >= 1000; }, 60s)) << healthy_ok().size();
  EXPECT_EQ(healthy_ok(), sent);
  StopProbe(healthy);
}

TEST_F(ConsumptionAcceptanceTest, RetryingConsumerKilledMidwayLosesNone) {
  StartCluster({kShortLevels});
  cluster_.CreateTopic("orders", 4);
  const auto ids = SendPlain("orders", 1000);
  ASSERT_EQ(ids.size(), 1000u);
  // Each message fails once: at the kill some are in the retry topic, some pending in the timer,
  // some delivered but not committed.
  std::vector<std::string> args = {"--topic", "orders", "--group", "survivors", "--fail-first", "1",
                                   "--sleep-max-us", "2000", "--commit-ms", "500"};
  Probe& first = StartProbe("first", args);
  ASSERT_TRUE(WaitUntil([&] { return ReadEvents(first.out).size() >= 600; }, 60s));
  KillProbe(first);
  const size_t before = OkIds().size();
  StartProbe("second", args);
  ASSERT_TRUE(WaitUntil([&] { return OkIds().size() >= 1000; }, 120s)) << OkIds().size() << " of 1000";
  EXPECT_EQ(OkIds(), std::set<std::string>(ids.begin(), ids.end()));
  EXPECT_LT(before, 1000u) << "the kill came too late to matter";
  StopProbe(probes_.back());
}

TEST_F(ConsumptionAcceptanceTest, OrderlyKeysStayInOrderAndExclusiveWhileConsumersJoinLeaveAndAreKilled) {
  // A killed owner's lock lapses after 3 s; the probes renew every second (a third of it).
  StartCluster({"rebalanceLockMaxLiveTime=3000"});
  cluster_.CreateTopic("events", 8);
  constexpr int kKeys = 200;
  constexpr int kSeqs = 50;
  const std::vector<std::string> args = {"--topic",       "events", "--group",       "ordered", "--mode",
                                         "orderly",       "--fail-rate", "0.05",     "--sleep-max-us", "3000",
                                         "--suspend-ms",  "100",    "--lock-renew-ms", "1000",  "--threads",
                                         "4",             "--commit-ms", "500"};
  // The producer sends while consumers come and go: each key's 50 messages in 5 batches of 10,
  // all keys' first batches first, so every key is in flight throughout.
  std::atomic<int> sent{0};
  std::thread producer([&] {
    for (int round = 0; round < kSeqs / 10; ++round) {
      for (int k = 0; k < kKeys; ++k) {
        std::vector<client::Message> batch;
        for (int s = round * 10; s < round * 10 + 10; ++s) {
          client::Message m("events", "k" + std::to_string(k) + "-" + std::to_string(s));
          m.sharding_key = "k" + std::to_string(k);
          m.properties["key"] = m.sharding_key;
          m.properties["seq"] = std::to_string(s);
          batch.push_back(std::move(m));
        }
        auto r = producer_->SendBatch(batch);
        EXPECT_TRUE(r.ok()) << r.status().ToString();
        if (r.ok()) sent += static_cast<int>(r->size());
      }
      std::this_thread::sleep_for(600ms);
    }
  });
  Probe* a = &StartProbe("a", args);
  std::this_thread::sleep_for(700ms);
  Probe* b = &StartProbe("b", args);
  std::this_thread::sleep_for(700ms);
  Probe* c = &StartProbe("c", args);
  std::this_thread::sleep_for(1200ms);
  StopProbe(*b);  // leaves: commits and unlocks before the others take its queues
  std::this_thread::sleep_for(500ms);
  KillProbe(*c);  // its locks lapse after 3 s
  Probe* d = &StartProbe("d", args);
  std::this_thread::sleep_for(1500ms);
  KillProbe(*a);
  StartProbe("e", args);
  producer.join();
  ASSERT_EQ(sent.load(), kKeys * kSeqs);
  (void)d;

  std::set<int> killed_pids;
  std::map<int, std::string> names;  // pid -> probe name, for failure messages
  auto killed_pids_of = [&] {
    for (const auto& p : probes_) {
      for (const auto& e : ReadEvents(p.out)) {
        if (p.killed) killed_pids.insert(e.pid);
        names[e.pid] = p.out.substr(p.out.rfind('/') + 1) + (p.killed ? " (killed)" : "");
      }
    }
  };
  // One key's deliveries, for a failure message.
  auto history = [&](const std::vector<Event>& events) {
    std::ostringstream out;
    const int64_t t0 = events.empty() ? 0 : events.front().start_ns;
    for (const auto& e : events) {
      out << "\n  seq " << e.seq << " q" << e.queue << "@" << e.offset << " " << (e.ok ? "ok" : "failed") << " "
          << names[e.pid] << " +" << (e.start_ns - t0) / 1000000 << ".." << (e.end_ns - t0) / 1000000 << " ms";
    }
    return out.str();
  };
  // Done when every key's every sequence number succeeded somewhere.
  auto complete = [&] {
    std::set<std::pair<std::string, int>> ok;
    for (const auto& e : AllEvents()) {
      if (e.ok) ok.insert({e.key, e.seq});
    }
    return ok.size() >= static_cast<size_t>(kKeys * kSeqs);
  };
  ASSERT_TRUE(WaitUntil(complete, 120s));
  for (auto& p : probes_) {
    if (p.pid > 0) StopProbe(p);
  }
  killed_pids_of();

  std::map<std::string, std::vector<Event>> by_key;
  size_t failures = 0;
  for (auto& e : AllEvents()) {
    failures += e.ok ? 0 : 1;
    by_key[e.key].push_back(e);
  }
  ASSERT_EQ(by_key.size(), static_cast<size_t>(kKeys));
  EXPECT_GT(failures, 0u);
  size_t replayed = 0;
  for (auto& [key, events] : by_key) {
    std::sort(events.begin(), events.end(), [](const Event& x, const Event& y) { return x.start_ns < y.start_ns; });
    // Exclusive: no delivery of a key starts before the previous one ended, in any process.
    for (size_t i = 1; i < events.size(); ++i) {
      EXPECT_GE(events[i].start_ns, events[i - 1].end_ns)
          << key << ": seq " << events[i].seq << " (pid " << events[i].pid << ") overlaps seq " << events[i - 1].seq
          << " (pid " << events[i - 1].pid << ")";
    }
    // In order: the successes are 0, 1, 2, ... 49; a message processed by a consumer that was
    // then SIGKILLed before it committed may be processed again from its owner's committed offset
    // (at-least-once), and only then.
    std::set<int> done_by_killed;
    int last = -1;
    std::set<int> done;
    bool reported = false;
    for (const auto& e : events) {
      if (!e.ok) continue;
      if (e.seq == last + 1) {
        last = e.seq;
      } else if (e.seq <= last && done_by_killed.count(e.seq)) {
        ++replayed;
        last = e.seq;
      } else {
        if (!reported) ADD_FAILURE() << key << ": seq " << e.seq << " (pid " << e.pid << ") after " << last << history(events);
        reported = true;
        last = std::max(last, e.seq);
      }
      if (killed_pids.count(e.pid)) done_by_killed.insert(e.seq);
      done.insert(e.seq);
    }
    EXPECT_EQ(done.size(), static_cast<size_t>(kSeqs)) << key;
    EXPECT_EQ(last, kSeqs - 1) << key;
  }
  std::cout << "orderly: " << failures << " failed deliveries, " << replayed << " replayed after SIGKILL\n";
}

// Per queue: the offsets in one instance's offset file (topic broker queue offset lines).
std::map<int, int64_t> ReadOffsetFile(const std::string& path) {
  std::map<int, int64_t> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string topic, broker;
    int queue = -1;
    int64_t offset = -1;
    if (fields >> topic >> broker >> queue >> offset && topic == "prices") out[queue] = offset;
  }
  return out;
}

TEST_F(ConsumptionAcceptanceTest, BroadcastInstancesEachReceiveEverythingAndAKilledOneResumesFromItsFile) {
  StartCluster({});
  cluster_.CreateTopic("prices", 4);
  const auto ids = SendPlain("prices", 10000);
  ASSERT_EQ(ids.size(), 10000u);
  const std::set<std::string> sent(ids.begin(), ids.end());
  const std::string dir = cluster_.dir().str() + "/offsets";
  auto args = [&](const std::string& instance) {
    return std::vector<std::string>{"--topic",      "prices",   "--group",      "caches", "--mode", "broadcast",
                                    "--instance",   instance,   "--offset-dir", dir,      "--threads", "2",
                                    "--commit-ms",  "200",      "--sleep-max-us", "200"};
  };
  Probe& one = StartProbe("one", args("one"));
  Probe& two = StartProbe("two", args("two"));
  Probe& three = StartProbe("three", args("three"));
  ASSERT_TRUE(WaitUntil([&] { return ReadEvents(three.out).size() >= 3000; }, 60s));
  KillProbe(three);
  const auto before = ReadEvents(three.out);
  const auto file = ReadOffsetFile(dir + "/caches/three.offsets");
  ASSERT_FALSE(file.empty()) << "no offsets written in " << dir;
  Probe& again = StartProbe("three-again", args("three"));

  auto ids_of = [](const std::vector<Event>& events) {
    std::multiset<std::string> out;
    for (const auto& e : events) out.insert(e.id);
    return out;
  };
  auto has_all = [&](const Probe& p) {
    auto got = ids_of(ReadEvents(p.out));
    return std::set<std::string>(got.begin(), got.end()).size() >= 10000;
  };
  ASSERT_TRUE(WaitUntil([&] { return has_all(one) && has_all(two); }, 90s));
  auto three_all = before;
  ASSERT_TRUE(WaitUntil(
      [&] {
        three_all = before;
        auto after = ReadEvents(again.out);
        three_all.insert(three_all.end(), after.begin(), after.end());
        auto got = ids_of(three_all);
        return std::set<std::string>(got.begin(), got.end()).size() >= 10000;
      },
      90s));
  // The two that ran through received each message exactly once.
  for (const Probe* p : {&one, &two}) {
    auto got = ids_of(ReadEvents(p->out));
    EXPECT_EQ(got.size(), 10000u) << p->out;
    EXPECT_EQ(std::set<std::string>(got.begin(), got.end()), sent);
  }
  // The restarted one: it starts each queue exactly at its file's offset (nothing skipped) and
  // receives again only what it had received past that offset before the kill.
  std::map<int, int64_t> last_before;  // highest offset received before the kill, per queue
  for (const auto& e : before) last_before[e.queue] = std::max(last_before[e.queue], e.offset);
  std::map<int, int64_t> first_after;
  size_t repeated = 0;
  std::set<std::pair<int, int64_t>> seen_before;
  for (const auto& e : before) seen_before.insert({e.queue, e.offset});
  for (const auto& e : ReadEvents(again.out)) {
    auto it = first_after.find(e.queue);
    if (it == first_after.end() || e.offset < it->second) first_after[e.queue] = e.offset;
    if (seen_before.count({e.queue, e.offset})) {
      ++repeated;
      EXPECT_GE(e.offset, file.count(e.queue) ? file.at(e.queue) : 0) << "queue " << e.queue;
    }
  }
  size_t unacknowledged = 0;
  for (const auto& [queue, last] : last_before) {
    const int64_t committed = file.count(queue) ? file.at(queue) : 0;
    if (last >= committed) unacknowledged += static_cast<size_t>(last - committed + 1);
    if (first_after.count(queue)) {
      EXPECT_EQ(first_after[queue], committed) << "queue " << queue;
    }
    // The file never covers a message the instance had not finished.
    for (int64_t offset = 0; offset < committed; ++offset) {
      if (!seen_before.count({queue, offset})) {
        ADD_FAILURE() << "queue " << queue << " offset " << offset << " committed to the file but never received";
        break;
      }
    }
  }
  // Repeated: only messages past the file's offsets (some of those may have been in the listener,
  // not yet logged, at the kill).
  EXPECT_LE(repeated, unacknowledged);
  const auto three_ids = ids_of(three_all);
  EXPECT_EQ(std::set<std::string>(three_ids.begin(), three_ids.end()), sent);
  std::cout << "broadcast: killed instance had " << before.size() << " deliveries, received " << repeated
            << " again (unacknowledged at the kill: " << unacknowledged << ")\n";
  for (Probe* p : {&one, &two, &again}) StopProbe(*p);
}

}  // namespace
}  // namespace vela::testing
