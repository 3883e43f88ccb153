#include "namesrv/route_registry.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

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

// The old form (topics in the header) through the registry.
bool Register(RouteRegistry& reg, const v1::RegisterBrokerRequest& r, uint64_t conn, int64_t now) {
  auto out = reg.Register(r, {}, conn, now);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() && out->new_broker;
}

// The new form: the request's topics moved into `parts` body parts of one table version.
std::vector<std::pair<v1::RegisterBrokerRequest, std::string>> BodyForm(v1::RegisterBrokerRequest r, uint64_t version,
                                                                        int parts) {
  v1::TopicRouteTable table;
  table.mutable_topics()->Swap(r.mutable_topics());
  std::vector<v1::TopicRouteTable> split(static_cast<size_t>(parts));
  for (int i = 0; i < table.topics_size(); ++i) *split[static_cast<size_t>(i % parts)].add_topics() = table.topics(i);
  std::vector<std::pair<v1::RegisterBrokerRequest, std::string>> frames;
  for (int p = 0; p < parts; ++p) {
    v1::RegisterBrokerRequest h = r;
    h.set_topics_version(version);
    h.set_body_part(static_cast<uint32_t>(p));
    h.set_body_parts(static_cast<uint32_t>(parts));
    frames.emplace_back(h, split[static_cast<size_t>(p)].SerializeAsString());
  }
  return frames;
}

TEST(RouteRegistryTest, RouteListsEveryBrokerServingTheTopic) {
  RouteRegistry reg;
  Register(reg, Registration("a", "127.0.0.1:1", {"orders", "pay"}), 1, 1000);
  Register(reg, Registration("b", "127.0.0.1:2", {"orders"}), 2, 1000);
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
  Register(reg, Registration("a", "127.0.0.1:1", {"t"}), 7, 1000);
  Register(reg, Registration("b", "127.0.0.1:2", {"t"}), 8, 1000);
  EXPECT_TRUE(reg.ExpireSilent(100000).empty());
  Register(reg, Registration("b", "127.0.0.1:2", {"t"}), 8, 110000);
  auto dropped = reg.ExpireSilent(121001);
  ASSERT_EQ(dropped.size(), 1u);
  EXPECT_EQ(dropped[0], "127.0.0.1:1");
  EXPECT_EQ(reg.ConnectionClosed(8).size(), 1u);
  EXPECT_EQ(reg.broker_count(), 0u);
  EXPECT_FALSE(reg.GetRoute("t").ok());
}

TEST(RouteRegistryTest, ReRegistrationReplacesTopicsAndDeleteRemovesThem) {
  RouteRegistry reg;
  Register(reg, Registration("a", "127.0.0.1:1", {"x", "y"}), 1, 1);
  Register(reg, Registration("a", "127.0.0.1:1", {"y"}), 1, 2);
  EXPECT_FALSE(reg.GetRoute("x").ok());
  EXPECT_TRUE(reg.GetRoute("y").ok());
  reg.DeleteTopic("y");
  EXPECT_FALSE(reg.GetRoute("y").ok());
  EXPECT_EQ(reg.GetClusterInfo().brokers_size(), 1);
}

// Trust: an address belongs to the live connection that registered it.
TEST(RouteRegistryTest, UnregistrationFromAForeignConnectionIsRefused) {
  RouteRegistry reg;
  Register(reg, Registration("a", "127.0.0.1:1", {"t"}), 1, 1000);
  Status foreign = reg.Unregister("127.0.0.1:1", 2);
  EXPECT_EQ(foreign.code(), StatusCode::kPermissionDenied) << foreign.ToString();
  EXPECT_NE(foreign.message().find("only the connection that registered it"), std::string::npos);
  EXPECT_TRUE(reg.GetRoute("t").ok());
  EXPECT_EQ(reg.Unregister("127.0.0.1:9", 2).code(), StatusCode::kNotFound);
  EXPECT_TRUE(reg.Unregister("127.0.0.1:1", 1).ok());
  EXPECT_FALSE(reg.GetRoute("t").ok());
}

