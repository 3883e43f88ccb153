#pragma once

// Shared by the queue allocation and rebalance unit tests: a sorted list of queues of topic "T".
#include <algorithm>
#include <string>
#include <vector>

#include "client/queue_allocation.h"

namespace vela::client::testing {

// `per_broker` queues on each of `brokers` brokers named broker-0, broker-1, ..., sorted.
inline std::vector<MessageQueue> Queues(int brokers, int per_broker) {
  std::vector<MessageQueue> out;
  for (int b = 0; b < brokers; ++b) {
    for (int q = 0; q < per_broker; ++q) out.push_back(MessageQueue{"T", "broker-" + std::to_string(b), q});
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace vela::client::testing
