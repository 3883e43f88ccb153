#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "net/rpc_client.h"
#include "vela/v1/vela.pb.h"

// Routing: what the name servers say about a topic, parsed into queues, plus the name-server
// client with failover and the route cache producers and consumers share.
namespace vela::client {

// Permission bits of a topic's queues (RocketMQ's: 6 = read + write).
inline constexpr uint32_t kPermWrite = 1u << 1;
inline constexpr uint32_t kPermRead = 1u << 2;

// One queue of a topic on one broker. Ordered by (topic, broker_name, queue_id), the order in
// which rebalancing sorts queues. Value type.
struct MessageQueue {
  std::string topic;
  std::string broker_name;
  int32_t queue_id = 0;

  std::string ToString() const;
  friend bool operator<(const MessageQueue& a, const MessageQueue& b) {
    return std::tie(a.topic, a.broker_name, a.queue_id) < std::tie(b.topic, b.broker_name, b.queue_id);
  }
  friend bool operator==(const MessageQueue& a, const MessageQueue& b) {
    return a.queue_id == b.queue_id && a.broker_name == b.broker_name && a.topic == b.topic;
  }
};

// A topic's route: the master address of each broker and its queues, sorted. Immutable once
// parsed and shared by pointer, so thread-safe.
struct TopicRoute {
  std::string topic;
  std::map<std::string, std::string> broker_addrs;  // broker name -> master ("ip:port")
  std::vector<MessageQueue> write_queues;            // brokers with a master and write permission
  std::vector<MessageQueue> read_queues;             // brokers with a master and read permission

  // The master address of `broker_name`, or "" when unknown.
  std::string AddrOf(const std::string& broker_name) const;
};

// Parses a name server's answer. Brokers without a master (id 0) are left out; a perm of 0 is
// read as read + write (a broker that did not fill it).
TopicRoute ParseRoute(const std::string& topic, const v1::RouteResponse& response);

// Splits "host:port;host:port" (also ',' separated, blanks trimmed); empty parts are skipped.
std::vector<std::string> SplitAddresses(std::string_view addrs);

// NameServerClient sends requests to the name servers, starting with the last one that answered
// and moving to the next on a transport failure or timeout. Thread-safe. `rpc` must outlive it.
class NameServerClient {
 public:
  NameServerClient(net::RpcClient* rpc, std::vector<std::string> addresses, int64_t timeout_ms);

  // Sends `header` to one name server after another until one answers. Returns the answer (or
  // the error it answered with), or the last transport error when none answered. Blocks.
  Result<net::Frame> Invoke(v1::Header header);
  Result<v1::RouteResponse> GetRoute(const std::string& topic);
  // The brokers; with include_topics also every topic name (fetched page by page from the
  // response bodies, gathered into `topics`).
  Result<v1::ClusterInfoResponse> GetClusterInfo(bool include_topics = false);

  const std::vector<std::string>& addresses() const { return addresses_; }

 private:
  net::RpcClient* rpc_;
  const std::vector<std::string> addresses_;
  const int64_t timeout_ms_;
  std::atomic<size_t> current_{0};
};

// RouteCache keeps the route of each topic in use, fetched on first use and again when older
// than the refresh interval or when asked (after a send error). A failed refresh keeps the old
// route. Thread-safe. `namesrv` must outlive it.
class RouteCache {
 public:
  RouteCache(NameServerClient* namesrv, int64_t refresh_interval_ms);

  // The route of `topic`: the cached one when fresh, else fetched (blocks). Fails with the name
  // server's error (NotFound / kTopicNotFound for an unknown topic) when nothing is cached.
  Result<std::shared_ptr<const TopicRoute>> Get(const std::string& topic);
  // The cached route without I/O (null when none); *stale says whether it is due for refresh.
  std::shared_ptr<const TopicRoute> GetCached(const std::string& topic, bool* stale = nullptr);
  // Fetches now (blocks) and caches; keeps the old route on failure and returns the error.
  Result<std::shared_ptr<const TopicRoute>> Refresh(const std::string& topic);
  // Every topic in the cache.
  std::vector<std::string> Topics();
  // Every broker address of every cached route.
  std::vector<std::string> AllBrokerAddrs();

 private:
  struct Entry {
    std::shared_ptr<const TopicRoute> route;
    int64_t fetched_ms = 0;
  };
  NameServerClient* namesrv_;
  const int64_t refresh_interval_ms_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> routes_;  // GUARDED_BY(mu_)
};

}  // namespace vela::client
