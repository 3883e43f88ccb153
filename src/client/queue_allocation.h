#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "client/route.h"

// Pure functions that decide which queue a message goes to and which queues a consumer owns.
namespace vela::client {

// Average allocation (clustering rebalance): with n queues and m clients, both sorted, client i
// gets a contiguous run of n/m queues, one more for the first n%m clients; clients beyond the
// n-th get none. Every member computes the same split from the same inputs. Returns empty when
// `me` is not among `client_ids`.
std::vector<MessageQueue> AllocateAveragely(const std::vector<MessageQueue>& sorted_queues,
                                            const std::vector<std::string>& sorted_client_ids,
                                            const std::string& me);

// A stable 32-bit hash of a sharding key (FNV-1a), the same in every process and release.
uint32_t ShardingHash(std::string_view key);

// QueueSelector picks the queue of each send: by sharding-key hash over the writable queues
// (stable while the route does not change), otherwise round-robin, skipping the queues of
// `avoid_broker` (the broker that just failed) when another broker has queues. Thread-safe.
class QueueSelector {
 public:
  // Returns null when the route has no writable queue.
  const MessageQueue* Select(const TopicRoute& route, std::string_view sharding_key,
                             const std::string& avoid_broker = {});

 private:
  std::atomic<uint64_t> counter_{0};
};

}  // namespace vela::client
