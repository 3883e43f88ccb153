#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace vela::client {

// Settings shared by producers and consumers. A plain value. Thread-compatible.
struct ClientConfig {
  // "host:port;host:port"; empty: taken from the environment variable VELA_NAMESRV.
  std::string namesrv_addr;
  // Timeout of one name-server or administrative request.
  int64_t request_timeout_ms = 3000;
  // How often routes are fetched again from the name servers.
  int64_t route_refresh_interval_ms = 30000;
  // Network threads of this client (each producer or consumer owns its own).
  size_t io_threads = 1;
  // Threads that run user callbacks (send callbacks); listeners have their own pool.
  // 0: send callbacks run on the network thread that received the answer, which saves a thread
  // hand-off per answer (tens of microseconds); such callbacks must be quick and must not block
  // (no synchronous Send from inside them).
  size_t callback_threads = 2;
  // Part of the client id ("ip@pid@instance@n"); lets one process run distinct clients.
  std::string instance_name = "DEFAULT";
  // The SDK's logging. It is process-wide: every client of the process logs through it, and the
  // last client built with a log setting decides. log_level: trace, debug, info, warn, error,
  // critical or off; empty leaves it as it is (info). log_file: empty logs to stderr; otherwise
  // the file rotates at log_max_file_bytes, keeping log_max_files older files (FILE.1, FILE.2, ...).
  std::string log_level;
  std::string log_file;
  int64_t log_max_file_bytes = 64 * 1024 * 1024;
  int log_max_files = 5;
};

}  // namespace vela::client
