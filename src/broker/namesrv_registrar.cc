#include "broker/namesrv_registrar.h"

#include "broker/logger.h"

#include <algorithm>
#include <string_view>

namespace vela::broker {

NamesrvRegistrar::NamesrvRegistrar(std::vector<std::string> namesrv_addrs, int64_t interval_ms,
                                   std::function<v1::RegisterBrokerRequest()> build,
                                   std::function<uint64_t()> generation)
    : ServiceThread("namesrv-reg"),
      addrs_(std::move(namesrv_addrs)),
      interval_ms_(interval_ms),
      build_(std::move(build)),
      generation_(std::move(generation)),
      client_(net::RpcClientOptions{1, net::kDefaultMaxFrameSize, 3000, "vela-reg"}),
      failing_(addrs_.size(), false),
      held_version_(addrs_.size(), 0) {}

NamesrvRegistrar::~NamesrvRegistrar() { Stop(); }

void NamesrvRegistrar::Run() {
  while (!stopped()) {
    const bool all_ok = RegisterAll();
    // A refused or failed registration is retried soon: routes must not stay gone for a period.
    WaitForRunning(std::chrono::milliseconds(all_ok ? interval_ms_ : std::min<int64_t>(interval_ms_, kRetryMs)));
  }
}

std::vector<std::string> NamesrvRegistrar::EncodeTopicParts(const v1::TopicRouteTable& table, size_t max_part_bytes) {
  std::vector<std::string> parts;
  v1::TopicRouteTable part;
  size_t part_bytes = 0;
  for (const auto& t : table.topics()) {
    const size_t entry_bytes = t.ByteSizeLong() + 6;  // tag and length prefix of the entry
    if (part_bytes + entry_bytes > max_part_bytes && part.topics_size() > 0) {
      parts.push_back(part.SerializeAsString());
      part.Clear();
      part_bytes = 0;
    }
    *part.add_topics() = t;
    part_bytes += entry_bytes;
  }
  if (part.topics_size() > 0 || parts.empty()) parts.push_back(part.SerializeAsString());
  return parts;
}

uint64_t NamesrvRegistrar::TableVersion(const v1::TopicRouteTable& table) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](uint64_t v) { h = (h ^ v) * 1099511628211ull; };
  for (const auto& t : table.topics()) {
    mix(std::hash<std::string_view>{}(t.topic()));
    mix(static_cast<uint64_t>(static_cast<uint32_t>(t.read_queues())) << 32 |
        static_cast<uint32_t>(t.write_queues()));
    mix(static_cast<uint64_t>(t.perm()) << 32 | static_cast<uint32_t>(t.message_type()));
  }
  mix(static_cast<uint64_t>(table.topics_size()));
  return h | 1;  // never 0: 0 means "no version" on the wire
}

Status NamesrvRegistrar::RegisterWith(size_t i, const v1::RegisterBrokerRequest& identity,
                                      const v1::TopicRouteTable& table, uint64_t version,
                                      std::vector<std::string>* parts) {
  if (held_version_[i] == version) {
    // Unchanged since the last full registration with this name server: no body.
    v1::Header h;
    h.set_code(v1::REGISTER_BROKER);
    *h.mutable_register_broker_request() = identity;
    h.mutable_register_broker_request()->set_topics_version(version);
    auto r = client_.InvokeSync(addrs_[i], std::move(h), {}, kRequestTimeoutMs);
    if (!r.ok()) {
      held_version_[i] = 0;
      return r.status();
    }
    if (!r->header.register_broker_response().send_topics()) return Status::OK();
    BrokerLogger()->info("name server {} asks for the whole topic table ({} topics)", addrs_[i], topic_count_);
  }
  held_version_[i] = 0;
  if (parts->empty()) *parts = EncodeTopicParts(table, kMaxPartBytes);  // only when some name server needs it
  for (size_t p = 0; p < parts->size(); ++p) {
    v1::Header h;
    h.set_code(v1::REGISTER_BROKER);
    auto* req = h.mutable_register_broker_request();
    *req = identity;
    req->set_topics_version(version);
    req->set_body_part(static_cast<uint32_t>(p));
    req->set_body_parts(static_cast<uint32_t>(parts->size()));
    auto r = client_.InvokeSync(addrs_[i], std::move(h), net::OutBody((*parts)[p]), kBodyTimeoutMs);
    if (!r.ok()) return r.status();
  }
  held_version_[i] = version;
  return Status::OK();
}

bool NamesrvRegistrar::RegisterAll() {
  // The generation is read before building: a change racing with the build makes the next round
  // build again, never keeps a stale table.
  const uint64_t generation = generation_ ? generation_() : 0;
  if (!built_ || !generation_ || generation != built_generation_) {
    identity_ = build_();
    table_.Clear();
    table_.mutable_topics()->Swap(identity_.mutable_topics());
    topic_count_ = static_cast<size_t>(table_.topics_size());
    version_ = TableVersion(table_);
    built_generation_ = generation;
    built_ = true;
  }
  std::vector<std::string> parts;  // encoded on first need
  bool all_ok = true;
  for (size_t i = 0; i < addrs_.size(); ++i) {
    Status s = RegisterWith(i, identity_, table_, version_, &parts);
    if (!s.ok()) {
      all_ok = false;
      if (!failing_[i]) BrokerLogger()->warn("registration with name server {} failed: {}", addrs_[i], s.ToString());
      failing_[i] = true;
    } else if (failing_[i]) {
      BrokerLogger()->info("registered with name server {} again", addrs_[i]);
      failing_[i] = false;
    }
  }
  return all_ok;
}

void NamesrvRegistrar::UnregisterAll() {
  v1::RegisterBrokerRequest reg = build_();
  for (const auto& addr : addrs_) {
    v1::Header h;
    h.set_code(v1::UNREGISTER_BROKER);
    auto* u = h.mutable_unregister_broker_request();
    u->set_cluster_name(reg.cluster_name());
    u->set_broker_name(reg.broker_name());
    u->set_broker_id(reg.broker_id());
    u->set_broker_addr(reg.broker_addr());
    auto r = client_.InvokeSync(addr, std::move(h), {}, 1000);
    if (!r.ok()) BrokerLogger()->warn("unregistration from name server {} failed: {}", addr, r.status().ToString());
  }
}

}  // namespace vela::broker
