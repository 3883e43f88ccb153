#include "net/frame_codec.h"

#include <future>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "common/coding.h"
#include "net/dispatcher.h"
#include "net/rpc_client.h"
#include "net/server.h"
#include "support/test_support.h"

namespace vela::net {
namespace {

std::string Body(const std::string& frame) { return frame.substr(4); }

TEST(FrameCodecTest, RoundTripsHeaderAndBody) {
  v1::Header h;
  h.set_request_id(42);
  h.set_code(v1::SEND_MESSAGE);
  h.mutable_send_request()->set_topic("orders");
  std::string frame = EncodeFrame(h, std::string("\0body\xff", 6));
  EXPECT_EQ(coding::GetBigEndian32(frame.data()), frame.size() - 4);
  ASSERT_OK_AND_ASSIGN(Frame f, DecodeFrame(Body(frame)));
  EXPECT_EQ(f.header.request_id(), 42u);
  EXPECT_EQ(f.header.send_request().topic(), "orders");
  EXPECT_EQ(f.body, std::string("\0body\xff", 6));
}

// Frames that must be refused, each with the reason it must name.
struct RefusedCase {
  const char* name;
  std::string after_prefix;
};

TEST(FrameCodecTest, RefusesMalformedFrames) {
  std::string header_len_overrun(4, '\0');
  coding::PutBigEndian32(header_len_overrun.data(), 1000);
  std::string huge_header(4, '\0');
  coding::PutBigEndian32(huge_header.data(), 0x7fffffff);
  std::string garbage_header(4, '\0');
  coding::PutBigEndian32(garbage_header.data(), 3);
  garbage_header += "\xff\xff\xff";
  const RefusedCase cases[] = {
      {"too short for header length", "ab"},
      {"header length overruns frame", header_len_overrun},
      {"header length above the limit", huge_header},
      {"header not protobuf", garbage_header},
  };
  for (const auto& c : cases) {
    auto r = DecodeFrame(c.after_prefix);
    EXPECT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << c.name;
  }
}

// A header length over the 1 MiB cap is named as such, even when the frame is big enough to hold
// it; the envelope of such a frame (request id, code, flags) is still read for the answer.
TEST(FrameCodecTest, NamesAHeaderOverTheCapAndReadsItsEnvelope) {
  constexpr uint32_t kHeader = kMaxHeaderSize + 1024;
  std::string frame(4 + kHeader, '\0');
  coding::PutBigEndian32(frame.data(), kHeader);
  auto r = DecodeFrame(frame);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "header of 1049600 bytes exceeds the 1024 KiB cap");
  std::string overrun(4 + 10, '\0');
  coding::PutBigEndian32(overrun.data(), 100);
  auto o = DecodeFrame(overrun);
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().message(), "header length 100 overruns the frame of 14 bytes");
  EXPECT_FALSE(ReadRefusedEnvelope(overrun).has_value());

  v1::Header big;
  big.set_flags(kFlagOneway);
  big.mutable_send_request()->set_topic(std::string(kMaxHeaderSize, 't'));
  big.set_request_id(9);  // serialized first whatever the order of the calls
  big.set_code(v1::SEND_MESSAGE);
  const std::string encoded = EncodeFrame(big, "payload");
  auto envelope = ReadRefusedEnvelope(std::string_view(encoded).substr(4));
  ASSERT_TRUE(envelope.has_value());
  EXPECT_EQ(envelope->request_id(), 9u);
  EXPECT_EQ(envelope->code(), v1::SEND_MESSAGE);
  EXPECT_EQ(envelope->flags(), kFlagOneway);
  EXPECT_FALSE(envelope->has_send_request());
  // A frame whose header is within the cap is not a refused one.
  EXPECT_FALSE(ReadRefusedEnvelope(std::string_view(EncodeFrame(v1::Header(), "x")).substr(4)).has_value());
}

TEST(FrameCodecTest, ChecksFrameLengthBeforeReading) {
  EXPECT_OK(CheckFrameLength(100, kDefaultMaxFrameSize));
  Status big = CheckFrameLength(0x80000000u, kDefaultMaxFrameSize);
  EXPECT_EQ(big.subcode(), SubCode::kFrameTooLarge);
  EXPECT_FALSE(CheckFrameLength(2, kDefaultMaxFrameSize).ok());
}

