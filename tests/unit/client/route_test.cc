#include "client/route.h"

#include <algorithm>
#include <atomic>

#include <gtest/gtest.h>

#include "net/dispatcher.h"
#include "net/server.h"
#include "support/test_support.h"
#include "vela/consumer.h"

namespace vela::client {
namespace {

v1::RouteResponse SampleResponse() {
  v1::RouteResponse r;
  auto* a = r.add_brokers();
  a->set_cluster_name("c");
  a->set_broker_name("broker-a");
  (*a->mutable_addrs())[0] = "127.0.0.1:10911";
  auto* b = r.add_brokers();
  b->set_broker_name("broker-b");
  (*b->mutable_addrs())[0] = "127.0.0.1:10912";
  auto* slave_only = r.add_brokers();
  slave_only->set_broker_name("broker-c");
  (*slave_only->mutable_addrs())[1] = "127.0.0.1:10913";
  auto* qa = r.add_queues();
  qa->set_broker_name("broker-a");
  qa->set_read_queues(4);
  qa->set_write_queues(2);
  qa->set_perm(6);
  auto* qb = r.add_queues();
  qb->set_broker_name("broker-b");
  qb->set_read_queues(2);
  qb->set_write_queues(2);
  qb->set_perm(kPermRead);  // read-only
  auto* qc = r.add_queues();
  qc->set_broker_name("broker-c");
  qc->set_read_queues(2);
  qc->set_write_queues(2);
  qc->set_perm(6);
  return r;
}

TEST(RouteTest, ParsesQueuesByPermissionAndSkipsBrokersWithoutMaster) {
  TopicRoute route = ParseRoute("T", SampleResponse());
  EXPECT_EQ(route.broker_addrs.size(), 2u);
  EXPECT_EQ(route.AddrOf("broker-a"), "127.0.0.1:10911");
  EXPECT_EQ(route.AddrOf("broker-c"), "");
  ASSERT_EQ(route.write_queues.size(), 2u);
  for (const auto& q : route.write_queues) EXPECT_EQ(q.broker_name, "broker-a");
  ASSERT_EQ(route.read_queues.size(), 6u);
  EXPECT_TRUE(std::is_sorted(route.read_queues.begin(), route.read_queues.end()));
  EXPECT_EQ(route.read_queues.back().broker_name, "broker-b");
}

TEST(RouteTest, ZeroPermMeansReadWrite) {
  auto response = SampleResponse();
  response.mutable_queues(1)->set_perm(0);
  EXPECT_EQ(ParseRoute("T", response).write_queues.size(), 4u);
}

TEST(RouteTest, SplitsNameServerAddresses) {
  EXPECT_EQ(SplitAddresses("a:1;b:2"), (std::vector<std::string>{"a:1", "b:2"}));
  EXPECT_EQ(SplitAddresses(" a:1 ; ;b:2,c:3;"), (std::vector<std::string>{"a:1", "b:2", "c:3"}));
  EXPECT_TRUE(SplitAddresses("").empty());
}

// A name server stand-in: answers GET_ROUTE for topic "T" and NotFound for anything else.
class FakeNamesrv {
 public:
  FakeNamesrv() {
    dispatcher_.RegisterProcessor(v1::GET_ROUTE, [this](net::RequestContext ctx, net::Frame frame) {
      ++requests;
      if (frame.header.route_request().topic() != "T") {
        ctx.ReplyError(vela::Status::NotFound("no route", vela::SubCode::kTopicNotFound));
        return;
      }
      v1::Header response;
      *response.mutable_route_response() = SampleResponse();
      ctx.Reply(vela::Status::OK(), std::move(response));
    });
    server_ = std::make_unique<net::Server>(net::ServerOptions{"127.0.0.1:0", 1}, &dispatcher_);
    EXPECT_TRUE(server_->Start().ok());
  }
  ~FakeNamesrv() { server_->Stop(); }
  std::string address() const { return server_->listen_address(); }
  std::atomic<int> requests{0};

 private:
  net::Dispatcher dispatcher_;
  std::unique_ptr<net::Server> server_;
};

TEST(NameServerClientTest, FailsOverToTheNextNameServerAndCachesRoutes) {
  FakeNamesrv namesrv;
  net::RpcClient rpc;
  const std::string dead = "127.0.0.1:" + std::to_string(vela::testing::FreePort());
  NameServerClient client(&rpc, {dead, namesrv.address()}, 2000);
  RouteCache cache(&client, 30000);

  auto route = cache.Get("T");
  ASSERT_TRUE(route.ok()) << route.status().ToString();
  EXPECT_EQ((*route)->write_queues.size(), 2u);
  EXPECT_EQ(namesrv.requests.load(), 1);
  ASSERT_TRUE(cache.Get("T").ok());
  EXPECT_EQ(namesrv.requests.load(), 1);  // served from the cache
  EXPECT_EQ(cache.AllBrokerAddrs().size(), 2u);

  auto missing = cache.Get("Unknown");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), vela::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().subcode(), vela::SubCode::kTopicNotFound);
  rpc.Shutdown();
}

TEST(PushConsumerBuilderTest, BadSqlFailsAtBuildWithItsPosition) {
  auto consumer = PushConsumerBuilder()
                      .SetNamesrvAddr("127.0.0.1:1")
                      .SetGroup("g")
                      .Subscribe("T", FilterExpression::Sql92("a > "))
                      .SetListener([](const MessageView&) { return ConsumeResult::kSuccess; })
                      .Build();
  ASSERT_FALSE(consumer.ok());
  EXPECT_EQ(consumer.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(consumer.status().subcode(), SubCode::kBadFilter);
  EXPECT_EQ(consumer.status().position(), 4);
}

TEST(PushConsumerBuilderTest, RequiresGroupListenerAndSubscription) {
  auto listener = [](const MessageView&) { return ConsumeResult::kSuccess; };
  EXPECT_FALSE(PushConsumerBuilder().SetNamesrvAddr("x:1").Subscribe("T").SetListener(listener).Build().ok());
  EXPECT_FALSE(PushConsumerBuilder().SetNamesrvAddr("x:1").SetGroup("g").SetListener(listener).Build().ok());
  EXPECT_FALSE(PushConsumerBuilder().SetNamesrvAddr("x:1").SetGroup("g").Subscribe("T").Build().ok());
}

}  // namespace
}  // namespace vela::client
