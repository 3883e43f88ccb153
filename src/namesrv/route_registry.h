#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "vela/v1/vela.pb.h"

namespace vela::namesrv {

// RouteRegistry is the name server's whole state: which brokers are alive, which topics each
// serves with how many queues, and when each last registered. Registrations replace a broker's
// topic list wholesale; a broker silent for longer than the expiry, or whose registering
// connection closed, is dropped. Thread-safe (one mutex; every operation is short).
class RouteRegistry {
 public:
  explicit RouteRegistry(int64_t broker_expiry_ms = 120000) : expiry_ms_(broker_expiry_ms) {}

  // Adds or refreshes a broker and replaces its topics. `connection_id` identifies the
  // connection it registered over, for ConnectionClosed. Returns true if the broker is new.
  bool Register(const v1::RegisterBrokerRequest& request, uint64_t connection_id, int64_t now_ms);
  void Unregister(const std::string& broker_addr);
  // Drops brokers that registered over this connection. Returns their addresses.
  std::vector<std::string> ConnectionClosed(uint64_t connection_id);
  // Drops brokers silent for longer than the expiry. Returns their addresses.
  std::vector<std::string> ExpireSilent(int64_t now_ms);

  // The route of `topic`, or NotFound (SubCode::kTopicNotFound) when no live broker serves it.
  Result<v1::RouteResponse> GetRoute(const std::string& topic) const;
  v1::ClusterInfoResponse GetClusterInfo() const;
  // Removes `topic` from every broker's list (until they register it again).
  void DeleteTopic(const std::string& topic);
  size_t broker_count() const;

 private:
  struct BrokerEntry {
    std::string cluster_name;
    std::string broker_name;
    int64_t broker_id = 0;
    std::string addr;
    std::vector<v1::TopicRouteQueues> topics;
    int64_t last_update_ms = 0;
    uint64_t connection_id = 0;
  };
  const int64_t expiry_ms_;
  mutable std::mutex mu_;
  std::map<std::string, BrokerEntry> brokers_;  // by address; GUARDED_BY(mu_)
};

}  // namespace vela::namesrv
