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

Status CheckResetTarget(const std::string& to) {
  if (!to.empty() && to != "earliest" && to != "latest") {
    return Status::InvalidArgument("reset target must be earliest, latest or a timestamp");
  }
  return Status::OK();
}

Result<std::vector<QueueProgress>> ResetGroupOffsets(store::MessageStore& store, const store::TopicConfig& topic,
                                                     const std::string& group, const std::string& to,
                                                     int64_t timestamp_ms) {
  VELA_RETURN_IF_ERROR(CheckResetTarget(to));
  std::vector<QueueProgress> out;
  for (int32_t q = 0; q < topic.read_queues; ++q) {
    const auto qid = static_cast<uint32_t>(q);
    const store::QueueOffset target = to == "earliest" ? store.MinQueueOffset(topic.name, qid)
                                      : to == "latest" ? store.MaxQueueOffset(topic.name, qid)
                                                       : store.QueueOffsetForTimestamp(topic.name, qid, timestamp_ms);
    VELA_RETURN_IF_ERROR(store.meta().CommitOffset(group, topic.name, qid, target));
    QueueProgress p;
    p.topic = topic.name;
    p.queue_id = q;
    p.consumer_offset = target.value();
    p.broker_offset = store.MaxQueueOffset(topic.name, qid).value();
    p.lag = p.broker_offset - target.value();
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace vela::broker
