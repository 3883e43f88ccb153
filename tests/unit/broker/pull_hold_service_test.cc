// PullHoldService without a store or sockets: held pulls are re-run on their own connection's io
// thread, never on the thread that dispatched a record (issue 11: nothing heavy on the dispatch path).
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <gtest/gtest.h>

#include "broker/pull_hold_service.h"
#include "common/clock.h"
#include "net/connection.h"

namespace vela::broker {
namespace {

// One io thread and a connection pinned to it (never connected: the retries only need its executor).
class IoThread {
 public:
  IoThread() : work_(asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
  ~IoThread() {
    work_.reset();
    io_.stop();
    thread_.join();
  }
  std::shared_ptr<net::Connection> NewConnection() {
    return std::make_shared<net::Connection>(asio::ip::tcp::socket(io_), net::ConnectionOptions{}, nullptr);
  }
  std::thread::id id() const { return thread_.get_id(); }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

// What the retry function saw: which pull, whether final, and on which thread.
struct Retried {
  std::string topic;
  int32_t queue_id;
  bool final;
  std::thread::id thread;
};

class PullHoldServiceTest : public ::testing::Test {
 protected:
  PullHoldServiceTest()
      : holds_([this](HeldPull pull, bool final) {
          std::lock_guard lock(mu_);
          retried_.push_back({pull.request.topic(), pull.request.queue_id(), final, std::this_thread::get_id()});
          cv_.notify_all();
        }) {}

  HeldPull MakePull(const std::shared_ptr<net::Connection>& connection, const std::string& topic, int32_t queue_id,
                    int64_t deadline_ms) {
    v1::Header header;
    header.set_request_id(++next_request_id_);
    header.set_code(v1::PULL_MESSAGE);
    v1::PullRequest request;
    request.set_topic(topic);
    request.set_queue_id(queue_id);
    return HeldPull{net::RequestContext(connection, header), std::move(request), deadline_ms};
  }

  // Waits (generously) until `count` retries happened; returns them.
  std::vector<Retried> WaitForRetries(size_t count) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(30), [&] { return retried_.size() >= count; });
    return retried_;
  }

  static store::DispatchedRecord RecordOf(const std::string& topic, uint32_t queue_id) {
    store::DispatchedRecord record;
    record.topic = topic;
    record.queue_id = queue_id;
    return record;
  }

  IoThread consumer_a_;
  IoThread consumer_b_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Retried> retried_;
  uint64_t next_request_id_ = 0;
  PullHoldService holds_;
};

TEST_F(PullHoldServiceTest, DispatchOnlyPostsWokenPullsToTheirConnections) {
  auto a = consumer_a_.NewConnection();
  auto b = consumer_b_.NewConnection();
  const int64_t later = NowEpochMs() + 60'000;
  holds_.Hold(MakePull(a, "orders", 0, later));
  holds_.Hold(MakePull(b, "orders", 0, later));
  holds_.Hold(MakePull(a, "orders", 0, later));
  holds_.Hold(MakePull(b, "orders", 1, later));  // another queue: stays held
  EXPECT_EQ(holds_.held_count(), 4);

  // This thread plays the appending thread.
  const std::string topic = "orders";
  holds_.OnDispatch(RecordOf(topic, 0));
  EXPECT_EQ(holds_.held_count(), 1);

  auto retried = WaitForRetries(3);
  ASSERT_EQ(retried.size(), 3u);
  int on_a = 0;
  int on_b = 0;
  for (const auto& r : retried) {
    EXPECT_EQ(r.topic, "orders");
    EXPECT_EQ(r.queue_id, 0);
    EXPECT_FALSE(r.final);
    EXPECT_NE(r.thread, std::this_thread::get_id()) << "a woken pull ran on the dispatching thread";
    on_a += r.thread == consumer_a_.id();
    on_b += r.thread == consumer_b_.id();
  }
  EXPECT_EQ(on_a, 2);
  EXPECT_EQ(on_b, 1);
}

TEST_F(PullHoldServiceTest, DispatchWithNothingHeldOnTheQueueWakesNothing) {
  auto a = consumer_a_.NewConnection();
  holds_.Hold(MakePull(a, "orders", 1, NowEpochMs() + 60'000));
  const std::string other = "payments";
  holds_.OnDispatch(RecordOf(other, 1));
  holds_.OnDispatch(RecordOf("orders", 2));
  EXPECT_EQ(holds_.held_count(), 1);
  // Waking the right queue still finds it.
  holds_.Wake("orders", 1);
  auto retried = WaitForRetries(1);
  ASSERT_EQ(retried.size(), 1u);
  EXPECT_EQ(retried[0].thread, consumer_a_.id());
}

TEST_F(PullHoldServiceTest, PullOfAConsumerThatLeftIsDropped) {
  auto gone = consumer_a_.NewConnection();
  auto stays = consumer_b_.NewConnection();
  holds_.Hold(MakePull(gone, "orders", 0, NowEpochMs() + 60'000));
  holds_.Hold(MakePull(stays, "orders", 0, NowEpochMs() + 60'000));
  gone.reset();  // the held pull keeps only a weak reference
  holds_.OnDispatch(RecordOf("orders", 0));
  auto retried = WaitForRetries(1);
  ASSERT_EQ(retried.size(), 1u);
  EXPECT_EQ(retried[0].thread, consumer_b_.id());
  EXPECT_EQ(holds_.held_count(), 0);
}

TEST_F(PullHoldServiceTest, ExpiredPullGetsItsFinalRetryOnItsConnection) {
  auto a = consumer_a_.NewConnection();
  holds_.Hold(MakePull(a, "orders", 0, NowEpochMs() - 1));
  holds_.Start();
  auto retried = WaitForRetries(1);
  holds_.Stop();
  ASSERT_EQ(retried.size(), 1u);
  EXPECT_TRUE(retried[0].final);
  EXPECT_EQ(retried[0].thread, consumer_a_.id());
  EXPECT_EQ(holds_.held_count(), 0);
}

TEST_F(PullHoldServiceTest, ReleaseAllAnswersEveryPullAtOnce) {
  auto a = consumer_a_.NewConnection();
  holds_.Hold(MakePull(a, "orders", 0, NowEpochMs() + 60'000));
  holds_.Hold(MakePull(a, "orders", 3, NowEpochMs() + 60'000));
  holds_.ReleaseAll();
  std::lock_guard lock(mu_);
  ASSERT_EQ(retried_.size(), 2u);  // synchronously, on this thread (shutdown)
  for (const auto& r : retried_) {
    EXPECT_TRUE(r.final);
    EXPECT_EQ(r.thread, std::this_thread::get_id());
  }
  EXPECT_EQ(holds_.held_count(), 0);
}

}  // namespace
}  // namespace vela::broker
