#pragma once

#include "broker/broker_options.h"
#include "broker/client_manager.h"
#include "broker/processors/resource_resolver.h"
#include "broker/retry/retry_service.h"
#include "filter/filter_cache.h"
#include "net/dispatcher.h"

namespace vela::broker {

// ClientProcessor serves the client registry's requests: HEARTBEAT (refuses a group or a
// subscription this broker cannot serve, at subscribe time; creates the retry topic of a
// clustering consumer's group), UNREGISTER_CLIENT and GET_CONSUMER_LIST. Runs on io threads;
// thread-safe.
class ClientProcessor {
 public:
  // The references must outlive the processor; `retries` (null: no retry topics made) too.
  ClientProcessor(const BrokerOptions& options, ResourceResolver& resolver, ClientManager& clients,
                  filter::FilterCache& filters, retry::RetryService* retries = nullptr);

  void Register(net::Dispatcher& dispatcher);
  void HandleHeartbeat(net::RequestContext rc, net::Frame frame);
  void HandleUnregister(net::RequestContext rc, net::Frame frame);
  void HandleGetConsumerList(net::RequestContext rc, net::Frame frame);

 private:
  const BrokerOptions& options_;
  ResourceResolver& resolver_;
  ClientManager& clients_;
  filter::FilterCache& filters_;
  retry::RetryService* const retries_;
};

}  // namespace vela::broker
