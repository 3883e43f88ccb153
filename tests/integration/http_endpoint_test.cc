// The HTTP endpoint of real daemons (issue 15): /metrics checked against the traffic a test sent
// and consumed and parsed as Prometheus text, the JSON API, and hostile HTTP clients (garbage,
// huge headers, unknown paths, slow connections) while messaging goes on.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cluster.h"
#include "prometheus_text.h"
#include "support/test_support.h"
#include "vela/consumer.h"
#include "vela/producer.h"

namespace vela::testing {
namespace {

using namespace std::chrono_literals;

struct HttpReply {
  int status = -1;
  std::string headers;
  std::string body;
};

// A connected loopback socket to "host:port", or -1.
int ConnectTo(const std::string& addr) {
  const auto colon = addr.rfind(':');
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(std::stoi(addr.substr(colon + 1))));
  inet_pton(AF_INET, addr.substr(0, colon).c_str(), &sa.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Sends `bytes`, then reads until the server closes or a whole response arrived (at most timeout_ms).
std::string RawExchange(const std::string& addr, const std::string& bytes, int timeout_ms = 15000) {
  int fd = ConnectTo(addr);
  if (fd < 0) return "";
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline && !HttpResponseComplete(out)) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    char buf[16384];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

HttpReply Parse(const std::string& raw) {
  HttpReply r;
  if (raw.rfind("HTTP/1.1 ", 0) != 0 || raw.size() < 12) return r;
  r.status = std::stoi(raw.substr(9, 3));
  const auto end = raw.find("\r\n\r\n");
  r.headers = raw.substr(0, end);
  if (end != std::string::npos) r.body = raw.substr(end + 4);
  return r;
}

HttpReply HttpGet(const std::string& addr, const std::string& target) {
  return Parse(RawExchange(addr, "GET " + target + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"));
}

// POST `form` (application/x-www-form-urlencoded) to `target`, with the console's write header
// unless `with_write_header` is false.
HttpReply HttpPost(const std::string& addr, const std::string& target, const std::string& form,
                   bool with_write_header = true) {
  return Parse(RawExchange(addr, "POST " + target + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n" +
                                     (with_write_header ? "X-Vela-Console: write\r\n" : "") +
                                     "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
                                     std::to_string(form.size()) + "\r\n\r\n" + form));
}

// The metrics of `addr`, parsed strictly (fails the test when the text is not valid).
PrometheusText Scrape(const std::string& addr) {
  HttpReply r = HttpGet(addr, "/metrics");
  EXPECT_EQ(r.status, 200) << r.headers;
  EXPECT_NE(r.headers.find("Content-Type: text/plain; version=0.0.4"), std::string::npos) << r.headers;
  PrometheusText text;
  std::string error;
  EXPECT_TRUE(text.Parse(r.body, &error)) << error << "\n" << r.body;
  return text;
}

int SendMany(client::Producer& producer, const std::string& topic, int count) {
  int ok = 0;
  for (int i = 0; i < count; ++i) {
    client::Message m(topic, "body-" + std::to_string(i));
    m.keys = {"key-" + std::to_string(i)};
    if (producer.Send(m).ok()) ++ok;
  }
  return ok;
}

class HttpEndpointTest : public ::testing::Test {
 protected:
  void StartCluster(const std::string& topic, int queues, std::vector<std::string> broker_settings = {}) {
    cluster_.StartNamesrv();
    cluster_.StartBroker("broker-a", broker_settings);
    ASSERT_TRUE(cluster_.WaitForBrokers(1));
    cluster_.CreateTopic(topic, queues);
    broker_http_ = cluster_.broker("broker-a").http_address();
    namesrv_http_ = cluster_.namesrv(0).http_address();
    ASSERT_FALSE(broker_http_.empty()) << "the broker printed no `http on` line";
    ASSERT_FALSE(namesrv_http_.empty()) << "the name server printed no `http on` line";
  }
  TestCluster cluster_;
  std::string broker_http_;
  std::string namesrv_http_;
};

TEST(PrometheusTextTest, TheTestParserIsStrict) {
  PrometheusText ok;
  std::string error;
  EXPECT_TRUE(ok.Parse("# HELP a_total x\n# TYPE a_total counter\na_total{t=\"q\\\"\\n\\\\\"} 3\n", &error)) << error;
  EXPECT_DOUBLE_EQ(ok.Sum("a_total"), 3);
  for (const char* bad : {
           "a_total 1\n",                                            // no TYPE
           "# TYPE a counter\na 1",                                  // no final newline
           "# TYPE a counter\na{t=\"x\"} one\n",                     // bad value
           "# TYPE a counter\na{t=x} 1\n",                           // unquoted
           "# TYPE a counter\na{t=\"x\",} 1\n",                      // trailing comma
           "# TYPE a counter\na{__t=\"x\"} 1\n",                     // reserved label name
           "# TYPE 1a counter\n",                                    // bad name
           "# TYPE a counter\na 1\na 2\n",                           // series twice
           "# TYPE a counter\n# TYPE a gauge\n",                     // TYPE twice
           "# TYPE a counter\na{t=\"\\x\"} 1\n",                     // bad escape
           "# COMMENT x\n",                                          // not HELP/TYPE
           "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum 0\n",  // not cumulative
       }) {
    PrometheusText text;
    EXPECT_FALSE(text.Parse(bad, &error)) << "accepted: " << bad;
  }
}

TEST_F(HttpEndpointTest, MetricsMatchWhatWasSentAndConsumed) {
  const std::string topic = "metered";
  const std::string group = "metered-group";
  ASSERT_NO_FATAL_FAILURE(StartCluster(topic, 4));
  const std::string ns = cluster_.namesrv_addrs();
  auto producer = MakeProducer(ns, "http-test-producers");
  ASSERT_TRUE(producer);

  // M messages sent and consumed by the group, then N - M more sent while nobody consumes.
  constexpr int kConsumed = 40;
  constexpr int kLeft = 25;
  constexpr int kSent = kConsumed + kLeft;
  ASSERT_EQ(SendMany(*producer, topic, kConsumed), kConsumed);
  std::mutex mu;
  std::set<std::string> received;
  {
    auto consumer = client::PushConsumerBuilder()
                        .SetNamesrvAddr(ns)
                        .SetGroup(group)
                        .Subscribe(topic, client::FilterExpression::All())
                        .SetConsumeFrom(client::ConsumeFrom::kFirst)
                        .SetListener([&](const client::MessageView& m) {
                          std::lock_guard lock(mu);
                          received.insert(m.msg_id);
                          return client::ConsumeResult::kSuccess;
                        })
                        .Build();
    ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
    ASSERT_TRUE(WaitUntil([&] {
      std::lock_guard lock(mu);
      return received.size() >= static_cast<size_t>(kConsumed);
    })) << "consumed " << received.size();
    (*consumer)->Shutdown();  // commits the offsets
  }
  ASSERT_EQ(SendMany(*producer, topic, kLeft), kLeft);

  const std::map<std::string, std::string> of_group = {{"topic", topic}, {"consumer_group", group}};
  PrometheusText m;
  ASSERT_TRUE(WaitUntil([&] {
    m = Scrape(broker_http_);
    return m.Sum("rocketmq_consumer_lag_messages", of_group) == kLeft;
  })) << "lag " << m.Sum("rocketmq_consumer_lag_messages", of_group);

  // Messages in: N for the topic (every message_type), and its bytes.
  EXPECT_EQ(m.Sum("rocketmq_messages_in_total", {{"topic", topic}}), kSent);
  EXPECT_GT(m.Sum("rocketmq_throughput_in_total", {{"topic", topic}}), 0);
  // Lag: N - M summed over the queues, the same per queue; one series per queue of the topic.
  EXPECT_EQ(m.Sum("vela_consumer_queue_lag_messages", of_group), kLeft);
  EXPECT_EQ(m.Count("vela_consumer_queue_lag_messages", of_group), 4u);
  // Messages out to the group: at least M (a redelivery would add).
  EXPECT_GE(m.Sum("rocketmq_messages_out_total", of_group), kConsumed);
  // RPC latency per request code: every send was answered and observed.
  EXPECT_GE(m.Sum("rocketmq_rpc_latency_count", {{"request_code", "SEND_MESSAGE"}, {"response_code", "OK"}}), kSent);
  EXPECT_GT(m.Sum("rocketmq_rpc_latency_count", {{"request_code", "PULL_MESSAGE"}}), 0);
  // The store and the registry's other families.
  EXPECT_GT(m.Sum("rocketmq_storage_size"), 0);
  EXPECT_GT(m.Sum("vela_store_disk_total_bytes"), 0);
  EXPECT_GT(m.Sum("vela_store_disk_used_ratio"), 0);
  EXPECT_LE(m.Sum("vela_store_disk_used_ratio"), 1);
  EXPECT_GE(m.Sum("rocketmq_topic_number"), 1);
  EXPECT_GE(m.Sum("rocketmq_consumer_group_number"), 1);
  for (const char* family : {"vela_store_flush_latency_seconds", "vela_timer_lateness_seconds",
                             "vela_transaction_checks_total", "vela_build_info", "rocketmq_storage_flush_behind_bytes"}) {
    EXPECT_TRUE(m.types().count(family)) << family;
  }
  // Flushes happen every flushIntervalCommitLog (500 ms) while there is something to flush.
  EXPECT_TRUE(WaitUntil([&] { return Scrape(broker_http_).Sum("vela_store_flush_latency_seconds_count") > 0; }));

  // The name server: one broker, its topics, route requests answered.
  PrometheusText n = Scrape(namesrv_http_);
  EXPECT_EQ(n.Sum("vela_namesrv_brokers"), 1);
  EXPECT_GE(n.Sum("vela_namesrv_topics"), 1);
  EXPECT_GT(n.Sum("vela_namesrv_route_requests_total", {{"result", "found"}}), 0);
  EXPECT_GT(n.Sum("rocketmq_rpc_latency_count", {{"request_code", "REGISTER_BROKER"}}), 0);

  // The JSON API tells the same story.
  HttpReply topics = HttpGet(broker_http_, "/api/topics");
  ASSERT_EQ(topics.status, 200) << topics.body;
  auto j = nlohmann::json::parse(topics.body);
  bool found = false;
  for (const auto& t : j["topics"]) {
    if (t["name"] != topic) continue;
    found = true;
    ASSERT_EQ(t["queues"].size(), 4u);
    int64_t total = 0;
    for (const auto& q : t["queues"]) total += q["maxOffset"].get<int64_t>() - q["minOffset"].get<int64_t>();
    EXPECT_EQ(total, kSent);
  }
  EXPECT_TRUE(found) << topics.body;
  HttpReply cluster = HttpGet(broker_http_, "/api/cluster");
  ASSERT_EQ(cluster.status, 200) << cluster.body;
  auto c = nlohmann::json::parse(cluster.body);
  EXPECT_EQ(c["brokerName"], "broker-a");
  EXPECT_EQ(c["brokerAddr"], cluster_.broker("broker-a").address());
  EXPECT_FALSE(c["version"].get<std::string>().empty());
  EXPECT_GE(c["uptimeMs"].get<int64_t>(), 0);
  EXPECT_GT(c["store"]["disk"]["totalBytes"].get<double>(), 0);
}

TEST_F(HttpEndpointTest, BadHttpClientsGetClearErrorsAndMessagingGoesOn) {
  const std::string topic = "hostile-http";
  // More workers than slow clients: each slow client holds one until its read timeout (5 s), and
  // the requests below are not queued behind them (a unit test covers a worker freed by the
  // timeout: ASlowClientIsCutOffAndOthersAreServed).
  ASSERT_NO_FATAL_FAILURE(StartCluster(topic, 2, {"httpThreads=16"}));
  auto producer = MakeProducer(cluster_.namesrv_addrs(), "http-test-producers");
  ASSERT_TRUE(producer);

  // Slow clients: connections that send half a request, or nothing, and hold on.
  std::vector<int> slow;
  for (int i = 0; i < 8; ++i) {
    int fd = ConnectTo(broker_http_);
    ASSERT_GE(fd, 0);
    if (i % 2 == 0) send(fd, "GET /metrics HTTP/1.1\r\nHo", 25, MSG_NOSIGNAL);
    slow.push_back(fd);
  }
  // Messaging goes on meanwhile, and keeps going between every bad request below.
  std::atomic<bool> stop{false};
  std::atomic<int> sent{0}, failed{0};
  std::thread sender([&] {
    while (!stop) {
      client::Message m(topic, "x");
      (producer->Send(m).ok() ? sent : failed)++;
      std::this_thread::sleep_for(10ms);
    }
  });

  // Garbage instead of HTTP.
  HttpReply garbage = Parse(RawExchange(broker_http_, std::string("\x16\x03\x01\x00\xff\x01garbage\r\n\r\n", 17)));
  EXPECT_EQ(garbage.status, 400) << garbage.headers;
  // A huge header line, then a huge request line.
  HttpReply huge = Parse(RawExchange(
      broker_http_, "GET /metrics HTTP/1.1\r\nHost: t\r\nX-Huge: " + std::string(1 << 20, 'h') + "\r\n\r\n"));
  EXPECT_TRUE(huge.status == 400 || huge.status == -1) << huge.status;  // refused, or cut off
  HttpReply long_line =
      Parse(RawExchange(broker_http_, "GET /api/topics?after=" + std::string(100000, 'a') + " HTTP/1.1\r\n\r\n"));
  EXPECT_TRUE(long_line.status == 400 || long_line.status == 414 || long_line.status == -1) << long_line.status;
  // Unknown paths and ids, malformed or unknown query parameters, other methods.
  HttpReply unknown = HttpGet(broker_http_, "/no/such/page");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body, "not found: /no/such/page\n");
  HttpReply bad_query = HttpGet(broker_http_, "/api/topics?limit=%zz");
  EXPECT_EQ(bad_query.status, 400);
  EXPECT_NE(bad_query.body.find("\"error\""), std::string::npos) << bad_query.body;
  EXPECT_EQ(HttpGet(broker_http_, "/api/topics?limit=0").status, 400);
  EXPECT_EQ(HttpGet(broker_http_, "/api/topics?limit=12abc").status, 400);
  EXPECT_EQ(HttpGet(broker_http_, "/api/topics?sort=name").status, 400);
  EXPECT_EQ(HttpGet(broker_http_, "/metrics?x=1").status, 400);
  EXPECT_EQ(Parse(RawExchange(broker_http_, "DELETE /api/topics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")).status,
            405);
  EXPECT_EQ(HttpGet(namesrv_http_, "/api/cluster").status, 404);  // the name server serves /metrics only

  // Served meanwhile, slow clients still connected.
  EXPECT_EQ(HttpGet(broker_http_, "/metrics").status, 200);
  EXPECT_EQ(HttpGet(broker_http_, "/api/topics?limit=1").status, 200);
  EXPECT_EQ(HttpGet(namesrv_http_, "/metrics").status, 200);
  // The slow clients are cut off by the read timeout (5 s), without an answer they could use.
  for (int fd : slow) {
    std::string got;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    bool closed = false;
    while (!closed && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char buf[512];
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) closed = true;
    }
    EXPECT_TRUE(closed) << "a slow HTTP client was never cut off";
    close(fd);
  }
  stop = true;
  sender.join();
  EXPECT_GT(sent.load(), 0);
  EXPECT_EQ(failed.load(), 0) << "sends failed while the HTTP port was abused";
  EXPECT_TRUE(cluster_.broker("broker-a").running());
  EXPECT_TRUE(cluster_.namesrv(0).running());
}

TEST(HttpSettingsTest, BadPortsAreRefusedAndMinusOneTurnsHttpOff) {
  TempDir dir;
  for (const char* bad : {"httpPort=65536", "httpPort=-2", "httpPort=web", "httpThreads=0"}) {
    auto r = RunCommand({BinaryPath("vela-broker"), "--store-dir", dir.str() + "/s", "--set", bad, "--print-config"});
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_NE(r.err.find(std::string(bad).substr(0, std::string(bad).find('='))), std::string::npos) << r.err;
    auto n = RunCommand({BinaryPath("vela-namesrv"), "--set", bad, "--print-config"});
    EXPECT_EQ(n.exit_code, 2) << bad;
  }
  auto off = ChildProcess::Start({BinaryPath("vela-namesrv"), "--listen", "127.0.0.1:0", "--set", "httpPort=-1"},
                                 dir.str() + "/ns-off.log");
  ASSERT_TRUE(off.ok()) << off.status().ToString();
  EXPECT_TRUE(off->http_address().empty());
  // A port in use stops the daemon at start, naming the port.
  auto first = ChildProcess::Start({BinaryPath("vela-namesrv"), "--listen", "127.0.0.1:0", "--set", "httpPort=0"},
                                   dir.str() + "/ns1.log");
  ASSERT_TRUE(first.ok());
  const std::string taken = first->http_address().substr(first->http_address().rfind(':') + 1);
  auto second = RunCommand({BinaryPath("vela-namesrv"), "--listen", "127.0.0.1:0", "--set", "httpPort=" + taken}, 15000);
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.err.find("cannot bind 127.0.0.1:" + taken), std::string::npos) << second.err;
}

// Issue 15, the console's write actions off (the default): the POST routes answer 403 naming the
// setting, and /api/cluster says they are off.
TEST_F(HttpEndpointTest, ConsoleWritesAreRefusedWhenOff) {
  StartCluster("console-off", 1);
  for (const auto& [target, form] : {std::pair{"/api/dlq/resend", "group=g&all=true"},
                                     std::pair{"/api/groups/reset-offset", "group=g&topic=console-off&to=earliest"}}) {
    HttpReply r = HttpPost(broker_http_, target, form);
    EXPECT_EQ(r.status, 403) << target << ": " << r.body;
    EXPECT_NE(r.body.find("\"error\""), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("consoleWriteEnabled=false"), std::string::npos) << r.body;
  }
  EXPECT_EQ(nlohmann::json::parse(HttpGet(broker_http_, "/api/cluster").body)["consoleWriteEnabled"], false);
}

// Issue 15, the console's write actions on: dead letters resent by id and all (consumed again by
// the group through the SDK), offsets reset (the lag shows again), and every refusal: no write
// header, bad parameters, unknown group, topic or message.
TEST_F(HttpEndpointTest, ConsoleWritesResendDeadLettersAndResetOffsets) {
  const std::string topic = "console-writes";
  const std::string group = "console-g";
  StartCluster(topic, 2, {"consoleWriteEnabled=true"});
  EXPECT_EQ(nlohmann::json::parse(HttpGet(broker_http_, "/api/cluster").body)["consoleWriteEnabled"], true);
  ASSERT_EQ(cluster_.Admin({"group", "create", group, "--max-retries", "0"}).exit_code, 0);
  auto producer = MakeProducer(cluster_.namesrv_addrs(), "http-test-producers");
  ASSERT_NE(producer, nullptr);
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto receipt = producer->Send(client::Message(topic, "dead-" + std::to_string(i)));
    ASSERT_TRUE(receipt.ok()) << receipt.status().ToString();
    ids.push_back(receipt->msg_id);
  }
  // The group fails every message once: with no retries each becomes a dead letter at once.
  std::mutex mu;
  std::multiset<std::string> delivered;
  std::atomic<bool> failing{true};
  auto consumer = client::PushConsumerBuilder()
                      .SetNamesrvAddr(cluster_.namesrv_addrs())
                      .SetGroup(group)
                      .Subscribe(topic, client::FilterExpression::All())
                      .SetConsumeFrom(client::ConsumeFrom::kFirst)
                      .SetListener([&](const client::MessageView& m) {
                        std::lock_guard lock(mu);
                        delivered.insert(m.msg_id);
                        return failing ? client::ConsumeResult::kFailure : client::ConsumeResult::kSuccess;
                      })
                      .Build();
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  auto dead_letters = [&] {
    HttpReply r = HttpGet(broker_http_, "/api/dlq?group=" + group);
    return r.status == 200 ? nlohmann::json::parse(r.body)["messages"].size() : 0;
  };
  ASSERT_TRUE(WaitUntil([&] { return dead_letters() == 3; })) << HttpGet(broker_http_, "/api/dlq?group=" + group).body;
  failing = false;
  auto times_delivered = [&](const std::string& id) {
    std::lock_guard lock(mu);
    return delivered.count(id);
  };

