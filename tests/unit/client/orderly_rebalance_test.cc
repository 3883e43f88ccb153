// RebalanceService in orderly clustering mode against a stand-in broker (which also answers as
// the name server): a queue is pulled only once its lock is granted, its start offset is read
// after the grant, a lock not granted is retried, a lock the broker stops granting drops the
// queue, shutdown unlocks the queues still held, and a released queue consumes what it pulled
// before it commits and unlocks. Also, in either mode, a round asked for while another runs is run
// right after it (not left to the next periodic round).
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <thread>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "client/consume_service_concurrent.h"
#include "client/consume_service_orderly.h"
#include "client/offset_store.h"
#include "client/pull_service.h"
#include "client/rebalance.h"
#include "consume_test_support.h"

namespace vela::client {
namespace {

using testing::TestConsumer;
using testing::MakeMessage;
using testing::WaitFor;

class FakeLockingBroker {
 public:
  FakeLockingBroker() {
    dispatcher_.RegisterProcessor(v1::GET_ROUTE, [this](net::RequestContext ctx, net::Frame frame) {
      if (frame.header.route_request().topic() != "T") {
        ctx.ReplyError(vela::Status::NotFound("no such topic"));
        return;
      }
      v1::Header response;
      auto* route = response.mutable_route_response();
      auto* broker = route->add_brokers();
      broker->set_cluster_name("c");
      broker->set_broker_name("broker-a");
      (*broker->mutable_addrs())[0] = address();
      auto* queues = route->add_queues();
      queues->set_broker_name("broker-a");
      queues->set_read_queues(2);
      queues->set_write_queues(2);
      queues->set_perm(6);
      ctx.Reply(vela::Status::OK(), std::move(response));
    });
    dispatcher_.RegisterProcessor(v1::GET_CONSUMER_LIST, [this](net::RequestContext ctx, net::Frame) {
      v1::Header response;
      std::unique_lock lock(mu_);
      ++consumer_lists_asked_;
      lists_released_.wait(lock, [this] { return !hold_lists_; });  // blocks the fake's only io thread
      response.mutable_consumer_list_response()->add_client_ids(client_id_);
      if (!other_client_id_.empty()) response.mutable_consumer_list_response()->add_client_ids(other_client_id_);
      ctx.Reply(vela::Status::OK(), std::move(response));
    });
    dispatcher_.RegisterProcessor(v1::LOCK_QUEUES, [this](net::RequestContext ctx, net::Frame frame) {
      v1::Header response;
      std::lock_guard lock(mu_);
      for (const auto& q : frame.header.lock_queues_request().queues()) {
        if (grantable_.count(q.queue_id())) {
          *response.mutable_lock_queues_response()->add_locked() = q;
          events_.push_back("lock q" + std::to_string(q.queue_id()));
        }
      }
      ctx.Reply(vela::Status::OK(), std::move(response));
    });
    dispatcher_.RegisterProcessor(v1::UNLOCK_QUEUES, [this](net::RequestContext ctx, net::Frame frame) {
      std::lock_guard lock(mu_);
      for (const auto& q : frame.header.lock_queues_request().queues()) {
        events_.push_back("unlock q" + std::to_string(q.queue_id()));
      }
      ctx.Reply(vela::Status::OK());
    });
    dispatcher_.RegisterProcessor(v1::QUERY_CONSUMER_OFFSET, [this](net::RequestContext ctx, net::Frame frame) {
      v1::Header response;
      response.mutable_query_offset_response()->set_offset(5);
      std::lock_guard lock(mu_);
      events_.push_back("query q" + std::to_string(frame.header.query_offset_request().queue_id()));
      ctx.Reply(vela::Status::OK(), std::move(response));
    });
    dispatcher_.RegisterProcessor(v1::UPDATE_CONSUMER_OFFSET, [this](net::RequestContext ctx, net::Frame frame) {
      std::lock_guard lock(mu_);
      const auto& u = frame.header.update_offset_request();
      events_.push_back("commit q" + std::to_string(u.queue_id()) + "@" + std::to_string(u.offset()));
      ctx.Reply(vela::Status::OK());
    });
    dispatcher_.RegisterProcessor(v1::PULL_MESSAGE, [this](net::RequestContext, net::Frame frame) {
      std::lock_guard lock(mu_);  // never answered: the pull stays parked
      const auto& p = frame.header.pull_request();
      events_.push_back("pull q" + std::to_string(p.queue_id()) + "@" + std::to_string(p.queue_offset()));
    });
    server_ = std::make_unique<net::Server>(net::ServerOptions{"127.0.0.1:0", 1}, &dispatcher_);
    EXPECT_TRUE(server_->Start().ok());
  }
  ~FakeLockingBroker() { server_->Stop(); }
  std::string address() const { return server_->listen_address(); }

