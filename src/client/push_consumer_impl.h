#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "client/client_instance.h"
#include "client/consume_service.h"
#include "client/consumer_context.h"
#include "client/offset_store.h"
#include "client/pull_service.h"
#include "client/rebalance.h"
#include "client/trace_dispatcher.h"
#include "common/result.h"
#include "vela/consumer.h"

namespace vela::client {

// PushConsumerImpl is the push consumer behind PushConsumer (see its class comment for the
// behaviour): it wires the parts every mode shares and runs their timers.
//  - ConsumerContext: settings, listener, subscriptions (plus %RETRY%<group> in clustering mode);
//  - OffsetStore: BrokerOffsetStore (clustering) or LocalFileOffsetStore (broadcasting);
//  - ConsumeService: ConcurrentConsumeService or OrderlyConsumeService (SetOrderly);
//  - PullService: the long-poll loop per queue;
//  - RebalanceService: the queue table, allocation per mode, queue locks (orderly clustering);
//  - timers on the client instance's internal pool: heartbeat every 10 s, rebalance and commit
//    every 5 s, lock renewal every second (orderly clustering).
// Shutdown stops pulling, waits for the listeners in progress, commits (and unlocks), flushes
// the offset store and unregisters. Thread-safe. Owns its ClientInstance and every part.
class PushConsumerImpl {
 public:
  using Subscriptions = ConsumerContext::Subscriptions;

  PushConsumerImpl(ClientConfig config, PushConsumerOptions options, Subscriptions subscriptions,
                   MessageListener listener);
  ~PushConsumerImpl();

  vela::Status Start();
  vela::Status Subscribe(const std::string& topic, const FilterExpression& filter);
  vela::Status Unsubscribe(const std::string& topic);
  void Shutdown();

  const std::string& client_id() const { return instance_->client_id(); }
  const std::string& group() const { return ctx_.group(); }
  // Message trace: the dispatcher the (wrapped) listener records into; started by Start with this
  // client's id, stopped by Shutdown after the listeners finished. REQUIRES: before Start.
  void AttachTracer(std::shared_ptr<TraceDispatcher> tracer) { tracer_ = std::move(tracer); }
  uint64_t trace_dropped() const { return tracer_ ? tracer_->dropped() + tracer_->failed() : 0; }

  // Checks a subscription expression without any server: InvalidArgument / kBadFilter with the
  // parser's message and position.
  static Status ValidateFilter(const FilterExpression& filter);
  // Checks the tunables: InvalidArgument naming the first bad one.
  static vela::Status ValidateOptions(const PushConsumerOptions& options);

 private:
  void Rebalance();
  // Tells every broker of the subscribed topics about this consumer. With sync, returns the
  // first refusal of a subscription (bad filter, SQL92 disabled); transport errors only log.
  vela::Status SendHeartbeat(bool sync);
  std::vector<std::string> SubscribedBrokerAddrs();

  ConsumerContext ctx_;
  std::unique_ptr<ClientInstance> instance_;
  std::unique_ptr<OffsetStore> store_;
  std::unique_ptr<ConsumeService> consume_;
  std::unique_ptr<PullService> pull_;
  std::unique_ptr<RebalanceService> rebalance_;
  std::shared_ptr<TraceDispatcher> tracer_;  // with EnableTrace
  // Extra rebalance rounds scheduled while a subscribed topic has no route (see Rebalance).
  static constexpr int kEarlyRounds = 10;
  static constexpr int64_t kEarlyRoundDelayMs = 300;
  std::atomic<int> early_rounds_{0};
  std::atomic<bool> shut_down_{false};
};

}  // namespace vela::client
