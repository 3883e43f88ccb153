#include "namesrv/namesrv_controller.h"

#include "common/clock.h"
#include "common/logging.h"

namespace vela::namesrv {
namespace {
const std::shared_ptr<spdlog::logger>& Log() {
  static const auto logger = GetLogger("namesrv");
  return logger;
}
}  // namespace

Result<NamesrvOptions> NamesrvOptions::FromConfig(const Config& config) {
  NamesrvOptions o;
  auto port = config.GetInt("listenPort", 9876);
  if (!port.ok()) return port.status();
  o.listen = config.GetString("listen", fmt::format("0.0.0.0:{}", *port));
  auto expiry = config.GetInt("brokerExpiryMs", 120000);
  if (!expiry.ok()) return expiry.status();
  o.broker_expiry_ms = *expiry;
  auto threads = config.GetInt("ioThreads", 0);
  if (!threads.ok()) return threads.status();
  o.io_threads = static_cast<size_t>(*threads);
  auto limits = net::ServerLimits::FromConfig(config);
  if (!limits.ok()) return limits.status();
  o.server_limits = *limits;
  return o;
}

// Drops brokers whose registrations stopped, every few seconds.
class NamesrvController::ExpiryScanner : public ServiceThread {
 public:
  explicit ExpiryScanner(RouteRegistry& registry) : ServiceThread("namesrv-expiry"), registry_(registry) {}
  ~ExpiryScanner() override { Stop(); }

 protected:
  void Run() override {
    while (!stopped()) {
      WaitForRunning(std::chrono::seconds(5));
      for (const auto& addr : registry_.ExpireSilent(NowEpochMs())) {
        Log()->warn("broker {} dropped: no registration within the expiry", addr);
      }
    }
  }

 private:
  RouteRegistry& registry_;
};

NamesrvController::NamesrvController(NamesrvOptions options)
    : options_(std::move(options)), registry_(options_.broker_expiry_ms) {
  RegisterProcessors();
  server_ = std::make_unique<net::Server>(
      net::ServerOptions{options_.listen, options_.io_threads, net::kDefaultMaxFrameSize, options_.server_limits},
      &dispatcher_);
  server_->SetConnectionClosedListener([this](const std::shared_ptr<net::Connection>& conn) {
    for (const auto& addr : registry_.ConnectionClosed(conn->id())) {
      Log()->info("broker {} dropped: its connection closed", addr);
    }
  });
  scanner_ = std::make_unique<ExpiryScanner>(registry_);
}

NamesrvController::~NamesrvController() { Stop(); }

void NamesrvController::RegisterProcessors() {
  using v1::RequestCode;
  dispatcher_.RegisterProcessor(RequestCode::REGISTER_BROKER, [this](net::RequestContext ctx, net::Frame f) {
    if (!f.header.has_register_broker_request() || f.header.register_broker_request().broker_addr().empty()) {
      ctx.ReplyError(Status::InvalidArgument("REGISTER_BROKER needs register_broker_request with broker_addr"));
      return;
    }
    const auto& req = f.header.register_broker_request();
    if (registry_.Register(req, ctx.connection_id(), NowEpochMs())) {
      Log()->info("broker registered: {} ({}/{} id {}) with {} topics", req.broker_addr(), req.cluster_name(),
                  req.broker_name(), req.broker_id(), req.topics_size());
    }
    ctx.Reply(Status::OK());
  });
  dispatcher_.RegisterProcessor(RequestCode::UNREGISTER_BROKER, [this](net::RequestContext ctx, net::Frame f) {
    registry_.Unregister(f.header.unregister_broker_request().broker_addr());
    Log()->info("broker unregistered: {}", f.header.unregister_broker_request().broker_addr());
    ctx.Reply(Status::OK());
  });
  dispatcher_.RegisterProcessor(RequestCode::GET_ROUTE, [this](net::RequestContext ctx, net::Frame f) {
    auto route = registry_.GetRoute(f.header.route_request().topic());
    if (!route.ok()) {
      ctx.ReplyError(route.status());
      return;
    }
    v1::Header resp;
    *resp.mutable_route_response() = std::move(route).value();
    ctx.Reply(Status::OK(), std::move(resp));
  });
  dispatcher_.RegisterProcessor(RequestCode::GET_CLUSTER_INFO, [this](net::RequestContext ctx, net::Frame) {
    v1::Header resp;
    *resp.mutable_cluster_info_response() = registry_.GetClusterInfo();
    ctx.Reply(Status::OK(), std::move(resp));
  });
  dispatcher_.RegisterProcessor(RequestCode::NAMESRV_DELETE_TOPIC, [this](net::RequestContext ctx, net::Frame f) {
    registry_.DeleteTopic(f.header.namesrv_delete_topic_request().topic());
    ctx.Reply(Status::OK());
  });
}

Status NamesrvController::Start() {
  VELA_RETURN_IF_ERROR(server_->Start());
  scanner_->Start();
  Log()->info("name server listening on {}", server_->listen_address());
  return Status::OK();
}

void NamesrvController::Stop() {
  if (scanner_) scanner_->Stop();
  if (server_) server_->Stop();
}

}  // namespace vela::namesrv
