#include "broker/client_manager.h"

#include "broker/logger.h"

namespace vela::broker {

void ClientManager::Heartbeat(const v1::HeartbeatRequest& request, const std::shared_ptr<net::Connection>& connection,
                              int64_t now_ms) {
  std::set<std::string> changed;
  {
    std::lock_guard lock(mu_);
    Member m{connection, connection->id(), now_ms,
             request.client_version().empty() ? std::string("unknown") : request.client_version()};
    for (const auto& p : request.producers()) producers_[p.group()].members[request.client_id()] = m;
    for (const auto& c : request.consumers()) {
      Group& g = consumers_[c.group()];
      auto [it, inserted] = g.members.insert_or_assign(request.client_id(), m);
      if (inserted) changed.insert(c.group());
      for (const auto& s : c.subscriptions()) g.subscriptions[s.topic()] = s;
    }
  }
  for (const auto& g : changed) BrokerLogger()->info("consumer {} joined group {}", request.client_id(), g);
  NotifyChanged(changed);
}

template <typename Pred>
std::set<std::string> ClientManager::RemoveLocked(Pred pred, Departures* left) {
  std::set<std::string> changed;
  for (auto* groups : {&consumers_, &producers_}) {
    for (auto git = groups->begin(); git != groups->end();) {
      auto& members = git->second.members;
      for (auto it = members.begin(); it != members.end();) {
        if (pred(git->first, it->first, it->second)) {
          if (groups == &consumers_) {
            changed.insert(git->first);
            left->emplace_back(git->first, it->first);
          }
          it = members.erase(it);
        } else {
          ++it;
        }
      }
      if (members.empty()) {
        git = groups->erase(git);
      } else {
        ++git;
      }
    }
  }
  return changed;
}

void ClientManager::Unregister(const std::string& client_id, const std::string& producer_group,
                               const std::string& consumer_group) {
  std::set<std::string> changed;
  Departures left;
  {
    std::lock_guard lock(mu_);
    changed = RemoveLocked(
        [&](const std::string& group, const std::string& id, const Member&) {
          return id == client_id && (group == producer_group || group == consumer_group);
        },
        &left);
  }
  NotifyLeft(left);
  NotifyChanged(changed);
}

void ClientManager::ConnectionClosed(uint64_t connection_id) {
  std::set<std::string> changed;
  Departures left;
  {
    std::lock_guard lock(mu_);
    changed = RemoveLocked(
        [&](const std::string&, const std::string&, const Member& m) { return m.connection_id == connection_id; },
        &left);
  }
  for (const auto& g : changed) BrokerLogger()->info("a member of group {} left: connection closed", g);
  NotifyLeft(left);
  NotifyChanged(changed);
}

void ClientManager::ExpireSilent(int64_t now_ms) {
  std::set<std::string> changed;
  Departures left;
  {
    std::lock_guard lock(mu_);
    changed = RemoveLocked(
        [&](const std::string&, const std::string&, const Member& m) {
          return now_ms - m.last_heartbeat_ms > expiry_ms_;
        },
        &left);
  }
  for (const auto& g : changed) BrokerLogger()->info("a member of group {} expired: no heartbeat", g);
  NotifyLeft(left);
  NotifyChanged(changed);
}

bool ClientManager::IsConsumer(const std::string& group, const std::string& client_id) const {
  std::lock_guard lock(mu_);
  auto it = consumers_.find(group);
  return it != consumers_.end() && it->second.members.count(client_id) > 0;
}

void ClientManager::NotifyLeft(const Departures& left) {
  for (const auto& [group, id] : left) {
    for (const auto& listener : left_listeners_) listener(group, id);
  }
}

std::vector<std::string> ClientManager::ConsumerIds(const std::string& group) const {
  std::lock_guard lock(mu_);
  std::vector<std::string> ids;
  auto it = consumers_.find(group);
  if (it == consumers_.end()) return ids;
  for (const auto& [id, m] : it->second.members) ids.push_back(id);
  return ids;  // std::map keeps them sorted
}

std::shared_ptr<net::Connection> ClientManager::AnyProducerConnection(const std::string& group) const {
  std::lock_guard lock(mu_);
  auto it = producers_.find(group);
  if (it == producers_.end() || it->second.members.empty()) return nullptr;
  // Members in turn, so that one member that cannot answer (a short-lived sender whose checker
  // says unknown) does not take every check of the group.
  const auto& members = it->second.members;
  const size_t start = it->second.next_pick++ % members.size();
  auto m = members.begin();
  std::advance(m, static_cast<std::ptrdiff_t>(start));
  for (size_t i = 0; i < members.size(); ++i, ++m) {
    if (m == members.end()) m = members.begin();
    if (auto c = m->second.connection.lock(); c && !c->closed()) return c;
  }
  return nullptr;
}

bool ClientManager::FindSubscription(const std::string& group, const std::string& topic, v1::Subscription* out) const {
  std::lock_guard lock(mu_);
  auto it = consumers_.find(group);
  if (it == consumers_.end()) return false;
  auto s = it->second.subscriptions.find(topic);
  if (s == it->second.subscriptions.end()) return false;
  *out = s->second;
  return true;
}

size_t ClientManager::consumer_group_count() const {
  std::lock_guard lock(mu_);
  return consumers_.size();
}

size_t ClientManager::client_count() const {
  std::lock_guard lock(mu_);
  std::set<std::string> ids;
  for (const auto* groups : {&consumers_, &producers_}) {
    for (const auto& [g, group] : *groups) {
      for (const auto& [id, m] : group.members) ids.insert(id);
    }
  }
  return ids.size();
}

std::map<std::string, size_t> ClientManager::ClientVersions() const {
  std::lock_guard lock(mu_);
  std::map<std::string, std::string> version_by_id;
  for (const auto* groups : {&consumers_, &producers_}) {
    for (const auto& [g, group] : *groups) {
      for (const auto& [id, m] : group.members) version_by_id[id] = m.client_version;
    }
  }
  std::map<std::string, size_t> out;
  for (const auto& [id, version] : version_by_id) ++out[version];
  return out;
}

void ClientManager::NotifyChanged(const std::set<std::string>& groups) {
  for (const auto& group : groups) {
    std::vector<std::shared_ptr<net::Connection>> targets;
    {
      std::lock_guard lock(mu_);
      auto it = consumers_.find(group);
      if (it == consumers_.end()) continue;
      for (const auto& [id, m] : it->second.members) {
        if (auto c = m.connection.lock()) targets.push_back(c);
      }
    }
    for (auto& c : targets) {
      v1::Header h;
      h.set_code(v1::NOTIFY_CONSUMER_IDS_CHANGED);
      h.set_flags(net::kFlagOneway);
      h.mutable_consumer_ids_changed()->set_group(group);
      c->SendFrame(std::move(h), net::OutBody());
    }
  }
}

}  // namespace vela::broker
