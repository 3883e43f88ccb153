#include "namesrv/namesrv_controller.h"

#include <chrono>
#include <string_view>

#include <fmt/format.h>

#include "common/build_info.h"
#include "common/clock.h"
#include "common/logging.h"

namespace vela::namesrv {
namespace {
const std::shared_ptr<spdlog::logger>& Log() {
  static const auto logger = GetLogger("namesrv");
  return logger;
}
// At most 64 characters of a client-supplied string, non-printable bytes as \xNN, for logs.
std::string Printable(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < 64; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= ' ' && c <= '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  if (s.size() > 64) out += fmt::format("...({} bytes)", s.size());
  return out;
}

}  // namespace

bool NamesrvController::RefusalLogAllowed() {
  std::lock_guard lock(refusal_log_mu_);
  const int64_t now = NowEpochMs();
  if (now - refusal_window_start_ms_ >= 1000) {
    if (refusals_suppressed_ > 0) {
      Log()->warn("{} more refused registrations/unregistrations not logged in the last second", refusals_suppressed_);
    }
    refusal_window_start_ms_ = now;
    refusals_logged_ = 0;
    refusals_suppressed_ = 0;
  }
  if (refusals_logged_ < kRefusalLogsPerSecond) {
    ++refusals_logged_;
    return true;
  }
  ++refusals_suppressed_;
  return false;
}

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
  auto http = http::HttpOptions::FromConfig(config, kDefaultNamesrvHttpPort, o.listen);
  if (!http.ok()) return http.status();
  o.http = *http;
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
    : options_(std::move(options)),
      registry_(options_.broker_expiry_ms),
      routes_found_(metrics_
                        .Counters("vela_namesrv_route_requests_total",
                                  "Route requests (GET_ROUTE) answered, by result: found or not_found", {"result"})
                        .WithLabels({"found"})),
      routes_not_found_(metrics_.Counters("vela_namesrv_route_requests_total", "", {"result"}).WithLabels({"not_found"})) {
  RegisterMetrics();
  RegisterProcessors();
  server_ = std::make_unique<net::Server>(
      net::ServerOptions{options_.listen, options_.io_threads, net::kDefaultMaxFrameSize, options_.server_limits},
      &dispatcher_);
  server_->AddConnectionClosedListener([this](const std::shared_ptr<net::Connection>& conn) {
    for (const auto& addr : registry_.ConnectionClosed(conn->id())) {
      Log()->info("broker {} dropped: its connection closed", addr);
    }
  });
  scanner_ = std::make_unique<ExpiryScanner>(registry_);
  if (options_.http.enabled()) {
    http_ = std::make_unique<http::HttpServer>(options_.http);
    http_->Route("/metrics", {}, [this](const http::HttpRequest&) {
      http::HttpResponse r;
      r.content_type = http::kPrometheusContentType;
      r.body = metrics_.SerializeText();
      return r;
    });
  }
}

void NamesrvController::RegisterMetrics() {
  metrics_.Gauges("vela_build_info", "The running Vela build: version and git commit", {"version", "commit"})
      .WithLabels({BuildVersion(), BuildCommit()})
      .Set(1);
  metrics_.CollectedGauges("vela_namesrv_brokers", "Brokers registered and alive", {}, [this] {
    return std::vector<metrics::GaugeReading>{{{}, static_cast<double>(registry_.broker_count())}};
  });
  metrics_.CollectedGauges("vela_namesrv_topics", "Distinct topics over the registered brokers", {}, [this] {
    return std::vector<metrics::GaugeReading>{{{}, static_cast<double>(registry_.topic_count())}};
  });
  rpc_latency_ = std::make_unique<metrics::RpcLatencyRecorder>(metrics::RpcLatencyFamily(metrics_));
  dispatcher_.SetReplyObserver([recorder = rpc_latency_.get()](v1::RequestCode code, const Status& status,
                                                               int64_t micros) {
    const std::string& name = v1::RequestCode_Name(code);
    recorder->Record(static_cast<int>(code), name.empty() ? std::string_view("UNKNOWN") : std::string_view(name),
                     static_cast<int>(status.code()), StatusCodeName(status.code()), micros);
  });
}

NamesrvController::~NamesrvController() { Stop(); }

void NamesrvController::RegisterProcessors() {
  using v1::RequestCode;
  // Registrations may carry megabytes of topics: parsed on their own thread, not an io thread.
  dispatcher_.RegisterProcessor(
      RequestCode::REGISTER_BROKER,
      [this](net::RequestContext ctx, net::Frame f) {
        if (!f.header.has_register_broker_request()) {
          if (RefusalLogAllowed()) Log()->warn("registration from {} refused: no register_broker_request", ctx.peer());
          ctx.ReplyError(Status::InvalidArgument("REGISTER_BROKER needs register_broker_request"));
          return;
        }
        const auto& req = f.header.register_broker_request();
        const auto started = std::chrono::steady_clock::now();
        auto conn = ctx.connection();
        auto outcome = registry_.Register(req, f.body, ctx.connection_id(), NowEpochMs(),
                                          [&conn] { return conn != nullptr && !conn->closed(); });
        const auto took_us =
            std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count();
        if (!outcome.ok()) {
          if (RefusalLogAllowed()) {
            Log()->warn("registration of broker {} from {} refused: {}", Printable(req.broker_addr()), ctx.peer(),
                        outcome.status().ToString());
          }
          ctx.ReplyError(outcome.status());
          return;
        }
        if (outcome->new_broker) {
          Log()->info("broker registered: {} ({}/{} id {}) from {} with {} topics in {:.1f} ms", req.broker_addr(),
                      req.cluster_name(), req.broker_name(), req.broker_id(), ctx.peer(), outcome->topic_count,
                      static_cast<double>(took_us) / 1000);
        } else if (outcome->committed && !f.body.empty()) {
          Log()->info("broker {} registered a new topic table: {} topics ({} bytes in part {} of {}) in {:.1f} ms",
                      req.broker_addr(), outcome->topic_count, f.body.size(), req.body_part() + 1, req.body_parts(),
                      static_cast<double>(took_us) / 1000);
        }
        v1::Header resp;
        resp.mutable_register_broker_response()->set_send_topics(outcome->send_topics);
        ctx.Reply(Status::OK(), std::move(resp));
      },
      &registration_pool_);
  dispatcher_.RegisterProcessor(RequestCode::UNREGISTER_BROKER, [this](net::RequestContext ctx, net::Frame f) {
    const std::string& addr = f.header.unregister_broker_request().broker_addr();
    Status s = registry_.Unregister(addr, ctx.connection_id());
    if (s.ok()) {
      Log()->info("broker unregistered: {}", addr);
    } else if (RefusalLogAllowed()) {
      Log()->warn("unregistration of broker {} from {} refused: {}", Printable(addr), ctx.peer(), s.ToString());
    }
    ctx.Reply(s);
  });
  dispatcher_.RegisterProcessor(RequestCode::GET_ROUTE, [this](net::RequestContext ctx, net::Frame f) {
    auto route = registry_.GetRoute(f.header.route_request().topic());
    (route.ok() ? routes_found_ : routes_not_found_).Increment();
    if (!route.ok()) {
      ctx.ReplyError(route.status());
      return;
    }
    v1::Header resp;
    *resp.mutable_route_response() = std::move(route).value();
    ctx.Reply(Status::OK(), std::move(resp));
  });
  dispatcher_.RegisterProcessor(RequestCode::GET_CLUSTER_INFO, [this](net::RequestContext ctx, net::Frame f) {
    v1::Header resp;
    *resp.mutable_cluster_info_response() = registry_.GetClusterInfo();
    std::string body;
    const auto& req = f.header.cluster_info_request();
    if (req.include_topics()) {
      const size_t max = req.max_topics() == 0 ? kTopicPageEntries : std::min<size_t>(req.max_topics(), kTopicPageEntries);
      bool more = false;
      v1::TopicNameList names;
      for (auto& t : registry_.TopicNames(req.topics_after(), max, kTopicPageBytes, &more)) names.add_topics(std::move(t));
      resp.mutable_cluster_info_response()->set_more_topics(more);
      body = names.SerializeAsString();
    }
    ctx.Reply(Status::OK(), std::move(resp), net::OutBody(std::move(body)));
  });
  dispatcher_.RegisterProcessor(RequestCode::NAMESRV_DELETE_TOPIC, [this](net::RequestContext ctx, net::Frame f) {
    registry_.DeleteTopic(f.header.namesrv_delete_topic_request().topic());
    ctx.Reply(Status::OK());
  });
}

Status NamesrvController::Start() {
  if (http_) VELA_RETURN_IF_ERROR(http_->Listen());
  VELA_RETURN_IF_ERROR(server_->Start());
  if (http_) VELA_RETURN_IF_ERROR(http_->Start());
  scanner_->Start();
  Log()->info("name server listening on {}", server_->listen_address());
  return Status::OK();
}

void NamesrvController::Stop() {
  if (http_) http_->Stop();
  if (scanner_) scanner_->Stop();
  if (server_) server_->Stop();
  registration_pool_.join();
}

}  // namespace vela::namesrv
