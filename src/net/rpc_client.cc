#include "net/rpc_client.h"

#include <future>

#include <fmt/format.h>

#include "net/server.h"

namespace vela::net {

RpcClient::RpcClient(RpcClientOptions options, RequestHandler* incoming)
    : options_(std::move(options)), incoming_(incoming), pool_(options_.io_threads, options_.thread_name) {
  pool_.Start();
}

RpcClient::~RpcClient() { Shutdown(); }

Result<std::shared_ptr<Connection>> RpcClient::GetConnection(const std::string& address) {
  std::lock_guard lock(mu_);
  if (shut_down_) return Status::Unavailable("client is shut down");
  auto it = connections_.find(address);
  if (it != connections_.end() && !it->second->closed()) return it->second;
  auto hp = SplitHostPort(address);
  if (!hp.ok()) return hp.status();
  asio::ip::tcp::socket socket(pool_.Next());
  auto conn = std::make_shared<Connection>(std::move(socket), ConnectionOptions{options_.max_frame_size}, incoming_);
  connections_[address] = conn;
  conn->ConnectAndStart(hp->first, hp->second, options_.connect_timeout_ms);
  return conn;
}

void RpcClient::Invoke(const std::string& address, v1::Header header, OutBody body, int64_t timeout_ms,
                       ResponseCallback callback) {
  auto conn = GetConnection(address);
  if (!conn.ok()) {
    callback(conn.status());
    return;
  }
  (*conn)->Request(std::move(header), std::move(body), timeout_ms, std::move(callback));
}

Result<Frame> RpcClient::InvokeSync(const std::string& address, v1::Header header, OutBody body,
                                    int64_t timeout_ms) {
  auto promise = std::make_shared<std::promise<Result<Frame>>>();
  auto future = promise->get_future();
  Invoke(address, std::move(header), std::move(body), timeout_ms,
         [promise](Result<Frame> r) { promise->set_value(std::move(r)); });
  return future.get();
}

void RpcClient::InvokeOneway(const std::string& address, v1::Header header, OutBody body) {
  auto conn = GetConnection(address);
  if (!conn.ok()) return;
  header.set_flags(header.flags() | kFlagOneway);
  (*conn)->SendFrame(std::move(header), std::move(body));
}

void RpcClient::CloseConnection(const std::string& address) {
  std::shared_ptr<Connection> conn;
  {
    std::lock_guard lock(mu_);
    auto it = connections_.find(address);
    if (it == connections_.end()) return;
    conn = it->second;
    connections_.erase(it);
  }
  conn->Close("closed by client");
}

void RpcClient::Shutdown() {
  std::unordered_map<std::string, std::shared_ptr<Connection>> conns;
  {
    std::lock_guard lock(mu_);
    if (shut_down_) return;
    shut_down_ = true;
    conns.swap(connections_);
  }
  // Each close runs on its connection's io thread and fails the requests still pending there; a
  // close listener tells when it has run, so the threads stop only after that.
  std::vector<std::future<void>> closes_done;
  for (auto& [addr, c] : conns) {
    auto done = std::make_shared<std::promise<void>>();
    closes_done.push_back(done->get_future());
    c->AddCloseListener([done] { done->set_value(); });
    c->Close("client shutting down");
  }
  for (auto& f : closes_done) (void)f.wait_for(std::chrono::seconds(1));
  pool_.Stop();
}

}  // namespace vela::net
