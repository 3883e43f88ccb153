#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/result.h"
#include "net/connection.h"
#include "net/io_context_pool.h"

namespace vela::net {

// Settings of an RpcClient: io threads, limits, connect timeout.
struct RpcClientOptions {
  size_t io_threads = 1;
  uint32_t max_frame_size = kDefaultMaxFrameSize;
  int64_t connect_timeout_ms = 3000;
  std::string thread_name = "vela-rpc";
};

// RpcClient sends requests to servers by address over one cached connection per address, with
// its own io threads. Connections are made on first use and remade after they close. Requests the
// servers send back on those connections (transaction check-back, rebalance notices) go to the
// optional `incoming` handler, which must outlive the client. Thread-safe.
class RpcClient {
 public:
  explicit RpcClient(RpcClientOptions options = {}, RequestHandler* incoming = nullptr);
  ~RpcClient();
  RpcClient(const RpcClient&) = delete;
  RpcClient& operator=(const RpcClient&) = delete;

  // Sends a request; `callback` runs once on an io thread (keep it short: post real work
  // elsewhere) with the response, a transport error (Unavailable), DeadlineExceeded, or the
  // non-OK status the server answered with.
  void Invoke(const std::string& address, v1::Header header, OutBody body, int64_t timeout_ms,
              ResponseCallback callback);
  // Blocks the calling thread until the response. REQUIRES: not called on this client's io thread.
  Result<Frame> InvokeSync(const std::string& address, v1::Header header, OutBody body, int64_t timeout_ms);
  // Sends without waiting for any response.
  void InvokeOneway(const std::string& address, v1::Header header, OutBody body);

  // Closes the connection to `address` (the next request reconnects).
  void CloseConnection(const std::string& address);
  // Closes everything and joins the io threads. Idempotent.
  void Shutdown();

 private:
  Result<std::shared_ptr<Connection>> GetConnection(const std::string& address);

  RpcClientOptions options_;
  RequestHandler* incoming_;
  IoContextPool pool_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Connection>> connections_;  // GUARDED_BY(mu_)
  bool shut_down_ = false;
};

}  // namespace vela::net
