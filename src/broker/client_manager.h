#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "net/connection.h"
#include "vela/v1/vela.pb.h"

namespace vela::broker {

// ClientManager tracks the live producers and consumers of each group from their heartbeats:
// which client ids are members, over which connection, with which subscriptions. A client leaves
// when it unregisters, when its connection closes, or after the expiry without a heartbeat. On
// every change of a consumer group's membership the members are told (NOTIFY_CONSUMER_IDS_CHANGED)
// so they rebalance at once. Thread-safe.
class ClientManager {
 public:
  explicit ClientManager(int64_t expiry_ms) : expiry_ms_(expiry_ms) {}

  void Heartbeat(const v1::HeartbeatRequest& request, const std::shared_ptr<net::Connection>& connection,
                 int64_t now_ms);
  void Unregister(const std::string& client_id, const std::string& producer_group, const std::string& consumer_group);
  void ConnectionClosed(uint64_t connection_id);
  void ExpireSilent(int64_t now_ms);

  // Sorted client ids of a consumer group's live members.
  std::vector<std::string> ConsumerIds(const std::string& group) const;
  // A live connection of a member of a producer group (for transaction check-backs), the members
  // taken in turn; null when none is connected.
  std::shared_ptr<net::Connection> AnyProducerConnection(const std::string& group) const;
  // The subscription a consumer group declared for a topic, if any member declared one.
  bool FindSubscription(const std::string& group, const std::string& topic, v1::Subscription* out) const;
  size_t consumer_group_count() const;
  size_t client_count() const;
  // Live clients by the SDK version their heartbeats report ("unknown" for none).
  std::map<std::string, size_t> ClientVersions() const;

 private:
  struct Member {
    std::weak_ptr<net::Connection> connection;
    uint64_t connection_id = 0;
    int64_t last_heartbeat_ms = 0;
    std::string client_version;
  };
  struct Group {
    std::map<std::string, Member> members;  // by client id
    std::map<std::string, v1::Subscription> subscriptions;  // by topic
    mutable size_t next_pick = 0;  // producers: the member AnyProducerConnection tries first
  };
  // Removes members matching pred; returns the consumer groups that changed. REQUIRES: mu_ held.
  template <typename Pred>
  std::set<std::string> RemoveLocked(Pred pred);
  void NotifyChanged(const std::set<std::string>& groups);

  const int64_t expiry_ms_;
  mutable std::mutex mu_;
  std::map<std::string, Group> consumers_;  // GUARDED_BY(mu_)
  std::map<std::string, Group> producers_;  // GUARDED_BY(mu_)
};

}  // namespace vela::broker
