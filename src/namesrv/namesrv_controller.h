#pragma once

#include <memory>
#include <string>

#include "common/config.h"
#include "common/service_thread.h"
#include "namesrv/route_registry.h"
#include "net/dispatcher.h"
#include "net/server.h"

namespace vela::namesrv {

// vela-namesrv settings (conf/namesrv.conf documents each).
struct NamesrvOptions {
  std::string listen = "0.0.0.0:9876";
  int64_t broker_expiry_ms = 120000;   // brokerExpiryMs: silence after which a broker is dropped
  size_t io_threads = 0;
  net::ServerLimits server_limits;     // serverMaxConnections, serverChannelMaxIdleTimeSeconds, ...
  static Result<NamesrvOptions> FromConfig(const Config& config);
};

// NamesrvController is the composition root of vela-namesrv: it owns the route registry, the
// request processors, the server and the expiry scanner. Start/Stop from main's thread.
class NamesrvController {
 public:
  explicit NamesrvController(NamesrvOptions options);
  ~NamesrvController();

  Status Start();
  void Stop();
  std::string listen_address() const { return server_->listen_address(); }
  RouteRegistry& registry() { return registry_; }

 private:
  class ExpiryScanner;
  void RegisterProcessors();

  NamesrvOptions options_;
  RouteRegistry registry_;
  net::Dispatcher dispatcher_;
  std::unique_ptr<net::Server> server_;
  std::unique_ptr<ExpiryScanner> scanner_;
};

}  // namespace vela::namesrv
