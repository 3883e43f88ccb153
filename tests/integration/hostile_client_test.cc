// Hostile and broken clients against a real broker (issue 10, items 3 and 4): length prefixes
// announcing 16 MiB, pipelined pulls whose responses are never read, connections stalled on a
// partial frame, more connections than allowed, and a broker at its open-file limit. In each case
// the broker's memory and log stay bounded and a normal client (the SDK) goes on sending and
// consuming.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "cluster.h"
#include "common/coding.h"
#include "net/frame_codec.h"
#include "vela/consumer.h"
#include "vela/producer.h"

namespace vela::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int64_t kMiB = 1024 * 1024;

// The resident set of a process in bytes (VmRSS), -1 if unreadable.
int64_t RssBytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return -1;
}

size_t CountOccurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

// A raw TCP connection to the broker that misbehaves as told.
class RawConnection {
 public:
  explicit RawConnection(const std::string& addr, int rcvbuf = 0) {
    const auto colon = addr.rfind(':');
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(std::stoi(addr.substr(colon + 1))));
    inet_pton(AF_INET, addr.substr(0, colon).c_str(), &sa.sin_addr);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
  }
  ~RawConnection() { Close(); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return connected_; }
  // Writes everything (blocking); false once the connection fails or is shut down.
  bool Write(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Wakes a thread blocked in Write.
  void Shutdown() { ::shutdown(fd_, SHUT_RDWR); }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // True once the broker closed this connection (a read returns 0 or fails) within `timeout`.
  bool ClosedByPeer(std::chrono::milliseconds timeout = 20s) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0) {
        char buf[4096];
        if (::recv(fd_, buf, sizeof(buf), 0) <= 0) return true;
      }
    }
    return false;
  }
  // Reads until the broker closes the connection (within 20 s); false on timeout.
  bool ReadAll(std::string* out) {
    const auto deadline = Clock::now() + 20s;
    while (Clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) return true;
      out->append(buf, static_cast<size_t>(n));
    }
    return false;
  }
  // Reads one whole frame (within 20 s); nullopt on timeout, close or a frame that does not decode.
  std::optional<net::Frame> ReadFrame() {
    std::string bytes;
    const auto deadline = Clock::now() + 20s;
    while (Clock::now() < deadline) {
      if (bytes.size() >= 4 && bytes.size() >= 4 + coding::GetBigEndian32(bytes.data())) {
        auto frame = net::DecodeFrame(std::string_view(bytes).substr(4, coding::GetBigEndian32(bytes.data())));
        if (!frame.ok()) return std::nullopt;
        return std::move(frame).value();
      }
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) return std::nullopt;
      bytes.append(buf, static_cast<size_t>(n));
    }
    return std::nullopt;
  }
  // True when the connection is still open now (no close and no error pending).
  bool StillOpen() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 0) == 0) return true;
    char buf[1];
    return ::recv(fd_, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT) > 0;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

std::string LengthPrefix(uint32_t n) {
  std::string s(4, '\0');
  coding::PutBigEndian32(s.data(), n);
  return s;
}

// A normal client: an SDK producer and a push consumer on `topic`, created before the attack so
// that their connections exist when the broker is at a limit.
class NormalClient {
 public:
  NormalClient(const std::string& namesrv, const std::string& topic, const std::string& group) : topic_(topic) {
    auto p = client::ProducerBuilder().SetNamesrvAddr(namesrv).SetGroup("normal-producers").Build();
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    if (p.ok()) producer_ = std::move(p).value();
    auto c = client::PushConsumerBuilder()
                 .SetNamesrvAddr(namesrv)
                 .SetGroup(group)
                 .Subscribe(topic, client::FilterExpression::All())
                 .SetConsumeFrom(client::ConsumeFrom::kFirst)
                 .SetListener([this](const client::MessageView& m) {
                   std::lock_guard lock(mu_);
                   received_.insert(m.body);
                   return client::ConsumeResult::kSuccess;
                 })
                 .Build();
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    if (c.ok()) consumer_ = std::move(c).value();
  }
  ~NormalClient() {
    if (consumer_) consumer_->Shutdown();
    if (producer_) producer_->Shutdown();
  }

