#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "vela/v1/vela.pb.h"

namespace vela::namesrv {

// Limits on what a registration may carry (docs/protocol.md).
inline constexpr uint32_t kMaxRegistrationParts = 64;
inline constexpr size_t kMaxBrokerAddrLength = 255;
inline constexpr size_t kMaxBrokerNameLength = 127;
// A broker registers one address per connection; a few more are allowed (tools, proxies).
inline constexpr size_t kMaxAddrsPerConnection = 16;

// What the registry did with one REGISTER_BROKER frame.
struct RegisterOutcome {
  bool new_broker = false;   // the address was not registered before
  bool committed = false;    // the broker's registration (and topic table) is now in force
  bool send_topics = false;  // the broker must send its whole table (we do not hold its version)
  size_t topic_count = 0;    // topics in force for the broker after this frame
};

// RouteRegistry is the name server's whole state: which brokers are alive, which topics each
// serves with how many queues, and when each last registered.
//
// Guarantees:
//  - A broker address is held by the connection that registered it, and so is the broker's
//    identity (name and id: the route's master for that name). A registration for that address or
//    identity from another connection, and an unregistration from any connection but the holder,
//    are refused (PermissionDenied) until the holder's connection closes or the broker expires;
//    after that anyone may register it (a restarted broker comes back over a new connection).
//  - A topic table replaces the broker's previous one wholesale, only once complete (every part
//    arrived, in order, over one connection) and valid; a refused frame changes nothing.
//  - A registration without a body and with the version already held only refreshes liveness
//    (cheap); with a version the registry does not hold it is answered send_topics.
//  - Memory: one partial table per connection at most, dropped when the connection closes; at
//    most kMaxAddrsPerConnection addresses per connection (ResourceExhausted beyond).
// Thread-safe (one mutex; bodies are parsed outside it).
class RouteRegistry {
 public:
  explicit RouteRegistry(int64_t broker_expiry_ms = 120000) : expiry_ms_(broker_expiry_ms) {}

  // Handles one REGISTER_BROKER frame: `request` from the header, `body` the frame body (a
  // TopicRouteTable part, or empty). `connection_id` identifies the connection it came over.
  // Fails with InvalidArgument (malformed request or table, naming the field) or
  // PermissionDenied (the address is held by another live connection). `connection_open`, when
  // given, is asked under the registry's mutex before anything is kept: a registration whose
  // connection closed meanwhile (ConnectionClosed already ran, or runs after us) is dropped
  // with Unavailable instead of holding the address for a dead connection.
  Result<RegisterOutcome> Register(const v1::RegisterBrokerRequest& request, std::string_view body,
                                   uint64_t connection_id, int64_t now_ms,
                                   const std::function<bool()>& connection_open = {});
  // Removes the broker at `broker_addr` when `connection_id` registered it. NotFound when no
  // broker has that address, PermissionDenied when another connection registered it.
  Status Unregister(const std::string& broker_addr, uint64_t connection_id);
  // Drops brokers that registered over this connection (and its partial table). Returns their
  // addresses.
  std::vector<std::string> ConnectionClosed(uint64_t connection_id);
  // Drops brokers silent for longer than the expiry. Returns their addresses.
  std::vector<std::string> ExpireSilent(int64_t now_ms);

  // The route of `topic`, or NotFound (SubCode::kTopicNotFound) when no live broker serves it.
  Result<v1::RouteResponse> GetRoute(const std::string& topic) const;
  // The brokers and their last registration times (no topics: see TopicNames).
  v1::ClusterInfoResponse GetClusterInfo() const;
  // Up to `max_entries` distinct topic names served by any broker, in name order, after `after`,
  // stopping early once their lengths add up to `max_bytes`. *more says whether names follow.
  std::vector<std::string> TopicNames(const std::string& after, size_t max_entries, size_t max_bytes,
                                      bool* more) const;
  // Removes `topic` from every broker's table; each such broker is asked for its whole table at
  // its next registration, so a topic it still serves comes back then.
  void DeleteTopic(const std::string& topic);
  size_t broker_count() const;
  // Distinct topic names over every registered broker's table (a /metrics figure; one pass over
  // the tables under the lock).
  size_t topic_count() const;
  // The address registered over `connection_id`, for logs ("" when none).
  std::string AddrOf(uint64_t connection_id) const;

 private:
  struct QueueCounts {
    int32_t read_queues = 0;
    int32_t write_queues = 0;
    uint32_t perm = 0;
    v1::MessageType message_type = v1::MESSAGE_NORMAL;
  };
  using TopicTable = std::map<std::string, QueueCounts, std::less<>>;
  struct BrokerEntry {
    std::string cluster_name;
    std::string broker_name;
    int64_t broker_id = 0;
    std::shared_ptr<const TopicTable> topics;  // shared: a liveness refresh copies nothing
    uint64_t topics_version = 0;               // 0: must send the whole table next time
    int64_t last_update_ms = 0;
    uint64_t connection_id = 0;
  };
  // A table arriving in several parts over one connection.
  struct PendingTable {
    std::string addr;
    uint64_t version = 0;
    uint32_t parts = 0;
    uint32_t next_part = 0;
    TopicTable topics;
  };

  // PermissionDenied when the request's address, or its broker (name and id) at another address,
  // is registered over a connection other than `connection_id`; ResourceExhausted when the
  // address would be one too many for the connection.
  Status CheckHolder(const v1::RegisterBrokerRequest& request, uint64_t connection_id) const;  // REQUIRES: mu_ held
  RegisterOutcome Commit(const v1::RegisterBrokerRequest& request, std::shared_ptr<const TopicTable> topics,
                         uint64_t connection_id, int64_t now_ms);  // REQUIRES: mu_ held

  static Status ValidateIdentity(const v1::RegisterBrokerRequest& request);
  // Adds validated entries to `table`; InvalidArgument names the first bad entry.
  static Status AddTopics(const google::protobuf::RepeatedPtrField<v1::TopicRouteQueues>& topics, TopicTable* table);

  const int64_t expiry_ms_;
  mutable std::mutex mu_;
  std::map<std::string, BrokerEntry> brokers_;           // by address; GUARDED_BY(mu_)
  std::unordered_map<uint64_t, PendingTable> pending_;   // by connection; GUARDED_BY(mu_)
};

}  // namespace vela::namesrv
