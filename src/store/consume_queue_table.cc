#include "store/consume_queue_table.h"

#include <charconv>

namespace vela::store {

Status ConsumeQueueTable::LoadAll(PhysicalOffset log_end) {
  VELA_RETURN_IF_ERROR(fs_.CreateDirs(dir_));
  VELA_ASSIGN_OR_RETURN(auto topics, fs_.ListDir(dir_));
  std::lock_guard lock(mu_);
  queues_.clear();
  for (const auto& topic : topics) {
    auto ids = fs_.ListDir(dir_ + "/" + topic);
    if (!ids.ok()) continue;
    for (const auto& id : *ids) {
      uint32_t qid = 0;
      auto [p, ec] = std::from_chars(id.data(), id.data() + id.size(), qid);
      if (ec != std::errc() || p != id.data() + id.size()) continue;
      auto cq = std::make_shared<ConsumeQueue>(fs_, dir_ + "/" + topic + "/" + id, segment_size_);
      VELA_RETURN_IF_ERROR(cq->Load(log_end));
      queues_[topic][qid] = std::move(cq);
    }
  }
  return Status::OK();
}

std::shared_ptr<ConsumeQueue> ConsumeQueueTable::Find(std::string_view topic, uint32_t queue_id) const {
  std::lock_guard lock(mu_);
  auto t = queues_.find(topic);
  if (t == queues_.end()) return nullptr;
  auto q = t->second.find(queue_id);
  return q == t->second.end() ? nullptr : q->second;
}

std::shared_ptr<ConsumeQueue> ConsumeQueueTable::FindOrCreate(std::string_view topic, uint32_t queue_id) {
  std::lock_guard lock(mu_);
  auto t = queues_.find(topic);
  if (t == queues_.end()) t = queues_.emplace(std::string(topic), std::map<uint32_t, std::shared_ptr<ConsumeQueue>>{}).first;
  auto& slot = t->second[queue_id];
  if (!slot) {
    slot = std::make_shared<ConsumeQueue>(fs_, dir_ + "/" + std::string(topic) + "/" + std::to_string(queue_id),
                                          segment_size_);
  }
  return slot;
}

std::vector<ConsumeQueueTable::Named> ConsumeQueueTable::All() const {
  std::vector<Named> out;
  std::lock_guard lock(mu_);
  for (const auto& [topic, qs] : queues_) {
    for (const auto& [id, q] : qs) out.push_back({topic, id, q});
  }
  return out;
}

Status ConsumeQueueTable::DeleteTopic(std::string_view topic) {
  std::map<uint32_t, std::shared_ptr<ConsumeQueue>> victims;
  {
    std::lock_guard lock(mu_);
    auto t = queues_.find(topic);
    if (t != queues_.end()) {
      victims = std::move(t->second);
      queues_.erase(t);
    }
  }
  for (auto& [id, q] : victims) VELA_RETURN_IF_ERROR(q->Destroy());
  return fs_.RemoveAll(dir_ + "/" + std::string(topic));
}

Status ConsumeQueueTable::SyncAll() {
  for (const auto& n : All()) VELA_RETURN_IF_ERROR(n.queue->Sync());
  return Status::OK();
}

Status ConsumeQueueTable::DeleteBelow(PhysicalOffset min_physical) {
  for (const auto& n : All()) VELA_RETURN_IF_ERROR(n.queue->DeleteBelow(min_physical));
  return Status::OK();
}

}  // namespace vela::store
