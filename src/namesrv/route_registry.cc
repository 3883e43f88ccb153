#include "namesrv/route_registry.h"

#include <fmt/format.h>

#include <charconv>
#include <set>

#include "common/validation.h"

namespace vela::namesrv {
namespace {

// Printable ASCII without blanks, 1..max bytes.
Status CheckName(std::string_view what, std::string_view value, size_t max) {
  if (value.empty() || value.size() > max) {
    return Status::InvalidArgument(fmt::format("registration: {} must have 1..{} characters", what, max));
  }
  for (char c : value) {
    if (c <= ' ' || c > '~') {
      return Status::InvalidArgument(fmt::format("registration: {} holds a blank or non-printable character", what));
    }
  }
  return Status::OK();
}

}  // namespace

Status RouteRegistry::ValidateIdentity(const v1::RegisterBrokerRequest& r) {
  VELA_RETURN_IF_ERROR(CheckName("broker_addr", r.broker_addr(), kMaxBrokerAddrLength));
  const std::string& addr = r.broker_addr();
  const size_t colon = addr.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      std::from_chars(addr.data() + colon + 1, addr.data() + addr.size(), port).ptr != addr.data() + addr.size() ||
      port < 1 || port > 65535) {
    return Status::InvalidArgument(fmt::format("registration: broker_addr {} is not host:port", addr));
  }
  VELA_RETURN_IF_ERROR(CheckName("broker_name", r.broker_name(), kMaxBrokerNameLength));
  VELA_RETURN_IF_ERROR(CheckName("cluster_name", r.cluster_name(), kMaxBrokerNameLength));
  if (r.broker_id() < 0) return Status::InvalidArgument("registration: broker_id must not be negative");
  if (r.topics_version() == 0) {
    if (r.body_parts() != 0 || r.body_part() != 0) {
      return Status::InvalidArgument("registration: body parts need a topics_version");
    }
    return Status::OK();
  }
  if (!r.topics().empty()) {
    return Status::InvalidArgument("registration: topics in the header and a topics_version: send one form");
  }
  if (r.body_parts() > kMaxRegistrationParts) {
    return Status::InvalidArgument(
        fmt::format("registration: {} body parts, at most {}", r.body_parts(), kMaxRegistrationParts));
  }
  if (r.body_parts() != 0 && r.body_part() >= r.body_parts()) {
    return Status::InvalidArgument(fmt::format("registration: body part {} of {}", r.body_part(), r.body_parts()));
  }
  if (r.body_parts() == 0 && r.body_part() != 0) {
    return Status::InvalidArgument("registration: body_part without body_parts");
  }
  return Status::OK();
}

Status RouteRegistry::AddTopics(const google::protobuf::RepeatedPtrField<v1::TopicRouteQueues>& topics,
                                TopicTable* table) {
  for (const auto& t : topics) {
    Status valid = ValidateTopicName(t.topic());
    if (!valid.ok()) return Status::InvalidArgument(fmt::format("registration: {}", valid.message()));
    if (t.read_queues() < 0 || t.read_queues() > 1024 || t.write_queues() < 0 || t.write_queues() > 1024) {
      return Status::InvalidArgument(fmt::format("registration: topic {}: queue counts must be 0..1024", t.topic()));
    }
    if (t.perm() > 7) {
      return Status::InvalidArgument(fmt::format("registration: topic {}: perm {} is not 0..7", t.topic(), t.perm()));
    }
    if (!v1::MessageType_IsValid(t.message_type())) {
      return Status::InvalidArgument(
          fmt::format("registration: topic {}: unknown message type {}", t.topic(), static_cast<int>(t.message_type())));
    }
    QueueCounts q{t.read_queues(), t.write_queues(), t.perm(), t.message_type()};
    if (!table->emplace(t.topic(), q).second) {
      return Status::InvalidArgument(fmt::format("registration: topic {} listed twice", t.topic()));
    }
  }
  return Status::OK();
}

Status RouteRegistry::CheckHolder(const v1::RegisterBrokerRequest& request, uint64_t connection_id) const {
  const std::string& addr = request.broker_addr();
  auto it = brokers_.find(addr);
  if (it != brokers_.end() && it->second.connection_id != connection_id) {
    return Status::PermissionDenied(
        fmt::format("broker address {} is held by another live connection (the one that registered it)", addr));
  }
  for (const auto& [a, e] : brokers_) {
    // Routes group brokers by name whatever their cluster: the name and id identify a broker.
    if (e.connection_id != connection_id && e.broker_name == request.broker_name() &&
        e.broker_id == request.broker_id()) {
      return Status::PermissionDenied(fmt::format(
          "broker {} id {} is registered at {} by another live connection; refusing it at {}", request.broker_name(),
          request.broker_id(), a, addr));
    }
  }
  if (it == brokers_.end()) {
    size_t held = 0;
    for (const auto& [a, e] : brokers_) held += e.connection_id == connection_id ? 1 : 0;
    if (held >= kMaxAddrsPerConnection) {
      return Status::ResourceExhausted(fmt::format(
          "this connection already registered {} broker addresses, the most one connection may hold", held));
    }
  }
  return Status::OK();
}

