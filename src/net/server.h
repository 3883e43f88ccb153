#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include <asio.hpp>

#include "common/result.h"
#include "net/connection.h"
#include "net/io_context_pool.h"

namespace vela::net {

// Where and how a Server listens.
struct ServerOptions {
  std::string listen = "0.0.0.0:10911";  // host:port; port 0 picks a free one
  size_t io_threads = 0;                 // 0: the number of cores
  uint32_t max_frame_size = kDefaultMaxFrameSize;
};

// Server accepts TCP connections and hands each to the next io_context of its pool, where it
// lives until closed; requests go to the RequestHandler. Start/Stop from the owner's thread.
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
  // Called on a connection's io thread when it closes (for liveness tracking). Set before Start.
  void SetConnectionClosedListener(std::function<void(const std::shared_ptr<Connection>&)> listener) {
    on_closed_ = std::move(listener);
  }
  size_t connection_count() const;

 private:
  void DoAccept();

  ServerOptions options_;
  RequestHandler* handler_;
  IoContextPool pool_;
  asio::io_context accept_context_;
  asio::ip::tcp::acceptor acceptor_;
  std::thread accept_thread_;
  std::string bound_;
  uint16_t port_ = 0;
  std::function<void(const std::shared_ptr<Connection>&)> on_closed_;
  mutable std::mutex mu_;
  std::unordered_map<uint64_t, std::weak_ptr<Connection>> connections_;  // GUARDED_BY(mu_)
  bool stopped_ = false;
  bool listening_ = false;
};

// Splits "host:port"; InvalidArgument when malformed.
Result<std::pair<std::string, uint16_t>> SplitHostPort(std::string_view address);

}  // namespace vela::net