  // Sends `count` new messages and waits until the consumer got each of them: true when all
  // were acknowledged and delivered within the deadline.
  bool SendAndConsume(int count, std::chrono::milliseconds timeout = 30s) {
    if (!producer_ || !consumer_) return false;
    std::vector<std::string> bodies;
    for (int i = 0; i < count; ++i) {
      bodies.push_back("normal-" + std::to_string(next_++));
      bool sent = false;
      const auto deadline = Clock::now() + timeout;
      while (!sent && Clock::now() < deadline) {  // a send may hit a connection being remade
        sent = producer_->Send(client::Message(topic_, bodies.back())).ok();
        if (!sent) std::this_thread::sleep_for(100ms);
      }
      if (!sent) return false;
    }
    return WaitUntil(
        [&] {
          std::lock_guard lock(mu_);
          for (const auto& b : bodies) {
            if (received_.count(b) == 0) return false;
          }
          return true;
        },
        timeout);
  }

 private:
  std::string topic_;
  std::unique_ptr<client::Producer> producer_;
  std::unique_ptr<client::PushConsumer> consumer_;
  std::mutex mu_;
  std::set<std::string> received_;
  int next_ = 0;
};

class HostileClientTest : public ::testing::Test {
 protected:
  // Starts a name server and broker-a with `sets`, and creates `topic` with `queues` queues.
  void StartBroker(const std::vector<std::string>& sets, const std::string& topic = "hostile", int queues = 2) {
    cluster_.StartNamesrv();
    broker_ = cluster_.StartBroker("broker-a", sets);
    ASSERT_FALSE(broker_.empty());
    ASSERT_TRUE(cluster_.WaitForBrokers(1));
    cluster_.CreateTopic(topic, queues);
  }
  pid_t broker_pid() { return cluster_.broker("broker-a").pid(); }
  std::string BrokerLog() { return ReadFile(cluster_.broker("broker-a").log_file()); }

  // A counter of `vela-admin broker status`, -1 when it cannot be read.
  int64_t BrokerCounter(const std::string& name) {
    auto r = cluster_.Admin({"broker", "status", broker_, "--json"}, 20000);
    const std::regex pattern("\"" + name + "\"\\s*:\\s*\"?([0-9]+)");
    std::smatch m;
    if (r.exit_code != 0 || !std::regex_search(r.out, m, pattern)) {
      ADD_FAILURE() << "broker status: " << r.out << r.err;
      return -1;
    }
    return std::stoll(m[1].str());
  }

  TestCluster cluster_;
  std::string broker_;
};

// (a) 100 connections each announcing a 16 MiB frame and sending nothing more: the broker holds
// their bytes, not the announced lengths.
TEST_F(HostileClientTest, LengthPrefixesAnnouncingSixteenMiBAllocateNothing) {
  ASSERT_NO_FATAL_FAILURE(StartBroker({}));
  NormalClient normal(cluster_.namesrv_addrs(), "hostile", "normal-a");
  ASSERT_TRUE(normal.SendAndConsume(10));
  const int64_t rss_before = RssBytes(broker_pid());
  ASSERT_GT(rss_before, 0);
  std::vector<std::unique_ptr<RawConnection>> attackers;
  for (int i = 0; i < 100; ++i) {
    attackers.push_back(std::make_unique<RawConnection>(broker_));
    ASSERT_TRUE(attackers.back()->connected());
    ASSERT_TRUE(attackers.back()->Write(LengthPrefix(16 * kMiB - 4) + std::string(1000, 'h')));
  }
  // Served meanwhile (and by now the broker has read the attackers' bytes).
  ASSERT_TRUE(normal.SendAndConsume(10));
  std::this_thread::sleep_for(500ms);
  const int64_t rss_during = RssBytes(broker_pid());
  // 100 x 16 MiB would be 1.6 GB; one read chunk each is 6.4 MB.
  EXPECT_LT(rss_during - rss_before, 100 * kMiB) << "before " << rss_before << " during " << rss_during;
  std::printf("16 MiB prefixes: broker RSS %lld MiB before, %lld MiB with 100 attackers\n",
              static_cast<long long>(rss_before / kMiB), static_cast<long long>(rss_during / kMiB));
  for (auto& a : attackers) EXPECT_TRUE(a->StillOpen());  // within the idle timeout they stay
  attackers.clear();
  ASSERT_TRUE(normal.SendAndConsume(5));
}