  // Refusals: no header (what a form of another site sends), bad parameters, unknown names.
  HttpReply no_header = HttpPost(broker_http_, "/api/dlq/resend", "group=" + group + "&id=" + ids[0], false);
  EXPECT_EQ(no_header.status, 403) << no_header.body;
  EXPECT_NE(no_header.body.find("X-Vela-Console: write"), std::string::npos) << no_header.body;
  EXPECT_EQ(HttpPost(broker_http_, "/api/dlq/resend", "id=" + ids[0]).status, 400);
  EXPECT_EQ(HttpPost(broker_http_, "/api/dlq/resend", "group=" + group).status, 400);
  EXPECT_EQ(HttpPost(broker_http_, "/api/dlq/resend", "group=" + group + "&id=" + ids[0] + "&all=true").status, 400);
  EXPECT_EQ(HttpPost(broker_http_, "/api/dlq/resend", "group=" + group + "&all=yes").status, 400);
  EXPECT_EQ(HttpPost(broker_http_, "/api/dlq/resend", "group=" + group + "&id=not%20an%20id").status, 400);
  EXPECT_EQ(HttpPost(broker_http_, "/api/dlq/resend", "group=" + group + "&idd=x").status, 400);
  EXPECT_EQ(HttpPost(broker_http_, "/api/dlq/resend?group=" + group + "&all=true", "").status, 400);
  EXPECT_EQ(HttpPost(broker_http_, "/api/dlq/resend", "group=no-such-group&all=true").status, 404);
  HttpReply unknown_id = HttpPost(broker_http_, "/api/dlq/resend", "group=" + group + "&id=" + std::string(32, '0'));
  EXPECT_EQ(unknown_id.status, 404) << unknown_id.body;
  EXPECT_EQ(HttpGet(broker_http_, "/api/dlq/resend?group=" + group + "&all=true").status, 405);
  EXPECT_EQ(dead_letters(), 3u);  // none of these resent anything

