// Queue locks for orderly consumption: the lock table (grant, renew, held by another, lease
// expiry, release on unlock, on leaving the group and on connection close) and LOCK_QUEUES /
// UNLOCK_QUEUES with their membership and subscription checks.
#include "broker/lock/queue_lock_manager.h"

#include <asio/io_context.hpp>
#include <gtest/gtest.h>

#include "broker/lock/lock_processor.h"
#include "unit/broker/processor_test_util.h"

namespace vela::broker::lock {
namespace {

const LockedQueue kQ0{"orders", 0};
const LockedQueue kQ1{"orders", 1};
const LockedQueue kQ2{"orders", 2};

TEST(QueueLockManagerTest, GrantsRenewsAndLeavesOutQueuesHeldByAnother) {
  QueueLockManager locks(1000);
  EXPECT_EQ(locks.Lock("g", "a", 1, {kQ0, kQ1}, 10'000), (std::vector<LockedQueue>{kQ0, kQ1}));
  EXPECT_EQ(locks.HolderOf("g", kQ0, 10'000), "a");
  // b gets only the free one.
  EXPECT_EQ(locks.Lock("g", "b", 2, {kQ0, kQ1, kQ2}, 10'100), (std::vector<LockedQueue>{kQ2}));
  // a renews at 10'900: its lease now runs to 11'900.
  EXPECT_EQ(locks.Lock("g", "a", 1, {kQ0}, 10'900), (std::vector<LockedQueue>{kQ0}));
  EXPECT_TRUE(locks.Lock("g", "b", 2, {kQ0}, 11'500).empty());
  // Locks are per group: another group's member is not in the way.
  EXPECT_EQ(locks.Lock("h", "b", 2, {kQ0}, 11'500), (std::vector<LockedQueue>{kQ0}));
}

TEST(QueueLockManagerTest, AnExpiredLeaseIsTakenOver) {
  QueueLockManager locks(1000);
  ASSERT_EQ(locks.Lock("g", "a", 1, {kQ0}, 10'000).size(), 1u);
  EXPECT_TRUE(locks.Lock("g", "b", 2, {kQ0}, 10'999).empty());
  EXPECT_EQ(locks.HolderOf("g", kQ0, 11'000), "");  // lease over
  EXPECT_EQ(locks.Lock("g", "b", 2, {kQ0}, 11'000).size(), 1u);
  EXPECT_EQ(locks.HolderOf("g", kQ0, 11'000), "b");
  // a, whose lease ran out, no longer holds it.
  EXPECT_EQ(locks.Unlock("g", "a", {kQ0}), (std::vector<LockedQueue>{kQ0}));
  EXPECT_EQ(locks.size(), 1u);
}

TEST(QueueLockManagerTest, UnlockReleasesWhatIsHeldAndNamesTheRest) {
  QueueLockManager locks(60000);
  ASSERT_EQ(locks.Lock("g", "a", 1, {kQ0, kQ1}, 0).size(), 2u);
  ASSERT_EQ(locks.Lock("g", "b", 2, {kQ2}, 0).size(), 1u);
  EXPECT_EQ(locks.Unlock("g", "a", {kQ0, kQ2, LockedQueue{"other", 0}}),
            (std::vector<LockedQueue>{kQ2, LockedQueue{"other", 0}}));
  EXPECT_EQ(locks.HolderOf("g", kQ0, 0), "");  // released anyway
  EXPECT_EQ(locks.HolderOf("g", kQ2, 0), "b");
  EXPECT_EQ(locks.Lock("g", "b", 2, {kQ0}, 1).size(), 1u);
}

TEST(QueueLockManagerTest, LeavingTheGroupOrClosingTheConnectionReleases) {
  QueueLockManager locks(60000);
  ASSERT_EQ(locks.Lock("g", "a", 1, {kQ0, kQ1}, 0).size(), 2u);
  ASSERT_EQ(locks.Lock("h", "a", 1, {kQ0}, 0).size(), 1u);
  ASSERT_EQ(locks.Lock("g", "b", 2, {kQ2}, 0).size(), 1u);
  // a leaves group g: its locks in g go, its lock in h stays.
  EXPECT_EQ(locks.ReleaseClient("g", "a"), 2u);
  EXPECT_EQ(locks.HolderOf("g", kQ0, 0), "");
  EXPECT_EQ(locks.HolderOf("h", kQ0, 0), "a");
  EXPECT_EQ(locks.HolderOf("g", kQ2, 0), "b");
  // b's connection closes.
  EXPECT_EQ(locks.ReleaseConnection(2), 1u);
  EXPECT_EQ(locks.HolderOf("g", kQ2, 0), "");
  EXPECT_EQ(locks.ReleaseConnection(2), 0u);
  // A lock renewed over a new connection belongs to that one.
  ASSERT_EQ(locks.Lock("h", "a", 3, {kQ0}, 1).size(), 1u);
  EXPECT_EQ(locks.ReleaseConnection(1), 0u);
  EXPECT_EQ(locks.HolderOf("h", kQ0, 1), "a");
  EXPECT_EQ(locks.ReleaseConnection(3), 1u);
  EXPECT_EQ(locks.size(), 0u);
}

class LockProcessorTest : public testing::ProcessorTest {
 protected:
  LockProcessorTest() {
    CreateTopic("orders");
    CreateTopic("payments");
    clients_.AddConsumerLeftListener(
        [this](const std::string& group, const std::string& id) { locks_.ReleaseClient(group, id); });
  }

  // A consumer of `group` subscribed to `topic`, heartbeating over its own connection.
  std::shared_ptr<net::Connection> Join(const std::string& group, const std::string& client_id,
                                        const std::string& topic) {
    auto connection =
        std::make_shared<net::Connection>(asio::ip::tcp::socket(io_), net::ConnectionOptions{}, nullptr);
    v1::HeartbeatRequest hb;
    hb.set_client_id(client_id);
    auto* c = hb.add_consumers();
    c->set_group(group);
    c->set_orderly(true);
    auto* s = c->add_subscriptions();
    s->set_topic(topic);
    s->set_expression("*");
    clients_.Heartbeat(hb, connection, 0);
    return connection;
  }

  testing::Answer Request(v1::RequestCode code, const std::string& group, const std::string& client_id,
                          const std::vector<std::pair<std::string, int>>& queues) {
    v1::Header h;
    h.set_code(code);
    auto* r = h.mutable_lock_queues_request();
    r->set_group(group);
    r->set_client_id(client_id);
    for (const auto& [topic, id] : queues) {
      auto* q = r->add_queues();
      q->set_topic(topic);
      q->set_broker_name("broker-a");
      q->set_queue_id(id);
    }
    return testing::Call(
        [&](net::RequestContext rc, net::Frame f) {
          if (code == v1::LOCK_QUEUES) {
            processor_.HandleLock(rc, std::move(f));
          } else {
            processor_.HandleUnlock(rc, std::move(f));
          }
        },
        h);
  }

  static size_t Locked(const testing::Answer& a) { return static_cast<size_t>(a.header.lock_queues_response().locked_size()); }

  asio::io_context io_;
  QueueLockManager locks_{60000};
  LockProcessor processor_{"broker-a", locks_, clients_, *topics_};
};

TEST_F(LockProcessorTest, MembersLockTheirQueues) {
  auto ca = Join("g", "a", "orders");
  auto cb = Join("g", "b", "orders");
  auto a = Request(v1::LOCK_QUEUES, "g", "a", {{"orders", 0}, {"orders", 1}});
  ASSERT_TRUE(a.status && a.status->ok()) << a.status->ToString();
  EXPECT_EQ(Locked(a), 2u);
  EXPECT_EQ(a.header.lock_queues_response().locked(0).broker_name(), "broker-a");
  auto b = Request(v1::LOCK_QUEUES, "g", "b", {{"orders", 1}, {"orders", 2}});
  ASSERT_TRUE(b.status && b.status->ok());
  ASSERT_EQ(Locked(b), 1u);
  EXPECT_EQ(b.header.lock_queues_response().locked(0).queue_id(), 2);
  // The group's own retry topic needs no subscription.
  EXPECT_TRUE(topics_->UpsertSystemTopic(store::TopicConfig{"%RETRY%g", 1, 1, 6, 0}).ok());
  EXPECT_EQ(Locked(Request(v1::LOCK_QUEUES, "g", "a", {{"%RETRY%g", 0}})), 1u);
}

TEST_F(LockProcessorTest, RefusesNonMembersAndTopicsTheGroupDoesNotSubscribeTo) {
  auto ca = Join("g", "a", "orders");
  auto other = Join("h", "x", "orders");
  // A member of another group asking for g's queue.
  auto foreign = Request(v1::LOCK_QUEUES, "g", "x", {{"orders", 0}});
  ASSERT_TRUE(foreign.status);
  EXPECT_EQ(foreign.status->code(), StatusCode::kPermissionDenied);
  EXPECT_NE(foreign.status->message().find("not a registered consumer of group g"), std::string::npos);
  // A topic g does not subscribe to.
  auto unsubscribed = Request(v1::LOCK_QUEUES, "g", "a", {{"payments", 0}});
  ASSERT_TRUE(unsubscribed.status);
  EXPECT_EQ(unsubscribed.status->code(), StatusCode::kPermissionDenied);
  EXPECT_NE(unsubscribed.status->message().find("does not subscribe to topic payments"), std::string::npos);
  // Bad queues.
  EXPECT_EQ(Request(v1::LOCK_QUEUES, "g", "a", {{"orders", 4}}).status->code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Request(v1::LOCK_QUEUES, "g", "a", {{"nope", 0}}).status->code(), StatusCode::kNotFound);
  EXPECT_EQ(Request(v1::LOCK_QUEUES, "", "a", {{"orders", 0}}).status->code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(locks_.size(), 0u);
  // Another broker's queue.
  v1::Header h;
  h.set_code(v1::LOCK_QUEUES);
  h.mutable_lock_queues_request()->set_group("g");
  h.mutable_lock_queues_request()->set_client_id("a");
  auto* q = h.mutable_lock_queues_request()->add_queues();
  q->set_topic("orders");
  q->set_broker_name("broker-b");
  auto elsewhere = testing::Call([&](net::RequestContext rc, net::Frame f) { processor_.HandleLock(rc, std::move(f)); }, h);
  EXPECT_EQ(elsewhere.status->code(), StatusCode::kInvalidArgument);
}

TEST_F(LockProcessorTest, UnlockOfAQueueNotHeldIsAFailedPrecondition) {
  auto ca = Join("g", "a", "orders");
  auto cb = Join("g", "b", "orders");
  ASSERT_EQ(Locked(Request(v1::LOCK_QUEUES, "g", "a", {{"orders", 0}, {"orders", 1}})), 2u);
  auto bad = Request(v1::UNLOCK_QUEUES, "g", "b", {{"orders", 0}});
  ASSERT_TRUE(bad.status);
  EXPECT_EQ(bad.status->code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(bad.status->message().find("orders/0"), std::string::npos);
  EXPECT_EQ(locks_.HolderOf("g", kQ0, 1), "a");
  // Partly held: released anyway, the rest named.
  auto partly = Request(v1::UNLOCK_QUEUES, "g", "a", {{"orders", 0}, {"orders", 3}});
  EXPECT_EQ(partly.status->code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(partly.status->message().find("orders/3"), std::string::npos);
  EXPECT_EQ(locks_.HolderOf("g", kQ0, 1), "");
  auto ok = Request(v1::UNLOCK_QUEUES, "g", "a", {{"orders", 1}});
  EXPECT_TRUE(ok.status->ok());
  EXPECT_EQ(locks_.size(), 0u);
}

TEST_F(LockProcessorTest, LeavingTheGroupReleasesItsLocks) {
  auto ca = Join("g", "a", "orders");
  auto cb = Join("g", "b", "orders");
  ASSERT_EQ(Locked(Request(v1::LOCK_QUEUES, "g", "a", {{"orders", 0}})), 1u);
  EXPECT_EQ(Locked(Request(v1::LOCK_QUEUES, "g", "b", {{"orders", 0}})), 0u);
  clients_.Unregister("a", "", "g");
  EXPECT_EQ(Locked(Request(v1::LOCK_QUEUES, "g", "b", {{"orders", 0}})), 1u);
  // b's heartbeat connection closes.
  clients_.ConnectionClosed(cb->id());
  EXPECT_EQ(locks_.size(), 0u);
  auto gone = Request(v1::LOCK_QUEUES, "g", "b", {{"orders", 0}});
  EXPECT_EQ(gone.status->code(), StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace vela::broker::lock