// (b) A client pipelining 20,000 pulls and never reading a response: the broker stops reading
// from it instead of queueing responses without bound, and serves everyone else.
TEST_F(HostileClientTest, PipelinedPullsFromAClientThatNeverReadsStayBounded) {
  ASSERT_NO_FATAL_FAILURE(StartBroker({}, "pipelined", 1));
  NormalClient normal(cluster_.namesrv_addrs(), "pipelined", "normal-b");
  // Give the pulls something to return: 64 messages of 4 KiB on the topic's one queue.
  {
    auto p = client::ProducerBuilder().SetNamesrvAddr(cluster_.namesrv_addrs()).SetGroup("filler").Build();
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    for (int i = 0; i < 64; ++i) ASSERT_TRUE((*p)->Send(client::Message("pipelined", std::string(4096, 'p'))).ok());
    (*p)->Shutdown();
  }
  ASSERT_TRUE(normal.SendAndConsume(5));
  const int64_t rss_before = RssBytes(broker_pid());
  std::string pulls;
  for (int i = 1; i <= 20000; ++i) {
    v1::Header h;
    h.set_request_id(static_cast<uint64_t>(i));
    h.set_code(v1::PULL_MESSAGE);
    h.set_version(net::kProtocolVersion);
    auto* p = h.mutable_pull_request();
    p->set_group("pipeliner");
    p->set_topic("pipelined");
    p->set_queue_id(0);
    p->set_queue_offset(0);
    p->set_max_messages(32);
    p->set_suspend_timeout_ms(0);
    pulls += net::EncodeFrame(h, {});
  }
  auto hostile = std::make_unique<RawConnection>(broker_, /*rcvbuf=*/4096);
  ASSERT_TRUE(hostile->connected());
  std::atomic<bool> writer_done{false};
  std::thread writer([&] {
    hostile->Write(pulls);  // blocks once the broker stops reading; ends when shut down
    writer_done = true;
  });
  int64_t rss_peak = rss_before;
  for (int round = 0; round < 5; ++round) {
    ASSERT_TRUE(normal.SendAndConsume(5)) << "round " << round;
    rss_peak = std::max(rss_peak, RssBytes(broker_pid()));
    std::this_thread::sleep_for(300ms);
  }
  // The pulls fit in the socket buffers (so the writer may be done), but the broker stopped
  // reading them: it handled a few hundred, not 20,000.
  const int64_t pulls_handled = BrokerCounter("pullRequests");
  EXPECT_GE(pulls_handled, 0);
  EXPECT_LT(pulls_handled, 10000) << "writer done: " << writer_done.load();
  std::printf("pipelined pulls: %lld handled, broker RSS %lld MiB before, %lld MiB at the peak\n",
              static_cast<long long>(pulls_handled), static_cast<long long>(rss_before / kMiB),
              static_cast<long long>(rss_peak / kMiB));
  // The default limits hold at most 32 MiB of unsent responses on the connection.
  EXPECT_LT(rss_peak - rss_before, 150 * kMiB) << "before " << rss_before << " peak " << rss_peak;
  hostile->Shutdown();
  writer.join();
  hostile.reset();
  ASSERT_TRUE(normal.SendAndConsume(5));
  std::this_thread::sleep_for(500ms);
  const int64_t rss_after = RssBytes(broker_pid());
  EXPECT_LE(rss_after, rss_peak + 20 * kMiB) << "peak " << rss_peak << " after " << rss_after;
}