TEST(RouteRegistryTest, RegistrationForAnAddressHeldByAnotherLiveConnectionIsRefused) {
  RouteRegistry reg;
  Register(reg, Registration("a", "127.0.0.1:1", {"t"}), 1, 1000);
  // A fake broker under the same address, in both forms, with an empty table.
  auto fake = reg.Register(Registration("evil", "127.0.0.1:1", {}), {}, 2, 2000);
  EXPECT_EQ(fake.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(fake.status().message().find("held by another live connection"), std::string::npos);
  for (const auto& [h, body] : BodyForm(Registration("evil", "127.0.0.1:1", {"x"}), 77, 1)) {
    EXPECT_EQ(reg.Register(h, body, 2, 2000).status().code(), StatusCode::kPermissionDenied);
  }
  // Nor may it take the broker's identity (name and id) at another address: it would become the
  // route's master for that broker name.
  auto twin = reg.Register(Registration("a", "127.0.0.1:2", {"t"}), {}, 2, 2000);
  EXPECT_EQ(twin.status().code(), StatusCode::kPermissionDenied);
  auto other_cluster = Registration("a", "127.0.0.1:3", {"t"});
  other_cluster.set_cluster_name("c2");
  EXPECT_EQ(reg.Register(other_cluster, {}, 2, 2000).status().code(), StatusCode::kPermissionDenied);
  // A slave (id 1) of that name at a lower address does not replace the master's queue data.
  auto slave = Registration("a", "127.0.0.0:9", {"t"});
  slave.set_broker_id(1);
  slave.mutable_topics(0)->set_write_queues(1);
  ASSERT_TRUE(reg.Register(slave, {}, 3, 2000).ok());
  EXPECT_NE(twin.status().message().find("broker a id 0 is registered at 127.0.0.1:1"), std::string::npos)
      << twin.status().ToString();
  auto route = reg.GetRoute("t");
  ASSERT_TRUE(route.ok());
  ASSERT_EQ(route->brokers_size(), 1);
  EXPECT_EQ(route->brokers(0).broker_name(), "a");
  EXPECT_EQ(route->brokers(0).addrs().at(0), "127.0.0.1:1");
  ASSERT_EQ(route->queues_size(), 1);
  EXPECT_EQ(route->queues(0).write_queues(), 4);
  EXPECT_FALSE(reg.GetRoute("x").ok());
  // The holder itself re-registers as often as it likes.
  EXPECT_TRUE(reg.Register(Registration("a", "127.0.0.1:1", {"t", "u"}), {}, 1, 3000).ok());
  EXPECT_TRUE(reg.GetRoute("u").ok());
}

TEST(RouteRegistryTest, TakeoverWorksOnceTheHoldersConnectionClosedOrItExpired) {
  RouteRegistry reg(120000);
  Register(reg, Registration("a", "127.0.0.1:1", {"t"}), 1, 1000);
  auto dropped = reg.ConnectionClosed(1);
  ASSERT_EQ(dropped.size(), 1u);
  // The broker, restarted, registers over its new connection.
  EXPECT_TRUE(Register(reg, Registration("a", "127.0.0.1:1", {"t"}), 5, 2000));
  EXPECT_TRUE(reg.GetRoute("t").ok());
  EXPECT_EQ(reg.AddrOf(5), "127.0.0.1:1");
  // A holder that went silent past the expiry loses the address too.
  ASSERT_EQ(reg.ExpireSilent(2000 + 120001).size(), 1u);
  EXPECT_TRUE(Register(reg, Registration("a", "127.0.0.1:1", {"t"}), 6, 200000));
}

TEST(RouteRegistryTest, RegistrationWhoseConnectionClosedMeanwhileIsDropped) {
  RouteRegistry reg;
  auto closed = [] { return false; };
  auto out = reg.Register(Registration("a", "127.0.0.1:1", {"t"}), {}, 1, 1000, closed);
  EXPECT_EQ(out.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(reg.broker_count(), 0u);
  // So the broker, back over a new connection, is not refused for a dead one.
  EXPECT_TRUE(reg.Register(Registration("a", "127.0.0.1:1", {"t"}), {}, 2, 1000, [] { return true; }).ok());
  EXPECT_TRUE(reg.GetRoute("t").ok());
}

TEST(RouteRegistryTest, OneConnectionHoldsABoundedNumberOfAddresses) {
  RouteRegistry reg;
  for (size_t i = 0; i < kMaxAddrsPerConnection; ++i) {
    Register(reg, Registration("b" + std::to_string(i), fmt::format("127.0.0.1:{}", 100 + i), {"t"}), 1, 1);
  }
  auto more = reg.Register(Registration("x", "127.0.0.1:99", {"t"}), {}, 1, 1);
  EXPECT_EQ(more.status().code(), StatusCode::kResourceExhausted) << more.status().ToString();
  EXPECT_TRUE(reg.Register(Registration("b0", "127.0.0.1:100", {"t"}), {}, 1, 2).ok());  // re-registration
  EXPECT_TRUE(reg.Register(Registration("x", "127.0.0.1:99", {"t"}), {}, 2, 2).ok());  // another connection
}

TEST(RouteRegistryTest, TableInTheBodyAndUnchangedVersionWithoutABody) {
  RouteRegistry reg;
  auto frames = BodyForm(Registration("a", "127.0.0.1:1", {"t1", "t2", "t3"}), 42, 1);
  auto out = reg.Register(frames[0].first, frames[0].second, 1, 1000);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_TRUE(out->new_broker);
  EXPECT_TRUE(out->committed);
  EXPECT_EQ(out->topic_count, 3u);
  EXPECT_TRUE(reg.GetRoute("t2").ok());

  v1::RegisterBrokerRequest beat = Registration("a", "127.0.0.1:1", {});
  beat.set_topics_version(42);
  out = reg.Register(beat, {}, 1, 50000);
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->committed);
  EXPECT_FALSE(out->send_topics);
  EXPECT_TRUE(reg.ExpireSilent(50000 + 100000).empty());  // the heartbeat refreshed liveness

  beat.set_topics_version(43);  // a version the registry does not hold
  out = reg.Register(beat, {}, 1, 60000);
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->send_topics);
  EXPECT_FALSE(out->committed);

  // After a topic is deleted on the name server, the broker is asked for its table again.
  beat.set_topics_version(42);
  reg.DeleteTopic("t1");
  EXPECT_TRUE(reg.Register(beat, {}, 1, 70000)->send_topics);
}

