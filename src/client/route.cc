#include "client/route.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "client/logger.h"
#include "common/clock.h"

namespace vela::client {

std::string MessageQueue::ToString() const { return fmt::format("{}@{}#{}", topic, broker_name, queue_id); }

std::string TopicRoute::AddrOf(const std::string& broker_name) const {
  auto it = broker_addrs.find(broker_name);
  return it == broker_addrs.end() ? std::string() : it->second;
}

TopicRoute ParseRoute(const std::string& topic, const v1::RouteResponse& response) {
  TopicRoute route;
  route.topic = topic;
  for (const auto& broker : response.brokers()) {
    auto master = broker.addrs().find(0);
    if (master == broker.addrs().end() || master->second.empty()) continue;
    route.broker_addrs[broker.broker_name()] = master->second;
  }
  std::set<MessageQueue> write_queues;
  std::set<MessageQueue> read_queues;
  for (const auto& q : response.queues()) {
    if (!route.broker_addrs.count(q.broker_name())) continue;
    uint32_t perm = q.perm() == 0 ? (kPermRead | kPermWrite) : q.perm();
    if (perm & kPermWrite) {
      for (int32_t i = 0; i < q.write_queues(); ++i) write_queues.insert({topic, q.broker_name(), i});
    }
    if (perm & kPermRead) {
      for (int32_t i = 0; i < q.read_queues(); ++i) read_queues.insert({topic, q.broker_name(), i});
    }
  }
  route.write_queues.assign(write_queues.begin(), write_queues.end());
  route.read_queues.assign(read_queues.begin(), read_queues.end());
  return route;
}

std::vector<std::string> SplitAddresses(std::string_view addrs) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= addrs.size()) {
    size_t end = addrs.find_first_of(";,", start);
    if (end == std::string_view::npos) end = addrs.size();
    std::string_view part = addrs.substr(start, end - start);
    while (!part.empty() && (part.front() == ' ' || part.front() == '\t')) part.remove_prefix(1);
    while (!part.empty() && (part.back() == ' ' || part.back() == '\t')) part.remove_suffix(1);
    if (!part.empty()) out.emplace_back(part);
    start = end + 1;
  }
  return out;
}

NameServerClient::NameServerClient(net::RpcClient* rpc, std::vector<std::string> addresses, int64_t timeout_ms)
    : rpc_(rpc), addresses_(std::move(addresses)), timeout_ms_(timeout_ms) {}

Result<net::Frame> NameServerClient::Invoke(v1::Header header) {
  if (addresses_.empty()) return vela::Status::InvalidArgument("no name server address (--namesrv or VELA_NAMESRV)");
  vela::Status last;
  const size_t first = current_.load(std::memory_order_relaxed);
  for (size_t i = 0; i < addresses_.size(); ++i) {
    size_t index = (first + i) % addresses_.size();
    auto result = rpc_->InvokeSync(addresses_[index], header, {}, timeout_ms_);
    if (result.ok()) {
      current_.store(index, std::memory_order_relaxed);
      return result;
    }
    const auto code = result.status().code();
    if (code != vela::StatusCode::kUnavailable && code != vela::StatusCode::kDeadlineExceeded) {
      current_.store(index, std::memory_order_relaxed);
      return result;  // the name server answered with an error
    }
    last = result.status().WithContext(addresses_[index]);
    ClientLogger()->debug("name server {} failed: {}", addresses_[index], result.status().ToString());
  }
  return last;
}

Result<v1::RouteResponse> NameServerClient::GetRoute(const std::string& topic) {
  v1::Header header;
  header.set_code(v1::GET_ROUTE);
  header.mutable_route_request()->set_topic(topic);
  VELA_ASSIGN_OR_RETURN(auto frame, Invoke(std::move(header)));
  return frame.header.route_response();
}

Result<v1::ClusterInfoResponse> NameServerClient::GetClusterInfo(bool include_topics) {
  v1::ClusterInfoResponse info;
  std::string after;
  for (bool first = true;; first = false) {
    v1::Header header;
    header.set_code(v1::GET_CLUSTER_INFO);
    auto* req = header.mutable_cluster_info_request();
    req->set_include_topics(include_topics);
    req->set_topics_after(after);
    VELA_ASSIGN_OR_RETURN(auto frame, Invoke(std::move(header)));
    const bool more = frame.header.cluster_info_response().more_topics();
    if (first) {
      info = std::move(*frame.header.mutable_cluster_info_response());
      info.clear_topics();
    }
    if (!include_topics) return info;
    v1::TopicNameList names;
    if (!names.ParseFromString(frame.body)) {
      return vela::Status::Corruption("the name server's topic names (GET_CLUSTER_INFO body) do not parse");
    }
    for (auto& t : *names.mutable_topics()) info.add_topics(std::move(t));
    if (!more || names.topics().empty()) break;
    after = info.topics(info.topics_size() - 1);
  }
  info.set_more_topics(false);
  return info;
}

RouteCache::RouteCache(NameServerClient* namesrv, int64_t refresh_interval_ms)
    : namesrv_(namesrv), refresh_interval_ms_(refresh_interval_ms) {}

Result<std::shared_ptr<const TopicRoute>> RouteCache::Get(const std::string& topic) {
  bool stale = false;
  auto cached = GetCached(topic, &stale);
  if (cached && !stale) return cached;
  auto fresh = Refresh(topic);
  if (!fresh.ok() && cached) return cached;
  return fresh;
}

std::shared_ptr<const TopicRoute> RouteCache::GetCached(const std::string& topic, bool* stale) {
  std::lock_guard lock(mu_);
  auto it = routes_.find(topic);
  if (it == routes_.end()) return nullptr;
  if (stale) *stale = NowEpochMs() - it->second.fetched_ms >= refresh_interval_ms_;
  return it->second.route;
}

Result<std::shared_ptr<const TopicRoute>> RouteCache::Refresh(const std::string& topic) {
  auto response = namesrv_->GetRoute(topic);
  if (!response.ok()) {
    if (response.status().code() == vela::StatusCode::kNotFound) {
      std::lock_guard lock(mu_);
      routes_.erase(topic);  // the topic is gone everywhere
    }
    return response.status();
  }
  auto route = std::make_shared<const TopicRoute>(ParseRoute(topic, *response));
  std::lock_guard lock(mu_);
  routes_[topic] = Entry{route, NowEpochMs()};
  return std::shared_ptr<const TopicRoute>(route);
}

std::vector<std::string> RouteCache::Topics() {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [topic, entry] : routes_) out.push_back(topic);
  return out;
}

std::vector<std::string> RouteCache::AllBrokerAddrs() {
  std::set<std::string> addrs;
  std::lock_guard lock(mu_);
  for (const auto& [topic, entry] : routes_) {
    for (const auto& [name, addr] : entry.route->broker_addrs) addrs.insert(addr);
  }
  return {addrs.begin(), addrs.end()};
}

}  // namespace vela::client
