#include "http/http_server.h"

#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>

#include <sys/socket.h>

#include <fmt/format.h>
#include <httplib.h>

#include "common/log_rate_limiter.h"
#include "http/logger.h"
#include "http/query_string.h"

namespace vela::http {
namespace {

// A fixed pool of worker threads with a bounded queue of accepted connections: when every worker
// is busy and the queue is full, enqueue (called on the acceptor thread) waits, so the kernel's
// listen backlog holds further connections instead of memory or threads growing. After shutdown
// a late task runs on the caller (it only closes its socket: the server is no longer running).
class BoundedTaskQueue final : public httplib::TaskQueue {
 public:
  BoundedTaskQueue(size_t threads, size_t max_queued) : max_queued_(max_queued) {
    for (size_t i = 0; i < threads; ++i) {
      workers_.emplace_back([this, i] { Work(i); });
    }
  }
  ~BoundedTaskQueue() override { shutdown(); }

  void enqueue(std::function<void()> fn) override {
    {
      std::unique_lock lock(mu_);
      not_full_.wait(lock, [&] { return shutdown_ || queue_.size() < max_queued_; });
      if (!shutdown_) {
        queue_.push_back(std::move(fn));
        not_empty_.notify_one();
        return;
      }
    }
    fn();
  }

  void shutdown() override {
    {
      std::lock_guard lock(mu_);
      if (shutdown_) return;
      shutdown_ = true;
    }
    not_empty_.notify_all();
    not_full_.notify_all();
    for (auto& t : workers_) t.join();
  }

 private:
  void Work(size_t index) {
    SetThreadName(fmt::format("http-{}", index));
    while (true) {
      std::function<void()> task;
      {
        std::unique_lock lock(mu_);
        not_empty_.wait(lock, [&] { return shutdown_ || !queue_.empty(); });
        if (queue_.empty()) return;  // shut down and drained
        task = std::move(queue_.front());
        queue_.pop_front();
        not_full_.notify_one();
      }
      try {
        task();
      } catch (const std::exception& e) {
        HttpLogger()->error("http worker: connection task threw: {}", e.what());
      } catch (...) {
        HttpLogger()->error("http worker: connection task threw");
      }
    }
  }

  static void SetThreadName(const std::string& name) { pthread_setname_np(pthread_self(), name.substr(0, 15).c_str()); }

