// KeyedBacklog, the orderly part of ProcessQueue: per sharding key FIFOs, one worker per busy key,
// messages handed out in offset order, failure counts per front message.
#include <gtest/gtest.h>

#include "client/process_queue.h"
#include "consume_test_support.h"

namespace vela::client {
namespace {

using testing::MakeMessage;

TEST(KeyedBacklogTest, FirstMessageOfAnIdleKeyStartsAWorker) {
  KeyedBacklog backlog;
  std::string key;
  EXPECT_TRUE(backlog.Add(MakeMessage("127.0.0.1:1", 0, "A"), &key));
  EXPECT_EQ(key, "A");
  EXPECT_FALSE(backlog.Add(MakeMessage("127.0.0.1:1", 1, "A"), &key));  // A is busy: its worker goes on
  EXPECT_TRUE(backlog.Add(MakeMessage("127.0.0.1:1", 2, "B"), &key));
  EXPECT_EQ(key, "B");
  EXPECT_TRUE(backlog.Add(MakeMessage("127.0.0.1:1", 3), &key));  // no sharding key: the key ""
  EXPECT_EQ(key, "");
  EXPECT_FALSE(backlog.Add(MakeMessage("127.0.0.1:1", 4), &key));
  EXPECT_EQ(backlog.busy_keys(), 3u);
  EXPECT_EQ(backlog.size(), 5u);
}

TEST(KeyedBacklogTest, EachKeyIsHandedOutInOffsetOrderThenBecomesIdle) {
  KeyedBacklog backlog;
  std::string key;
  const std::vector<std::pair<int64_t, std::string>> pulled = {{0, "A"}, {1, "B"}, {2, "A"}, {3, "A"},
                                                               {4, "B"}, {5, ""},  {6, "A"}};
  for (const auto& [offset, k] : pulled) backlog.Add(MakeMessage("127.0.0.1:1", offset, k), &key);
  auto drain = [&](const std::string& k) {
    std::vector<int64_t> order;
    while (MessageView* front = backlog.Front(k)) {
      order.push_back(front->queue_offset);
      if (!backlog.PopFront(k)) break;
    }
    return order;
  };
  EXPECT_EQ(drain("A"), (std::vector<int64_t>{0, 2, 3, 6}));
  EXPECT_EQ(drain("B"), (std::vector<int64_t>{1, 4}));
  EXPECT_EQ(drain(""), (std::vector<int64_t>{5}));
  EXPECT_EQ(backlog.busy_keys(), 0u);
  EXPECT_EQ(backlog.Front("A"), nullptr);
  // An idle key starts a new worker on its next message.
  EXPECT_TRUE(backlog.Add(MakeMessage("127.0.0.1:1", 7, "A"), &key));
}

TEST(KeyedBacklogTest, FrontStaysPutWhileOtherMessagesArrive) {
  KeyedBacklog backlog;
  std::string key;
  backlog.Add(MakeMessage("127.0.0.1:1", 0, "A"), &key);
  MessageView* front = backlog.Front("A");
  for (int64_t i = 1; i < 2000; ++i) backlog.Add(MakeMessage("127.0.0.1:1", i, "K" + std::to_string(i % 50)), &key);
  for (int64_t i = 2000; i < 2100; ++i) backlog.Add(MakeMessage("127.0.0.1:1", i, "A"), &key);
  EXPECT_EQ(front, backlog.Front("A"));  // the worker's reference survives adds to any key
  EXPECT_EQ(front->queue_offset, 0);
}

TEST(KeyedBacklogTest, FailuresCountPerFrontMessage) {
  KeyedBacklog backlog;
  std::string key;
  backlog.Add(MakeMessage("127.0.0.1:1", 0, "A"), &key);
  backlog.Add(MakeMessage("127.0.0.1:1", 1, "A"), &key);
  EXPECT_EQ(backlog.FrontFailures("A"), 0);
  EXPECT_EQ(backlog.AddFrontFailure("A"), 1);
  EXPECT_EQ(backlog.AddFrontFailure("A"), 2);
  EXPECT_EQ(backlog.FrontFailures("B"), 0);
  EXPECT_TRUE(backlog.PopFront("A"));
  EXPECT_EQ(backlog.FrontFailures("A"), 0);  // the next message starts clean
  EXPECT_FALSE(backlog.PopFront("A"));
  EXPECT_EQ(backlog.AddFrontFailure("A"), 0);  // idle key: nothing to count
}

}  // namespace
}  // namespace vela::client