// (c) A connection holding a partial frame is closed after the idle timeout (1 s here); a quiet
// connection without a partial frame is not.
TEST_F(HostileClientTest, IdleConnectionHoldingAPartialFrameIsClosed) {
  ASSERT_NO_FATAL_FAILURE(StartBroker({"serverChannelMaxIdleTimeSeconds=1"}));
  NormalClient normal(cluster_.namesrv_addrs(), "hostile", "normal-c");
  ASSERT_TRUE(normal.SendAndConsume(3));
  RawConnection quiet(broker_);
  RawConnection stalled(broker_);
  ASSERT_TRUE(quiet.connected() && stalled.connected());
  ASSERT_TRUE(stalled.Write(LengthPrefix(1000) + std::string(10, 's')));
  EXPECT_TRUE(stalled.ClosedByPeer(30s));
  EXPECT_TRUE(quiet.StillOpen());
  EXPECT_NE(BrokerLog().find("closing idle connection"), std::string::npos);
  ASSERT_TRUE(normal.SendAndConsume(3));
}

// A header over the 1 MiB cap, inside a sound frame, is refused on its request id with its reason;
// the connection goes on serving. (A 100 KB SQL92 expression is under the cap and gets BadFilter:
// input_validation_test.)
TEST_F(HostileClientTest, HeaderOverTheCapIsRefusedOnItsRequestAndTheConnectionGoesOn) {
  ASSERT_NO_FATAL_FAILURE(StartBroker({}));
  RawConnection raw(broker_);
  ASSERT_TRUE(raw.connected());
  v1::Header big;
  big.set_request_id(4242);
  big.set_code(v1::PULL_MESSAGE);
  big.set_version(net::kProtocolVersion);
  big.mutable_pull_request()->set_topic("hostile");
  big.mutable_pull_request()->set_group("g-big");
  big.mutable_pull_request()->set_filter_type(v1::FILTER_SQL92);
  big.mutable_pull_request()->set_expression(std::string(net::kMaxHeaderSize + 1000, 'a'));
  const std::string frame = net::EncodeFrame(big, "");
  ASSERT_TRUE(raw.Write(frame));
  auto reply = raw.ReadFrame();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->header.request_id(), 4242u);
  const uint32_t header_size = coding::GetBigEndian32(frame.data() + 4);
  EXPECT_EQ(reply->header.status().message(), fmt::format("header of {} bytes exceeds the 1024 KiB cap", header_size));
  EXPECT_NE(BrokerLog().find("exceeds the 1024 KiB cap"), std::string::npos);

  // The same connection answers the next request.
  v1::Header small;
  small.set_request_id(4243);
  small.set_code(v1::GET_QUEUE_OFFSETS);
  small.set_version(net::kProtocolVersion);
  small.mutable_queue_offsets_request()->set_topic("hostile");
  ASSERT_TRUE(raw.Write(net::EncodeFrame(small, "")));
  auto second = raw.ReadFrame();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->header.request_id(), 4243u);
  EXPECT_TRUE(raw.StillOpen());
}

