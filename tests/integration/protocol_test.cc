// The wire protocol against a real broker: frames that must be served and frames that must be
// refused, while other clients keep being served.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <sstream>

#include <gtest/gtest.h>

#include "cluster.h"
#include "common/coding.h"
#include "common/message_id.h"
#include "common/message_record.h"
#include "net/frame_codec.h"
#include "net/rpc_client.h"
#include "net/wire_status.h"

namespace vela::testing {
namespace {

// A raw TCP connection for sending hand-made bytes.
class RawSocket {
 public:
  explicit RawSocket(const std::string& addr) {
    auto colon = addr.rfind(':');
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(std::stoi(addr.substr(colon + 1))));
    inet_pton(AF_INET, addr.substr(0, colon).c_str(), &sa.sin_addr);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~RawSocket() { close(fd_); }
  bool connected() const { return connected_; }
  void Write(std::string_view bytes) { (void)!write(fd_, bytes.data(), bytes.size()); }
  void ShutdownWrite() { shutdown(fd_, SHUT_WR); }
  // Reads one frame; returns false on close or timeout.
  bool ReadFrame(net::Frame* out) {
    char len[4];
    if (!ReadExact(len, 4)) return false;
    uint32_t n = coding::GetBigEndian32(len);
    std::string rest(n, '\0');
    if (!ReadExact(rest.data(), n)) return false;
    auto f = net::DecodeFrame(rest);
    if (!f.ok()) return false;
    *out = std::move(f).value();
    return true;
  }
  // True when the peer closed the connection (read returns 0) within the timeout.
  bool PeerClosed() {
    char b[256];
    for (;;) {
      ssize_t n = read(fd_, b, sizeof(b));
      if (n == 0) return true;
      if (n < 0) return false;
    }
  }

 private:
  bool ReadExact(char* p, size_t n) {
    while (n > 0) {
      ssize_t r = read(fd_, p, n);
      if (r <= 0) return false;
      p += r;
      n -= static_cast<size_t>(r);
    }
    return true;
  }
  int fd_ = -1;
  bool connected_ = false;
};

std::string EncodeOne(const std::string& topic, int queue, const std::string& body, const std::string& msg_id) {
  std::string props = EncodeProperties({{"TAGS", "TagA"}, {"KEYS", "order-1"}});
  RecordFields f;
  f.topic = topic;
  f.queue_id = static_cast<uint32_t>(queue);
  f.born_timestamp_ms = 1;
  f.msg_id = msg_id;
  f.properties = props;
  f.body = body;
  std::string out;
  EncodeRecord(f, &out);
  return out;
}

class ProtocolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_.StartNamesrv();
    broker_ = cluster_.StartBroker("broker-a", {"maxMessageSize=65536"});
    ASSERT_FALSE(broker_.empty());
    v1::Header h;
    h.set_code(v1::CREATE_TOPIC);
    h.mutable_create_topic_request()->set_name("orders");
    h.mutable_create_topic_request()->set_write_queues(2);
    auto r = client_.InvokeSync(broker_, h, {}, 5000);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  Result<net::Frame> Send(const std::string& topic, const std::string& body, const std::string& id = NewMessageId(),
                          bool compact_receipts = false) {
    v1::Header h;
    h.set_code(v1::SEND_MESSAGE);
    h.mutable_send_request()->set_compact_receipts(compact_receipts);
    h.mutable_send_request()->set_topic(topic);
    h.mutable_send_request()->set_queue_id(0);
    h.mutable_send_request()->set_message_count(1);
    return client_.InvokeSync(broker_, h, net::OutBody(EncodeOne(topic, 0, body, id)), 5000);
  }

