#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>

#include "client/route.h"
#include "common/result.h"
#include "net/dispatcher.h"
#include "net/rpc_client.h"
#include "vela/client_config.h"

namespace vela::client {

// ClientInstance is the machinery one producer or consumer runs on: the RPC client (own io
// threads) with a dispatcher for requests brokers send back, the name-server client and route
// cache, a small internal pool for SDK work and timers, and a callback pool for user callbacks.
// Owned by one ProducerImpl or PushConsumerImpl. Thread-safe. Shutdown stops the network first,
// then the pools; the owner must stop scheduling before that.
class ClientInstance {
 public:
  // Registers the owner's processors for incoming requests (before any connection exists).
  using RegisterFn = std::function<void(net::Dispatcher&)>;

  // Fails with InvalidArgument when no name server address is configured (config or VELA_NAMESRV).
  static Result<std::unique_ptr<ClientInstance>> Create(const ClientConfig& config, const RegisterFn& register_fn);
  ~ClientInstance();
  ClientInstance(const ClientInstance&) = delete;
  ClientInstance& operator=(const ClientInstance&) = delete;

  net::RpcClient& rpc() { return *rpc_; }
  NameServerClient& namesrv() { return *namesrv_; }
  RouteCache& routes() { return *routes_; }
  const ClientConfig& config() const { return config_; }
  const std::string& client_id() const { return client_id_; }
  // This host's IPv4 address packed as the record format's born_host (0 when unknown).
  uint64_t born_host() const { return born_host_; }

  asio::thread_pool& internal_pool() { return internal_pool_; }
  asio::thread_pool& callback_pool() { return callback_pool_; }
  // Runs `fn` where user callbacks run: on the calling (io) thread when the configuration asks
  // for no callback threads, on the callback pool otherwise.
  template <typename Fn>
  void RunCallback(Fn&& fn) {
    if (config_.callback_threads == 0) {
      std::forward<Fn>(fn)();
    } else {
      asio::post(callback_pool_, std::forward<Fn>(fn));
    }
  }

  // Runs `fn` on the internal pool after `delay_ms` (0: as soon as possible), unless the
  // instance is shut down first.
  void ScheduleAfter(int64_t delay_ms, std::function<void()> fn);
  // Runs `fn` on the internal pool every `interval_ms` until shutdown.
  void ScheduleEvery(int64_t interval_ms, std::function<void()> fn);

  bool stopped() const { return stopped_.load(std::memory_order_acquire); }
  // Closes connections, joins the io threads, then stops and joins both pools. Idempotent.
  // REQUIRES: not called from one of this instance's threads.
  void Shutdown();

 private:
  explicit ClientInstance(ClientConfig config);

  ClientConfig config_;
  std::string client_id_;
  uint64_t born_host_ = 0;
  net::Dispatcher dispatcher_;
  std::unique_ptr<net::RpcClient> rpc_;
  std::unique_ptr<NameServerClient> namesrv_;
  std::unique_ptr<RouteCache> routes_;
  asio::thread_pool internal_pool_;
  asio::thread_pool callback_pool_;
  std::atomic<bool> stopped_{false};
};

// The client's primary non-loopback IPv4 address ("127.0.0.1" when there is none).
std::string LocalIpAddress();

}  // namespace vela::client
