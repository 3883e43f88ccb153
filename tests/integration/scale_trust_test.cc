// Issue 10, items 5 and 6 (name-server half), against real processes:
//  - scale: a broker with 100,000 topics registers and any of them routes (SDK and CLI); topic
//    list and group list with 10,000 entries through vela-admin;
//  - trust: a fake client can neither register a broker under the real broker's address nor
//    unregister it, and the real broker, restarted, takes its address back.
#include <chrono>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "client/route.h"
#include "cluster.h"
#include "net/rpc_client.h"

namespace vela::testing {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// ~40 characters: 100,000 of them make a table of about 5 MB, sent in two body parts.
std::string TopicName(int i) { return fmt::format("scale-topic-{:06d}-on-a-broker-with-many", i); }

// Creates topics [from, to) on `broker` with CREATE_TOPICS batches of `batch`.
void CreateTopics(net::RpcClient& rpc, const std::string& broker, int from, int to, int batch) {
  for (int start = from; start < to; start += batch) {
    v1::TopicConfigList list;
    for (int i = start; i < std::min(to, start + batch); ++i) {
      auto* t = list.add_topics();
      t->set_name(TopicName(i));
      t->set_read_queues(2);
      t->set_write_queues(2);
      t->set_perm(6);
    }
    v1::Header h;
    h.set_code(v1::CREATE_TOPICS);
    auto r = rpc.InvokeSync(broker, std::move(h), net::OutBody(list.SerializeAsString()), 60000);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
}

// User + system CPU time of a process in milliseconds (from /proc/PID/stat).
int64_t CpuMs(pid_t pid) {
  std::istringstream in(ReadFile(fmt::format("/proc/{}/stat", pid)));
  std::string field;
  int64_t utime = 0, stime = 0;
  // Field 2 (comm) holds no blank for our binaries; fields 14 and 15 are utime and stime.
  for (int i = 1; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::stoll(field);
    if (i == 15) stime = std::stoll(field);
  }
  return (utime + stime) * 1000 / sysconf(_SC_CLK_TCK);
}

class ScaleTrustTest : public ::testing::Test {
 protected:
  void SetUp() override {
    namesrv_ = cluster_.StartNamesrv();
    ASSERT_FALSE(namesrv_.empty());
  }

  TestCluster cluster_;
  std::string namesrv_;
  net::RpcClient rpc_{net::RpcClientOptions{1, net::kDefaultMaxFrameSize, 3000, "scale-test"}};
};

TEST_F(ScaleTrustTest, BrokerWith100000TopicsRegistersAndEveryTopicRoutes) {
  constexpr int kTopics = 100000;
  // A short registration period, so that the name-server restart below is noticed soon.
  const std::string broker = cluster_.StartBroker("big", {"registerNameServerPeriod=2000"});
  ASSERT_FALSE(broker.empty());
  ASSERT_TRUE(cluster_.WaitForBrokers(1));

  auto start = Clock::now();
  CreateTopics(rpc_, broker, 0, kTopics, 25000);
  const double create_s = SecondsSince(start);

  client::NameServerClient ns(&rpc_, {namesrv_}, 5000);
  // The last topic created routes once the whole table is registered.
  start = Clock::now();
  ASSERT_TRUE(WaitUntil([&] { return ns.GetRoute(TopicName(kTopics - 1)).ok(); }, std::chrono::seconds(60)))
      << "the table of " << kTopics << " topics never registered; broker log: " << cluster_.broker("big").log_file();
  const double register_s = SecondsSince(start);
  std::cout << fmt::format("[ scale ] {} topics: batch creation {:.2f} s, then registered and routed within {:.2f} s",
                           kTopics, create_s, register_s)
            << std::endl;
  RecordProperty("create_100k_topics_s", fmt::format("{:.2f}", create_s));
  RecordProperty("register_100k_topics_s", fmt::format("{:.2f}", register_s));
  const std::string namesrv_log = cluster_.namesrv(0).log_file();
  auto full_tables = [&] {
    std::vector<std::string> lines;
    std::istringstream in(ReadFile(namesrv_log));
    for (std::string line; std::getline(in, line);) {
      if (line.find("registered a new topic table") != std::string::npos) lines.push_back(line);
    }
    return lines;
  };
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto lines = full_tables();
        return !lines.empty() && lines.back().find(fmt::format(": {} topics", kTopics)) != std::string::npos;
      },
      std::chrono::seconds(10)));
  const auto tables = full_tables();
  std::cout << "[ scale ] name server: " << tables.back() << std::endl;
  EXPECT_NE(tables.back().find("part 2 of 2"), std::string::npos) << "expected a table in two parts";
  // Two more registration periods pass: the unchanged table is not sent again.
  const int64_t broker_cpu = CpuMs(cluster_.broker("big").pid());
  const int64_t namesrv_cpu = CpuMs(cluster_.namesrv(0).pid());
  std::this_thread::sleep_for(std::chrono::milliseconds(4500));
  EXPECT_EQ(full_tables().size(), tables.size());
  std::cout << fmt::format("[ scale ] 4.5 s idle (2 re-registrations of the unchanged table): broker {} ms CPU, "
                           "name server {} ms CPU",
                           CpuMs(cluster_.broker("big").pid()) - broker_cpu,
                           CpuMs(cluster_.namesrv(0).pid()) - namesrv_cpu)
            << std::endl;

  // A random sample through the SDK's route parsing...
  std::mt19937 rng(10);
  std::uniform_int_distribution<int> pick(0, kTopics - 1);
  for (int n = 0; n < 300; ++n) {
    const std::string topic = TopicName(pick(rng));
    auto response = ns.GetRoute(topic);
    ASSERT_TRUE(response.ok()) << topic << ": " << response.status().ToString();
    auto route = client::ParseRoute(topic, *response);
    ASSERT_EQ(route.write_queues.size(), 2u) << topic;
    EXPECT_EQ(route.AddrOf("big"), broker);
  }
  // ... and a few through the CLI, and a message sent to one of them.
  for (int n = 0; n < 3; ++n) {
    const std::string topic = TopicName(pick(rng));
    auto r = cluster_.Admin({"topic", "route", topic, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    ASSERT_EQ(j["queues"].size(), 1u);
    EXPECT_EQ(j["queues"][0]["addr"], broker);
  }
  auto sent = cluster_.Admin({"send", "--topic", TopicName(pick(rng)), "--body", "hello"});
  EXPECT_EQ(sent.exit_code, 0) << sent.err;

  // The name server restarts on the same port: the broker's next registration (without a body,
  // its table unchanged) is answered "send the table", and every topic routes again.
  cluster_.namesrv(0).Kill();
  auto restarted = ChildProcess::Start({BinaryPath("vela-namesrv"), "--listen", namesrv_, "--set", "httpPort=0"},
                                       namesrv_log + ".2");
  ASSERT_TRUE(restarted.ok()) << restarted.status().ToString();
  start = Clock::now();
  ASSERT_TRUE(WaitUntil([&] { return ns.GetRoute(TopicName(pick(rng))).ok(); }, std::chrono::seconds(30)));
  std::cout << fmt::format("[ scale ] after a name-server restart, routes back within {:.2f} s", SecondsSince(start))
            << std::endl;
  for (int n = 0; n < 100; ++n) ASSERT_TRUE(ns.GetRoute(TopicName(pick(rng))).ok());
  // cluster list --json pages through every topic name.
  auto list = cluster_.Admin({"cluster", "list", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  auto j = nlohmann::json::parse(list.out);
  EXPECT_GE(j["topics"].size(), static_cast<size_t>(kTopics));
  rpc_.Shutdown();
}

TEST_F(ScaleTrustTest, TopicListAndGroupListWith10000Entries) {
  constexpr int kEntries = 10000;
  const std::string broker = cluster_.StartBroker("lists");
  ASSERT_FALSE(broker.empty());
  ASSERT_TRUE(cluster_.WaitForBrokers(1));
  CreateTopics(rpc_, broker, 0, kEntries, kEntries);
  v1::GroupConfigList groups;
  for (int i = 0; i < kEntries; ++i) {
    auto* g = groups.add_groups();
    g->set_name(fmt::format("scale-group-{:05d}", i));
    g->set_max_retries(3);
  }
  v1::Header h;
  h.set_code(v1::CREATE_GROUPS);
  auto created = rpc_.InvokeSync(broker, std::move(h), net::OutBody(groups.SerializeAsString()), 60000);
  ASSERT_TRUE(created.ok()) << created.status().ToString();

  auto topics = cluster_.Admin({"topic", "list", "--json"});
  ASSERT_EQ(topics.exit_code, 0) << topics.err;
  std::set<std::string> topic_names;
  const auto topics_json = nlohmann::json::parse(topics.out);
  for (const auto& t : topics_json["topics"]) topic_names.insert(t["name"].get<std::string>());
  ASSERT_GE(topic_names.size(), static_cast<size_t>(kEntries)) << topics.out.substr(0, 500);
  for (int i = 0; i < kEntries; ++i) ASSERT_TRUE(topic_names.count(TopicName(i))) << TopicName(i);

  auto group_list = cluster_.Admin({"group", "list", "--json"});
  ASSERT_EQ(group_list.exit_code, 0) << group_list.err;
  std::set<std::string> group_names;
  const auto groups_json = nlohmann::json::parse(group_list.out);
  for (const auto& g : groups_json["groups"]) {
    group_names.insert(g["name"].get<std::string>());
    EXPECT_EQ(g["brokers"].size(), 1u);  // each entry once: pages do not overlap
  }
  for (int i = 0; i < kEntries; ++i) {
    ASSERT_TRUE(group_names.count(fmt::format("scale-group-{:05d}", i))) << i;
  }
  // The table form too.
  auto table = cluster_.Admin({"group", "list"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_GE(std::count(table.out.begin(), table.out.end(), '\n'), kEntries + 1);
  rpc_.Shutdown();
}

TEST_F(ScaleTrustTest, FakeBrokerCannotTakeOverOrUnregisterTheRealOne) {
  const std::string broker = cluster_.StartBroker("real", {"registerNameServerPeriod=2000"});
  ASSERT_FALSE(broker.empty());
  ASSERT_TRUE(cluster_.WaitForBrokers(1));
  cluster_.CreateTopic("trusted", 4);
  client::NameServerClient ns(&rpc_, {namesrv_}, 5000);
  ASSERT_TRUE(WaitUntil([&] { return ns.GetRoute("trusted").ok(); }, std::chrono::seconds(20)));

  // A fake broker under the real broker's address: old form (topics in the header)...
  v1::Header fake;
  fake.set_code(v1::REGISTER_BROKER);
  auto* req = fake.mutable_register_broker_request();
  req->set_cluster_name("DefaultCluster");
  req->set_broker_name("evil");
  req->set_broker_addr(broker);
  auto* t = req->add_topics();
  t->set_topic("trusted");
  t->set_read_queues(1);
  t->set_write_queues(1);
  auto refused = rpc_.InvokeSync(namesrv_, fake, {}, 5000);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kPermissionDenied) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("held by another live connection"), std::string::npos);
  // ... and new form (table in the body).
  req->clear_topics();
  req->set_topics_version(12345);
  req->set_body_parts(1);
  v1::TopicRouteTable table;
  *table.add_topics() = *t;
  refused = rpc_.InvokeSync(namesrv_, fake, net::OutBody(table.SerializeAsString()), 5000);
  EXPECT_EQ(refused.status().code(), StatusCode::kPermissionDenied) << refused.status().ToString();

  // Unregistering the real broker from here is refused too.
  v1::Header unreg;
  unreg.set_code(v1::UNREGISTER_BROKER);
  unreg.mutable_unregister_broker_request()->set_broker_addr(broker);
  auto unrefused = rpc_.InvokeSync(namesrv_, unreg, {}, 5000);
  EXPECT_EQ(unrefused.status().code(), StatusCode::kPermissionDenied) << unrefused.status().ToString();

  // Routes intact: still the real broker with its 4 queues.
  for (int n = 0; n < 5; ++n) {
    auto route = ns.GetRoute("trusted");
    ASSERT_TRUE(route.ok()) << route.status().ToString();
    ASSERT_EQ(route->queues_size(), 1);
    EXPECT_EQ(route->queues(0).broker_name(), "real");
    EXPECT_EQ(route->queues(0).write_queues(), 4);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const std::string log = ReadFile(cluster_.namesrv(0).log_file());
  EXPECT_NE(log.find("registration of broker " + broker), std::string::npos) << log;
  EXPECT_NE(log.find("unregistration of broker " + broker), std::string::npos) << log;

  // The real broker killed and restarted on the same port registers over its new connection.
  cluster_.RestartBroker("real");
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto route = ns.GetRoute("trusted");
        return route.ok() && route->queues_size() == 1 && route->queues(0).broker_name() == "real";
      },
      std::chrono::seconds(30)));
  auto sent = cluster_.Admin({"send", "--topic", "trusted", "--body", "still here"});
  EXPECT_EQ(sent.exit_code, 0) << sent.err;
  rpc_.Shutdown();
}

}  // namespace
}  // namespace vela::testing