  // Resend one by id: the group consumes it again (through %RETRY%<group>).
  HttpReply one = HttpPost(broker_http_, "/api/dlq/resend", "group=" + group + "&id=" + ids[0]);
  ASSERT_EQ(one.status, 200) << one.body;
  auto one_json = nlohmann::json::parse(one.body);
  EXPECT_EQ(one_json["resent"], 1) << one.body;
  EXPECT_EQ(one_json["ids"], nlohmann::json::array({ids[0]})) << one.body;
  EXPECT_TRUE(WaitUntil([&] { return times_delivered(ids[0]) == 2; })) << times_delivered(ids[0]);
  EXPECT_EQ(dead_letters(), 2u);
  EXPECT_EQ(HttpPost(broker_http_, "/api/dlq/resend", "group=" + group + "&id=" + ids[0]).status, 404);  // once
  // Resend all: the other two.
  HttpReply all = HttpPost(broker_http_, "/api/dlq/resend", "group=" + group + "&all=true");
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(nlohmann::json::parse(all.body)["resent"], 2) << all.body;
  EXPECT_TRUE(WaitUntil([&] { return times_delivered(ids[1]) == 2 && times_delivered(ids[2]) == 2; }));
  EXPECT_EQ(dead_letters(), 0u);
  EXPECT_EQ(nlohmann::json::parse(HttpPost(broker_http_, "/api/dlq/resend", "group=" + group + "&all=true").body)["resent"], 0);
  (*consumer)->Shutdown();