RegisterOutcome RouteRegistry::Commit(const v1::RegisterBrokerRequest& request,
                                      std::shared_ptr<const TopicTable> topics, uint64_t connection_id,
                                      int64_t now_ms) {
  auto [it, inserted] = brokers_.try_emplace(request.broker_addr());
  BrokerEntry& e = it->second;
  e.cluster_name = request.cluster_name();
  e.broker_name = request.broker_name();
  e.broker_id = request.broker_id();
  e.topics = std::move(topics);
  e.topics_version = request.topics_version();
  e.last_update_ms = now_ms;
  e.connection_id = connection_id;
  return RegisterOutcome{inserted, true, false, e.topics->size()};
}

Result<RegisterOutcome> RouteRegistry::Register(const v1::RegisterBrokerRequest& request, std::string_view body,
                                                uint64_t connection_id, int64_t now_ms,
                                                const std::function<bool()>& connection_open) {
  // Called with mu_ held. The closed flag is set before the close listener runs ConnectionClosed,
  // which takes mu_: either we see the flag here, or ConnectionClosed runs after we keep anything.
  auto check_open = [&]() -> Status {
    if (connection_open && !connection_open()) {
      return Status::Unavailable("the connection closed while its registration was handled");
    }
    return Status::OK();
  };
  VELA_RETURN_IF_ERROR(ValidateIdentity(request));
  const std::string& addr = request.broker_addr();
  {
    std::lock_guard lock(mu_);
    VELA_RETURN_IF_ERROR(CheckHolder(request, connection_id));  // refuse before parsing anything big
  }
  if (request.topics_version() == 0 || request.body_parts() == 0) {
    if (!body.empty()) return Status::InvalidArgument("registration: a body needs topics_version and body_parts");
  }

  // The old form: the whole table in the header.
  if (request.topics_version() == 0) {
    auto table = std::make_shared<TopicTable>();
    VELA_RETURN_IF_ERROR(AddTopics(request.topics(), table.get()));
    std::lock_guard lock(mu_);
    VELA_RETURN_IF_ERROR(CheckHolder(request, connection_id));
    VELA_RETURN_IF_ERROR(check_open());
    return Commit(request, std::move(table), connection_id, now_ms);
  }

  // No body: "my table is still topics_version".
  if (request.body_parts() == 0) {
    std::lock_guard lock(mu_);
    VELA_RETURN_IF_ERROR(check_open());
    auto it = brokers_.find(addr);
    if (it == brokers_.end() || it->second.topics_version != request.topics_version() ||
        it->second.broker_name != request.broker_name() || it->second.cluster_name != request.cluster_name() ||
        it->second.broker_id != request.broker_id()) {
      RegisterOutcome out;
      out.send_topics = true;
      return out;
    }
    it->second.last_update_ms = now_ms;
    return RegisterOutcome{false, true, false, it->second.topics->size()};
  }

  // A part of the table in the body.
  v1::TopicRouteTable part;
  if (!part.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return Status::InvalidArgument(fmt::format("registration: body part {} of {} is not a TopicRouteTable",
                                               request.body_part(), request.body_parts()));
  }
  TopicTable part_table;
  VELA_RETURN_IF_ERROR(AddTopics(part.topics(), &part_table));
  if (request.body_parts() == 1) {
    auto table = std::make_shared<TopicTable>(std::move(part_table));
    std::lock_guard lock(mu_);
    VELA_RETURN_IF_ERROR(CheckHolder(request, connection_id));
    VELA_RETURN_IF_ERROR(check_open());
    pending_.erase(connection_id);
    return Commit(request, std::move(table), connection_id, now_ms);
  }

  std::lock_guard lock(mu_);
  VELA_RETURN_IF_ERROR(CheckHolder(request, connection_id));
  VELA_RETURN_IF_ERROR(check_open());
  if (request.body_part() == 0) {
    pending_[connection_id] = PendingTable{addr, request.topics_version(), request.body_parts(), 0, {}};
  }
  auto it = pending_.find(connection_id);
  if (it == pending_.end() || it->second.addr != addr || it->second.version != request.topics_version() ||
      it->second.parts != request.body_parts() || it->second.next_part != request.body_part()) {
    const uint32_t expected = it == pending_.end() ? 0 : it->second.next_part;
    pending_.erase(connection_id);
    return Status::InvalidArgument(
        fmt::format("registration: body part {} of {} out of order (expected part {} of this table)",
                    request.body_part(), request.body_parts(), expected));
  }
  PendingTable& pending = it->second;
  pending.topics.merge(part_table);
  if (!part_table.empty()) {
    const std::string twice = part_table.begin()->first;
    pending_.erase(it);
    return Status::InvalidArgument(fmt::format("registration: topic {} listed twice", twice));
  }
  if (++pending.next_part < pending.parts) {
    RegisterOutcome out;
    out.topic_count = pending.topics.size();
    return out;
  }
  auto table = std::make_shared<TopicTable>(std::move(pending.topics));
  pending_.erase(it);
  return Commit(request, std::move(table), connection_id, now_ms);
}

