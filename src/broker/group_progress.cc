#include "broker/group_progress.h"

#include <algorithm>
#include <map>
#include <set>

namespace vela::broker {

std::vector<QueueProgress> GroupProgress(store::MessageStore& store, const TopicManager& topics,
                                         const std::string& group, const std::string& topic) {
  auto offsets = store.meta().GroupOffsets(group);
  std::set<std::string> names;
  if (!topic.empty()) {
    names.insert(topic);
  } else {
    for (const auto& [key, off] : offsets) names.insert(key.first);
  }
  std::vector<QueueProgress> out;
  for (const auto& name : names) {
    auto config = topics.GetTopic(name);
    if (!config) continue;
    for (int32_t q = 0; q < config->read_queues; ++q) {
      const auto qid = static_cast<uint32_t>(q);
      QueueProgress p;
      p.topic = name;
      p.queue_id = q;
      const store::QueueOffset max = store.MaxQueueOffset(name, qid);
      p.broker_offset = max.value();
      auto it = offsets.find({name, qid});
      p.consumer_offset = it == offsets.end() ? -1 : it->second.value();
      const store::QueueOffset from = p.consumer_offset >= 0 ? it->second : store.MinQueueOffset(name, qid);
      p.lag = std::max<int64_t>(0, max - from);
      out.push_back(std::move(p));
    }
  }
  return out;
}

}  // namespace vela::broker