  void SetClientId(const std::string& id) {
    std::lock_guard lock(mu_);
    client_id_ = id;
  }
  // Another member of the group, listed with this client.
  void SetOtherClient(const std::string& id) {
    std::lock_guard lock(mu_);
    other_client_id_ = id;
  }
  // While held, consumer-list requests wait (a rebalance round stays in progress).
  void HoldConsumerLists(bool hold) {
    {
      std::lock_guard lock(mu_);
      hold_lists_ = hold;
    }
    lists_released_.notify_all();
  }
  int consumer_lists_asked() const {
    std::lock_guard lock(mu_);
    return consumer_lists_asked_;
  }
  void SetGrantable(std::set<int> queue_ids) {
    std::lock_guard lock(mu_);
    grantable_ = std::move(queue_ids);
  }
  std::vector<std::string> events() const {
    std::lock_guard lock(mu_);
    return events_;
  }
  bool Saw(const std::string& event) const {
    auto e = events();
    return std::find(e.begin(), e.end(), event) != e.end();
  }
  // Index of the first `event`, or -1.
  size_t Count(const std::string& event) const {
    auto e = events();
    return static_cast<size_t>(std::count(e.begin(), e.end(), event));
  }
  int IndexOf(const std::string& event) const {
    auto e = events();
    auto it = std::find(e.begin(), e.end(), event);
    return it == e.end() ? -1 : static_cast<int>(it - e.begin());
  }

 private:
  mutable std::mutex mu_;
  std::string client_id_;
  std::string other_client_id_;
  std::set<int> grantable_;
  bool hold_lists_ = false;
  int consumer_lists_asked_ = 0;
  std::condition_variable lists_released_;
  std::vector<std::string> events_;
  net::Dispatcher dispatcher_;
  std::unique_ptr<net::Server> server_;
};

TEST(OrderlyRebalanceTest, QueuesArePulledOnlyUnderTheirLockAndHeldOnesUnlockedAtShutdown) {
  FakeLockingBroker broker;
  broker.SetGrantable({0});
  PushConsumerOptions options;
  options.group = "og";
  options.orderly = true;
  options.lock_renew_interval_ms = 200;
  options.long_poll_ms = 1000;
  TestConsumer consumer(
      options, [](const MessageView&) { return ConsumeResult::kSuccess; }, broker.address(),
      {{"T", FilterExpression::All()}});
  broker.SetClientId(consumer.ctx.instance->client_id());
  auto& consume = consumer.Use<OrderlyConsumeService>();
  BrokerOffsetStore store(consumer.ctx);
  PullService pull(consumer.ctx, store, consume);
  RebalanceService rebalance(consumer.ctx, store, pull, consume);

  EXPECT_FALSE(rebalance.Rebalance());
  ASSERT_TRUE(WaitFor([&] { return broker.Saw("pull q0@5"); }));
  // Queue 0: locked, then its committed offset read, then pulled from it.
  EXPECT_LT(broker.IndexOf("lock q0"), broker.IndexOf("query q0"));
  EXPECT_LT(broker.IndexOf("query q0"), broker.IndexOf("pull q0@5"));
  EXPECT_EQ(rebalance.Snapshot().size(), 2u);
  EXPECT_FALSE(broker.Saw("query q1"));  // not locked: not even started
  EXPECT_FALSE(broker.Saw("pull q1@5"));

  // The broker grants queue 1 at a later round.
  broker.SetGrantable({0, 1});
  rebalance.RenewLocks();
  ASSERT_TRUE(WaitFor([&] { return broker.Saw("pull q1@5"); }));
  EXPECT_LT(broker.IndexOf("lock q1"), broker.IndexOf("query q1"));

  // Queue 0's lock goes to someone else: the renewal leaves it out and the queue is dropped.
  broker.SetGrantable({1});
  std::this_thread::sleep_for(std::chrono::milliseconds(250));  // the renew interval passes
  rebalance.RenewLocks();
  ASSERT_EQ(rebalance.Snapshot().size(), 1u);
  EXPECT_EQ(rebalance.Snapshot()[0]->mq.queue_id, 1);

  // Shutdown: the held queue 1 is unlocked; queue 0 (lost) is not.
  rebalance.DrainAll();
  consumer.ctx.running.store(false);
  rebalance.ReleaseAll();
  EXPECT_TRUE(broker.Saw("unlock q1"));
  EXPECT_FALSE(broker.Saw("unlock q0"));
  consumer.instance->Shutdown();  // before the parts its pending pulls call back into go away
}

// A queue moving away on a rebalance while its pulled messages take several renew intervals to
// consume: every one of them is consumed (the lease renewed meanwhile) before the commit, which
// covers them all, and only then is the lock released. (Committing after one renew interval left
// the messages behind the slowest key to be consumed again by the next owner.)
TEST(OrderlyRebalanceTest, ReleasedQueueConsumesEveryPulledMessageBeforeItCommitsAndUnlocks) {
  FakeLockingBroker broker;
  broker.SetGrantable({0, 1});
  PushConsumerOptions options;
  options.group = "og";
  options.orderly = true;
  options.lock_renew_interval_ms = 100;
  options.long_poll_ms = 1000;
  std::atomic<int> consumed{0};
  TestConsumer consumer(
      options,
      [&](const MessageView&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(60));
        ++consumed;
        return ConsumeResult::kSuccess;
      },
      broker.address(), {{"T", FilterExpression::All()}});
  broker.SetClientId(consumer.ctx.instance->client_id());
  auto& consume = consumer.Use<OrderlyConsumeService>();
  BrokerOffsetStore store(consumer.ctx);
  PullService pull(consumer.ctx, store, consume);
  RebalanceService rebalance(consumer.ctx, store, pull, consume);

