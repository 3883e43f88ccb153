// RequestContext's reply sink (processors driven without sockets) and the server's connection
// close listeners (any number, each called).
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "net/dispatcher.h"
#include "net/server.h"
#include "support/test_support.h"

namespace vela::net {
namespace {

TEST(RequestContextTest, SinkGetsTheFirstReplyWithItsHeaderFilled) {
  v1::Header request;
  request.set_request_id(42);
  request.set_code(v1::GET_QUEUE_OFFSETS);
  int calls = 0;
  Status got;
  v1::Header response;
  std::string body;
  RequestContext rc(
      [&](Status s, v1::Header h, OutBody b) {
        ++calls;
        got = std::move(s);
        response = std::move(h);
        body = b.owned;
      },
      request, "10.0.0.1:5555");
  EXPECT_EQ(rc.peer(), "10.0.0.1:5555");
  EXPECT_EQ(rc.connection(), nullptr);
  RequestContext copy = rc;
  copy.Reply(Status::NotFound("nothing here"), {}, OutBody(std::string("payload")));
  rc.Reply(Status::OK());  // a second reply is ignored, from any copy
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(got.code(), StatusCode::kNotFound);
  EXPECT_EQ(response.request_id(), 42u);
  EXPECT_EQ(response.code(), v1::GET_QUEUE_OFFSETS);
  EXPECT_EQ(response.status().message(), "nothing here");
  EXPECT_EQ(body, "payload");
}

TEST(RequestContextTest, OnewayRequestsReplyNothing) {
  v1::Header request;
  request.set_code(v1::HEARTBEAT);
  request.set_flags(kFlagOneway);
  int calls = 0;
  RequestContext rc([&](Status, v1::Header, OutBody) { ++calls; }, request);
  rc.Reply(Status::OK());
  EXPECT_EQ(calls, 0);
}

TEST(ServerCloseListenersTest, EveryListenerHearsEveryClose) {
  Dispatcher dispatcher;
  Server server(ServerOptions{"127.0.0.1:0", 1}, &dispatcher);
  std::atomic<int> first{0};
  std::atomic<int> second{0};
  std::atomic<int> third{0};
  server.AddConnectionClosedListener([&](const std::shared_ptr<Connection>& c) {
    EXPECT_NE(c, nullptr);
    first.fetch_add(1);
  });
  server.AddConnectionClosedListener([&](const std::shared_ptr<Connection>&) { second.fetch_add(1); });
  server.AddConnectionClosedListener([&](const std::shared_ptr<Connection>&) { third.fetch_add(1); });
  ASSERT_OK(server.Start());

  for (int i = 0; i < 2; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(server.port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (server.connection_count() == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ::close(fd);
    while (third.load() < i + 1 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  EXPECT_EQ(first.load(), 2);
  EXPECT_EQ(second.load(), 2);
  EXPECT_EQ(third.load(), 2);
  server.Stop();
}

}  // namespace
}  // namespace vela::net