  const size_t max_queued_;
  std::mutex mu_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<std::function<void()>> queue_;  // GUARDED_BY(mu_)
  bool shutdown_ = false;                    // GUARDED_BY(mu_)
  std::vector<std::thread> workers_;
};

// On every answer (the console's page, its files, JSON, metrics, the library's own errors):
// scripts, styles and requests only from this origin, no inline script or style, never in a frame
// (no clickjacking of the write actions), content types taken as given, no referrer sent elsewhere.
void SetSecurityHeaders(httplib::Response& res) {
  res.set_header("Content-Security-Policy", kContentSecurityPolicy);
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("X-Frame-Options", "DENY");
  res.set_header("Referrer-Policy", "no-referrer");
}

void Fill(httplib::Response& res, const HttpResponse& response) {
  res.status = response.status;
  res.set_content(response.body, response.content_type.c_str());
  SetSecurityHeaders(res);
}

}  // namespace

std::string HttpRequest::Param(const std::string& name, const std::string& fallback) const {
  auto it = query.find(name);
  return it == query.end() ? fallback : it->second;
}

std::string HttpRequest::Header(std::string_view lower_case_name) const {
  auto it = headers.find(lower_case_name);
  return it == headers.end() ? std::string() : it->second;
}

HttpResponse HttpResponse::Content(std::string content_type, std::string body) {
  HttpResponse r;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::Text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  if (r.body.empty() || r.body.back() != '\n') r.body.push_back('\n');
  return r;
}

HttpResponse HttpResponse::Json(std::string body, int status) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::JsonError(int status, const std::string& message) {
  std::string escaped;
  for (unsigned char c : message) {
    if (c == '"' || c == '\\') {
      escaped.push_back('\\');
      escaped.push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      escaped += fmt::format("\\u{:04x}", c);
    } else {
      escaped.push_back(static_cast<char>(c));
    }
  }
  return Json(fmt::format("{{\"error\":\"{}\"}}\n", escaped), status);
}

Result<HttpOptions> HttpOptions::FromConfig(const Config& config, int default_port, const std::string& listen) {
  HttpOptions o;
  o.port = default_port;
  VELA_ASSIGN_OR_RETURN(int64_t port, config.GetInt("httpPort", default_port));
  if (port < -1 || port > 65535) {
    return Status::InvalidArgument(
        fmt::format("httpPort must be -1 (off), 0 (any free port) or 1..65535, not {}", port));
  }
  o.port = static_cast<int>(port);
  VELA_ASSIGN_OR_RETURN(int64_t threads, config.GetInt("httpThreads", static_cast<int64_t>(o.threads)));
  if (threads < 1 || threads > 64) {
    return Status::InvalidArgument(fmt::format("httpThreads must be 1..64, not {}", threads));
  }
  o.threads = static_cast<size_t>(threads);
  const size_t colon = listen.rfind(':');
  if (colon != std::string::npos && colon > 0) o.host = listen.substr(0, colon);
  if (o.host.size() >= 2 && o.host.front() == '[' && o.host.back() == ']') o.host = o.host.substr(1, o.host.size() - 2);
  return o;
}

class HttpServer::Impl {
 public:
  // One registered path: the query parameters it accepts, and its handler.
  struct RouteEntry {
    std::set<std::string, std::less<>> params;
    HttpHandler handler;
  };

  httplib::Server server;
  std::map<std::string, RouteEntry, std::less<>> routes;       // GET and HEAD
  std::map<std::string, RouteEntry, std::less<>> post_routes;  // POST
  LogRateLimiter refusal_log{10, 1000};
  std::atomic<bool> acceptor_ended{false};

  // The whole routing, before httplib's own: method, path, query; then the route's handler.
  HttpResponse Dispatch(const httplib::Request& req) { return JsonUnderApi(req, Route(req)); }

  // The JSON API answers its errors in JSON too.
  static HttpResponse JsonUnderApi(const httplib::Request& req, HttpResponse response) {
    if (response.status >= 400 && req.path.starts_with("/api/") && response.content_type.starts_with("text/plain")) {
      std::string message = response.body;
      while (!message.empty() && message.back() == '\n') message.pop_back();
      return HttpResponse::JsonError(response.status, message);
    }
    return response;
  }

