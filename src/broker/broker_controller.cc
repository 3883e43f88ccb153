#include "broker/broker_controller.h"

#include <fmt/format.h>

#include "broker/logger.h"
#include "broker/scrape_metrics.h"
#include "common/clock.h"
#include "common/service_thread.h"
#include "common/trace_record.h"

namespace vela::broker {

// Expires silent clients every few seconds.
class BrokerController::Housekeeping : public ServiceThread {
 public:
  explicit Housekeeping(ClientManager& clients) : ServiceThread("housekeeping"), clients_(clients) {}
  ~Housekeeping() override { Stop(); }

 protected:
  void Run() override {
    while (!stopped()) {
      WaitForRunning(std::chrono::seconds(5));
      clients_.ExpireSilent(NowEpochMs());
    }
  }

 private:
  ClientManager& clients_;
};

BrokerController::BrokerController(BrokerOptions options) : options_(std::move(options)) {
  server_ = std::make_unique<net::Server>(
      net::ServerOptions{options_.listen, options_.io_threads, options_.max_frame_size, options_.server_limits},
      &dispatcher_);
  RegisterBuildInfo(counters_.registry);
  // rocketmq_rpc_latency: every answered request, by code and status.
  rpc_latency_ = std::make_unique<metrics::RpcLatencyRecorder>(counters_.metrics.rpc_latency);
  dispatcher_.SetReplyObserver([recorder = rpc_latency_.get()](v1::RequestCode code, const Status& status,
                                                               int64_t micros) {
    const std::string& name = v1::RequestCode_Name(code);
    recorder->Record(static_cast<int>(code), name.empty() ? std::string_view("UNKNOWN") : std::string_view(name),
                     static_cast<int>(status.code()), StatusCodeName(status.code()), micros);
  });
  if (options_.http.enabled()) http_ = std::make_unique<http::HttpServer>(options_.http);
}

BrokerController::~BrokerController() { Stop(); }

v1::RegisterBrokerRequest BrokerController::BuildRegistration() const {
  v1::RegisterBrokerRequest r;
  r.set_cluster_name(options_.cluster_name);
  r.set_broker_name(options_.broker_name);
  r.set_broker_id(options_.broker_id);
  r.set_broker_addr(broker_addr_);
  if (topics_) {
    for (const auto& t : topics_->ListTopics()) {
      auto* w = r.add_topics();
      w->set_topic(t.name);
      w->set_read_queues(t.read_queues);
      w->set_write_queues(t.write_queues);
      w->set_perm(t.perm);
      w->set_message_type(static_cast<v1::MessageType>(t.message_type));
    }
  }
  return r;
}

Status BrokerController::Start() {
  VELA_RETURN_IF_ERROR(server_->Listen());
  broker_addr_ = fmt::format("{}:{}", options_.advertised_ip, server_->port());
  options_.store.store_host = PackHost(broker_addr_);
  if (http_) {
    VELA_RETURN_IF_ERROR(http_->Listen());
    // The bound port from here on (httpPort=0 picks one): BROKER_STATUS reports it, so that other
    // brokers' consoles can link to this one.
    options_.http.port = http_->port();
  }
  options_.store.flush_observer = RegisterFlushLatency(counters_.registry);
  // A trace record's keys are the ids of the messages it describes: a distinct key per message,
  // written at message rates (common/trace_record.h).
  options_.store.hash_keyed_topics = {std::string(vela::trace::kTraceTopic)};

  auto store = store::MessageStore::Open(options_.store);
  if (!store.ok()) return store.status().WithContext("cannot open the store");
  store_ = std::move(store).value();
  topics_ = std::make_unique<TopicManager>(store_->meta());
  clients_ = std::make_unique<ClientManager>(options_.client_expiry_ms);
  admin_pool_ = std::make_unique<asio::thread_pool>(2);
  registrar_ = std::make_unique<NamesrvRegistrar>(
      options_.namesrv_addrs, options_.register_interval_ms, [this] { return BuildRegistration(); },
      [this] { return topics_->topic_generation(); });
  // Held pulls are retried by the pull processor, built right after (the hold service calls back
  // only once a pull was held, after Start).
  holds_ = std::make_unique<PullHoldService>(
      [this](HeldPull pull, bool final) { pull_processor_->RetryHeld(std::move(pull), final); });
  resolver_ = std::make_unique<ResourceResolver>(options_, broker_addr_, *topics_, *registrar_);
  trace_writer_ = std::make_unique<trace::TraceWriter>(*store_, *topics_, broker_addr_, options_.store.store_host);
  trace_processor_ = std::make_unique<trace::TraceProcessor>(*trace_writer_);
  timers_ = std::make_unique<timer::TimerService>(*store_, *topics_, options_.timer, options_.broker_name,
                                                 &counters_.metrics, trace_writer_.get());
  timer_admission_ = std::make_unique<timer::TimerAdmission>(*timers_);
  timer_processor_ = std::make_unique<timer::TimerProcessor>(*timers_);
  transactions_ = std::make_unique<transaction::TransactionService>(*store_, *topics_, options_.transaction,
                                                                  &counters_.metrics, trace_writer_.get());
  transaction_admission_ = std::make_unique<transaction::TransactionAdmission>(*transactions_);
  transaction_processor_ = std::make_unique<transaction::TransactionProcessor>(*transactions_);
  retries_ = std::make_unique<retry::RetryService>(*store_, *topics_, *timers_, registrar_.get(), &counters_.metrics);
  retry_processor_ = std::make_unique<retry::RetryProcessor>(*retries_, *admin_pool_);
  queue_locks_ = std::make_unique<lock::QueueLockManager>(options_.queue_lock_lease_ms);
  lock_processor_ = std::make_unique<lock::LockProcessor>(options_.broker_name, *queue_locks_, *clients_, *topics_);
  // A consumer that leaves its group (unregisters, expires, its connection closes) leaves its locks.
  clients_->AddConsumerLeftListener([this](const std::string& group, const std::string& client_id) {
    queue_locks_->ReleaseClient(group, client_id);
  });
  // The transaction stage first: it refuses a transactional message that also asks for a timer.
  send_processor_ = std::make_unique<SendProcessor>(
      options_, broker_addr_, *resolver_, *store_, counters_,
      std::vector<AdmissionStage*>{transaction_admission_.get(), timer_admission_.get()});
  pull_processor_ = std::make_unique<PullProcessor>(options_, *resolver_, *store_, *holds_, filters_, counters_);
  client_processor_ = std::make_unique<ClientProcessor>(options_, *resolver_, *clients_, filters_, retries_.get());
  offset_processor_ = std::make_unique<OffsetProcessor>(*resolver_, *store_);
  query_processor_ = std::make_unique<QueryProcessor>(options_, broker_addr_, *store_, *admin_pool_);
  admin_processor_ = std::make_unique<AdminProcessor>(options_, broker_addr_, *resolver_, *store_, *topics_, *clients_,
                                                      *holds_, *registrar_, counters_, *admin_pool_, NowEpochMs());
  send_processor_->Register(dispatcher_);
  pull_processor_->Register(dispatcher_);
  client_processor_->Register(dispatcher_);
  offset_processor_->Register(dispatcher_);
  query_processor_->Register(dispatcher_);
  admin_processor_->Register(dispatcher_);
  timer_processor_->Register(dispatcher_);
  transaction_processor_->Register(dispatcher_);
  retry_processor_->Register(dispatcher_);
  lock_processor_->Register(dispatcher_);
  trace_processor_->Register(dispatcher_);
  store_->AddDispatchListener(holds_.get());
  server_->AddConnectionClosedListener(
      [this](const std::shared_ptr<net::Connection>& conn) {
        clients_->ConnectionClosed(conn->id());
        queue_locks_->ReleaseConnection(conn->id());
      });

  holds_->Start();
  VELA_RETURN_IF_ERROR(timers_->Start());
  // Check-backs go to a live producer of the transaction's group, any member (docs/transactions.md).
  transactions_->SetCheckSender([this](const v1::CheckTransactionRequest& request, std::string body) {
    auto connection = clients_->AnyProducerConnection(request.producer_group());
    if (!connection) return false;
    v1::Header h;
    h.set_code(v1::CHECK_TRANSACTION_STATE);
    h.set_flags(net::kFlagOneway);
    *h.mutable_check_transaction_request() = request;
    connection->SendFrame(std::move(h), net::OutBody(std::move(body)));
    return true;
  });
  VELA_RETURN_IF_ERROR(transactions_->Start());
  housekeeping_ = std::make_unique<Housekeeping>(*clients_);
  housekeeping_->Start();
  RegisterScrapeMetrics(counters_.registry, *store_, *topics_, options_.store.root_dir);
  VELA_RETURN_IF_ERROR(server_->Start());
  if (!options_.namesrv_addrs.empty()) registrar_->Start();
  if (http_) {
    cluster_surveyor_ = std::make_unique<ClusterSurveyor>(options_.namesrv_addrs, kClusterSurveyTimeoutMs);
    cluster_view_ = std::make_unique<ClusterView>([surveyor = cluster_surveyor_.get()] { return surveyor->Survey(); },
                                                  kClusterViewMaxAgeMs,
                                                  [] { return NowMonotonicNs() / 1000000; });
    http_api_ = std::make_unique<BrokerHttpApi>(options_, broker_addr_, *store_, *topics_, counters_, *cluster_view_,
                                                NowEpochMs());
    http_api_->Register(*http_);
    console_api_ = std::make_unique<ConsoleApi>(options_, *store_, *topics_, *clients_, *timers_, *transactions_,
                                                *retries_);
    console_api_->Register(*http_);
    VELA_RETURN_IF_ERROR(http_->Start());
    if (options_.console_write_enabled) {
      BrokerLogger()->warn(
          "consoleWriteEnabled=true: the web console on {} can resend dead letters and reset consumer offsets, and "
          "the HTTP port has no access control: bind it to a trusted address or firewall it",
          http_->listen_address());
    }
  } else if (options_.console_write_enabled) {
    BrokerLogger()->info("consoleWriteEnabled=true has no effect: HTTP is off (httpPort=-1)");
  }
  started_ = true;
  BrokerLogger()->info("broker {} ({}/{}) serving on {}, store {}, {}", options_.broker_name, options_.cluster_name,
                       options_.broker_id, broker_addr_, options_.store.root_dir,
                       options_.store.flush_disk_type == store::FlushDiskType::kSync ? "SYNC_FLUSH" : "ASYNC_FLUSH");
  return Status::OK();
}

void BrokerController::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (http_) http_->Stop();  // first: its handlers read the store and the managers
  if (registrar_) {
    registrar_->Stop();
    if (started_ && !options_.namesrv_addrs.empty()) registrar_->UnregisterAll();
  }
  if (server_) server_->Stop();
  if (housekeeping_) housekeeping_->Stop();
  if (holds_) {
    holds_->Stop();
    holds_->ReleaseAll();
  }
  if (admin_pool_) admin_pool_->join();
  if (timers_) timers_->Stop();  // before the store: it may be waiting on an append
  if (transactions_) transactions_->Stop();
  if (store_) {
    store_->Shutdown();
    BrokerLogger()->info("broker {} stopped: store flushed and checkpointed", options_.broker_name);
  }
  started_ = false;
  registrar_.reset();
}

}  // namespace vela::broker
