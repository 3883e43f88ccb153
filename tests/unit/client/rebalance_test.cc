// Queue allocation per message model: clustering splits the queues among the members (every
// queue has exactly one owner), broadcasting gives every member every queue.
#include <set>

#include <gtest/gtest.h>

#include "queue_test_support.h"

#include "client/rebalance.h"
#include "common/clock.h"

namespace vela::client {
namespace {

using testing::Queues;

TEST(RebalanceAllocationTest, ClusteringSplitsEveryQueueToExactlyOneMember) {
  const auto queues = Queues(2, 4);
  const std::vector<std::string> ids = {"c1", "c2", "c3"};
  std::multiset<MessageQueue> owned;
  std::vector<size_t> sizes;
  for (const auto& id : ids) {
    auto mine = AllocateQueues(MessageModel::kClustering, queues, ids, id);
    sizes.push_back(mine.size());
    owned.insert(mine.begin(), mine.end());
  }
  EXPECT_EQ(owned.size(), queues.size());
  for (const auto& q : queues) EXPECT_EQ(owned.count(q), 1u) << q.ToString();
  EXPECT_EQ(sizes, (std::vector<size_t>{3, 3, 2}));
}

TEST(RebalanceAllocationTest, ClusteringGivesNothingToAnUnknownOrSurplusMember) {
  const auto queues = Queues(1, 2);
  EXPECT_TRUE(AllocateQueues(MessageModel::kClustering, queues, {"a", "b"}, "zz").empty());
  EXPECT_TRUE(AllocateQueues(MessageModel::kClustering, queues, {"a", "b", "c"}, "c").empty());
}

TEST(RebalanceAllocationTest, BroadcastingTakesEveryQueueWhateverTheMembers) {
  const auto queues = Queues(2, 3);
  EXPECT_EQ(AllocateQueues(MessageModel::kBroadcasting, queues, {}, "me"), queues);
  EXPECT_EQ(AllocateQueues(MessageModel::kBroadcasting, queues, {"a", "b", "me"}, "me"), queues);
  EXPECT_EQ(AllocateQueues(MessageModel::kBroadcasting, queues, {"a"}, "me"), queues);
}

TEST(RebalanceAllocationTest, LockValidityFollowsTheRenewInterval) {
  ProcessQueue pq(MessageQueue{"T", "b", 0}, 0);
  EXPECT_FALSE(RebalanceService::LockValid(pq, 20000));  // never granted
  pq.locked.store(true);
  pq.lock_granted_ms.store(NowMonotonicNs() / 1000000);
  EXPECT_TRUE(RebalanceService::LockValid(pq, 20000));
  pq.lock_granted_ms.store(NowMonotonicNs() / 1000000 - 50000);  // two intervals (40 s) passed
  EXPECT_FALSE(RebalanceService::LockValid(pq, 20000));
}

}  // namespace
}  // namespace vela::client
