#include "net/server.h"

#include <charconv>
#include <thread>

#include <fmt/format.h>

#include "net/logger.h"

namespace vela::net {

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
      acceptor_(accept_context_) {}

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
      NetLogger()->warn("accept failed: {}", ec.message());
    } else {
      auto conn = std::make_shared<Connection>(std::move(socket), ConnectionOptions{options_.max_frame_size}, handler_);
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
        if (auto c = weak.lock(); c && on_closed_) on_closed_(c);
      });
      conn->Start();
    }
    DoAccept();
  });
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
