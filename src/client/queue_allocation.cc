#include "client/queue_allocation.h"

#include <algorithm>

namespace vela::client {

std::vector<MessageQueue> AllocateAveragely(const std::vector<MessageQueue>& sorted_queues,
                                            const std::vector<std::string>& sorted_client_ids,
                                            const std::string& me) {
  auto it = std::find(sorted_client_ids.begin(), sorted_client_ids.end(), me);
  if (it == sorted_client_ids.end() || sorted_queues.empty()) return {};
  const size_t index = static_cast<size_t>(it - sorted_client_ids.begin());
  const size_t n = sorted_queues.size();
  const size_t m = sorted_client_ids.size();
  const size_t base = n / m;
  const size_t extra = n % m;
  const size_t count = base + (index < extra ? 1 : 0);
  const size_t start = index * base + std::min(index, extra);
  if (count == 0) return {};
  return {sorted_queues.begin() + static_cast<std::ptrdiff_t>(start),
          sorted_queues.begin() + static_cast<std::ptrdiff_t>(start + count)};
}

uint32_t ShardingHash(std::string_view key) {
  uint32_t h = 2166136261u;
  for (unsigned char c : key) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

const MessageQueue* QueueSelector::Select(const TopicRoute& route, std::string_view sharding_key,
                                          const std::string& avoid_broker) {
  const auto& queues = route.write_queues;
  if (queues.empty()) return nullptr;
  if (!sharding_key.empty()) return &queues[ShardingHash(sharding_key) % queues.size()];
  const uint64_t start = counter_.fetch_add(1, std::memory_order_relaxed);
  if (!avoid_broker.empty()) {
    for (size_t i = 0; i < queues.size(); ++i) {
      const auto& q = queues[(start + i) % queues.size()];
      if (q.broker_name != avoid_broker) return &q;
    }
  }
  return &queues[start % queues.size()];
}

}  // namespace vela::client
