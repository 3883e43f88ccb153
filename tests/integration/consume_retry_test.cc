// Issue 13, the broker half against real processes: CONSUMER_SEND_BACK through the timer into
// %RETRY%<group> and into %DLQ%<group>, the CLI's group dlq / dlq-resend, queue locks released
// when their holder's connection closes, and the bad-input cases (a send-back for a message that
// does not exist, a lock for another group's queue, an unlock by a client that does not hold the
// lock): clear statuses, and the broker goes on serving.
#include <chrono>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cluster.h"
#include "common/message_id.h"
#include "common/message_record.h"
#include "net/rpc_client.h"

namespace vela::testing {
namespace {

using namespace std::chrono_literals;

// A stored record, copied out of a pull response.
struct Pulled {
  std::string raw;
  RecordView view;
  std::string Prop(std::string_view key) const {
    std::string_view v;
    return FindProperty(view.properties, key, &v) ? std::string(v) : std::string();
  }
};

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

class ConsumeRetryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_.StartNamesrv();
    // Short delay levels: a retry comes back within a fraction of a second.
    broker_ = cluster_.StartBroker(
        "broker-a", {"messageDelayLevel=100ms 100ms 100ms 100ms 200ms 200ms 200ms 200ms 200ms 200ms 200ms 200ms "
                     "200ms 200ms 200ms 200ms 200ms 5s",
                     "rebalanceLockMaxLiveTime=60000"});
    ASSERT_FALSE(broker_.empty());
    ASSERT_TRUE(cluster_.WaitForBrokers(1));
    cluster_.CreateTopic("orders", 2);
  }

  // Sends one message to orders queue 0; returns its receipt.
  v1::SendReceipt Send(const std::string& id, const std::string& body) {
    const std::string props = EncodeProperties({{"TAGS", "TagA"}, {"KEYS", "key-" + id}, {"color", "blue"}});
    RecordFields f;
    f.topic = "orders";
    f.msg_id = id;
    f.properties = props;
    f.body = body;
    f.born_timestamp_ms = 1700000000000;
    v1::Header h;
    h.set_code(v1::SEND_MESSAGE);
    h.mutable_send_request()->set_topic("orders");
    h.mutable_send_request()->set_queue_id(0);
    h.mutable_send_request()->set_message_count(1);
    auto r = client_.InvokeSync(broker_, h, net::OutBody(EncodeRecordToString(f)), 5000);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() && r->header.send_response().receipts_size() == 1 ? r->header.send_response().receipts(0)
                                                                     : v1::SendReceipt();
  }

  Result<net::Frame> SendBack(const std::string& group, const std::string& id, int64_t offset, int32_t level = 0) {
    v1::Header h;
    h.set_code(v1::CONSUMER_SEND_BACK);
    auto* r = h.mutable_send_back_request();
    r->set_group(group);
    r->set_msg_id(id);
    r->set_physical_offset(offset);
    r->set_delay_level(level);
    return client_.InvokeSync(broker_, h, {}, 5000);
  }

  // Every record of (topic, 0) from offset 0.
  std::vector<Pulled> Pull(const std::string& topic, const std::string& group) {
    v1::Header h;
    h.set_code(v1::PULL_MESSAGE);
    auto* p = h.mutable_pull_request();
    p->set_group(group);
    p->set_topic(topic);
    p->set_queue_id(0);
    p->set_queue_offset(0);
    p->set_max_messages(32);
    std::vector<Pulled> out;
    auto r = client_.InvokeSync(broker_, h, {}, 5000);
    if (!r.ok() || r->header.pull_response().outcome() != v1::PULL_FOUND) return out;
    std::string_view body = r->body;
    while (!body.empty()) {
      Pulled one;
      RecordView v;
      if (DecodeRecord(body, true, &v) != DecodeOutcome::kRecord) break;
      one.raw = std::string(v.raw);
      body.remove_prefix(v.raw.size());
      out.push_back(std::move(one));
    }
    for (auto& one : out) EXPECT_EQ(DecodeRecord(one.raw, true, &one.view), DecodeOutcome::kRecord);
    return out;
  }