TEST(RouteRegistryTest, TableInSeveralPartsCommitsOnlyWhenComplete) {
  RouteRegistry reg;
  std::vector<std::string> names;
  for (int i = 0; i < 100; ++i) names.push_back(fmt::format("topic-{:03d}", i));
  auto frames = BodyForm(Registration("a", "127.0.0.1:1", names), 9, 3);
  auto out = reg.Register(frames[0].first, frames[0].second, 1, 1000);
  ASSERT_TRUE(out.ok());
  EXPECT_FALSE(out->committed);
  EXPECT_FALSE(reg.GetRoute("topic-000").ok());
  // Out of order: refused, the partial table dropped.
  EXPECT_EQ(reg.Register(frames[2].first, frames[2].second, 1, 1000).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(reg.Register(frames[1].first, frames[1].second, 1, 1000).status().code(), StatusCode::kInvalidArgument);
  for (const auto& [h, body] : frames) {
    out = reg.Register(h, body, 1, 1000);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
  }
  EXPECT_TRUE(out->committed);
  EXPECT_EQ(out->topic_count, 100u);
  for (const auto& n : names) EXPECT_TRUE(reg.GetRoute(n).ok()) << n;
  // A part over another connection does not continue this connection's table.
  auto again = BodyForm(Registration("b", "127.0.0.1:2", names), 10, 2);
  ASSERT_TRUE(reg.Register(again[0].first, again[0].second, 3, 1000).ok());
  EXPECT_EQ(reg.Register(again[1].first, again[1].second, 4, 1000).status().code(), StatusCode::kInvalidArgument);
}

TEST(RouteRegistryTest, MalformedRegistrationsAreRefusedWithTheirReason) {
  RouteRegistry reg;
  auto expect_refused = [&](const v1::RegisterBrokerRequest& r, std::string_view body, std::string_view reason) {
    auto out = reg.Register(r, body, 1, 1000);
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(out.status().message().find(reason), std::string::npos) << out.status().ToString();
  };
  expect_refused(Registration("a", "", {"t"}), {}, "broker_addr");
  expect_refused(Registration("a", "no-port", {"t"}), {}, "host:port");
  expect_refused(Registration("a", "h:70000", {"t"}), {}, "host:port");
  expect_refused(Registration("", "h:1", {"t"}), {}, "broker_name");
  expect_refused(Registration("a b", "h:1", {"t"}), {}, "broker_name");
  expect_refused(Registration("a", "h:1", {"bad topic"}), {}, "registration:");
  expect_refused(Registration("a", "h:1", {"t", "t"}), {}, "listed twice");
  auto r = Registration("a", "h:1", {"t"});
  r.mutable_topics(0)->set_read_queues(5000);
  expect_refused(r, {}, "queue counts");
  r = Registration("a", "h:1", {});
  r.set_topics_version(1);
  r.set_body_parts(1);
  expect_refused(r, "\xff\xff\xff", "not a TopicRouteTable");
  r.set_body_parts(kMaxRegistrationParts + 1);
  expect_refused(r, "", "body parts");
  r = Registration("a", "h:1", {});
  expect_refused(r, "xyz", "a body needs");
  r.set_broker_id(-1);
  expect_refused(r, {}, "broker_id");
  EXPECT_EQ(reg.broker_count(), 0u);
}

TEST(RouteRegistryTest, TopicNamesComeInPagesAcrossBrokers) {
  RouteRegistry reg;
  std::vector<std::string> a, b;
  for (int i = 0; i < 50; ++i) (i % 2 ? a : b).push_back(fmt::format("t{:03d}", i));
  a.push_back("shared");
  b.push_back("shared");
  Register(reg, Registration("a", "127.0.0.1:1", a), 1, 1);
  Register(reg, Registration("b", "127.0.0.1:2", b), 2, 1);
  std::vector<std::string> all;
  std::string after;
  bool more = true;
  int pages = 0;
  while (more) {
    auto page = reg.TopicNames(after, 7, 1 << 20, &more);
    ++pages;
    if (page.empty()) break;
    all.insert(all.end(), page.begin(), page.end());
    after = page.back();
  }
  EXPECT_EQ(all.size(), 51u);
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));
  EXPECT_EQ(pages, 8);
}

}  // namespace
}  // namespace vela::namesrv
