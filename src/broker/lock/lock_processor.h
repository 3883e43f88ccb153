#pragma once

#include <string>
#include <vector>

#include "broker/client_manager.h"
#include "broker/lock/queue_lock_manager.h"
#include "broker/topic_manager.h"
#include "net/dispatcher.h"

namespace vela::broker::lock {

// LockProcessor serves LOCK_QUEUES and UNLOCK_QUEUES (docs/protocol.md) over the QueueLockManager:
// it checks who asks (a live consumer of the group, registered by HEARTBEAT under that client id,
// whose group subscribes to each topic, or the group's own %RETRY% topic) and what (queues of
// this broker's topics), then locks, renews or unlocks. Runs on io threads (no I/O); thread-safe.
class LockProcessor {
 public:
  // The references must outlive the processor. `broker_name`: this broker's brokerName.
  LockProcessor(std::string broker_name, QueueLockManager& locks, ClientManager& clients, TopicManager& topics);

  void Register(net::Dispatcher& dispatcher);
  void HandleLock(net::RequestContext rc, net::Frame frame);
  void HandleUnlock(net::RequestContext rc, net::Frame frame);

  // The most queues one request may name.
  static constexpr int kMaxQueuesPerRequest = 4096;

 private:
  // Checks the request and its asker; fills *queues. PermissionDenied, InvalidArgument or NotFound.
  Status Check(const v1::LockQueuesRequest& request, std::vector<LockedQueue>* queues) const;

  const std::string broker_name_;
  QueueLockManager& locks_;
  ClientManager& clients_;
  TopicManager& topics_;
};

}  // namespace vela::broker::lock
