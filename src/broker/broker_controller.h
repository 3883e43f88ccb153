#pragma once

#include <memory>
#include <string>

#include <asio/thread_pool.hpp>

#include "broker/broker_counters.h"
#include "broker/broker_http_api.h"
#include "broker/broker_options.h"
#include "broker/client_manager.h"
#include "broker/cluster_view.h"
#include "broker/console/console_api.h"
#include "broker/lock/lock_processor.h"
#include "broker/lock/queue_lock_manager.h"
#include "broker/namesrv_registrar.h"
#include "broker/processors/admin_processor.h"
#include "broker/processors/client_processor.h"
#include "broker/processors/offset_processor.h"
#include "broker/processors/pull_processor.h"
#include "broker/processors/query_processor.h"
#include "broker/processors/resource_resolver.h"
#include "broker/processors/send_processor.h"
#include "broker/pull_hold_service.h"
#include "broker/retry/retry_processor.h"
#include "broker/retry/retry_service.h"
#include "broker/timer/timer_admission.h"
#include "broker/timer/timer_processor.h"
#include "broker/timer/timer_service.h"
#include "broker/topic_manager.h"
#include "broker/trace/trace_processor.h"
#include "broker/trace/trace_writer.h"
#include "broker/transaction/transaction_admission.h"
#include "broker/transaction/transaction_processor.h"
#include "broker/transaction/transaction_service.h"
#include "filter/filter_cache.h"
#include "http/http_server.h"
#include "metrics/rpc_latency_recorder.h"
#include "net/dispatcher.h"
#include "net/server.h"
#include "store/message_store.h"

namespace vela::broker {

// BrokerController is the composition root of vela-broker: it owns the store, the managers, the
// services and the server, starts them in dependency order and stops them in reverse. Start/Stop
// from main's thread only.
class BrokerController {
 public:
  explicit BrokerController(BrokerOptions options);
  ~BrokerController();
  BrokerController(const BrokerController&) = delete;
  BrokerController& operator=(const BrokerController&) = delete;

  // Binds the listen address, opens (and if needed recovers) the store, starts the services,
  // then accepts clients and registers with the name servers. Any failure leaves nothing running.
  Status Start();
  // Graceful stop: unregister, stop accepting and close connections, answer held pulls, flush,
  // checkpoint. Idempotent.
  void Stop();

  // The address clients are told (brokerIP1 and the bound port).
  const std::string& broker_addr() const { return broker_addr_; }
  std::string listen_address() const { return server_->listen_address(); }
  // The HTTP endpoint's "host:port" (/metrics, /api/), empty when httpPort=-1.
  std::string http_address() const { return http_ ? http_->listen_address() : std::string(); }

 private:
  class Housekeeping;
  v1::RegisterBrokerRequest BuildRegistration() const;

  BrokerOptions options_;
  std::string broker_addr_;
  net::Dispatcher dispatcher_;
  std::unique_ptr<net::Server> server_;
  std::unique_ptr<store::MessageStore> store_;
  std::unique_ptr<TopicManager> topics_;
  std::unique_ptr<ClientManager> clients_;
  std::unique_ptr<asio::thread_pool> admin_pool_;
  std::unique_ptr<PullHoldService> holds_;
  std::unique_ptr<NamesrvRegistrar> registrar_;
  std::unique_ptr<Housekeeping> housekeeping_;
  filter::FilterCache filters_;
  BrokerCounters counters_;
  std::unique_ptr<ResourceResolver> resolver_;
  std::unique_ptr<SendProcessor> send_processor_;
  std::unique_ptr<PullProcessor> pull_processor_;
  std::unique_ptr<ClientProcessor> client_processor_;
  std::unique_ptr<OffsetProcessor> offset_processor_;
  std::unique_ptr<QueryProcessor> query_processor_;
  std::unique_ptr<AdminProcessor> admin_processor_;
  std::unique_ptr<timer::TimerService> timers_;
  std::unique_ptr<timer::TimerAdmission> timer_admission_;
  std::unique_ptr<timer::TimerProcessor> timer_processor_;
  std::unique_ptr<transaction::TransactionService> transactions_;
  std::unique_ptr<transaction::TransactionAdmission> transaction_admission_;
  std::unique_ptr<transaction::TransactionProcessor> transaction_processor_;
  std::unique_ptr<retry::RetryService> retries_;
  std::unique_ptr<retry::RetryProcessor> retry_processor_;
  std::unique_ptr<lock::QueueLockManager> queue_locks_;
  std::unique_ptr<lock::LockProcessor> lock_processor_;
  std::unique_ptr<trace::TraceWriter> trace_writer_;
  std::unique_ptr<trace::TraceProcessor> trace_processor_;
  // /api/brokers' surveys of the cluster (with HTTP only); declared before http_, so they outlive
  // the handlers that use them.
  std::unique_ptr<ClusterSurveyor> cluster_surveyor_;
  std::unique_ptr<ClusterView> cluster_view_;
  // HTTP (/metrics, /api/): its own threads; bound in Start before the store opens, serving last.
  std::unique_ptr<http::HttpServer> http_;
  std::unique_ptr<BrokerHttpApi> http_api_;
  std::unique_ptr<ConsoleApi> console_api_;  // the web console at / and its /api/ routes
  std::unique_ptr<metrics::RpcLatencyRecorder> rpc_latency_;
  bool started_ = false;
  bool stopped_ = false;  // Stop ran: a second call (the destructor's) does nothing
};

}  // namespace vela::broker
