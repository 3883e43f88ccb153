#pragma once

#include <memory>
#include <string>

#include "client/consume_service.h"
#include "client/consumer_context.h"
#include "client/offset_store.h"
#include "client/process_queue.h"
#include "common/result.h"
#include "net/frame_codec.h"

namespace vela::client {

// PullService runs one long-poll pull loop per started ProcessQueue: a PULL_MESSAGE with the
// queue's next offset and the subscription's filter, held by the broker up to long_poll_ms; the
// decoded messages are recorded in the queue's offset tracker, then handed to the consume
// service, and the next pull goes out at once. Guarantees:
//  - per queue at most one pull in flight, and messages reach the consume service in offset order;
//  - a queue whose cache holds more than max_cached_messages_per_queue messages or
//    max_cached_bytes_per_queue bytes pauses (re-checked every 50 ms) until the listeners catch up;
//  - a dropped queue, or a stopped consumer, pulls no more; an orderly clustering queue pulls only
//    while its lock is valid (RebalanceService::LockValid);
//  - the broker offset store's committable offset is piggy-backed on pulls;
//  - a retry record (%RETRY%<group>) is shown with its origin topic (property RETRY_TOPIC).
// Responses are decoded on the io thread (cheap); listener work goes to the consume service.
// Thread-safe.
class PullService {
 public:
  PullService(ConsumerContext& ctx, OffsetStore& store, ConsumeService& consume)
      : ctx_(ctx), store_(store), consume_(consume) {}

  // Starts (or continues) the pull loop of `pq`.
  void PullNext(const std::shared_ptr<ProcessQueue>& pq);

 private:
  void OnPullResult(const std::shared_ptr<ProcessQueue>& pq, const std::string& addr, Result<net::Frame> response);

  ConsumerContext& ctx_;
  OffsetStore& store_;
  ConsumeService& consume_;
};

}  // namespace vela::client