// A server and a client in one process: requests, responses, unknown codes, timeouts.
class RpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dispatcher_.RegisterProcessor(v1::LIST_TOPICS, [](RequestContext ctx, Frame f) {
      v1::Header resp;
      resp.mutable_topic_list_response()->add_topics()->set_name("echo:" + f.body);
      ctx.Reply(Status::OK(), std::move(resp), OutBody(f.body));
    });
    dispatcher_.RegisterProcessor(v1::BROKER_STATUS, [](RequestContext, Frame) { /* never answers */ });
    dispatcher_.RegisterProcessor(v1::SEND_MESSAGE, [](RequestContext ctx, Frame f) {  // echoes the body only
      ctx.Reply(Status::OK(), v1::Header(), OutBody(std::move(f.body)));
    });
    server_ = std::make_unique<Server>(ServerOptions{"127.0.0.1:0", 2}, &dispatcher_);
    ASSERT_OK(server_->Start());
  }
  void TearDown() override { server_->Stop(); }

  Dispatcher dispatcher_;
  std::unique_ptr<Server> server_;
};

TEST_F(RpcTest, RequestGetsItsResponse) {
  RpcClient client;
  v1::Header h;
  h.set_code(v1::LIST_TOPICS);
  ASSERT_OK_AND_ASSIGN(Frame f, client.InvokeSync(server_->listen_address(), h, OutBody("ping"), 2000));
  EXPECT_EQ(f.header.topic_list_response().topics(0).name(), "echo:ping");
  EXPECT_EQ(f.body, "ping");
}

TEST_F(RpcTest, ManyConcurrentRequestsAreMatchedById) {
  RpcClient client;
  std::vector<std::future<Result<Frame>>> futures;
  for (int i = 0; i < 200; ++i) {
    futures.push_back(std::async(std::launch::async, [&client, i, this] {
      v1::Header h;
      h.set_code(v1::LIST_TOPICS);
      return client.InvokeSync(server_->listen_address(), h, OutBody(std::to_string(i)), 5000);
    }));
  }
  for (int i = 0; i < 200; ++i) {
    auto r = futures[i].get();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->body, std::to_string(i));
  }
}

// Callers' threads write frames themselves when the connection is idle and queue them otherwise;
// bodies larger than the socket buffer leave a rest for the io thread. Every frame must still
// arrive whole and unmixed: the server would drop the connection at the first garbled frame.
TEST_F(RpcTest, LargeFramesFromManyThreadsArriveWhole) {
  RpcClient client;
  v1::Header h;
  h.set_code(v1::SEND_MESSAGE);
  ASSERT_OK(client.InvokeSync(server_->listen_address(), h, OutBody("connect first"), 5000).status());
  constexpr int kThreads = 6;
  constexpr int kPerThread = 25;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Sizes from a few bytes to 1.5 MiB, each body a pattern naming its thread and index.
        const size_t size = (i % 5 == 0) ? (1u << 20) + 512u * 1024u : static_cast<size_t>(7 + 997 * i * (t + 1));
        std::string body(size, '\0');
        for (size_t k = 0; k < size; ++k) body[k] = static_cast<char>('a' + (k * 31 + t * 7 + i) % 26);
        // One request at a time per thread: the connection is often idle, so many frames take
        // the direct path (and the big ones leave a rest), while others queue behind them.
        auto r = client.InvokeSync(server_->listen_address(), h, OutBody(body), 20000);
        (r.ok() && r->body == body ? ok : failed).fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
}

TEST_F(RpcTest, UnknownCodeIsUnimplemented) {
  RpcClient client;
  v1::Header h;
  h.set_code(v1::PULL_MESSAGE);
  auto r = client.InvokeSync(server_->listen_address(), h, {}, 2000);
  EXPECT_EQ(r.status().code(), StatusCode::kUnimplemented);
}

TEST_F(RpcTest, SilentServerTimesOut) {
  RpcClient client;
  v1::Header h;
  h.set_code(v1::BROKER_STATUS);
  auto r = client.InvokeSync(server_->listen_address(), h, {}, 200);
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
}

TEST(RpcClientTest, UnreachableAddressFailsFast) {
  RpcClient client;
  v1::Header h;
  h.set_code(v1::LIST_TOPICS);
  auto r = client.InvokeSync("127.0.0.1:" + std::to_string(testing::FreePort()), h, {}, 2000);
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_FALSE(client.InvokeSync("no-port", h, {}, 100).ok());
}

}  // namespace
}  // namespace vela::net
