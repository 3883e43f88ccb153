#include "namesrv/route_registry.h"

#include <gtest/gtest.h>

namespace vela::namesrv {
namespace {

v1::RegisterBrokerRequest Registration(const std::string& name, const std::string& addr,
                                       const std::vector<std::string>& topics) {
  v1::RegisterBrokerRequest r;
  r.set_cluster_name("c1");
  r.set_broker_name(name);
  r.set_broker_addr(addr);
  for (const auto& t : topics) {
    auto* q = r.add_topics();
    q->set_topic(t);
    q->set_read_queues(4);
    q->set_write_queues(4);
    q->set_perm(6);
  }
  return r;
}

TEST(RouteRegistryTest, RouteListsEveryBrokerServingTheTopic) {
  RouteRegistry reg;
  reg.Register(Registration("a", "127.0.0.1:1", {"orders", "pay"}), 1, 1000);
  reg.Register(Registration("b", "127.0.0.1:2", {"orders"}), 2, 1000);
  auto route = reg.GetRoute("orders");
  ASSERT_TRUE(route.ok());
  EXPECT_EQ(route->brokers_size(), 2);
  EXPECT_EQ(route->queues_size(), 2);
  EXPECT_EQ(reg.GetRoute("pay")->brokers_size(), 1);
  auto missing = reg.GetRoute("nope");
  EXPECT_EQ(missing.status().subcode(), SubCode::kTopicNotFound);
}

TEST(RouteRegistryTest, SilentBrokerExpiresAndClosedConnectionDropsAtOnce) {
  RouteRegistry reg(120000);
  reg.Register(Registration("a", "127.0.0.1:1", {"t"}), 7, 1000);
  reg.Register(Registration("b", "127.0.0.1:2", {"t"}), 8, 1000);
  EXPECT_TRUE(reg.ExpireSilent(100000).empty());
  reg.Register(Registration("b", "127.0.0.1:2", {"t"}), 8, 110000);
  auto dropped = reg.ExpireSilent(121001);
  ASSERT_EQ(dropped.size(), 1u);
  EXPECT_EQ(dropped[0], "127.0.0.1:1");
  EXPECT_EQ(reg.ConnectionClosed(8).size(), 1u);
  EXPECT_EQ(reg.broker_count(), 0u);
  EXPECT_FALSE(reg.GetRoute("t").ok());
}

TEST(RouteRegistryTest, ReRegistrationReplacesTopicsAndDeleteRemovesThem) {
  RouteRegistry reg;
  reg.Register(Registration("a", "127.0.0.1:1", {"x", "y"}), 1, 1);
  reg.Register(Registration("a", "127.0.0.1:1", {"y"}), 1, 2);
  EXPECT_FALSE(reg.GetRoute("x").ok());
  EXPECT_TRUE(reg.GetRoute("y").ok());
  reg.DeleteTopic("y");
  EXPECT_FALSE(reg.GetRoute("y").ok());
  EXPECT_EQ(reg.GetClusterInfo().brokers_size(), 1);
}

}  // namespace
}  // namespace vela::namesrv