// (d) Past serverMaxConnections new connections are closed at once; the ones held are served.
TEST_F(HostileClientTest, ConnectionsPastTheMaximumAreClosed) {
  ASSERT_NO_FATAL_FAILURE(StartBroker({"serverMaxConnections=12"}));
  NormalClient normal(cluster_.namesrv_addrs(), "hostile", "normal-d");
  ASSERT_TRUE(normal.SendAndConsume(3));
  std::vector<std::unique_ptr<RawConnection>> extra;
  for (int i = 0; i < 30; ++i) extra.push_back(std::make_unique<RawConnection>(broker_));
  // The broker accepts (and closes) them one after the other: poll until the 18 over the cap are
  // closed, then give the rest one more look.
  std::vector<bool> is_closed(extra.size(), false);
  int closed = 0;
  auto look = [&](std::chrono::milliseconds each) {
    for (size_t i = 0; i < extra.size(); ++i) {
      if (!is_closed[i] && extra[i]->ClosedByPeer(each)) {
        is_closed[i] = true;
        ++closed;
      }
    }
  };
  for (const auto deadline = Clock::now() + 20s; closed < 18 && Clock::now() < deadline;) look(50ms);
  look(200ms);
  // The normal client holds a few connections; at most 12 in all stay open.
  EXPECT_GE(closed, 18);
  EXPECT_LT(closed, 30);
  ASSERT_TRUE(normal.SendAndConsume(3));
  EXPECT_NE(BrokerLog().find("serverMaxConnections"), std::string::npos);
}

// (e) A broker started with a low open-file limit and hit with more connections than it can hold:
// no busy loop (the log stays small), it keeps serving its clients, and checkpoints keep being
// written (descriptors stay free for the store).
TEST_F(HostileClientTest, AtTheOpenFileLimitTheBrokerServesAndCheckpoints) {
  cluster_.StartNamesrv();
  const std::string store = cluster_.StoreDir("broker-low-fd");
  const std::string listen = "127.0.0.1:" + std::to_string(FreePort());
  const std::string log_file = cluster_.dir().str() + "/broker-low-fd.log";
  // `ulimit -n` in a shell that then execs the broker: the broker keeps the shell's pid.
  auto started = ChildProcess::Start(
      {"/bin/sh", "-c", "ulimit -n 256 && exec \"$0\" \"$@\"", BinaryPath("vela-broker"), "--listen", listen,
       "--store-dir", store, "--namesrv", cluster_.namesrv_addrs(), "--set", "brokerName=broker-low-fd", "--set",
       "httpPort=0", "--set",
       "mappedFileSizeCommitLog=8m", "--set", "mappedFileSizeConsumeQueue=120000", "--set",
       "flushIntervalConsumeQueue=200"},
      log_file);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  ChildProcess broker = std::move(started).value();
  ASSERT_TRUE(cluster_.WaitForBrokers(1));
  cluster_.CreateTopic("lowfd", 2);
  NormalClient normal(cluster_.namesrv_addrs(), "lowfd", "normal-e");
  ASSERT_TRUE(normal.SendAndConsume(5));

  std::vector<std::unique_ptr<RawConnection>> flood;
  for (int i = 0; i < 400; ++i) flood.push_back(std::make_unique<RawConnection>(broker.address()));
  const auto checkpoint = std::filesystem::path(store) / "checkpoint";
  const auto stamp_after_flood = std::filesystem::last_write_time(checkpoint);
  const uintmax_t log_after_flood = std::filesystem::file_size(log_file);
  ASSERT_TRUE(normal.SendAndConsume(10));
  // Checkpoints go on: the file is rewritten after the flood.
  EXPECT_TRUE(WaitUntil([&] { return std::filesystem::last_write_time(checkpoint) != stamp_after_flood; }, 20s));
  std::this_thread::sleep_for(2s);  // a busy loop would write megabytes meanwhile
  const std::string log = ReadFile(log_file);
  EXPECT_LT(log.size(), 256u * 1024) << "log grew from " << log_after_flood;
  EXPECT_EQ(log.find("checkpoint failed"), std::string::npos) << log.substr(0, 4000);
  EXPECT_NE(log.find("open-file limit"), std::string::npos) << log.substr(0, 4000);
  EXPECT_LE(CountOccurrences(log, "closing new connection"), 20u);
  ASSERT_TRUE(broker.running());
  flood.clear();
  ASSERT_TRUE(normal.SendAndConsume(5));
}

}  // namespace
}  // namespace vela::testing
