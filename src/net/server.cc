#include "net/server.h"

#include <sys/resource.h>

#include <charconv>
#include <thread>

#include <fmt/format.h>

#include "common/log_rate_limiter.h"
#include "net/logger.h"

namespace vela::net {
namespace {

constexpr int64_t kFirstAcceptBackoffMs = 10;
constexpr int64_t kMaxAcceptBackoffMs = 1000;

// Accept errors and refused connections come in floods when they come: a few lines per interval.
LogRateLimiter g_accept_log_limiter(5, 10000);

Result<int64_t> IntInRange(const Config& config, std::string_view key, int64_t fallback, int64_t min, int64_t max,
                           bool bytes) {
  auto value = bytes ? config.GetBytes(key, fallback) : config.GetInt(key, fallback);
  if (!value.ok()) return value.status();
  if (*value < min || *value > max) {
    return Status::InvalidArgument(fmt::format("{} must be between {} and {}, not {}", key, min, max, *value));
  }
  return *value;
}

}  // namespace

Result<ServerLimits> ServerLimits::FromConfig(const Config& config) {
  ServerLimits l;
  VELA_ASSIGN_OR_RETURN(int64_t connections, IntInRange(config, "serverMaxConnections",
                                                         static_cast<int64_t>(l.max_connections), 1, 10000000, false));
  l.max_connections = static_cast<size_t>(connections);
  VELA_ASSIGN_OR_RETURN(int64_t requests, IntInRange(config, "serverMaxRequestsInFlightPerConnection",
                                                      static_cast<int64_t>(l.max_requests_in_flight), 1, 1000000,
                                                      false));
  l.max_requests_in_flight = static_cast<size_t>(requests);
  VELA_ASSIGN_OR_RETURN(int64_t unsent, IntInRange(config, "serverMaxUnsentBytesPerConnection",
                                                    static_cast<int64_t>(l.max_unsent_bytes), 64 * 1024,
                                                    int64_t{1} << 40, true));
  l.max_unsent_bytes = static_cast<size_t>(unsent);
  VELA_ASSIGN_OR_RETURN(int64_t idle_s, IntInRange(config, "serverChannelMaxIdleTimeSeconds",
                                                    l.idle_timeout_ms / 1000, 1, 7 * 24 * 3600, false));
  l.idle_timeout_ms = idle_s * 1000;
  return l;
}

Result<std::pair<std::string, uint16_t>> SplitHostPort(std::string_view address) {
  auto colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Status::InvalidArgument(fmt::format("address '{}' is not host:port", address));
  }
  unsigned port = 0;
  auto ps = address.substr(colon + 1);
  auto [p, ec] = std::from_chars(ps.data(), ps.data() + ps.size(), port);
  if (ec != std::errc() || p != ps.data() + ps.size() || port > 65535) {
    return Status::InvalidArgument(fmt::format("address '{}' has a bad port", address));
  }
  std::string host(address.substr(0, colon));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return std::make_pair(host, static_cast<uint16_t>(port));
}

Server::Server(ServerOptions options, RequestHandler* handler)
    : options_(std::move(options)),
      handler_(handler),
      pool_(options_.io_threads ? options_.io_threads : std::max(1u, std::thread::hardware_concurrency()), "vela-io"),
      acceptor_(accept_context_),
      accept_retry_timer_(accept_context_) {}

Server::~Server() { Stop(); }

Status Server::Listen() {
  if (listening_) return Status::OK();
  auto hp = SplitHostPort(options_.listen);
  if (!hp.ok()) return hp.status();
  asio::error_code ec;
  std::string host = hp->first == "localhost" ? "127.0.0.1" : hp->first;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return Status::InvalidArgument(fmt::format("listen address '{}': {}", options_.listen, ec.message()));
  asio::ip::tcp::endpoint endpoint(address, hp->second);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::Unavailable(fmt::format("cannot listen on {}: {}", options_.listen, ec.message()));
  port_ = acceptor_.local_endpoint().port();
  bound_ = fmt::format("{}:{}", host, port_);
  listening_ = true;
  return Status::OK();
}

Status Server::Start() {
  VELA_RETURN_IF_ERROR(Listen());
  pool_.Start();
  DoAccept();
  accept_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "vela-accept");
    accept_context_.run();
  });
  return Status::OK();
}