  // Polls (generously) until (topic, 0) holds `count` records.
  std::vector<Pulled> WaitForRecords(const std::string& topic, const std::string& group, size_t count) {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    for (;;) {
      auto got = Pull(topic, group);
      if (got.size() >= count || std::chrono::steady_clock::now() > deadline) return got;
      std::this_thread::sleep_for(50ms);
    }
  }

  // A consumer of `group` subscribed to orders, heartbeating over `client`'s connection.
  void Heartbeat(net::RpcClient& client, const std::string& client_id, const std::string& group) {
    v1::Header h;
    h.set_code(v1::HEARTBEAT);
    auto* hb = h.mutable_heartbeat_request();
    hb->set_client_id(client_id);
    auto* c = hb->add_consumers();
    c->set_group(group);
    c->set_model(v1::CLUSTERING);
    c->set_orderly(true);
    auto* s = c->add_subscriptions();
    s->set_topic("orders");
    s->set_expression("*");
    auto r = client.InvokeSync(broker_, h, {}, 5000);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  Result<net::Frame> Lock(net::RpcClient& client, v1::RequestCode code, const std::string& client_id,
                          const std::string& group, std::vector<int> queues) {
    v1::Header h;
    h.set_code(code);
    auto* r = h.mutable_lock_queues_request();
    r->set_group(group);
    r->set_client_id(client_id);
    for (int q : queues) {
      auto* ref = r->add_queues();
      ref->set_topic("orders");
      ref->set_broker_name("broker-a");
      ref->set_queue_id(q);
    }
    return client.InvokeSync(broker_, h, {}, 5000);
  }

  void ExpectStillServing() {
    const std::string id = NewMessageId();
    EXPECT_EQ(Send(id, "still serving").msg_id(), id);
  }

  TestCluster cluster_;
  std::string broker_;
  net::RpcClient client_;
};

TEST_F(ConsumeRetryTest, SendBackRetriesThenDeadLettersAndTheCliResendsIt) {
  const std::string id = NewMessageId();
  const v1::SendReceipt receipt = Send(id, "pay order 7");
  ASSERT_EQ(receipt.msg_id(), id);

  // First failure: back in %RETRY%g1 after its (short) delay, with reconsume 1 and its origin.
  auto first = SendBack("g1", id, receipt.physical_offset());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_FALSE(first->header.send_back_response().dead_lettered());
  auto retried = WaitForRecords("%RETRY%g1", "g1", 1);
  ASSERT_EQ(retried.size(), 1u);
  EXPECT_EQ(retried[0].view.msg_id, id);
  EXPECT_EQ(retried[0].view.reconsume_times, 1u);
  EXPECT_EQ(retried[0].view.body, "pay order 7");
  EXPECT_EQ(retried[0].Prop("RETRY_TOPIC"), "orders");
  EXPECT_EQ(retried[0].Prop("color"), "blue");
  // The retry topic is routed by the name server like any topic (registered at once, asynchronously).
  CommandResult route;
  for (auto deadline = std::chrono::steady_clock::now() + 20s; std::chrono::steady_clock::now() < deadline;) {
    route = cluster_.Admin({"topic", "route", "%RETRY%g1", "--json"});
    if (route.exit_code == 0) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(route.exit_code, 0) << route.err;

  // Second failure, by an orderly consumer out of retries: a dead letter at once.
  auto second = SendBack("g1", id, retried[0].view.physical_offset, -1);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_TRUE(second->header.send_back_response().dead_lettered());

  auto dlq = cluster_.Admin({"group", "dlq", "g1", "--json"});
  ASSERT_EQ(dlq.exit_code, 0) << dlq.err;
  auto lines = Lines(dlq.out);
  ASSERT_EQ(lines.size(), 1u) << dlq.out;
  auto j = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(j["id"], id);
  EXPECT_EQ(j["origin_topic"], "orders");
  EXPECT_EQ(j["reconsume"], 2);
  EXPECT_EQ(j["body"], "pay order 7");
  EXPECT_EQ(j["tag"], "TagA");
  EXPECT_EQ(j["properties"]["color"], "blue");
  auto human = cluster_.Admin({"group", "dlq", "g1"});
  EXPECT_EQ(human.exit_code, 0) << human.err;
  EXPECT_NE(human.out.find("origin_topic=orders"), std::string::npos) << human.out;

  // Resent by id: back in %RETRY%g1 at once with reconsume 0; no longer listed; not twice.
  auto resend = cluster_.Admin({"group", "dlq-resend", "g1", "--id", id, "--json"});
  ASSERT_EQ(resend.exit_code, 0) << resend.err;
  EXPECT_EQ(nlohmann::json::parse(Lines(resend.out).at(0))["resent"], 1);
  auto back = WaitForRecords("%RETRY%g1", "g1", 2);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[1].view.msg_id, id);
  EXPECT_EQ(back[1].view.reconsume_times, 0u);
  EXPECT_EQ(back[1].Prop("RETRY_TOPIC"), "orders");
  EXPECT_TRUE(Lines(cluster_.Admin({"group", "dlq", "g1", "--json"}).out).empty());
  auto again = cluster_.Admin({"group", "dlq-resend", "g1", "--id", id});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("no dead letter with id"), std::string::npos) << again.err;
  auto all = cluster_.Admin({"group", "dlq-resend", "g1", "--all", "--json"});
  EXPECT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(nlohmann::json::parse(Lines(all.out).at(0))["resent"], 0);

