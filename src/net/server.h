#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <asio.hpp>

#include "common/config.h"
#include "common/result.h"
#include "net/connection.h"
#include "net/io_context_pool.h"

namespace vela::net {

// What a Server allows its clients (conf/broker.conf and conf/namesrv.conf document the keys).
struct ServerLimits {
  size_t max_connections = 10000;                  // serverMaxConnections
  size_t max_requests_in_flight = 4096;            // serverMaxRequestsInFlightPerConnection
  size_t max_unsent_bytes = 32 * 1024 * 1024;     // serverMaxUnsentBytesPerConnection
  int64_t idle_timeout_ms = 120000;                // serverChannelMaxIdleTimeSeconds (in seconds there)

  // Reads the keys above from `config` (defaults for those absent); refuses a value that does not
  // parse or is out of range, naming the key.
  static Result<ServerLimits> FromConfig(const Config& config);
};

// Where and how a Server listens.
struct ServerOptions {
  std::string listen = "0.0.0.0:10911";  // host:port; port 0 picks a free one
  size_t io_threads = 0;                 // 0: the number of cores
  uint32_t max_frame_size = kDefaultMaxFrameSize;
  ServerLimits limits = {};
};

// File descriptors a server leaves free under its open-file limit: past that, it closes new
// connections at once, so the store can still open files (checkpoints, new segments).
inline constexpr int kReservedFileDescriptors = 64;

// Server accepts TCP connections and hands each to the next io_context of its pool, where it
// lives until closed; requests go to the RequestHandler. It holds at most limits.max_connections
// connections and keeps kReservedFileDescriptors descriptors free: a connection past either is
// accepted and closed at once, with a (rate-limited) log line. When accept itself fails (EMFILE,
// ENFILE, ENOBUFS...), it waits before the next try, 10 ms doubling up to 1 s, instead of
// spinning. Every connection gets limits as its ConnectionOptions. Start/Stop from the owner's thread.
// The handler must outlive the server. Stop is two-phase: close the acceptor, then close the
// connections and join the io threads.
class Server {
 public:
  Server(ServerOptions options, RequestHandler* handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens without accepting yet (connections wait in the backlog), so the owner
  // learns the port before it is ready to serve. Fails if the address is bad or in use.
  Status Listen();
  // Listens (if Listen was not called) and starts accepting and serving.
  Status Start();
  // The bound address as host:port (the real port when 0 was asked).
  std::string listen_address() const { return bound_; }
  uint16_t port() const { return port_; }
  // Stops accepting, closes every connection, joins the io threads. Idempotent.
  void Stop();
  using ConnectionClosedListener = std::function<void(const std::shared_ptr<Connection>&)>;
  // Adds a listener called on a connection's io thread when it closes (liveness tracking, client
  // registries); every listener is called, in the order added. REQUIRES: before Start.
  void AddConnectionClosedListener(ConnectionClosedListener listener) { on_closed_.push_back(std::move(listener)); }
  size_t connection_count() const;
  // Accepts that failed, and connections closed at once for a limit (for tests and stats).
  uint64_t accept_failures() const { return accept_failures_.load(); }
  uint64_t connections_refused() const { return connections_refused_.load(); }

 private:
  void DoAccept();
  void OnAcceptFailed(const asio::error_code& ec);
  // Why a connection just accepted on `fd` must be closed at once; empty when it may stay.
  std::string RefusalReason(int fd) const;

  ServerOptions options_;
  RequestHandler* handler_;
  IoContextPool pool_;
  asio::io_context accept_context_;
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer accept_retry_timer_;  // accept thread only
  int64_t accept_backoff_ms_ = 0;          // accept thread only: 0 after a successful accept
  std::atomic<uint64_t> accept_failures_{0};
  std::atomic<uint64_t> connections_refused_{0};
  std::thread accept_thread_;
  std::string bound_;
  uint16_t port_ = 0;
  std::vector<ConnectionClosedListener> on_closed_;  // fixed once started
  mutable std::mutex mu_;
  std::unordered_map<uint64_t, std::weak_ptr<Connection>> connections_;  // GUARDED_BY(mu_)
  bool stopped_ = false;
  bool listening_ = false;
};

// Splits "host:port"; InvalidArgument when malformed.
Result<std::pair<std::string, uint16_t>> SplitHostPort(std::string_view address);

}  // namespace vela::net