void Server::DoAccept() {
  acceptor_.async_accept(pool_.Next(), [this](const asio::error_code& ec, asio::ip::tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      OnAcceptFailed(ec);
      return;
    }
    accept_backoff_ms_ = 0;
    if (std::string refusal = RefusalReason(socket.native_handle()); !refusal.empty()) {
      connections_refused_.fetch_add(1);
      asio::error_code peer_ec;
      auto peer = socket.remote_endpoint(peer_ec);
      if (uint64_t suppressed = 0; g_accept_log_limiter.Allow(&suppressed)) {
        NetLogger()->warn("closing new connection from {}: {} ({} similar lines suppressed)",
                          peer_ec ? std::string("unknown") : fmt::format("{}:{}", peer.address().to_string(), peer.port()),
                          refusal, suppressed);
      }
      asio::error_code close_ec;
      socket.close(close_ec);
      DoAccept();
      return;
    }
    const ConnectionOptions connection_options{options_.max_frame_size, options_.limits.max_requests_in_flight,
                                               options_.limits.max_unsent_bytes, options_.limits.idle_timeout_ms};
    auto conn = std::make_shared<Connection>(std::move(socket), connection_options, handler_);
    {
      std::lock_guard lock(mu_);
      if (stopped_) {
        conn->Close("server stopping");
        return;
      }
      connections_[conn->id()] = conn;
    }
    std::weak_ptr<Connection> weak = conn;
    conn->AddCloseListener([this, weak, id = conn->id()] {
      {
        std::lock_guard lock(mu_);
        connections_.erase(id);
      }
      if (auto c = weak.lock()) {
        for (const auto& listener : on_closed_) listener(c);
      }
    });
    conn->Start();
    DoAccept();
  });
}

void Server::OnAcceptFailed(const asio::error_code& ec) {
  accept_failures_.fetch_add(1);
  accept_backoff_ms_ =
      accept_backoff_ms_ == 0 ? kFirstAcceptBackoffMs : std::min(accept_backoff_ms_ * 2, kMaxAcceptBackoffMs);
  if (uint64_t suppressed = 0; g_accept_log_limiter.Allow(&suppressed)) {
    NetLogger()->warn("accept on {} failed: {}; next try in {} ms ({} similar lines suppressed)", bound_,
                      ec.message(), accept_backoff_ms_, suppressed);
  }
  // The waiting connection stays in the listen backlog meanwhile; existing connections are served
  // by the io threads as usual.
  accept_retry_timer_.expires_after(std::chrono::milliseconds(accept_backoff_ms_));
  accept_retry_timer_.async_wait([this](const asio::error_code& timer_ec) {
    if (timer_ec || !acceptor_.is_open()) return;
    DoAccept();
  });
}

std::string Server::RefusalReason(int fd) const {
  const size_t open_connections = connection_count();
  if (open_connections >= options_.limits.max_connections) {
    return fmt::format("{} connections are open, the maximum is {} (serverMaxConnections)", open_connections,
                       options_.limits.max_connections);
  }
  // Descriptors are handed out lowest first, so `fd` is at least the number of descriptors open.
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY &&
      static_cast<rlim_t>(fd) + kReservedFileDescriptors >= limit.rlim_cur) {
    return fmt::format("descriptor {} is within {} of the open-file limit {}, kept for the store", fd,
                       kReservedFileDescriptors, static_cast<uint64_t>(limit.rlim_cur));
  }
  return "";
}

size_t Server::connection_count() const {
  std::lock_guard lock(mu_);
  return connections_.size();
}

void Server::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  asio::post(accept_context_, [this] {
    asio::error_code ec;
    acceptor_.close(ec);
    accept_retry_timer_.cancel();
  });
  accept_context_.stop();
  if (accept_thread_.joinable()) accept_thread_.join();
  std::vector<std::shared_ptr<Connection>> conns;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, weak] : connections_) {
      if (auto c = weak.lock()) conns.push_back(c);
    }
  }
  for (auto& c : conns) c->Close("server stopping");
  // Give the io threads a moment to run the close handlers, then stop them.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  pool_.Stop();
}

}  // namespace vela::net
