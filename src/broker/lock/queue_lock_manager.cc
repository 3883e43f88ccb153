#include "broker/lock/queue_lock_manager.h"

namespace vela::broker::lock {

void QueueLockManager::EraseLocked(std::map<Key, Holder>::iterator it) {
  auto c = by_connection_.find(it->second.connection_id);
  if (c != by_connection_.end()) {
    c->second.erase(it->first);
    if (c->second.empty()) by_connection_.erase(c);
  }
  locks_.erase(it);
}

std::vector<LockedQueue> QueueLockManager::Lock(const std::string& group, const std::string& client_id,
                                                uint64_t connection_id, const std::vector<LockedQueue>& queues,
                                                int64_t now_ms) {
  std::vector<LockedQueue> locked;
  std::lock_guard lock(mu_);
  for (const LockedQueue& q : queues) {
    Key key{group, q.topic, q.queue_id};
    auto it = locks_.find(key);
    if (it != locks_.end() && it->second.client_id != client_id && it->second.expires_ms > now_ms) continue;
    if (it != locks_.end()) EraseLocked(it);
    locks_.emplace(key, Holder{client_id, connection_id, now_ms + lease_ms_});
    by_connection_[connection_id].insert(std::move(key));
    locked.push_back(q);
  }
  return locked;
}

std::vector<LockedQueue> QueueLockManager::Unlock(const std::string& group, const std::string& client_id,
                                                  const std::vector<LockedQueue>& queues) {
  std::vector<LockedQueue> not_held;
  std::lock_guard lock(mu_);
  for (const LockedQueue& q : queues) {
    auto it = locks_.find(Key{group, q.topic, q.queue_id});
    // A lease that ran out is still this client's until another one takes the queue over.
    if (it == locks_.end() || it->second.client_id != client_id) {
      not_held.push_back(q);
      continue;
    }
    EraseLocked(it);
  }
  return not_held;
}

size_t QueueLockManager::ReleaseClient(const std::string& group, const std::string& client_id) {
  std::lock_guard lock(mu_);
  size_t released = 0;
  // The group's entries are contiguous in key order.
  for (auto it = locks_.lower_bound(Key{group, std::string(), INT32_MIN});
       it != locks_.end() && std::get<0>(it->first) == group;) {
    auto next = std::next(it);
    if (it->second.client_id == client_id) {
      EraseLocked(it);
      ++released;
    }
    it = next;
  }
  return released;
}

size_t QueueLockManager::ReleaseConnection(uint64_t connection_id) {
  std::lock_guard lock(mu_);
  auto c = by_connection_.find(connection_id);
  if (c == by_connection_.end()) return 0;
  const std::set<Key> keys = std::move(c->second);
  by_connection_.erase(c);
  for (const Key& k : keys) locks_.erase(k);
  return keys.size();
}

std::string QueueLockManager::HolderOf(const std::string& group, const LockedQueue& queue, int64_t now_ms) const {
  std::lock_guard lock(mu_);
  auto it = locks_.find(Key{group, queue.topic, queue.queue_id});
  if (it == locks_.end() || it->second.expires_ms <= now_ms) return {};
  return it->second.client_id;
}

size_t QueueLockManager::size() const {
  std::lock_guard lock(mu_);
  return locks_.size();
}

}  // namespace vela::broker::lock