  // Reset offsets: the group consumed the topic (lag 0); back to the earliest, its lag is 3 again.
  auto lag = [&] {
    HttpReply r = HttpGet(broker_http_, "/api/groups?name=" + group);
    if (r.status != 200) return int64_t{-1};
    const auto doc = nlohmann::json::parse(r.body);
    for (const auto& t : doc["groups"][0]["topics"]) {
      if (t["topic"] == topic) return t["lag"].get<int64_t>();
    }
    return int64_t{-1};
  };
  ASSERT_TRUE(WaitUntil([&] { return lag() == 0; })) << HttpGet(broker_http_, "/api/groups?name=" + group).body;
  const std::string reset = "/api/groups/reset-offset";
  const std::string base = "group=" + group + "&topic=" + topic;
  EXPECT_EQ(HttpPost(broker_http_, reset, base + "&to=earliest", false).status, 403);
  EXPECT_EQ(HttpPost(broker_http_, reset, base + "&to=middle").status, 400);
  EXPECT_EQ(HttpPost(broker_http_, reset, base).status, 400);
  EXPECT_EQ(HttpPost(broker_http_, reset, base + "&to=earliest&time=0").status, 400);
  EXPECT_EQ(HttpPost(broker_http_, reset, base + "&time=-5").status, 400);
  EXPECT_EQ(HttpPost(broker_http_, reset, base + "&time=12x").status, 400);
  EXPECT_EQ(HttpPost(broker_http_, reset, "group=" + group + "&to=earliest").status, 400);
  EXPECT_EQ(HttpPost(broker_http_, reset, "group=" + group + "&topic=NoSuchTopic&to=earliest").status, 404);
  EXPECT_EQ(HttpPost(broker_http_, reset, "group=no-such-group&topic=" + topic + "&to=earliest").status, 404);
  EXPECT_EQ(lag(), 0);  // none of these moved anything
  HttpReply earliest = HttpPost(broker_http_, reset, base + "&to=earliest");
  ASSERT_EQ(earliest.status, 200) << earliest.body;
  auto queues = nlohmann::json::parse(earliest.body)["queues"];
  ASSERT_EQ(queues.size(), 2u) << earliest.body;
  int64_t reset_lag = 0;
  for (const auto& q : queues) reset_lag += q["lag"].get<int64_t>();
  EXPECT_EQ(reset_lag, 3) << earliest.body;
  EXPECT_EQ(lag(), 3);
  auto progress = cluster_.Admin({"--json", "group", "progress", group, "--topic", topic});
  ASSERT_EQ(progress.exit_code, 0) << progress.err;
  EXPECT_EQ(nlohmann::json::parse(progress.out)["total_lag"], 3) << progress.out;
  ASSERT_EQ(HttpPost(broker_http_, reset, base + "&to=latest").status, 200);
  EXPECT_EQ(lag(), 0);
  // vela-admin's RESET_OFFSET runs the same broker code.
  auto cli = cluster_.Admin({"group", "reset-offset", group, "--topic", topic, "--to", "earliest"});
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  EXPECT_EQ(lag(), 3);
  ASSERT_EQ(HttpPost(broker_http_, reset, base + "&to=latest").status, 200);
  EXPECT_EQ(lag(), 0);
  ASSERT_EQ(HttpPost(broker_http_, reset, base + "&time=0").status, 200);  // before every message
  EXPECT_EQ(lag(), 3);
}


// Issue 15, the console's cluster page: GET /api/brokers on broker-a of a two-broker cluster lists
// both as the name server knows them, each reached with its own figures (its traffic among them);
// after broker-b is killed (SIGKILL), broker-a still answers at once and shows broker-b
// unreachable with the reason (or no longer lists it, once the name server dropped it).
TEST_F(HttpEndpointTest, BrokersListsTheClusterAndAnswersPromptlyWithABrokerDead) {
  const std::string topic = "surveyed";
  cluster_.StartNamesrv();
  cluster_.StartBroker("broker-a");
  cluster_.StartBroker("broker-b");
  ASSERT_TRUE(cluster_.WaitForBrokers(2));
  cluster_.CreateTopic(topic, 2);
  const std::string http_a = cluster_.broker("broker-a").http_address();
  const std::string http_b = cluster_.broker("broker-b").http_address();
  ASSERT_FALSE(http_a.empty());
  ASSERT_FALSE(http_b.empty());
  auto producer = MakeProducer(cluster_.namesrv_addrs(), "http-test-producers");
  ASSERT_NE(producer, nullptr);
  const int sent = SendMany(*producer, topic, 40);
  EXPECT_EQ(sent, 40);

  // The brokers by name from one answer of `http` (200 and well formed, or an empty map).
  auto brokers_by_name = [](const std::string& http, std::chrono::milliseconds* took) {
    const auto start = std::chrono::steady_clock::now();
    HttpReply r = HttpGet(http, "/api/brokers");
    if (took) *took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    std::map<std::string, nlohmann::json> out;
    EXPECT_EQ(r.status, 200) << r.headers << r.body;
    auto doc = nlohmann::json::parse(r.body, nullptr, false);
    EXPECT_TRUE(doc.is_object() && doc["brokers"].is_array()) << r.body;
    if (!doc.is_object() || !doc["brokers"].is_array()) return out;
    EXPECT_EQ(doc["truncated"], false) << r.body;
    EXPECT_TRUE(doc["namesrvErrors"].empty()) << r.body;
    for (const auto& b : doc["brokers"]) out[b.at("brokerName").get<std::string>()] = b;
    return out;
  };
  std::map<std::string, nlohmann::json> brokers;
  // The surveys are cached for about 2 s: the traffic shows within a few.
  ASSERT_TRUE(WaitUntil([&] {
    brokers = brokers_by_name(http_a, nullptr);
    if (brokers.size() != 2) return false;
    int64_t in = 0;
    for (const auto& [name, b] : brokers) {
      if (b.at("reachable") != true || !b.at("messagesIn").is_number()) return false;
      in += b.at("messagesIn").get<int64_t>();
    }
    return in >= sent;
  })) << nlohmann::json(brokers).dump(2);
  for (const auto& [name, b] : brokers) {
    SCOPED_TRACE(b.dump());
    EXPECT_EQ(b.at("address"), cluster_.broker(name).address());
    EXPECT_EQ(b.at("self"), name == "broker-a");
    EXPECT_FALSE(b.at("clusterName").get<std::string>().empty());
    EXPECT_EQ(b.at("brokerId"), 0);
    EXPECT_GT(b.at("lastRegistrationMs").get<int64_t>(), 0);
    EXPECT_TRUE(b.at("lastRegistrationAgeMs").is_number());
    EXPECT_FALSE(b.contains("error"));
    EXPECT_FALSE(b.at("version").get<std::string>().empty());
    EXPECT_GT(b.at("uptimeMs").get<int64_t>(), 0);
    const std::string& http = name == "broker-a" ? http_a : http_b;
    EXPECT_EQ(b.at("httpPort"), std::stoi(http.substr(http.rfind(':') + 1))) << "the link to its own console";
    EXPECT_GE(b.at("commitLogBytes").get<int64_t>(), 0);
    EXPECT_GE(b.at("diskUsedRatio").get<double>(), 0.0);
    EXPECT_LE(b.at("diskUsedRatio").get<double>(), 1.0);
    EXPECT_TRUE(b.contains("messagesInPerSec") && b.contains("messagesOut"));
  }
  // broker-b's own API lists the same two.
  EXPECT_EQ(brokers_by_name(http_b, nullptr).size(), 2u);

  // `broker_b_gone_ok`: broker-b may also be absent (the name server dropped it).
  auto wait_for_broker_b_down = [&](bool broker_b_gone_ok) {
    std::string last;
    EXPECT_TRUE(WaitUntil([&] {
      std::chrono::milliseconds took{0};
      auto now = brokers_by_name(http_a, &took);
      last = nlohmann::json(now).dump();
      // A survey asks every broker at once, each for about 1 s at most: never held up by one.
      EXPECT_LT(took, std::chrono::seconds(6)) << last;
      if (!now.contains("broker-a") || now["broker-a"]["reachable"] != true) return false;
      if (!now.contains("broker-b")) return broker_b_gone_ok;
      const auto& b = now["broker-b"];
      return b.at("reachable") == false && b.contains("error") && !b.at("error").get<std::string>().empty() &&
             !b.contains("messagesIn");
    })) << last;
  };
  // A broker that does not answer at all (stopped: its connections stay open, the name server
  // keeps it listed): it costs the survey one timeout.
  ASSERT_EQ(kill(cluster_.broker("broker-b").pid(), SIGSTOP), 0);
  wait_for_broker_b_down(/*broker_b_gone_ok=*/false);
  ASSERT_EQ(kill(cluster_.broker("broker-b").pid(), SIGCONT), 0);
  EXPECT_TRUE(WaitUntil([&] {
    auto now = brokers_by_name(http_a, nullptr);
    return now.contains("broker-b") && now["broker-b"]["reachable"] == true;
  })) << "broker-b answers again once resumed";
  // Killed: its connections close, so the name server may drop it at once.
  cluster_.broker("broker-b").Kill();
  wait_for_broker_b_down(/*broker_b_gone_ok=*/true);
}

}  // namespace
}  // namespace vela::testing
