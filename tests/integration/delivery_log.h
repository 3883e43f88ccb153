#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "vela/consumer.h"

// What integration tests' consumers received, to check "each once, nothing else".
namespace vela::testing {

inline int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Deliveries is what a consumer group received: per message id the distinct (broker, queue, offset)
// places it was stored at (more than one = published twice), the earliest receive time and the
// store time. Thread-safe (the consumer's callback threads add, the test reads).
class Deliveries {
 public:
  client::ConsumeResult Add(const client::MessageView& m) {
    const int64_t now = NowMs();
    std::lock_guard lock(mu_);
    auto& d = by_id_[m.msg_id];
    d.places.insert(m.broker_addr + "/" + std::to_string(m.queue_id) + "/" + std::to_string(m.queue_offset));
    if (d.received_ms == 0) {
      d.received_ms = now;
      d.store_ms = m.store_timestamp_ms;
    }
    return client::ConsumeResult::kSuccess;
  }
  size_t distinct() const {
    std::lock_guard lock(mu_);
    return by_id_.size();
  }
  // Distinct stored records received (a message published twice counts twice).
  size_t places() const {
    std::lock_guard lock(mu_);
    size_t n = 0;
    for (const auto& [id, one] : by_id_) n += one.places.size();
    return n;
  }
  bool WaitFor(size_t n, std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline && distinct() < n) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return distinct() >= n;
  }
  struct One {
    std::set<std::string> places;
    int64_t received_ms = 0;
    int64_t store_ms = 0;
  };
  std::map<std::string, One> snapshot() const {
    std::lock_guard lock(mu_);
    return by_id_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, One> by_id_;
};

// A push consumer of `group` on `topics` (every message) from the first message, feeding `sink`.
inline std::unique_ptr<client::PushConsumer> Consume(const std::string& ns, const std::string& group,
                                                     const std::vector<std::string>& topics, Deliveries& sink) {
  client::PushConsumerBuilder builder;
  builder.SetNamesrvAddr(ns).SetGroup(group).SetConsumeFrom(client::ConsumeFrom::kFirst).SetListener(
      [&sink](const client::MessageView& m) { return sink.Add(m); });
  for (const auto& topic : topics) builder.Subscribe(topic, client::FilterExpression::All());
  auto c = builder.Build();
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(c).value() : nullptr;
}

}  // namespace vela::testing
