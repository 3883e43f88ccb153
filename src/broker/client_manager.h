#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
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

  // Called, outside the manager's lock, for each consumer that left a group (unregistered, its
  // connection closed, or it expired). REQUIRES: added before traffic starts; it outlives the manager.
  using ConsumerLeftListener = std::function<void(const std::string& group, const std::string& client_id)>;
  void AddConsumerLeftListener(ConsumerLeftListener listener) { left_listeners_.push_back(std::move(listener)); }

  void Heartbeat(const v1::HeartbeatRequest& request, const std::shared_ptr<net::Connection>& connection,
                 int64_t now_ms);
  void Unregister(const std::string& client_id, const std::string& producer_group, const std::string& consumer_group);
  void ConnectionClosed(uint64_t connection_id);
  void ExpireSilent(int64_t now_ms);

  // True when `client_id` is a live member of consumer group `group`.
  bool IsConsumer(const std::string& group, const std::string& client_id) const;
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
  using Departures = std::vector<std::pair<std::string, std::string>>;  // consumer (group, client id)
  // Removes members matching pred; returns the consumer groups that changed and adds the consumers
  // removed to *left. REQUIRES: mu_ held.
  template <typename Pred>
  std::set<std::string> RemoveLocked(Pred pred, Departures* left);
  void NotifyChanged(const std::set<std::string>& groups);
  void NotifyLeft(const Departures& left);

  const int64_t expiry_ms_;
  mutable std::mutex mu_;
  std::map<std::string, Group> consumers_;  // GUARDED_BY(mu_)
  std::map<std::string, Group> producers_;  // GUARDED_BY(mu_)
  std::vector<ConsumerLeftListener> left_listeners_;  // fixed once traffic starts
};

}  // namespace vela::broker
