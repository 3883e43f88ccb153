// The SDK's trace hand-off (client/trace_dispatcher.h): a bounded queue that drops and counts
// when full and hands out batches; a dispatcher that never blocks a tracing thread.
#include "client/trace_dispatcher.h"

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/message_id.h"

namespace vela::client {
namespace {

vela::trace::TraceEvent Event(int n) {
  vela::trace::TraceEvent e;
  e.type = vela::trace::EventType::kSend;
  e.msg_id = NewMessageId();
  e.time_ms = 1000 + n;
  return e;
}

// Offers an event whose encoding is the text of n, its id the first character.
bool Offer(TraceQueue& queue, int n, std::string_view broker = "127.0.0.1:1") {
  const std::string encoded = std::to_string(n);
  return queue.Offer(broker, encoded, 0, 1);
}

struct Taken {
  std::string broker;
  std::string msg_id;
  std::string encoded;
};

std::vector<Taken> Take(TraceQueue& queue, size_t wake_at, std::chrono::milliseconds linger,
                        std::chrono::milliseconds idle) {
  TraceBatch batch;
  queue.TakeBatch(wake_at, linger, idle, &batch);
  std::vector<Taken> out;
  batch.ForEach([&](std::string_view broker, std::string_view msg_id, std::string_view encoded) {
    out.push_back(Taken{std::string(broker), std::string(msg_id), std::string(encoded)});
  });
  EXPECT_EQ(out.size(), batch.size());
  return out;
}

TEST(TraceQueueTest, DropsAndCountsWhenFull) {
  TraceQueue queue(3);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(Offer(queue, i));
  EXPECT_FALSE(Offer(queue, 3));
  EXPECT_FALSE(Offer(queue, 4));
  EXPECT_EQ(queue.dropped(), 2u);
  EXPECT_EQ(queue.size(), 3u);
  // Taking makes room again; what was queued comes out oldest first, with its broker and id.
  auto batch = Take(queue, 2, std::chrono::milliseconds(0), std::chrono::milliseconds(0));
  ASSERT_EQ(batch.size(), 3u);
  EXPECT_EQ(batch[0].encoded, "0");
  EXPECT_EQ(batch[2].encoded, "2");
  EXPECT_EQ(batch[1].broker, "127.0.0.1:1");
  EXPECT_EQ(batch[1].msg_id, "1");
  EXPECT_EQ(queue.size(), 0u);
  EXPECT_TRUE(Offer(queue, 5));
  EXPECT_EQ(queue.dropped(), 2u);
}

TEST(TraceQueueTest, BatchesTakeEverythingWaitingInOrderAndBuffersAreReused) {
  TraceQueue queue(100);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(Offer(queue, i, i % 2 == 0 ? "a:1" : "b:2"));
  auto first = Take(queue, 4, std::chrono::milliseconds(0), std::chrono::milliseconds(0));
  ASSERT_EQ(first.size(), 10u);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(first[static_cast<size_t>(i)].encoded, std::to_string(i));
    EXPECT_EQ(first[static_cast<size_t>(i)].broker, i % 2 == 0 ? "a:1" : "b:2");
  }
  for (int i = 10; i < 13; ++i) ASSERT_TRUE(Offer(queue, i));
  auto second = Take(queue, 100, std::chrono::milliseconds(0), std::chrono::milliseconds(0));
  ASSERT_EQ(second.size(), 3u);
  EXPECT_EQ(second.front().encoded, "10");
}

TEST(TraceQueueTest, EmptyBatchAfterIdleAndAfterClose) {
  TraceQueue queue(4);
  EXPECT_TRUE(Take(queue, 4, std::chrono::milliseconds(1), std::chrono::milliseconds(1)).empty());
  ASSERT_TRUE(Offer(queue, 0));
  queue.Close();
  EXPECT_TRUE(queue.closed());
  EXPECT_FALSE(Offer(queue, 1));  // refused after Close, and counted
  EXPECT_EQ(queue.dropped(), 1u);
  EXPECT_EQ(Take(queue, 4, std::chrono::seconds(10), std::chrono::seconds(10)).size(), 1u);  // drains at once
  EXPECT_TRUE(Take(queue, 4, std::chrono::seconds(10), std::chrono::seconds(10)).empty());
}

TEST(TraceQueueTest, CloseWakesAWaitingTaker) {
  TraceQueue queue(4);
  std::thread closer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    queue.Close();
  });
  // Without the wake-up this would wait for a minute.
  EXPECT_TRUE(Take(queue, 4, std::chrono::seconds(60), std::chrono::seconds(60)).empty());
  closer.join();
}

TEST(TraceDispatcherTest, RecordNeverBlocksAndCountsWhatItCannotQueue) {
  TraceDispatcherOptions options;
  options.queue_capacity = 5;
  TraceDispatcher dispatcher(options);  // not started: nothing drains the queue
  for (int i = 0; i < 8; ++i) dispatcher.Record(Event(i), "127.0.0.1:1");
  EXPECT_EQ(dispatcher.dropped(), 3u);
  // An invalid event is refused at once, counted as failed.
  vela::trace::TraceEvent bad = Event(9);
  bad.status = "maybe";
  dispatcher.Record(bad, "127.0.0.1:1");
  EXPECT_EQ(dispatcher.failed(), 1u);
  EXPECT_EQ(dispatcher.dropped(), 3u);
  // An event with no broker known yet cannot be routed: dropped and counted too.
  TraceDispatcher fresh(options);
  fresh.Record(Event(0), "");
  EXPECT_EQ(fresh.dropped(), 1u);
}

TEST(TraceDispatcherTest, TracingListenerRecordsDecidedDeliveriesOnly) {
  TraceDispatcherOptions options;
  options.queue_capacity = 2;
  auto tracer = std::make_shared<TraceDispatcher>(options);  // not started: events stay queued
  int calls = 0;
  MessageListener listener = TracingListener(tracer, "g", [&](const MessageView&) {
    ++calls;
    return calls == 1 ? ConsumeResult::kLeave : ConsumeResult::kFailure;
  });
  MessageView m;
  m.msg_id = NewMessageId();
  m.broker_addr = "127.0.0.1:1";
  EXPECT_EQ(listener(m), ConsumeResult::kLeave);    // not recorded
  EXPECT_EQ(listener(m), ConsumeResult::kFailure);  // recorded
  EXPECT_EQ(listener(m), ConsumeResult::kFailure);  // recorded: the queue is now full
  EXPECT_EQ(tracer->dropped(), 0u);
  EXPECT_EQ(listener(m), ConsumeResult::kFailure);  // dropped, the listener unaffected
  EXPECT_EQ(tracer->dropped(), 1u);
  EXPECT_EQ(calls, 4);
}

}  // namespace
}  // namespace vela::client
