// OrderlyConsumeService: one message at a time per sharding key in offset order, different keys in
// parallel, a failure retried in place after the suspend time, then dead-lettered (send-back with
// delay_level -1) and the key moves on; the committable offset never passes an unfinished message.
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "client/consume_service_orderly.h"
#include "common/clock.h"
#include "consume_test_support.h"

namespace vela::client {
namespace {

using testing::Committable;
using testing::FakeSendBackBroker;
using testing::MakeMessage;
using testing::TestConsumer;
using testing::WaitFor;

PushConsumerOptions OrderlyOptions() {
  PushConsumerOptions options;
  options.group = "og";
  options.orderly = true;
  options.consume_threads = 4;
  options.suspend_current_queue_time_ms = 20;
  options.lock_renew_interval_ms = 3600 * 1000;  // the test holds the lock itself
  return options;
}

std::shared_ptr<ProcessQueue> LockedQueue() {
  auto pq = std::make_shared<ProcessQueue>(MessageQueue{"T", "broker-a", 0}, 0);
  pq->locked.store(true);
  pq->lock_granted_ms.store(NowMonotonicNs() / 1000000);
  return pq;
}

// Hands `messages` to the service as the pull service would: tracked first, then submitted.
void Deliver(ConsumeService& service, const std::shared_ptr<ProcessQueue>& pq, std::vector<MessageView> messages) {
  {
    std::lock_guard lock(pq->mu);
    for (const auto& m : messages) pq->tracker.Add(m.queue_offset, m.body.size());
    if (!messages.empty()) pq->tracker.AdvanceTo(messages.back().queue_offset + 1);
  }
  service.Submit(pq, std::move(messages));
}

TEST(OrderlyConsumeTest, KeysAreSerializedInOffsetOrderAndDifferentKeysRunInParallel) {
  std::mutex mu;
  std::map<std::string, int> active_per_key;
  std::map<std::string, std::vector<int64_t>> order;
  int active = 0;
  int max_active = 0;
  bool overlap_within_key = false;
  auto listener = [&](const MessageView& m) {
    const std::string key = m.properties.at("SHARDING_KEY");
    {
      std::lock_guard lock(mu);
      if (++active_per_key[key] > 1) overlap_within_key = true;
      max_active = std::max(max_active, ++active);
      order[key].push_back(m.queue_offset);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    {
      std::lock_guard lock(mu);
      --active_per_key[key];
      --active;
    }
    return ConsumeResult::kSuccess;
  };
  TestConsumer consumer(OrderlyOptions(), listener);
  auto& service = consumer.Use<OrderlyConsumeService>();
  auto pq = LockedQueue();
  const std::vector<std::string> keys = {"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"};
  constexpr int64_t kMessages = 400;
  std::vector<MessageView> batch;
  for (int64_t offset = 0; offset < kMessages; ++offset) {
    batch.push_back(MakeMessage("127.0.0.1:1", offset, keys[static_cast<size_t>(offset * 7 % 8)]));
    if (batch.size() == 32) Deliver(service, pq, std::move(batch)), batch.clear();
  }
  Deliver(service, pq, std::move(batch));
  ASSERT_TRUE(WaitFor([&] { return Committable(pq) == kMessages; }));
  std::lock_guard lock(mu);
  EXPECT_FALSE(overlap_within_key);
  EXPECT_GT(max_active, 1) << "different keys never ran at the same time";
  size_t total = 0;
  for (const auto& [key, offsets] : order) {
    total += offsets.size();
    for (size_t i = 1; i < offsets.size(); ++i) EXPECT_LT(offsets[i - 1], offsets[i]) << key;
  }
  EXPECT_EQ(total, static_cast<size_t>(kMessages));
}

// consume_threads 0: the keys a batch wakes run on the delivering thread; a key resumed later (a
// retry after a failure, or more than 64 messages of one key in a row) goes on on the one
// consume thread; order per key holds throughout.
TEST(OrderlyConsumeTest, WithZeroConsumeThreadsWokenKeysRunOnTheDeliveringThread) {
  const std::thread::id delivering = std::this_thread::get_id();
  std::mutex mu;
  std::map<std::string, std::vector<int64_t>> order;
  std::map<std::string, std::set<std::thread::id>> threads;
  bool failed_once = false;
  auto listener = [&](const MessageView& m) {
    const std::string key = m.properties.at("SHARDING_KEY");
    std::lock_guard lock(mu);
    if (key == "retry" && !failed_once) {
      failed_once = true;
      return ConsumeResult::kFailure;  // retried in place, after the suspend time
    }
    order[key].push_back(m.queue_offset);
    threads[key].insert(std::this_thread::get_id());
    return ConsumeResult::kSuccess;
  };
  PushConsumerOptions options = OrderlyOptions();
  options.consume_threads = 0;
  TestConsumer consumer(options, listener);
  auto& service = consumer.Use<OrderlyConsumeService>();
  auto pq = LockedQueue();
  std::vector<MessageView> batch;
  int64_t offset = 0;
  for (int i = 0; i < 8; ++i) batch.push_back(MakeMessage("127.0.0.1:1", offset++, "k" + std::to_string(i)));
  batch.push_back(MakeMessage("127.0.0.1:1", offset++, "retry"));
  batch.push_back(MakeMessage("127.0.0.1:1", offset++, "retry"));
  for (int i = 0; i < 100; ++i) batch.push_back(MakeMessage("127.0.0.1:1", offset++, "long"));
  Deliver(service, pq, std::move(batch));
  ASSERT_TRUE(WaitFor([&] { return Committable(pq) == offset; }));
  std::lock_guard lock(mu);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(threads["k" + std::to_string(i)], std::set<std::thread::id>{delivering}) << i;
  }
  ASSERT_EQ(order["retry"].size(), 2u);
  EXPECT_LT(order["retry"][0], order["retry"][1]);
  EXPECT_EQ(threads["retry"].count(delivering), 0u) << "the retry runs after the pause, not on the delivering thread";
  ASSERT_EQ(order["long"].size(), 100u);
  for (size_t i = 1; i < order["long"].size(); ++i) EXPECT_LT(order["long"][i - 1], order["long"][i]);
  EXPECT_EQ(threads["long"].size(), 2u) << "64 in a row here, the rest on the consume thread";
}

TEST(OrderlyConsumeTest, SlowKeyDoesNotStallOtherKeys) {
  std::atomic<bool> release_slow{false};
  std::atomic<int> fast_done{0};
  auto listener = [&](const MessageView& m) {
    if (m.properties.at("SHARDING_KEY") == "slow") {
      while (!release_slow.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    } else {
      fast_done++;
    }
    return ConsumeResult::kSuccess;
  };
  TestConsumer consumer(OrderlyOptions(), listener);
  auto& service = consumer.Use<OrderlyConsumeService>();
  auto pq = LockedQueue();
  std::vector<MessageView> batch;
  batch.push_back(MakeMessage("127.0.0.1:1", 0, "slow"));
  for (int64_t i = 1; i <= 50; ++i) batch.push_back(MakeMessage("127.0.0.1:1", i, "fast"));
  Deliver(service, pq, std::move(batch));
  EXPECT_TRUE(WaitFor([&] { return fast_done.load() == 50; }));
  EXPECT_EQ(Committable(pq), 0);  // offset 0 is still in progress: nothing may be committed past it
  release_slow.store(true);
  EXPECT_TRUE(WaitFor([&] { return Committable(pq) == 51; }));
}

TEST(OrderlyConsumeTest, FailureIsRetriedInPlaceBeforeTheKeyMovesOn) {
  std::mutex mu;
  std::vector<std::pair<int64_t, int32_t>> deliveries;  // (offset, reconsume_times) of key A
  std::map<int64_t, int64_t> delivered_at_ms;
  auto listener = [&](const MessageView& m) {
    std::lock_guard lock(mu);
    if (m.properties.at("SHARDING_KEY") != "A") return ConsumeResult::kSuccess;
    deliveries.emplace_back(m.queue_offset, m.reconsume_times);
    if (!delivered_at_ms.count(m.queue_offset)) delivered_at_ms[m.queue_offset] = NowMonotonicNs() / 1000000;
    return m.queue_offset == 0 && m.reconsume_times < 2 ? ConsumeResult::kFailure : ConsumeResult::kSuccess;
  };
  auto options = OrderlyOptions();
  options.suspend_current_queue_time_ms = 100;
  TestConsumer consumer(options, listener);
  auto& service = consumer.Use<OrderlyConsumeService>();
  auto pq = LockedQueue();
  Deliver(service, pq,
          {MakeMessage("127.0.0.1:1", 0, "A"), MakeMessage("127.0.0.1:1", 1, "B"), MakeMessage("127.0.0.1:1", 2, "A")});
  ASSERT_TRUE(WaitFor([&] { return Committable(pq) == 3; }));
  std::lock_guard lock(mu);
  const std::vector<std::pair<int64_t, int32_t>> expected = {{0, 0}, {0, 1}, {0, 2}, {2, 0}};
  EXPECT_EQ(deliveries, expected);
  EXPECT_GE(delivered_at_ms[2] - delivered_at_ms[0], 2 * 100 - 5);  // two suspensions before the key moved on
}

TEST(OrderlyConsumeTest, AfterMaxRetriesTheMessageIsDeadLetteredAndTheKeyMovesOn) {
  FakeSendBackBroker broker(/*refuse_first=*/1);  // the first dead-letter send-back fails: tried again
  std::mutex mu;
  std::vector<std::pair<int64_t, int32_t>> deliveries;
  auto listener = [&](const MessageView& m) {
    std::lock_guard lock(mu);
    deliveries.emplace_back(m.queue_offset, m.reconsume_times);
    return m.queue_offset == 0 ? ConsumeResult::kFailure : ConsumeResult::kSuccess;
  };
  auto options = OrderlyOptions();
  options.max_reconsume_times = 2;
  TestConsumer consumer(options, listener);
  auto& service = consumer.Use<OrderlyConsumeService>();
  auto pq = LockedQueue();
  Deliver(service, pq, {MakeMessage(broker.address(), 0, "A"), MakeMessage(broker.address(), 1, "A")});
  ASSERT_TRUE(WaitFor([&] { return Committable(pq) == 2; }));
  {
    std::lock_guard lock(mu);
    // 1 delivery + 2 retries of offset 0 (the failed send-back does not call the listener again),
    // then offset 1.
    const std::vector<std::pair<int64_t, int32_t>> expected = {{0, 0}, {0, 1}, {0, 2}, {1, 0}};
    EXPECT_EQ(deliveries, expected);
  }
  auto requests = broker.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].group(), "og");
  EXPECT_EQ(requests[0].msg_id(), "MSG0");
  EXPECT_EQ(requests[0].physical_offset(), 1000);
  EXPECT_EQ(requests[0].delay_level(), -1);
}

TEST(OrderlyConsumeTest, ZeroRetriesDeadLettersOnTheFirstFailure) {
  FakeSendBackBroker broker;
  std::atomic<int> calls{0};
  auto options = OrderlyOptions();
  options.max_reconsume_times = 0;
  TestConsumer consumer(options, [&](const MessageView&) {
    calls++;
    return ConsumeResult::kFailure;
  });
  auto& service = consumer.Use<OrderlyConsumeService>();
  auto pq = LockedQueue();
  Deliver(service, pq, {MakeMessage(broker.address(), 0)});
  ASSERT_TRUE(WaitFor([&] { return Committable(pq) == 1; }));
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(broker.requests().size(), 1u);
}

TEST(OrderlyConsumeTest, ClusteringConsumesOnlyUnderAValidLock) {
  std::atomic<int> calls{0};
  TestConsumer consumer(OrderlyOptions(), [&](const MessageView&) {
    calls++;
    return ConsumeResult::kSuccess;
  });
  auto& service = consumer.Use<OrderlyConsumeService>();
  auto pq = std::make_shared<ProcessQueue>(MessageQueue{"T", "broker-a", 0}, 0);  // not locked
  Deliver(service, pq, {MakeMessage("127.0.0.1:1", 0, "A")});
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(calls.load(), 0);
  pq->lock_granted_ms.store(NowMonotonicNs() / 1000000);
  pq->locked.store(true);
  EXPECT_TRUE(WaitFor([&] { return calls.load() == 1; }));  // the waiting key resumes by itself
}

TEST(OrderlyConsumeTest, BroadcastSkipsAfterRetriesWithoutSendBack) {
  std::atomic<int> calls{0};
  auto options = OrderlyOptions();
  options.model = MessageModel::kBroadcasting;
  options.max_reconsume_times = 1;
  TestConsumer consumer(options, [&](const MessageView&) {
    calls++;
    throw std::runtime_error("listener bug");
    return ConsumeResult::kSuccess;
  });
  auto& service = consumer.Use<OrderlyConsumeService>();
  auto pq = std::make_shared<ProcessQueue>(MessageQueue{"T", "broker-a", 0}, 0);  // no lock in broadcast
  Deliver(service, pq, {MakeMessage("127.0.0.1:1", 0, "A"), MakeMessage("127.0.0.1:1", 1, "A")});
  ASSERT_TRUE(WaitFor([&] { return Committable(pq) == 2; }));
  EXPECT_EQ(calls.load(), 4);  // two deliveries each, then skipped
}

TEST(OrderlyConsumeTest, WaitIdleReturnsOnceTheMessageInProgressFinishes) {
  std::atomic<bool> started{false};
  std::atomic<bool> release{false};
  TestConsumer consumer(OrderlyOptions(), [&](const MessageView&) {
    started.store(true);
    while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return ConsumeResult::kSuccess;
  });
  auto& service = consumer.Use<OrderlyConsumeService>();
  auto pq = LockedQueue();
  Deliver(service, pq, {MakeMessage("127.0.0.1:1", 0, "A"), MakeMessage("127.0.0.1:1", 1, "A")});
  ASSERT_TRUE(WaitFor([&] { return started.load(); }));
  pq->dropped.store(true);  // released by a rebalance
  EXPECT_FALSE(service.WaitIdle(pq, 50));
  release.store(true);
  EXPECT_TRUE(service.WaitIdle(pq, 20000));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(Committable(pq), 1);  // the message in progress finished; the next one was not started
}

}  // namespace
}  // namespace vela::client

namespace vela::client {
namespace {

TEST(OrderlyConsumeTest, WaitDrainedCoversPulledMessagesAndStopsAtParkedKeys) {
  std::atomic<int> calls{0};
  TestConsumer consumer(OrderlyOptions(), [&](const MessageView& m) {
    calls++;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return m.properties.at("SHARDING_KEY") == "left" ? ConsumeResult::kLeave : ConsumeResult::kSuccess;
  });
  auto& service = consumer.Use<OrderlyConsumeService>();
  auto pq = LockedQueue();
  std::vector<MessageView> batch;
  for (int64_t i = 0; i < 30; ++i) batch.push_back(MakeMessage("127.0.0.1:1", i, i % 3 == 0 ? "left" : "k" + std::to_string(i % 3)));
  Deliver(service, pq, std::move(batch));
  pq->releasing.store(true);
  EXPECT_TRUE(service.WaitDrained(pq, 20000));
  EXPECT_EQ(Committable(pq), 0);  // the left message (offset 0) holds the offset for the next owner
  EXPECT_EQ(calls.load(), 21);    // every other key's message consumed, the left key stopped at its first
}

}  // namespace
}  // namespace vela::client