  // A group without dead letters lists nothing; bad usage exits 2.
  auto none = cluster_.Admin({"group", "dlq", "nobody", "--json"});
  EXPECT_EQ(none.exit_code, 0) << none.err;
  EXPECT_TRUE(Lines(none.out).empty());
  EXPECT_EQ(cluster_.Admin({"group", "dlq-resend", "g1"}).exit_code, 2);
  EXPECT_EQ(cluster_.Admin({"group", "dlq-resend", "g1", "--id", id, "--all"}).exit_code, 2);
}

TEST_F(ConsumeRetryTest, DeadLettersOfManyMessagesAreListedAndResentAll) {
  ASSERT_EQ(cluster_.Admin({"group", "create", "g0", "--max-retries", "0"}).exit_code, 0);
  std::vector<std::string> ids;
  for (int i = 0; i < 40; ++i) {
    ids.push_back(NewMessageId());
    const auto receipt = Send(ids.back(), "m" + std::to_string(i));
    auto r = SendBack("g0", ids.back(), receipt.physical_offset());  // max retries 0: a dead letter
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_TRUE(r->header.send_back_response().dead_lettered());
  }
  auto some = cluster_.Admin({"group", "dlq", "g0", "--count", "7", "--json"});
  ASSERT_EQ(some.exit_code, 0) << some.err;
  EXPECT_EQ(Lines(some.out).size(), 7u);
  auto listed = cluster_.Admin({"group", "dlq", "g0", "--json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  auto lines = Lines(listed.out);
  ASSERT_EQ(lines.size(), ids.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    auto j = nlohmann::json::parse(lines[i]);
    EXPECT_EQ(j["id"], ids[i]);
    EXPECT_EQ(j["reconsume"], 1);
  }
  auto resend = cluster_.Admin({"group", "dlq-resend", "g0", "--all", "--json"});
  ASSERT_EQ(resend.exit_code, 0) << resend.err;
  EXPECT_EQ(nlohmann::json::parse(Lines(resend.out).at(0))["resent"], 40);
  EXPECT_EQ(WaitForRecords("%RETRY%g0", "g0", 32).size(), 32u);  // one page of the pull
  EXPECT_TRUE(Lines(cluster_.Admin({"group", "dlq", "g0", "--json"}).out).empty());
}

TEST_F(ConsumeRetryTest, APendingRetrySurvivesABrokerKilledWithSigkill) {
  const std::string id = NewMessageId();
  const v1::SendReceipt receipt = Send(id, "survive");
  // Level 18 is 5 s here: the broker is killed while the retry waits in the timer.
  auto r = SendBack("g1", id, receipt.physical_offset(), 18);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  cluster_.broker("broker-a").Kill();
  broker_ = cluster_.RestartBroker("broker-a");
  ASSERT_FALSE(broker_.empty());
  auto retried = WaitForRecords("%RETRY%g1", "g1", 1);
  ASSERT_EQ(retried.size(), 1u);
  EXPECT_EQ(retried[0].view.msg_id, id);
  EXPECT_EQ(retried[0].view.reconsume_times, 1u);
  EXPECT_GE(retried[0].view.store_timestamp_ms, r->header.send_back_response().deliver_at_ms());
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(Pull("%RETRY%g1", "g1").size(), 1u);  // once
}

TEST_F(ConsumeRetryTest, BadInputGetsClearStatusesAndTheBrokerKeepsServing) {
  const std::string id = NewMessageId();
  const v1::SendReceipt receipt = Send(id, "real");

  // A send-back for a message that does not exist: an offset where nothing starts, another id.
  auto nowhere = SendBack("g1", id, receipt.physical_offset() + 7);
  ASSERT_FALSE(nowhere.ok());
  EXPECT_EQ(nowhere.status().code(), StatusCode::kNotFound) << nowhere.status().ToString();
  auto other_id = SendBack("g1", NewMessageId(), receipt.physical_offset());
  ASSERT_FALSE(other_id.ok());
  EXPECT_EQ(other_id.status().code(), StatusCode::kNotFound);
  EXPECT_NE(other_id.status().message().find(id), std::string::npos) << other_id.status().ToString();
  auto bad_level = SendBack("g1", id, receipt.physical_offset(), 99);
  EXPECT_EQ(bad_level.status().code(), StatusCode::kInvalidArgument) << bad_level.status().ToString();
  ExpectStillServing();

  // Two members of g1 and one of g2, each over its own connection.
  net::RpcClient a, b, x;
  Heartbeat(a, "client-a", "g1");
  Heartbeat(b, "client-b", "g1");
  Heartbeat(x, "client-x", "g2");
  auto held = Lock(a, v1::LOCK_QUEUES, "client-a", "g1", {0, 1});
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  EXPECT_EQ(held->header.lock_queues_response().locked_size(), 2);

  // A lock request for another group's queue.
  auto foreign = Lock(x, v1::LOCK_QUEUES, "client-x", "g1", {0});
  ASSERT_FALSE(foreign.ok());
  EXPECT_EQ(foreign.status().code(), StatusCode::kPermissionDenied) << foreign.status().ToString();
  // A member asking for a held queue is simply left out.
  auto taken = Lock(b, v1::LOCK_QUEUES, "client-b", "g1", {0});
  ASSERT_TRUE(taken.ok()) << taken.status().ToString();
  EXPECT_EQ(taken->header.lock_queues_response().locked_size(), 0);
  // An unlock by a client that does not hold the lock.
  auto not_held = Lock(b, v1::UNLOCK_QUEUES, "client-b", "g1", {0});
  ASSERT_FALSE(not_held.ok());
  EXPECT_EQ(not_held.status().code(), StatusCode::kFailedPrecondition) << not_held.status().ToString();
  EXPECT_NE(not_held.status().message().find("orders/0"), std::string::npos);
  ExpectStillServing();

  // The holder unlocks one queue; its connection closes with the other: both free for b.
  ASSERT_TRUE(Lock(a, v1::UNLOCK_QUEUES, "client-a", "g1", {1}).ok());
  a.Shutdown();
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  int locked = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = Lock(b, v1::LOCK_QUEUES, "client-b", "g1", {0, 1});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    locked = r->header.lock_queues_response().locked_size();
    if (locked == 2) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(locked, 2);
  ExpectStillServing();
  const std::string log = ReadFile(cluster_.broker("broker-a").log_file());
  EXPECT_NE(log.find("lock request from"), std::string::npos);
  EXPECT_NE(log.find("send-back from"), std::string::npos);
}

}  // namespace
}  // namespace vela::testing
