#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/config.h"
#include "common/result.h"

// Vela's HTTP endpoint (/metrics, the console's JSON API under /api/), on cpp-httplib. Only this
// folder includes httplib headers; callers see the types below.
namespace vela::http {

// HttpOptions are the settings of one daemon's HTTP endpoint (conf/broker.conf and
// conf/namesrv.conf document them). Immutable after FromConfig.
struct HttpOptions {
  static constexpr int kDisabled = -1;

  std::string host = "0.0.0.0";  // the host part of the daemon's `listen` setting
  int port = 8080;               // httpPort: 0 picks a free port, -1 turns HTTP off
  size_t threads = 4;            // httpThreads: connections served at once (1..64)
  // Fixed limits (not settings): a slow or hostile client is cut off by them.
  int read_timeout_ms = 5000;     // per read of a request, and between keep-alive requests
  int write_timeout_ms = 5000;    // per write of a response
  size_t max_body_bytes = 64 * 1024;  // a POST's body (read in full, then refused with 413 past this);
                                      // a form body is also capped at 8 KiB by the library (413)
  size_t max_queued_connections = 64;  // accepted connections waiting for a thread; past this the
                                       // acceptor waits (the kernel's backlog holds the rest)

  bool enabled() const { return port != kDisabled; }

  // Reads httpPort (default `default_port`) and httpThreads; `listen` is the daemon's messaging
  // address ("host:port"), whose host the HTTP endpoint binds too. InvalidArgument on a port
  // outside -1..65535 or a thread count outside 1..64.
  static Result<HttpOptions> FromConfig(const Config& config, int default_port, const std::string& listen);
};

// One request as a handler sees it. `query` is already parsed strictly (ParseQueryString) and
// holds only the parameters the route declared: from the query string of a GET, from the form
// body (application/x-www-form-urlencoded) of a POST.
struct HttpRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string, std::less<>> query;
  std::string peer;  // "ip:port"
  std::map<std::string, std::string, std::less<>> headers;  // names in lower case; a repeated one: the first

  // The parameter `name`, or `fallback` when absent.
  std::string Param(const std::string& name, const std::string& fallback = "") const;
  // The header `lower_case_name`'s value, or "" when absent.
  std::string Header(std::string_view lower_case_name) const;
};

// What a handler answers.
struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;

  // A 200 with `body` as it is, of `content_type`.
  static HttpResponse Content(std::string content_type, std::string body);
  static HttpResponse Text(int status, std::string body);
  static HttpResponse Json(std::string body, int status = 200);
  // A JSON error object {"error": message} with `status`.
  static HttpResponse JsonError(int status, const std::string& message);
};

// The Content-Security-Policy of every answer: nothing inline, everything from this origin.
inline constexpr const char* kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// The Prometheus text exposition format's content type (version 0.0.4).
inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// HttpServer serves GET routes and POST routes registered at startup on its own listening socket
// and its own threads (one acceptor and a fixed pool of `threads` workers), never on the messaging
// io threads, so nothing on it can delay messaging. Hardened for the open network: request lines
// and header lines are bounded by the library (8 KiB each); the body of a GET is never read; the
// body of every POST (any path) is read in full before the answer, at most max_body_bytes (past
// it the library reads and drops it, then answers 413), so that no refused POST leaves bytes that
// would be taken for a next request on the connection (a browser form on another site could put
// a whole request there); a POST without Content-Length or with a transfer encoding is a 411 at
// once. Every read and write is bounded by a timeout, the connections served at once by the pool,
// the connections waiting for it by max_queued_connections; a malformed query string or form body,
// an undeclared parameter, or a query string on a POST is a 400, a POST body that is not a form a
// 415, an unknown path a 404, a method the path does not serve a 405, each with a short text body
// (JSON under /api/); a handler that throws is a 500 and is logged. Handlers run on the worker
// threads and must be thread-safe. Lifecycle: construct, Route/PostRoute..., Listen (binds),
// Start, Stop (idempotent; the destructor stops). Route only before Start.
class HttpServer {
 public:
  explicit HttpServer(HttpOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Serves GET (and HEAD) `path` (exact match) with `handler`; `params` are the query parameters
  // it accepts (anything else is refused with 400). REQUIRES: before Start.
  void Route(const std::string& path, std::set<std::string, std::less<>> params, HttpHandler handler);
  // Serves POST `path` (exact match) with `handler`; `params` are the parameters of the form body
  // (application/x-www-form-urlencoded) it accepts, the query string must be empty. A path is
  // either a GET or a POST route. REQUIRES: before Start.
  void PostRoute(const std::string& path, std::set<std::string, std::less<>> params, HttpHandler handler);
  // Binds host:port (port 0: a free one). Unavailable naming the address when it cannot.
  Status Listen();
  // Starts the acceptor and the workers. REQUIRES: Listen succeeded.
  Status Start();
  // Stops accepting, closes the listening socket, waits for the requests in progress (each is
  // bounded by the timeouts). Idempotent.
  void Stop();

  int port() const { return port_; }
  // "host:port" as bound (the host as configured).
  std::string listen_address() const;

 private:
  class Impl;
  HttpOptions options_;
  std::unique_ptr<Impl> impl_;
  std::thread acceptor_;
  int port_ = 0;
  bool started_ = false;
};

}  // namespace vela::http