  EXPECT_FALSE(rebalance.Rebalance());
  ASSERT_TRUE(WaitFor([&] { return broker.Saw("pull q0@5") && broker.Saw("pull q1@5"); }));
  std::shared_ptr<ProcessQueue> q0;
  for (const auto& pq : rebalance.Snapshot()) {
    if (pq->mq.queue_id == 0) q0 = pq;
  }
  ASSERT_NE(q0, nullptr);
  // Ten messages of one key, as a pull would hand them: 600 ms of work, six renew intervals.
  std::vector<MessageView> messages;
  {
    std::lock_guard lock(q0->mu);
    for (int64_t offset = 5; offset < 15; ++offset) {
      messages.push_back(MakeMessage(broker.address(), offset, "k"));
      q0->tracker.Add(offset, messages.back().body.size());
    }
    q0->tracker.AdvanceTo(15);
  }
  consume.Submit(q0, std::move(messages));
  // A member that sorts first joins: queue 0 goes to it.
  broker.SetOtherClient("0-other");
  const size_t locks_before = broker.Count("lock q1");
  rebalance.Rebalance();
  EXPECT_EQ(consumed.load(), 10);
  ASSERT_TRUE(broker.Saw("commit q0@15")) << "committed short of the pulled messages";
  EXPECT_LT(broker.IndexOf("commit q0@15"), broker.IndexOf("unlock q0"));
  EXPECT_GT(broker.Count("lock q1"), locks_before) << "the other held lock was not renewed during the drain";
  EXPECT_GT(broker.Count("lock q0"), 1u) << "the released queue's lease was not kept during the drain";

  consumer.ctx.running.store(false);
  rebalance.ReleaseAll();
  consumer.instance->Shutdown();
}

// A membership change noticed while a round runs (NOTIFY_CONSUMER_IDS_CHANGED arriving mid-round)
// asks for a round that cannot start then. It is run by the round in progress, right after it:
// dropped, it waited for the next periodic round (5 s by default) with two members pulling the
// same queues meanwhile, which delivered thousands of messages twice.
TEST(RebalanceRoundTest, ARoundAskedForWhileAnotherRunsIsRunRightAfterIt) {
  FakeLockingBroker broker;
  PushConsumerOptions options;
  options.group = "cg";
  options.long_poll_ms = 1000;
  TestConsumer consumer(
      options, [](const MessageView&) { return ConsumeResult::kSuccess; }, broker.address(),
      {{"T", FilterExpression::All()}});
  broker.SetClientId(consumer.ctx.instance->client_id());
  auto& consume = consumer.Use<ConcurrentConsumeService>();
  BrokerOffsetStore store(consumer.ctx);
  PullService pull(consumer.ctx, store, consume);
  RebalanceService rebalance(consumer.ctx, store, pull, consume);

  broker.HoldConsumerLists(true);
  std::thread first([&] { rebalance.Rebalance(); });
  ASSERT_TRUE(WaitFor([&] { return broker.consumer_lists_asked() == 1; }));
  EXPECT_FALSE(rebalance.Rebalance());  // returns at once: the round in progress takes it over
  broker.SetOtherClient("~another-member");  // joined meanwhile
  broker.HoldConsumerLists(false);
  first.join();  // the first round saw this client alone, the second one both members
  EXPECT_EQ(broker.consumer_lists_asked(), 2);
  EXPECT_EQ(rebalance.Snapshot().size(), 1u);

  consumer.ctx.running.store(false);
  rebalance.ReleaseAll();
  consumer.instance->Shutdown();
}

}  // namespace
}  // namespace vela::client