  HttpResponse Route(const httplib::Request& req) {
    const bool post = req.method == "POST";
    if (!post && req.method != "GET" && req.method != "HEAD") {
      return HttpResponse::Text(405,
                                fmt::format("method {} not allowed: only GET, HEAD and POST", Printable(req.method)));
    }
    const auto& served = post ? post_routes : routes;
    auto it = served.find(req.path);
    if (it == served.end()) {
      if ((post ? routes : post_routes).contains(req.path)) {
        return HttpResponse::Text(405, fmt::format("method {} not allowed for {}: only {}", req.method,
                                                   Printable(req.path), post ? "GET and HEAD" : "POST"));
      }
      return HttpResponse::Text(404, "not found: " + Printable(req.path));
    }
    const size_t q = req.target.find('?');
    std::string_view query_string =
        q == std::string::npos ? std::string_view() : std::string_view(req.target).substr(q + 1);
    if (post) {
      if (!query_string.empty()) {
        return HttpResponse::Text(400, fmt::format("the parameters of POST {} go in its form body "
                                                   "(application/x-www-form-urlencoded), not in the query string",
                                                   req.path));
      }
      const std::string content_type = req.get_header_value("Content-Type");
      if (!req.body.empty() && !content_type.starts_with("application/x-www-form-urlencoded")) {
        return HttpResponse::Text(415, fmt::format("the body of POST {} must be application/x-www-form-urlencoded, "
                                                   "not '{}'",
                                                   req.path, Printable(content_type)));
      }
      query_string = req.body;
    }
    auto query = ParseQueryString(query_string);
    if (!query.ok()) {
      return HttpResponse::Text(
          400, fmt::format("bad {}: {}", post ? "form body" : "query string", query.status().message()));
    }
    for (const auto& [name, value] : *query) {
      if (!it->second.params.contains(name)) {
        return HttpResponse::Text(400, fmt::format("unknown {} parameter '{}' for {}", post ? "form" : "query",
                                                   Printable(name), req.path));
      }
    }
    HttpRequest request{req.method, req.path, std::move(query).value(),
                        fmt::format("{}:{}", req.remote_addr, req.remote_port), {}};
    for (const auto& [name, value] : req.headers) {
      std::string lower = name;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      request.headers.emplace(std::move(lower), value);
    }
    try {
      return it->second.handler(request);
    } catch (const std::exception& e) {
      HttpLogger()->error("http {} from {} threw: {}", req.path, request.peer, e.what());
      return HttpResponse::Text(500, "internal error");
    }
  }

  // A POST is answered only once its whole body is read (see the class comment): a body the
  // library cannot bound (no Content-Length, or a transfer encoding such as chunked, which it
  // reads without limit) is refused before; browsers always send Content-Length.
  static std::optional<HttpResponse> RefusePostBeforeBody(const httplib::Request& req) {
    if (req.has_header("Transfer-Encoding")) {
      return HttpResponse::Text(411, "a POST body needs Content-Length (no Transfer-Encoding)");
    }
    if (!req.has_header("Content-Length")) return HttpResponse::Text(411, "a POST needs Content-Length");
    return std::nullopt;
  }

  // Answers `req` with `response` (a refusal logged, rate-limited).
  void Answer(const httplib::Request& req, httplib::Response& res, const HttpResponse& response) {
    uint64_t suppressed = 0;
    if (response.status >= 400 && refusal_log.Allow(&suppressed)) {
      std::string_view reason = response.body;
      while (!reason.empty() && reason.back() == '\n') reason.remove_suffix(1);
      HttpLogger()->info("http {} {} from {}:{} refused ({}): {} ({} similar suppressed)", Printable(req.method),
                         Printable(req.path), req.remote_addr, req.remote_port, response.status, Printable(reason),
                         suppressed);
    }
    Fill(res, response);
  }

