#include "client/client_instance.h"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cstdlib>

#include <fmt/format.h>

#include "common/message_record.h"

namespace vela::client {

std::string LocalIpAddress() {
  static const std::string cached = [] {
    std::string found = "127.0.0.1";
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0) return found;
    for (ifaddrs* it = list; it != nullptr; it = it->ifa_next) {
      if (it->ifa_addr == nullptr || it->ifa_addr->sa_family != AF_INET) continue;
      auto* in = reinterpret_cast<sockaddr_in*>(it->ifa_addr);
      char buf[INET_ADDRSTRLEN] = {};
      inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf));
      std::string ip(buf);
      if (ip.rfind("127.", 0) == 0) continue;
      found = ip;
      break;
    }
    freeifaddrs(list);
    return found;
  }();
  return cached;
}

namespace {
std::atomic<uint64_t> g_instance_counter{0};
}  // namespace

ClientInstance::ClientInstance(ClientConfig config)
    : config_(std::move(config)),
      internal_pool_(2),
      callback_pool_(config_.callback_threads == 0 ? 1 : config_.callback_threads) {
  const std::string ip = LocalIpAddress();
  client_id_ = fmt::format("{}@{}@{}@{}", ip, getpid(), config_.instance_name,
                           g_instance_counter.fetch_add(1, std::memory_order_relaxed));
  born_host_ = PackHost(ip + ":0");
}

Result<std::unique_ptr<ClientInstance>> ClientInstance::Create(const ClientConfig& config,
                                                               const RegisterFn& register_fn) {
  ClientConfig c = config;
  if (c.namesrv_addr.empty()) {
    if (const char* env = std::getenv("VELA_NAMESRV")) c.namesrv_addr = env;
  }
  auto addrs = SplitAddresses(c.namesrv_addr);
  if (addrs.empty()) return vela::Status::InvalidArgument("no name server address (--namesrv or VELA_NAMESRV)");
  std::unique_ptr<ClientInstance> instance(new ClientInstance(c));
  if (register_fn) register_fn(instance->dispatcher_);
  net::RpcClientOptions options;
  options.io_threads = c.io_threads == 0 ? 1 : c.io_threads;
  options.thread_name = "vela-client";
  instance->rpc_ = std::make_unique<net::RpcClient>(options, &instance->dispatcher_);
  instance->namesrv_ = std::make_unique<NameServerClient>(instance->rpc_.get(), std::move(addrs), c.request_timeout_ms);
  instance->routes_ = std::make_unique<RouteCache>(instance->namesrv_.get(), c.route_refresh_interval_ms);
  return instance;
}

ClientInstance::~ClientInstance() { Shutdown(); }

void ClientInstance::ScheduleAfter(int64_t delay_ms, std::function<void()> fn) {
  if (stopped()) return;
  if (delay_ms <= 0) {
    asio::post(internal_pool_, [this, fn = std::move(fn)] {
      if (!stopped()) fn();
    });
    return;
  }
  auto timer = std::make_shared<asio::steady_timer>(internal_pool_, std::chrono::milliseconds(delay_ms));
  timer->async_wait([this, timer, fn = std::move(fn)](const std::error_code& ec) {
    if (!ec && !stopped()) fn();
  });
}

void ClientInstance::ScheduleEvery(int64_t interval_ms, std::function<void()> fn) {
  ScheduleAfter(interval_ms, [this, interval_ms, fn]() mutable {
    fn();
    ScheduleEvery(interval_ms, std::move(fn));
  });
}

void ClientInstance::Shutdown() {
  if (stopped_.exchange(true, std::memory_order_acq_rel)) return;
  if (rpc_) rpc_->Shutdown();
  internal_pool_.stop();
  internal_pool_.join();
  callback_pool_.join();
}

}  // namespace vela::client
