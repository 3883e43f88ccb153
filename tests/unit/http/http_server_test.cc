#include "http/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "common/config.h"
#include "support/test_support.h"

namespace vela::http {
namespace {

// A loopback TCP connection to `port` (fails the test when it cannot connect).
int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ADD_FAILURE() << "cannot connect to port " << port;
  }
  return fd;
}

void SendAll(int fd, const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;  // the server may close early (a refused request): what it sent is read next
    sent += static_cast<size_t>(n);
  }
}

// Reads until the server closes the connection, a whole response has arrived (when
// `stop_at_response`: a kept-alive connection would otherwise wait for the server's idle timeout),
// or `timeout_ms` passes.
std::string ReadUntilClosed(int fd, int timeout_ms = 10000, bool stop_at_response = true) {
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline && !(stop_at_response && vela::testing::HttpResponseComplete(out))) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// One request on its own connection ("Connection: close" added unless the bytes are raw).
std::string Exchange(int port, const std::string& bytes) {
  int fd = Connect(port);
  SendAll(fd, bytes);
  std::string response = ReadUntilClosed(fd);
  close(fd);
  return response;
}

std::string Get(int port, const std::string& target) {
  return Exchange(port, "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
}

int StatusOf(const std::string& response) {
  if (response.rfind("HTTP/1.1 ", 0) != 0 || response.size() < 12) return -1;
  return std::stoi(response.substr(9, 3));
}

std::string BodyOf(const std::string& response) {
  auto pos = response.find("\r\n\r\n");
  return pos == std::string::npos ? "" : response.substr(pos + 4);
}

class HttpServerTest : public ::testing::Test {
 protected:
  void StartServer(HttpOptions options = {}) {
    options.host = "127.0.0.1";
    options.port = 0;
    server_ = std::make_unique<HttpServer>(options);
    server_->Route("/hello", {"name"}, [](const HttpRequest& r) {
      return HttpResponse::Text(200, "hello " + r.Param("name", "world"));
    });
    server_->Route("/api/thing", {}, [](const HttpRequest&) { return HttpResponse::Json("{\"ok\":true}"); });
    server_->Route("/boom", {}, [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("boom"); });
    server_->PostRoute("/api/act", {"what", "times"}, [this](const HttpRequest& r) {
      ++actions_;
      return HttpResponse::Json("{\"what\":\"" + r.Param("what") + "\",\"token\":\"" + r.Header("x-token") + "\"}");
    });
    ASSERT_TRUE(server_->Listen().ok());
    ASSERT_TRUE(server_->Start().ok());
    port_ = server_->port();
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  std::unique_ptr<HttpServer> server_;
  int port_ = 0;
  std::atomic<int> actions_{0};  // calls of POST /api/act
};

// A POST of `body` as a form to `target` on its own connection, with `extra_headers` ("Name: v\r\n"...).
std::string Post(int port, const std::string& target, const std::string& body, const std::string& extra_headers = "") {
  return Exchange(port, "POST " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + extra_headers +
                            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
                            std::to_string(body.size()) + "\r\n\r\n" + body);
}

// How many responses `bytes` holds.
int ResponseCount(const std::string& bytes) {
  int count = 0;
  for (size_t at = bytes.find("HTTP/1.1 "); at != std::string::npos; at = bytes.find("HTTP/1.1 ", at + 1)) ++count;
  return count;
}

TEST_F(HttpServerTest, ServesARouteWithItsQueryParameters) {
  StartServer();
  std::string r = Get(port_, "/hello?name=vela%20team");
  EXPECT_EQ(StatusOf(r), 200) << r;
  EXPECT_EQ(BodyOf(r), "hello vela team\n");
  EXPECT_EQ(StatusOf(Exchange(port_, "HEAD /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")), 200);
}

TEST_F(HttpServerTest, AnswersUnknownPathsWith404AndAShortText) {
  StartServer();
  std::string r = Get(port_, "/nowhere");
  EXPECT_EQ(StatusOf(r), 404) << r;
  EXPECT_EQ(BodyOf(r), "not found: /nowhere\n");
}

// Issue 15: the console's page loads its script and style from its own origin only, so a value
// that slipped into the page as markup could not run; every answer, errors included, says so.
TEST_F(HttpServerTest, EveryAnswerCarriesTheSecurityHeaders) {
  StartServer();
  for (const std::string& r : {Get(port_, "/hello?name=x"), Get(port_, "/nowhere"), Get(port_, "/hello?%zz"),
                               Exchange(port_, "GARBAGE\r\n\r\n")}) {
    const std::string csp = std::string("Content-Security-Policy: ") + kContentSecurityPolicy + "\r\n";
    EXPECT_NE(r.find(csp), std::string::npos) << r;
    EXPECT_NE(r.find("X-Content-Type-Options: nosniff\r\n"), std::string::npos) << r;
    EXPECT_NE(r.find("X-Frame-Options: DENY\r\n"), std::string::npos) << r;
  }
  EXPECT_EQ(std::string(kContentSecurityPolicy).find("unsafe"), std::string::npos);
}

TEST_F(HttpServerTest, RefusesOtherMethodsWith405) {
  StartServer();
  std::string r = Exchange(port_, "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi");
  EXPECT_EQ(StatusOf(r), 405) << r;
  EXPECT_EQ(StatusOf(Exchange(port_, "PUT /api/act HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")), 405);
  // A CORS preflight is never granted: a page of another site cannot send a POST with a header of
  // its own (the console's write header).
  std::string preflight = Exchange(port_, "OPTIONS /api/act HTTP/1.1\r\nHost: x\r\nOrigin: http://elsewhere\r\n"
                                          "Access-Control-Request-Method: POST\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(StatusOf(preflight), 405) << preflight;
  EXPECT_EQ(preflight.find("Access-Control-Allow"), std::string::npos) << preflight;
}

TEST_F(HttpServerTest, RefusesMalformedQueriesAndUndeclaredParameters) {
  StartServer();
  std::string bad_escape = Get(port_, "/hello?name=%zz");
  EXPECT_EQ(StatusOf(bad_escape), 400) << bad_escape;
  EXPECT_NE(BodyOf(bad_escape).find("bad percent escape"), std::string::npos) << bad_escape;
  std::string unknown = Get(port_, "/hello?nmae=x");
  EXPECT_EQ(StatusOf(unknown), 400) << unknown;
  EXPECT_NE(BodyOf(unknown).find("unknown query parameter 'nmae'"), std::string::npos);
  EXPECT_EQ(StatusOf(Get(port_, "/hello?name=a&name=b")), 400);
  // Under /api/ the errors are JSON.
  std::string api = Get(port_, "/api/thing?x=1");
  EXPECT_EQ(StatusOf(api), 400) << api;
  EXPECT_EQ(BodyOf(api), "{\"error\":\"unknown query parameter 'x' for /api/thing\"}\n");
}

TEST_F(HttpServerTest, GarbageGetsA400AndTheServerGoesOn) {
  StartServer();
  std::string r = Exchange(port_, std::string("\x16\x03\x01\x02\x00garbage\r\n\r\n", 16));
  EXPECT_EQ(StatusOf(r), 400) << r;
  EXPECT_EQ(StatusOf(Get(port_, "/hello")), 200);
}

TEST_F(HttpServerTest, HugeHeadersAndRequestLinesAreRefused) {
  StartServer();
  std::string header = "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(64 * 1024, 'a') + "\r\n\r\n";
  int status = StatusOf(Exchange(port_, header));
  EXPECT_TRUE(status == 400 || status == 431 || status == -1) << status;  // refused, or cut off
  std::string line = "GET /hello?name=" + std::string(64 * 1024, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n";
  status = StatusOf(Exchange(port_, line));
  EXPECT_TRUE(status == 400 || status == 414 || status == -1) << status;
  EXPECT_EQ(StatusOf(Get(port_, "/hello")), 200);
}

TEST_F(HttpServerTest, GetBodiesAreNeverReadAndPostBodiesAreBounded) {
  StartServer();
  // A GET is routed before any body is read: a big body costs the server nothing.
  const std::string body(1000000, 'b');
  std::string get = Exchange(port_, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 1000000\r\n\r\n" + body);
  EXPECT_EQ(StatusOf(get), 200) << get.substr(0, 200);
  // A POST's body past max_body_bytes is dropped as it is read, then refused; on any path.
  for (const char* path : {"/hello", "/api/act"}) {
    std::string post = Exchange(port_, std::string("POST ") + path +
                                           " HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 1000000\r\n\r\n" + body);
    EXPECT_EQ(StatusOf(post), 413) << post.substr(0, 200);
  }
  EXPECT_EQ(BodyOf(Post(port_, "/api/act", "what=" + std::string(70 * 1024, 'w'))), "{\"error\":\"request too large\"}\n");
  // A body the library could not bound is refused before it is read.
  std::string chunked = Exchange(port_, "POST /api/act HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                        "Transfer-Encoding: chunked\r\n\r\n5\r\nwhat=\r\n0\r\n\r\n");
  EXPECT_EQ(StatusOf(chunked), 411) << chunked;
  std::string no_length = Exchange(port_, "POST /api/act HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(StatusOf(no_length), 411) << no_length;
  EXPECT_EQ(BodyOf(no_length), "{\"error\":\"a POST needs Content-Length\"}\n");
  EXPECT_EQ(actions_.load(), 0);
  EXPECT_EQ(StatusOf(Post(port_, "/api/act", "what=x")), 200);
}

TEST_F(HttpServerTest, ServesAPostRouteWithItsFormParametersAndHeaders) {
  StartServer();
  std::string r = Post(port_, "/api/act", "what=resend%20all&times=2", "X-Token: t1\r\n");
  EXPECT_EQ(StatusOf(r), 200) << r;
  EXPECT_EQ(BodyOf(r), "{\"what\":\"resend all\",\"token\":\"t1\"}");
  EXPECT_EQ(StatusOf(Post(port_, "/api/act", "")), 200);  // no parameter at all
  EXPECT_EQ(actions_.load(), 2);
}

TEST_F(HttpServerTest, RefusesBadPostsWithoutCallingTheHandler) {
  StartServer();
  std::string unknown = Post(port_, "/api/act", "what=x&whom=y");
  EXPECT_EQ(StatusOf(unknown), 400) << unknown;
  EXPECT_EQ(BodyOf(unknown), "{\"error\":\"unknown form parameter 'whom' for /api/act\"}\n");
  EXPECT_EQ(StatusOf(Post(port_, "/api/act", "what=%zz")), 400);
  EXPECT_EQ(StatusOf(Post(port_, "/api/act", "what=a&what=b")), 400);
  std::string in_query = Post(port_, "/api/act?what=x", "");
  EXPECT_EQ(StatusOf(in_query), 400) << in_query;
  EXPECT_NE(BodyOf(in_query).find("form body"), std::string::npos) << in_query;
  std::string json = Exchange(port_, "POST /api/act HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                     "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
  EXPECT_EQ(StatusOf(json), 415) << json;
  std::string get = Get(port_, "/api/act?what=x");
  EXPECT_EQ(StatusOf(get), 405) << get;
  EXPECT_NE(BodyOf(get).find("only POST"), std::string::npos) << get;
  EXPECT_EQ(StatusOf(Post(port_, "/nowhere", "a=b")), 404);
  EXPECT_EQ(actions_.load(), 0);
}

TEST_F(HttpServerTest, TheBodyOfARefusedPostIsNeverTakenForANextRequest) {
  StartServer();
  // A browser form on another site can send any bytes as its body: here a whole request with a
  // header the form itself could not send. The refused POST's body is read and dropped; the next
  // request on the connection (a GET) is served; the one in the body never is.
  const std::string smuggled = "POST /api/act HTTP/1.1\r\nHost: x\r\nX-Token: forged\r\n"
                               "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 6\r\n\r\nwhat=x";
  for (const char* path : {"/hello", "/nowhere", "/api/act"}) {
    int fd = Connect(port_);
    SendAll(fd, std::string("POST ") + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: " +
                    std::to_string(smuggled.size()) + "\r\n\r\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the body in a later packet
    SendAll(fd, smuggled);
    std::string both = ReadUntilClosed(fd);  // the refusal
    // Sent once the refusal is in (the library drops bytes pipelined behind a request's body).
    SendAll(fd, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    both += ReadUntilClosed(fd, 10000, /*stop_at_response=*/false);
    close(fd);
    EXPECT_EQ(ResponseCount(both), 2) << path << ":\n" << both;
    EXPECT_NE(both.find("hello world"), std::string::npos) << path << ":\n" << both;
  }
  EXPECT_EQ(actions_.load(), 0);
}

TEST_F(HttpServerTest, AHandlerThatThrowsIsA500) {
  StartServer();
  std::string r = Get(port_, "/boom");
  EXPECT_EQ(StatusOf(r), 500) << r;
  EXPECT_EQ(StatusOf(Get(port_, "/hello")), 200);
}

TEST_F(HttpServerTest, ASlowClientIsCutOffAndOthersAreServed) {
  HttpOptions options;
  options.threads = 1;  // the slow client holds the only worker until its read times out
  options.read_timeout_ms = 300;
  StartServer(options);
  int slow = Connect(port_);
  SendAll(slow, "GET /hello HTTP/1.1\r\nHost:");  // and never more
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  // Served once the slow client's read timed out (generous deadline: no timing assertion).
  std::string r = Get(port_, "/hello");
  EXPECT_EQ(StatusOf(r), 200) << r;
  // The server closed the slow connection.
  std::string rest = ReadUntilClosed(slow, 10000, /*stop_at_response=*/false);
  pollfd p{slow, POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 0), 1);
  char c;
  EXPECT_LE(recv(slow, &c, 1, MSG_DONTWAIT), 0);
  close(slow);
}

TEST_F(HttpServerTest, ManyIdleConnectionsDoNotStopTheServer) {
  HttpOptions options;
  options.threads = 2;
  options.read_timeout_ms = 300;
  options.max_queued_connections = 4;
  StartServer(options);
  std::vector<int> idle;
  for (int i = 0; i < 20; ++i) idle.push_back(Connect(port_));
  EXPECT_EQ(StatusOf(Get(port_, "/hello")), 200);
  for (int fd : idle) close(fd);
}

TEST_F(HttpServerTest, StopIsIdempotentAndFreesThePort) {
  StartServer();
  server_->Stop();
  server_->Stop();
  HttpOptions options;
  options.host = "127.0.0.1";
  options.port = port_;
  HttpServer again(options);
  EXPECT_TRUE(again.Listen().ok());
}

TEST(HttpServerListenTest, APortInUseIsAClearError) {
  HttpOptions options;
  options.host = "127.0.0.1";
  options.port = 0;
  HttpServer first(options);
  ASSERT_TRUE(first.Listen().ok());
  options.port = first.port();
  HttpServer second(options);
  Status s = second.Listen();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("httpPort=0"), std::string::npos) << s.ToString();
}

TEST(HttpOptionsTest, ReadsPortAndThreadsAndRefusesBadValues) {
  Config config;
  auto o = HttpOptions::FromConfig(config, 8080, "10.0.0.5:10911");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->port, 8080);
  EXPECT_EQ(o->host, "10.0.0.5");
  EXPECT_TRUE(o->enabled());
  config.Set("httpPort", "-1", "test");
  EXPECT_FALSE(HttpOptions::FromConfig(config, 8080, "0.0.0.0:1")->enabled());
  for (const char* bad : {"-2", "65536", "http", "80x"}) {
    config.Set("httpPort", bad, "test");
    EXPECT_FALSE(HttpOptions::FromConfig(config, 8080, "0.0.0.0:1").ok()) << bad;
  }
  config.Set("httpPort", "0", "test");
  for (const char* bad : {"0", "65", "-1"}) {
    config.Set("httpThreads", bad, "test");
    EXPECT_FALSE(HttpOptions::FromConfig(config, 8080, "0.0.0.0:1").ok()) << bad;
  }
  config.Set("httpThreads", "8", "test");
  EXPECT_EQ(HttpOptions::FromConfig(config, 8080, "[::1]:1")->host, "::1");
}

}  // namespace
}  // namespace vela::http