  // At most 200 bytes of client input, control bytes replaced: safe to echo and to log.
  static std::string Printable(std::string_view s) {
    std::string out;
    for (unsigned char c : s.substr(0, 200)) out.push_back(c < 0x20 || c == 0x7f ? '?' : static_cast<char>(c));
    if (s.size() > 200) out += "...";
    return out;
  }
};

HttpServer::HttpServer(HttpOptions options) : options_(std::move(options)), impl_(std::make_unique<Impl>()) {
  httplib::Server& s = impl_->server;
  const size_t threads = options_.threads;
  const size_t queued = options_.max_queued_connections;
  s.new_task_queue = [threads, queued] { return new BoundedTaskQueue(threads, queued); };
  s.set_read_timeout(options_.read_timeout_ms / 1000, (options_.read_timeout_ms % 1000) * 1000);
  s.set_write_timeout(options_.write_timeout_ms / 1000, (options_.write_timeout_ms % 1000) * 1000);
  s.set_keep_alive_timeout(std::max(1, options_.read_timeout_ms / 1000));
  s.set_keep_alive_max_count(100);
  s.set_payload_max_length(options_.max_body_bytes);
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, with which a second daemon configured
  // with the same port would bind it too and share its requests instead of failing to start.
  s.set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  Impl* impl = impl_.get();
  // GET, HEAD and every other method are routed here, before the library reads any body. A POST
  // goes on to the library, which reads its body (bounded), then to the handler below.
  s.set_pre_routing_handler([impl](const httplib::Request& req, httplib::Response& res) {
    if (req.method == "POST") {
      auto refusal = Impl::RefusePostBeforeBody(req);
      if (!refusal) return httplib::Server::HandlerResponse::Unhandled;
      impl->Answer(req, res, Impl::JsonUnderApi(req, *refusal));
      return httplib::Server::HandlerResponse::Handled;
    }
    impl->Answer(req, res, impl->Dispatch(req));
    return httplib::Server::HandlerResponse::Handled;
  });
  s.Post(".*", [impl](const httplib::Request& req, httplib::Response& res) {
    impl->Answer(req, res, impl->Dispatch(req));
  });
  // What the library answers itself (a malformed request line or header, a body too large):
  // a short text saying so.
  s.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string text;
    switch (res.status) {
      case 400: text = "bad request"; break;
      case 404: text = "not found"; break;
      case 413: text = "request too large"; break;
      case 414: text = "request line too long"; break;
      default: text = fmt::format("error {}", res.status); break;
    }
    if (req.path.starts_with("/api/")) {
      const HttpResponse json = HttpResponse::JsonError(res.status, text);
      res.set_content(json.body, json.content_type.c_str());
    } else {
      res.set_content(text + "\n", "text/plain; charset=utf-8");
    }
    SetSecurityHeaders(res);
    return httplib::Server::HandlerResponse::Handled;
  }));
  s.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr) {
    HttpLogger()->error("http {}: unexpected exception", Impl::Printable(req.path));
    res.status = 500;
    res.set_content("internal error\n", "text/plain; charset=utf-8");
  });
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Route(const std::string& path, std::set<std::string, std::less<>> params, HttpHandler handler) {
  impl_->routes[path] = Impl::RouteEntry{std::move(params), std::move(handler)};
}

void HttpServer::PostRoute(const std::string& path, std::set<std::string, std::less<>> params, HttpHandler handler) {
  impl_->post_routes[path] = Impl::RouteEntry{std::move(params), std::move(handler)};
}

Status HttpServer::Listen() {
  if (options_.port == 0) {
    const int port = impl_->server.bind_to_any_port(options_.host);
    if (port <= 0) return Status::Unavailable(fmt::format("http: cannot bind {}:0", options_.host));
    port_ = port;
  } else {
    if (!impl_->server.bind_to_port(options_.host, options_.port)) {
      return Status::Unavailable(fmt::format(
          "http: cannot bind {}:{} (in use? httpPort=0 picks a free port, httpPort=-1 turns HTTP off)", options_.host,
          options_.port));
    }
    port_ = options_.port;
  }
  return Status::OK();
}

Status HttpServer::Start() {
  if (port_ == 0) return Status::FailedPrecondition("http: Start before Listen");
  acceptor_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "http-accept");
    if (!impl_->server.listen_after_bind()) HttpLogger()->warn("http acceptor on {} ended", listen_address());
    impl_->acceptor_ended = true;
  });
  // Stop must find the server running (httplib's stop() does nothing before): wait for it.
  while (!impl_->server.is_running() && !impl_->acceptor_ended) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  started_ = true;
  HttpLogger()->info("http on {} ({} threads)", listen_address(), options_.threads);
  return Status::OK();
}

void HttpServer::Stop() {
  if (!impl_) return;
  impl_->server.stop();
  if (acceptor_.joinable()) acceptor_.join();
  started_ = false;
}

std::string HttpServer::listen_address() const {
  if (options_.host.find(':') != std::string::npos) return fmt::format("[{}]:{}", options_.host, port_);
  return fmt::format("{}:{}", options_.host, port_);
}

}  // namespace vela::http
