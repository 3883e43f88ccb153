// Broker-side filtering end to end: a full-link gray release with SQL92 lanes, tag filters, and
// refusal of bad expressions at subscribe time.
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
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
using client::FilterExpression;
using client::MessageView;

// The ids one group received (with how often), thread-safe.
struct Lane {
  std::mutex mu;
  std::map<std::string, int> ids;
  size_t total = 0;

  void Add(const MessageView& m) {
    std::lock_guard lock(mu);
    ++ids[m.msg_id];
    ++total;
  }
  size_t distinct() {
    std::lock_guard lock(mu);
    return ids.size();
  }
};

std::unique_ptr<client::PushConsumer> Subscribe(const std::string& ns, const std::string& group,
                                                const FilterExpression& filter, Lane& lane) {
  auto c = client::PushConsumerBuilder()
               .SetNamesrvAddr(ns)
               .SetGroup(group)
               .Subscribe("traffic", filter)
               .SetConsumeFrom(client::ConsumeFrom::kFirst)
               .SetListener([&lane](const MessageView& m) {
                 lane.Add(m);
                 return ConsumeResult::kSuccess;
               })
               .Build();
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(c).value() : nullptr;
}

TEST(FilterIntegrationTest, GrayReleaseLanesEachReceiveExactlyTheirTraffic) {
  TestCluster cluster;
  cluster.StartNamesrv();
  cluster.StartBroker("broker-a");
  ASSERT_TRUE(cluster.WaitForBrokers(1));
  cluster.CreateTopic("traffic", 4);
  const std::string ns = cluster.namesrv_addrs();

  auto producer = client::ProducerBuilder().SetNamesrvAddr(ns).Build();
  ASSERT_TRUE(producer.ok());
  std::set<std::string> gray, normal, tagged;
  const char* tags[] = {"TagA", "TagB", "TagC", ""};
  for (int i = 0; i < 10000; ++i) {
    client::Message m("traffic", "m" + std::to_string(i));
    if (i % 10 == 0) m.properties["env"] = "gray";
    else if (i % 10 == 1) m.properties["env"] = "prod";  // the rest carry no env at all
    m.tag = tags[i % 4];
    auto r = (*producer)->Send(m);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    (i % 10 == 0 ? gray : normal).insert(r->msg_id);
    if (i % 4 < 2) tagged.insert(r->msg_id);
  }

  Lane gray_lane, normal_lane, tag_lane;
  auto c1 = Subscribe(ns, "gray-lane", FilterExpression::Sql92("env = 'gray'"), gray_lane);
  auto c2 = Subscribe(ns, "normal-lane", FilterExpression::Sql92("env <> 'gray' OR env IS NULL"), normal_lane);
  auto c3 = Subscribe(ns, "tag-lane", FilterExpression::Tag("TagA || TagB"), tag_lane);
  EXPECT_TRUE(WaitUntil([&] { return gray_lane.distinct() >= gray.size(); }, 30s)) << gray_lane.distinct();
  EXPECT_TRUE(WaitUntil([&] { return normal_lane.distinct() >= normal.size(); }, 30s)) << normal_lane.distinct();
  EXPECT_TRUE(WaitUntil([&] { return tag_lane.distinct() >= tagged.size(); }, 30s)) << tag_lane.distinct();
  std::this_thread::sleep_for(1s);

  EXPECT_EQ(gray_lane.distinct(), 1000u);
  EXPECT_EQ(normal_lane.distinct(), 9000u);
  EXPECT_EQ(tag_lane.distinct(), 5000u);
  for (const auto& [id, n] : gray_lane.ids) {
    EXPECT_TRUE(gray.count(id)) << "gray lane got a non-gray message";
    EXPECT_FALSE(normal_lane.ids.count(id)) << "a message in both lanes";
  }
  for (const auto& [id, n] : normal_lane.ids) EXPECT_TRUE(normal.count(id));
  for (const auto& [id, n] : tag_lane.ids) EXPECT_TRUE(tagged.count(id));
  for (auto* c : {c1.get(), c2.get(), c3.get()}) c->Shutdown();

  // The filtered groups' offsets moved past what they did not want: no lag left.
  for (const char* group : {"gray-lane", "normal-lane", "tag-lane"}) {
    auto progress = cluster.Admin({"group", "progress", group, "--json"});
    ASSERT_EQ(progress.exit_code, 0) << progress.err;
    auto j = nlohmann::json::parse(progress.out);
    int64_t lag = 0;
    for (const auto& q : j["queues"]) lag += q["lag"].get<int64_t>();
    EXPECT_EQ(lag, 0) << group << ": " << progress.out;
  }

  // The CLI consumes a lane too.
  auto cli = cluster.Admin({"consume", "--topic", "traffic", "--group", "cli-gray", "--sql", "env = 'gray'", "--from",
                            "first", "--count", "1000", "--timeout", "5", "--json"});
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  size_t lines = 0;
  for (size_t pos = 0; (pos = cli.out.find('\n', pos)) != std::string::npos; ++pos) ++lines;
  EXPECT_EQ(lines, 1000u);
}

TEST(FilterIntegrationTest, BadExpressionIsRefusedAtSubscribeWithPosition) {
  TestCluster cluster;
  cluster.StartNamesrv();
  cluster.StartBroker("broker-a", {"enablePropertyFilter=false"});
  ASSERT_TRUE(cluster.WaitForBrokers(1));
  cluster.CreateTopic("traffic", 1);
  const std::string ns = cluster.namesrv_addrs();
  auto bad = client::PushConsumerBuilder()
                 .SetNamesrvAddr(ns)
                 .SetGroup("g")
                 .Subscribe("traffic", FilterExpression::Sql92("env = 'gray' AND"))
                 .SetListener([](const MessageView&) { return ConsumeResult::kSuccess; })
                 .Build();
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("position"), std::string::npos) << bad.status().ToString();

  // SQL92 on a broker that disabled it: the CLI consumer fails with a clear reason.
  auto cli = cluster.Admin({"consume", "--topic", "traffic", "--group", "g2", "--sql", "a = 1", "--count", "1",
                            "--timeout", "3"});
  EXPECT_NE(cli.exit_code, 0);
  EXPECT_NE(cli.err.find("enablePropertyFilter"), std::string::npos) << cli.err;

  auto check = cluster.Admin({"filter", "check", "--sql", "a >", "--json"});
  EXPECT_EQ(check.exit_code, 1);
  auto j = nlohmann::json::parse(check.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << check.out << check.err;
  EXPECT_FALSE(j["valid"].get<bool>());
  EXPECT_TRUE(j.contains("position"));
}

}  // namespace
}  // namespace vela::testing
