#pragma once

#include <memory>
#include <mutex>
#include <string>

#include <asio/thread_pool.hpp>

#include "common/config.h"
#include "common/service_thread.h"
#include "http/http_server.h"
#include "metrics/metrics_registry.h"
#include "metrics/rpc_latency_recorder.h"
#include "namesrv/route_registry.h"
#include "net/dispatcher.h"
#include "net/server.h"

namespace vela::namesrv {

// A page of GET_CLUSTER_INFO's topic names: at most this many names, or about this many bytes.
inline constexpr size_t kTopicPageEntries = 10000;
inline constexpr size_t kTopicPageBytes = 1 << 20;

// The name server's HTTP port when httpPort is not set (CLI.md).
inline constexpr int kDefaultNamesrvHttpPort = 8081;

// vela-namesrv settings (conf/namesrv.conf documents each).
struct NamesrvOptions {
  std::string listen = "0.0.0.0:9876";
  int64_t broker_expiry_ms = 120000;   // brokerExpiryMs: silence after which a broker is dropped
  size_t io_threads = 0;
  net::ServerLimits server_limits;     // serverMaxConnections, serverChannelMaxIdleTimeSeconds, ...
  http::HttpOptions http;              // httpPort (default 8081; 0: any; -1: off), httpThreads
  static Result<NamesrvOptions> FromConfig(const Config& config);
};

// NamesrvController is the composition root of vela-namesrv: it owns the route registry, the
// request processors, the server, the expiry scanner, the metrics registry and the HTTP endpoint
// (/metrics). Start/Stop from main's thread.
class NamesrvController {
 public:
  explicit NamesrvController(NamesrvOptions options);
  ~NamesrvController();

  Status Start();
  void Stop();
  std::string listen_address() const { return server_->listen_address(); }
  // The HTTP endpoint's "host:port" (/metrics), empty when httpPort=-1.
  std::string http_address() const { return http_ ? http_->listen_address() : std::string(); }
  RouteRegistry& registry() { return registry_; }

 private:
  class ExpiryScanner;
  void RegisterProcessors();
  // The metrics of /metrics: brokers and topics read at scrape time, requests as they come.
  void RegisterMetrics();
  // Refusals are logged, at most kRefusalLogsPerSecond a second (then one line with the count
  // of the rest), so that a client sending garbage cannot flood the log.
  bool RefusalLogAllowed();
  static constexpr int kRefusalLogsPerSecond = 20;

  NamesrvOptions options_;
  RouteRegistry registry_;
  // Declared before the dispatcher and the server, so it outlives every request they handle.
  metrics::MetricsRegistry metrics_;
  std::unique_ptr<metrics::RpcLatencyRecorder> rpc_latency_;
  metrics::Counter routes_found_;      // vela_namesrv_route_requests_total{result="found"}
  metrics::Counter routes_not_found_;  // vela_namesrv_route_requests_total{result="not_found"}
  // REGISTER_BROKER: big bodies stay off the io threads. One thread, so that the parts of a table
  // are handled in the order they arrived.
  asio::thread_pool registration_pool_{1};
  net::Dispatcher dispatcher_;
  std::unique_ptr<net::Server> server_;
  std::unique_ptr<ExpiryScanner> scanner_;
  std::unique_ptr<http::HttpServer> http_;
  std::mutex refusal_log_mu_;
  int64_t refusal_window_start_ms_ = 0;  // GUARDED_BY(refusal_log_mu_)
  int refusals_logged_ = 0;              // GUARDED_BY(refusal_log_mu_)
  int64_t refusals_suppressed_ = 0;      // GUARDED_BY(refusal_log_mu_)
};

}  // namespace vela::namesrv
