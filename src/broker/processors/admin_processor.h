#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include <asio/thread_pool.hpp>

#include "broker/broker_counters.h"
#include "broker/broker_options.h"
#include "broker/client_manager.h"
#include "broker/namesrv_registrar.h"
#include "broker/processors/resource_resolver.h"
#include "broker/pull_hold_service.h"
#include "broker/topic_manager.h"
#include "net/dispatcher.h"
#include "store/message_store.h"

namespace vela::broker {

// AdminProcessor serves vela-admin's requests: topics (create one or a batch, delete, list in
// pages, status), groups (create one or a batch, list, progress), offset reset, and broker status.
// Clients can neither create nor delete reserved system topics, and LIST_TOPICS shows them only
// when the request asks (ListRequest.include_system). Every request runs on the admin pool (they
// write metadata synchronously or walk every queue). Thread-safe.
class AdminProcessor {
 public:
  // Everything the admin requests read or change; the references must outlive the processor.
  // `start_time_ms` is the broker's start (uptime in broker status).
  AdminProcessor(const BrokerOptions& options, const std::string& broker_addr, ResourceResolver& resolver,
                 store::MessageStore& store, TopicManager& topics, ClientManager& clients, PullHoldService& holds,
                 NamesrvRegistrar& registrar, BrokerCounters& counters, asio::thread_pool& admin_pool,
                 int64_t start_time_ms);

  void Register(net::Dispatcher& dispatcher);
  void HandleCreateTopic(net::RequestContext rc, net::Frame frame);
  void HandleDeleteTopic(net::RequestContext rc, net::Frame frame);
  void HandleListTopics(net::RequestContext rc, net::Frame frame);
  void HandleCreateTopics(net::RequestContext rc, net::Frame frame);
  void HandleTopicStatus(net::RequestContext rc, net::Frame frame);
  void HandleCreateGroup(net::RequestContext rc, net::Frame frame);
  void HandleListGroups(net::RequestContext rc, net::Frame frame);
  void HandleCreateGroups(net::RequestContext rc, net::Frame frame);
  void HandleGroupProgress(net::RequestContext rc, net::Frame frame);
  void HandleResetOffset(net::RequestContext rc, net::Frame frame);
  void HandleBrokerStatus(net::RequestContext rc, net::Frame frame);

 private:
  const BrokerOptions& options_;
  const std::string& broker_addr_;
  ResourceResolver& resolver_;
  store::MessageStore& store_;
  TopicManager& topics_;
  ClientManager& clients_;
  PullHoldService& holds_;
  NamesrvRegistrar& registrar_;
  BrokerCounters& counters_;
  asio::thread_pool& admin_pool_;
  const int64_t start_time_ms_;
};

}  // namespace vela::broker
