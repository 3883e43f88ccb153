#pragma once

#include "broker/broker_counters.h"
#include "broker/broker_options.h"
#include "broker/processors/resource_resolver.h"
#include "broker/pull_hold_service.h"
#include "filter/filter_cache.h"
#include "net/dispatcher.h"
#include "store/message_store.h"

namespace vela::broker {

// PullProcessor serves PULL_MESSAGE: checks the topic, queue and group, commits the offset the
// consumer piggybacks, and reads the queue through the subscription's filter. A pull that finds
// nothing and may wait is parked in the PullHoldService (long polling), which calls RetryHeld when
// a record of its queue arrives or its deadline passes. Found records go out as views of the
// mapped log (no copy). Runs on io threads and the hold service's thread; thread-safe.
class PullProcessor {
 public:
  // The references must outlive the processor.
  PullProcessor(const BrokerOptions& options, ResourceResolver& resolver, store::MessageStore& store,
                PullHoldService& holds, filter::FilterCache& filters, BrokerCounters& counters);

  void Register(net::Dispatcher& dispatcher);
  void HandlePull(net::RequestContext rc, net::Frame frame);
  // The hold service's retry (PullHoldService::Retry): re-runs a held pull; `final` at its deadline.
  void RetryHeld(HeldPull pull, bool final);

 private:
  // Runs one pull attempt. When nothing is there and holding is allowed, parks the pull; `final`
  // attempts (deadline reached) always answer.
  void ExecutePull(net::RequestContext rc, v1::PullRequest req, bool final, int64_t deadline_ms);
  void ReplyPull(const net::RequestContext& rc, v1::PullOutcome outcome, const store::GetResult& r,
                 store::QueueOffset next_offset, net::OutBody body = {}, uint32_t count = 0);

  const BrokerOptions& options_;
  ResourceResolver& resolver_;
  store::MessageStore& store_;
  PullHoldService& holds_;
  filter::FilterCache& filters_;
  BrokerCounters& counters_;
};

}  // namespace vela::broker
