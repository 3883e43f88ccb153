#include "namesrv/route_registry.h"

#include <fmt/format.h>

#include <set>

namespace vela::namesrv {

bool RouteRegistry::Register(const v1::RegisterBrokerRequest& request, uint64_t connection_id, int64_t now_ms) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = brokers_.try_emplace(request.broker_addr());
  BrokerEntry& e = it->second;
  e.cluster_name = request.cluster_name();
  e.broker_name = request.broker_name();
  e.broker_id = request.broker_id();
  e.addr = request.broker_addr();
  e.topics.assign(request.topics().begin(), request.topics().end());
  e.last_update_ms = now_ms;
  e.connection_id = connection_id;
  return inserted;
}

void RouteRegistry::Unregister(const std::string& broker_addr) {
  std::lock_guard lock(mu_);
  brokers_.erase(broker_addr);
}

std::vector<std::string> RouteRegistry::ConnectionClosed(uint64_t connection_id) {
  std::lock_guard lock(mu_);
  std::vector<std::string> dropped;
  for (auto it = brokers_.begin(); it != brokers_.end();) {
    if (it->second.connection_id == connection_id) {
      dropped.push_back(it->first);
      it = brokers_.erase(it);
    } else {
      ++it;
    }
  }
  return dropped;
}

std::vector<std::string> RouteRegistry::ExpireSilent(int64_t now_ms) {
  std::lock_guard lock(mu_);
  std::vector<std::string> dropped;
  for (auto it = brokers_.begin(); it != brokers_.end();) {
    if (now_ms - it->second.last_update_ms > expiry_ms_) {
      dropped.push_back(it->first);
      it = brokers_.erase(it);
    } else {
      ++it;
    }
  }
  return dropped;
}

Result<v1::RouteResponse> RouteRegistry::GetRoute(const std::string& topic) const {
  std::lock_guard lock(mu_);
  v1::RouteResponse route;
  std::set<std::string> names;
  for (const auto& [addr, e] : brokers_) {
    for (const auto& t : e.topics) {
      if (t.topic() != topic) continue;
      // One QueueData per broker name (the master's registration wins).
      if (names.insert(e.broker_name).second) {
        auto* q = route.add_queues();
        q->set_broker_name(e.broker_name);
        q->set_read_queues(t.read_queues());
        q->set_write_queues(t.write_queues());
        q->set_perm(t.perm());
        q->set_message_type(t.message_type());
      }
      v1::BrokerData* bd = nullptr;
      for (auto& existing : *route.mutable_brokers()) {
        if (existing.broker_name() == e.broker_name) bd = &existing;
      }
      if (bd == nullptr) {
        bd = route.add_brokers();
        bd->set_cluster_name(e.cluster_name);
        bd->set_broker_name(e.broker_name);
      }
      (*bd->mutable_addrs())[e.broker_id] = e.addr;
    }
  }
  if (route.queues().empty()) {
    return Status::NotFound(fmt::format("no route for topic {}: no live broker serves it", topic),
                            SubCode::kTopicNotFound);
  }
  return route;
}

v1::ClusterInfoResponse RouteRegistry::GetClusterInfo() const {
  std::lock_guard lock(mu_);
  v1::ClusterInfoResponse info;
  std::set<std::string> topics;
  for (const auto& [addr, e] : brokers_) {
    auto* bd = info.add_brokers();
    bd->set_cluster_name(e.cluster_name);
    bd->set_broker_name(e.broker_name);
    (*bd->mutable_addrs())[e.broker_id] = e.addr;
    (*info.mutable_last_update_ms())[addr] = e.last_update_ms;
    for (const auto& t : e.topics) topics.insert(t.topic());
  }
  for (const auto& t : topics) info.add_topics(t);
  return info;
}

void RouteRegistry::DeleteTopic(const std::string& topic) {
  std::lock_guard lock(mu_);
  for (auto& [addr, e] : brokers_) {
    std::erase_if(e.topics, [&](const v1::TopicRouteQueues& t) { return t.topic() == topic; });
  }
}

size_t RouteRegistry::broker_count() const {
  std::lock_guard lock(mu_);
  return brokers_.size();
}

}  // namespace vela::namesrv
