#include "client/queue_allocation.h"

#include <map>
#include <set>

#include <gtest/gtest.h>

#include "queue_test_support.h"

namespace vela::client {
namespace {

using testing::Queues;

std::vector<std::string> Clients(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("c" + std::to_string(i));
  return out;
}

// Every queue has exactly one owner, and sizes differ by at most one.
void ExpectPartition(const std::vector<MessageQueue>& queues, const std::vector<std::string>& clients) {
  std::map<MessageQueue, int> owners;
  size_t min_size = SIZE_MAX, max_size = 0;
  for (const auto& c : clients) {
    auto mine = AllocateAveragely(queues, clients, c);
    min_size = std::min(min_size, mine.size());
    max_size = std::max(max_size, mine.size());
    for (const auto& q : mine) owners[q]++;
  }
  EXPECT_EQ(owners.size(), queues.size());
  for (const auto& [q, n] : owners) EXPECT_EQ(n, 1) << q.ToString();
  EXPECT_LE(max_size - min_size, 1u);
}

TEST(AllocateAveragelyTest, SplitsEvenly) {
  auto queues = Queues(2, 4);
  auto clients = Clients(4);
  ExpectPartition(queues, clients);
  auto first = AllocateAveragely(queues, clients, "c0");
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0], queues[0]);
  EXPECT_EQ(first[1], queues[1]);
}

TEST(AllocateAveragelyTest, GivesTheRemainderToTheFirstClients) {
  auto queues = Queues(2, 4);  // 8 queues
  auto clients = Clients(3);
  ExpectPartition(queues, clients);
  EXPECT_EQ(AllocateAveragely(queues, clients, "c0").size(), 3u);
  EXPECT_EQ(AllocateAveragely(queues, clients, "c1").size(), 3u);
  EXPECT_EQ(AllocateAveragely(queues, clients, "c2").size(), 2u);
  EXPECT_EQ(AllocateAveragely(queues, clients, "c2").front(), queues[6]);
}

TEST(AllocateAveragelyTest, ClientsBeyondTheQueueCountGetNothing) {
  auto queues = Queues(1, 2);
  auto clients = Clients(5);
  ExpectPartition(queues, clients);
  EXPECT_TRUE(AllocateAveragely(queues, clients, "c4").empty());
}

TEST(AllocateAveragelyTest, UnknownClientGetsNothing) {
  EXPECT_TRUE(AllocateAveragely(Queues(1, 4), Clients(2), "stranger").empty());
  EXPECT_TRUE(AllocateAveragely({}, Clients(2), "c0").empty());
}

TEST(AllocateAveragelyTest, MembershipChangesRedistributeEverything) {
  auto queues = Queues(2, 4);
  for (int members = 1; members <= 9; ++members) ExpectPartition(queues, Clients(members));
  // A member leaving: the survivors cover every queue.
  auto three = Clients(3);
  auto two = std::vector<std::string>{three[0], three[2]};
  ExpectPartition(queues, two);
}

TEST(ShardingHashTest, IsStable) {
  EXPECT_EQ(ShardingHash(""), 2166136261u);
  EXPECT_EQ(ShardingHash("a"), 0xe40c292cu);
  EXPECT_EQ(ShardingHash("user-42"), ShardingHash(std::string("user-") + "42"));
}

TopicRoute TwoBrokerRoute() {
  TopicRoute route;
  route.topic = "T";
  route.broker_addrs = {{"a", "127.0.0.1:1"}, {"b", "127.0.0.1:2"}};
  for (const char* b : {"a", "b"}) {
    for (int q = 0; q < 2; ++q) route.write_queues.push_back({"T", b, q});
  }
  return route;
}

TEST(QueueSelectorTest, RoundRobinsOverEveryWritableQueue) {
  QueueSelector selector;
  auto route = TwoBrokerRoute();
  std::map<std::pair<std::string, int>, int> hits;
  for (int i = 0; i < 40; ++i) {
    const auto* q = selector.Select(route, "");
    ASSERT_NE(q, nullptr);
    hits[{q->broker_name, q->queue_id}]++;
  }
  ASSERT_EQ(hits.size(), 4u);
  for (const auto& [q, n] : hits) EXPECT_EQ(n, 10);
}

TEST(QueueSelectorTest, AvoidsTheFailedBroker) {
  QueueSelector selector;
  auto route = TwoBrokerRoute();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(selector.Select(route, "", "a")->broker_name, "b");
}

TEST(QueueSelectorTest, ShardingKeyPinsOneQueue) {
  QueueSelector selector;
  auto route = TwoBrokerRoute();
  const auto* first = selector.Select(route, "user-7");
  for (int i = 0; i < 10; ++i) EXPECT_EQ(selector.Select(route, "user-7"), first);
  std::set<const MessageQueue*> spread;
  for (int i = 0; i < 100; ++i) spread.insert(selector.Select(route, "key-" + std::to_string(i)));
  EXPECT_EQ(spread.size(), 4u);
}

TEST(QueueSelectorTest, NoWritableQueueGivesNull) {
  QueueSelector selector;
  TopicRoute empty;
  EXPECT_EQ(selector.Select(empty, ""), nullptr);
}

}  // namespace
}  // namespace vela::client
