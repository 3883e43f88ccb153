#pragma once

#include "broker/processors/resource_resolver.h"
#include "net/dispatcher.h"
#include "store/message_store.h"

namespace vela::broker {

// OffsetProcessor serves QUERY_CONSUMER_OFFSET (-1 when the group never committed on the queue)
// and UPDATE_CONSUMER_OFFSET (the group must exist or be auto-creatable). Offsets live in the
// store's MetaStore. Runs on io threads; thread-safe.
class OffsetProcessor {
 public:
  // The references must outlive the processor.
  OffsetProcessor(ResourceResolver& resolver, store::MessageStore& store);

  void Register(net::Dispatcher& dispatcher);
  void HandleQueryOffset(net::RequestContext rc, net::Frame frame);
  void HandleUpdateOffset(net::RequestContext rc, net::Frame frame);

 private:
  ResourceResolver& resolver_;
  store::MessageStore& store_;
};

}  // namespace vela::broker