Status RouteRegistry::Unregister(const std::string& broker_addr, uint64_t connection_id) {
  std::lock_guard lock(mu_);
  auto it = brokers_.find(broker_addr);
  if (it == brokers_.end()) {
    return Status::NotFound(fmt::format("no broker is registered at {}", broker_addr));
  }
  if (it->second.connection_id != connection_id) {
    return Status::PermissionDenied(fmt::format(
        "unregistration of broker {} refused: only the connection that registered it may unregister it", broker_addr));
  }
  brokers_.erase(it);
  return Status::OK();
}

std::vector<std::string> RouteRegistry::ConnectionClosed(uint64_t connection_id) {
  std::lock_guard lock(mu_);
  pending_.erase(connection_id);
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
  // Per broker name: its queue data (the master's when it serves the topic, else the first
  // registration's in address order) and its BrokerData.
  std::map<std::string, std::pair<int, bool>> queue_of;  // name -> (index in queues, from master)
  for (const auto& [addr, e] : brokers_) {
    auto t = e.topics->find(topic);
    if (t == e.topics->end()) continue;
    auto [q, inserted] = queue_of.try_emplace(e.broker_name, route.queues_size(), e.broker_id == 0);
    v1::QueueData* data = nullptr;
    if (inserted) {
      data = route.add_queues();
    } else if (e.broker_id == 0 && !q->second.second) {
      data = route.mutable_queues(q->second.first);
      q->second.second = true;
    }
    if (data != nullptr) {
      data->set_broker_name(e.broker_name);
      data->set_read_queues(t->second.read_queues);
      data->set_write_queues(t->second.write_queues);
      data->set_perm(t->second.perm);
      data->set_message_type(t->second.message_type);
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
    (*bd->mutable_addrs())[e.broker_id] = addr;
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
  for (const auto& [addr, e] : brokers_) {
    auto* bd = info.add_brokers();
    bd->set_cluster_name(e.cluster_name);
    bd->set_broker_name(e.broker_name);
    (*bd->mutable_addrs())[e.broker_id] = addr;
    (*info.mutable_last_update_ms())[addr] = e.last_update_ms;
  }
  return info;
}

std::vector<std::string> RouteRegistry::TopicNames(const std::string& after, size_t max_entries, size_t max_bytes,
                                                   bool* more) const {
  // The first max_entries names of the union are among the first max_entries of each table.
  std::set<std::string> names;
  bool truncated = false;
  {
    std::lock_guard lock(mu_);
    for (const auto& [addr, e] : brokers_) {
      auto it = after.empty() ? e.topics->begin() : e.topics->upper_bound(after);
      for (size_t n = 0; it != e.topics->end(); ++it, ++n) {
        if (n == max_entries) {
          truncated = true;
          break;
        }
        names.insert(it->first);
      }
    }
  }
  std::vector<std::string> out;
  size_t bytes = 0;
  for (auto it = names.begin(); it != names.end(); ++it) {
    if (out.size() == max_entries || (bytes >= max_bytes && !out.empty())) {
      truncated = true;
      break;
    }
    bytes += it->size();
    out.push_back(*it);
  }
  *more = truncated;
  return out;
}

void RouteRegistry::DeleteTopic(const std::string& topic) {
  std::lock_guard lock(mu_);
  for (auto& [addr, e] : brokers_) {
    if (e.topics->find(topic) == e.topics->end()) continue;
    auto copy = std::make_shared<TopicTable>(*e.topics);
    copy->erase(topic);
    e.topics = std::move(copy);
    e.topics_version = 0;
  }
}

size_t RouteRegistry::broker_count() const {
  std::lock_guard lock(mu_);
  return brokers_.size();
}

size_t RouteRegistry::topic_count() const {
  std::lock_guard lock(mu_);
  if (brokers_.size() == 1) return brokers_.begin()->second.topics ? brokers_.begin()->second.topics->size() : 0;
  std::set<std::string_view> names;
  for (const auto& [addr, entry] : brokers_) {
    if (!entry.topics) continue;
    for (const auto& [name, counts] : *entry.topics) names.insert(name);
  }
  return names.size();
}

std::string RouteRegistry::AddrOf(uint64_t connection_id) const {
  std::lock_guard lock(mu_);
  for (const auto& [addr, e] : brokers_) {
    if (e.connection_id == connection_id) return addr;
  }
  return "";
}

}  // namespace vela::namesrv