  // The broker still serves a normal client: a send succeeds.
  void ExpectStillServing() {
    auto r = Send("orders", "still alive");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  std::string BrokerLog() { return ReadFile(cluster_.broker("broker-a").log_file()); }

  TestCluster cluster_;
  std::string broker_;
  net::RpcClient client_;
};

TEST_F(ProtocolTest, SendsAndPullsBackTheSameBytes) {
  std::string id = NewMessageId();
  auto sent = Send("orders", "hello vela", id);
  ASSERT_TRUE(sent.ok()) << sent.status().ToString();
  ASSERT_EQ(sent->header.send_response().receipts_size(), 1);
  EXPECT_EQ(sent->header.send_response().receipts(0).msg_id(), id);
  EXPECT_FALSE(sent->header.send_response().has_compact_receipt());
  // The compact form (what the SDK asks for) says the same with no message per record.
  const v1::SendReceipt& first = sent->header.send_response().receipts(0);
  auto compact = Send("orders", "hello again", NewMessageId(), /*compact_receipts=*/true);
  ASSERT_TRUE(compact.ok()) << compact.status().ToString();
  ASSERT_EQ(compact->header.send_response().receipts_size(), 0);
  const v1::CompactReceipt& c = compact->header.send_response().compact_receipt();
  EXPECT_EQ(c.queue_id(), 0);
  EXPECT_EQ(c.first_queue_offset(), first.queue_offset() + 1);
  ASSERT_EQ(c.physical_offsets_size(), 1);
  EXPECT_GT(c.physical_offsets(0), first.physical_offset());
  EXPECT_EQ(MakeOffsetId(c.store_host(), first.physical_offset()), first.offset_id());
  v1::Header h;
  h.set_code(v1::PULL_MESSAGE);
  auto* p = h.mutable_pull_request();
  p->set_group("g1");
  p->set_topic("orders");
  p->set_queue_id(0);
  p->set_queue_offset(0);
  p->set_max_messages(32);
  p->set_suspend_timeout_ms(3000);
  auto pulled = client_.InvokeSync(broker_, h, {}, 5000);
  ASSERT_TRUE(pulled.ok()) << pulled.status().ToString();
  EXPECT_EQ(pulled->header.pull_response().outcome(), v1::PULL_FOUND);
  RecordView v;
  ASSERT_EQ(DecodeRecord(pulled->body, true, &v), DecodeOutcome::kRecord)
      << "body of " << pulled->body.size() << " bytes, " << pulled->header.pull_response().message_count()
      << " messages: " << coding::ToHex(pulled->body.substr(0, 16));
  EXPECT_EQ(v.body, "hello vela");
  EXPECT_EQ(v.msg_id, id);
  EXPECT_EQ(v.Tag(), "TagA");
}

TEST_F(ProtocolTest, RefusesRandomBytesAndKeepsServing) {
  RawSocket s(broker_);
  ASSERT_TRUE(s.connected());
  std::mt19937 rng(42);
  std::string junk(4096, '\0');
  for (auto& c : junk) c = static_cast<char>(rng());
  junk[0] = 0;  // keep the claimed length plausible so the header parse is what fails
  junk[1] = 0;
  junk[2] = 0x0f;
  junk[3] = 0xfc;
  s.Write(junk);
  net::Frame f;
  if (s.ReadFrame(&f)) {
    EXPECT_NE(f.header.status().code(), 0);
  }
  EXPECT_TRUE(s.PeerClosed());
  ExpectStillServing();
}

TEST_F(ProtocolTest, RefusesFrameClaimingTwoGigabytes) {
  RawSocket s(broker_);
  char len[4];
  coding::PutBigEndian32(len, 0x80000000u);
  s.Write(std::string_view(len, 4));
  net::Frame f;
  ASSERT_TRUE(s.ReadFrame(&f));
  EXPECT_EQ(f.header.status().sub_code(), static_cast<int>(SubCode::kFrameTooLarge));
  EXPECT_NE(f.header.status().message().find("exceeds the maximum"), std::string::npos);
  EXPECT_TRUE(s.PeerClosed());
  ExpectStillServing();
  EXPECT_NE(BrokerLog().find("refusing frame"), std::string::npos);
}

TEST_F(ProtocolTest, TruncatedFrameOnlyClosesThatConnection) {
  {
    RawSocket s(broker_);
    v1::Header h;
    h.set_code(v1::SEND_MESSAGE);
    std::string frame = net::EncodeFrame(h, std::string(100, 'x'));
    s.Write(std::string_view(frame).substr(0, frame.size() / 2));
    s.ShutdownWrite();
    EXPECT_TRUE(s.PeerClosed());
  }
  ExpectStillServing();
}

TEST_F(ProtocolTest, UnknownRequestCodeGetsAnError) {
  v1::Header h;
  h.set_code(static_cast<v1::RequestCode>(9999));
  auto r = client_.InvokeSync(broker_, h, {}, 5000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnimplemented);
  ExpectStillServing();
}

TEST_F(ProtocolTest, SendToUnknownTopicIsRefused) {
  auto r = Send("no-such-topic", "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.status().subcode(), SubCode::kTopicNotFound);
  ExpectStillServing();
}

TEST_F(ProtocolTest, OversizeMessageIsRefused) {
  auto r = Send("orders", std::string(65537, 'x'));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().subcode(), SubCode::kMessageTooLarge);
  ExpectStillServing();
}

TEST_F(ProtocolTest, CorruptRecordInSendIsRefused) {
  v1::Header h;
  h.set_code(v1::SEND_MESSAGE);
  h.mutable_send_request()->set_topic("orders");
  h.mutable_send_request()->set_queue_id(0);
  std::string rec = EncodeOne("orders", 0, "payload", NewMessageId());
  rec[rec.size() - 1] ^= 1;  // CRC no longer matches
  auto r = client_.InvokeSync(broker_, h, net::OutBody(rec), 5000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  ExpectStillServing();
}

}  // namespace
}  // namespace vela::testing
