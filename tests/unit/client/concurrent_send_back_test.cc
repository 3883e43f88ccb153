// ConcurrentConsumeService's failure path against a stand-in broker: a failed (or throwing)
// listener sends the message back (CONSUMER_SEND_BACK, delay_level 0, max_reconsume_times 0) and
// the message then counts as consumed; a refused send-back keeps the message (offset held) and
// hands it to the listener again locally; broadcast failures are skipped without send-back.
#include <atomic>
#include <map>
#include <mutex>
#include <stdexcept>

#include <gtest/gtest.h>

#include "client/consume_service_concurrent.h"
#include "consume_test_support.h"

namespace vela::client {
namespace {

using testing::Committable;
using testing::FakeSendBackBroker;
using testing::MakeMessage;
using testing::TestConsumer;
using testing::WaitFor;

PushConsumerOptions ConcurrentOptions() {
  PushConsumerOptions options;
  options.group = "cg";
  options.consume_threads = 3;
  options.send_back_retry_delay_ms = 20;
  return options;
}

std::shared_ptr<ProcessQueue> Deliver(ConsumeService& service, std::vector<MessageView> messages) {
  auto pq = std::make_shared<ProcessQueue>(MessageQueue{"T", "broker-a", 0}, 0);
  {
    std::lock_guard lock(pq->mu);
    for (const auto& m : messages) pq->tracker.Add(m.queue_offset, m.body.size());
    pq->tracker.AdvanceTo(static_cast<int64_t>(messages.size()));
  }
  service.Submit(pq, std::move(messages));
  return pq;
}

TEST(ConcurrentSendBackTest, FailedMessagesAreSentBackAndCountAsConsumed) {
  FakeSendBackBroker broker;
  std::atomic<int> calls{0};
  TestConsumer consumer(ConcurrentOptions(), [&](const MessageView& m) {
    calls++;
    if (m.queue_offset == 1) return ConsumeResult::kFailure;
    if (m.queue_offset == 3) throw std::runtime_error("listener bug");
    return ConsumeResult::kSuccess;
  });
  auto& service = consumer.Use<ConcurrentConsumeService>();
  std::vector<MessageView> batch;
  for (int64_t i = 0; i < 6; ++i) batch.push_back(MakeMessage(broker.address(), i));
  auto pq = Deliver(service, std::move(batch));
  ASSERT_TRUE(WaitFor([&] { return Committable(pq) == 6; }));
  EXPECT_EQ(calls.load(), 6);  // nothing redelivered locally
  auto requests = broker.requests();
  ASSERT_EQ(requests.size(), 2u);
  std::map<std::string, v1::SendBackRequest> by_id;
  for (const auto& r : requests) by_id[r.msg_id()] = r;
  ASSERT_TRUE(by_id.count("MSG1") && by_id.count("MSG3"));
  EXPECT_EQ(by_id["MSG1"].group(), "cg");
  EXPECT_EQ(by_id["MSG1"].physical_offset(), 1001);
  EXPECT_EQ(by_id["MSG1"].delay_level(), 0);
  EXPECT_EQ(by_id["MSG1"].max_reconsume_times(), 0);
  EXPECT_EQ(by_id["MSG3"].physical_offset(), 1003);
}

TEST(ConcurrentSendBackTest, RefusedSendBackKeepsTheMessageAndRetriesItLocally) {
  FakeSendBackBroker broker(/*refuse_first=*/2);
  std::mutex mu;
  std::vector<int32_t> reconsume_seen;  // of offset 0
  TestConsumer consumer(ConcurrentOptions(), [&](const MessageView& m) {
    if (m.queue_offset != 0) return ConsumeResult::kSuccess;
    std::lock_guard lock(mu);
    reconsume_seen.push_back(m.reconsume_times);
    return ConsumeResult::kFailure;  // always fails: only an acknowledged send-back finishes it
  });
  auto& service = consumer.Use<ConcurrentConsumeService>();
  auto pq = Deliver(service, {MakeMessage(broker.address(), 0), MakeMessage(broker.address(), 1)});
  ASSERT_TRUE(WaitFor([&] { return Committable(pq) == 2; }));
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(reconsume_seen, (std::vector<int32_t>{0, 1, 2}));  // two refusals, two local redeliveries
  }
  EXPECT_EQ(broker.requests().size(), 1u);
}

TEST(ConcurrentSendBackTest, OffsetIsHeldWhileTheSendBackCannotReachTheBroker) {
  std::atomic<int> calls{0};
  TestConsumer consumer(ConcurrentOptions(), [&](const MessageView&) {
    calls++;
    return ConsumeResult::kFailure;
  });
  auto& service = consumer.Use<ConcurrentConsumeService>();
  // A message whose broker does not answer (nothing listens on port 1).
  auto pq = Deliver(service, {MakeMessage("127.0.0.1:1", 0)});
  ASSERT_TRUE(WaitFor([&] { return calls.load() >= 3; }));
  EXPECT_EQ(Committable(pq), 0);  // never lost, never passed
}

TEST(ConcurrentSendBackTest, BroadcastFailuresAreSkippedWithoutSendBack) {
  FakeSendBackBroker broker;
  auto options = ConcurrentOptions();
  options.model = MessageModel::kBroadcasting;
  std::atomic<int> calls{0};
  TestConsumer consumer(options, [&](const MessageView&) {
    calls++;
    return ConsumeResult::kFailure;
  });
  auto& service = consumer.Use<ConcurrentConsumeService>();
  auto pq = Deliver(service, {MakeMessage(broker.address(), 0), MakeMessage(broker.address(), 1)});
  ASSERT_TRUE(WaitFor([&] { return Committable(pq) == 2; }));
  EXPECT_EQ(calls.load(), 2);
  EXPECT_TRUE(broker.requests().empty());
}

TEST(ConcurrentSendBackTest, LeftMessagesStayInFlight) {
  TestConsumer consumer(ConcurrentOptions(), [&](const MessageView& m) {
    return m.queue_offset == 1 ? ConsumeResult::kLeave : ConsumeResult::kSuccess;
  });
  auto& service = consumer.Use<ConcurrentConsumeService>();
  std::vector<MessageView> batch;
  for (int64_t i = 0; i < 4; ++i) batch.push_back(MakeMessage("127.0.0.1:1", i));
  auto pq = Deliver(service, std::move(batch));
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard lock(pq->mu);
    return pq->tracker.count() == 1;
  }));
  EXPECT_EQ(Committable(pq), 1);
}

}  // namespace
}  // namespace vela::client
