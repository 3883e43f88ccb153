// Hostile and malformed input against a real broker (issue 10, items 6 and 7): reserved topic
// names, group auto-creation, records with a bad CRC, malformed properties or ids, over-long SQL92
// filters, and `message get` with either kind of id. Every refusal is a clear status and text, and
// the broker goes on serving other clients.
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "cluster.h"
#include "common/coding.h"
#include "common/message_id.h"
#include "common/message_record.h"
#include "net/frame_codec.h"
#include "net/rpc_client.h"
#include "vela/consumer.h"
#include "vela/producer.h"

namespace vela::testing {
namespace {

using namespace std::chrono_literals;

const char* const kReservedTopics[] = {"%RETRY%orders-group", "%DLQ%orders-group",   "RMQ_SYS_TRANS_HALF_TOPIC",
                                       "RMQ_SYS_TRANS_OP_HALF_TOPIC", "TRANS_CHECK_MAX_TIME_TOPIC",
                                       "rmq_sys_wheel_timer",  "RMQ_SYS_TRACE_TOPIC",  "RMQ_SYS_ANYTHING"};

struct RecordSpec {
  std::string topic;
  int queue = 0;
  std::string body = "payload";
  std::string msg_id = NewMessageId();
  std::string properties = EncodeProperties({{"TAGS", "TagA"}, {"KEYS", "order-1"}});
};

std::string Encode(const RecordSpec& spec) {
  RecordFields f;
  f.topic = spec.topic;
  f.queue_id = static_cast<uint32_t>(spec.queue);
  f.born_timestamp_ms = 1;
  f.msg_id = spec.msg_id;
  f.properties = spec.properties;
  f.body = spec.body;
  std::string out;
  EncodeRecord(f, &out);
  return out;
}

bool Contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

class InputValidationTest : public ::testing::Test {
 protected:
  // Starts a name server and broker-a with `sets`, and creates topic "orders" with 2 queues.
  void StartCluster(const std::vector<std::string>& sets = {}) {
    cluster_.StartNamesrv();
    broker_ = cluster_.StartBroker("broker-a", sets);
    ASSERT_FALSE(broker_.empty());
    ASSERT_TRUE(cluster_.WaitForBrokers(1));
    auto created = CreateTopic("orders");
    ASSERT_TRUE(created.ok()) << created.ToString();
  }

  Status CreateTopic(const std::string& name) {
    v1::Header h;
    h.set_code(v1::CREATE_TOPIC);
    h.mutable_create_topic_request()->set_name(name);
    h.mutable_create_topic_request()->set_write_queues(2);
    auto r = client_.InvokeSync(broker_, h, {}, 5000);
    return r.ok() ? Status::OK() : r.status();
  }

  Result<net::Frame> SendRecords(const std::string& topic, int queue_id, const std::string& body) {
    v1::Header h;
    h.set_code(v1::SEND_MESSAGE);
    h.mutable_send_request()->set_topic(topic);
    h.mutable_send_request()->set_queue_id(queue_id);
    return client_.InvokeSync(broker_, h, net::OutBody(body), 5000);
  }

  Result<net::Frame> Pull(const std::string& group, const std::string& topic, v1::FilterType type = v1::FILTER_TAG,
                          const std::string& expression = "*", int64_t commit_offset = 0) {
    v1::Header h;
    h.set_code(v1::PULL_MESSAGE);
    auto* p = h.mutable_pull_request();
    p->set_group(group);
    p->set_topic(topic);
    p->set_queue_id(0);
    p->set_queue_offset(0);
    p->set_max_messages(32);
    p->set_filter_type(type);
    p->set_expression(expression);
    p->set_commit_offset(commit_offset);
    return client_.InvokeSync(broker_, h, {}, 5000);
  }

  Result<net::Frame> Heartbeat(const std::string& group, v1::FilterType type = v1::FILTER_TAG,
                               const std::string& expression = "*") {
    v1::Header h;
    h.set_code(v1::HEARTBEAT);
    auto* hb = h.mutable_heartbeat_request();
    hb->set_client_id("hostile-client@1");
    auto* c = hb->add_consumers();
    c->set_group(group);
    auto* s = c->add_subscriptions();
    s->set_topic("orders");
    s->set_filter_type(type);
    s->set_expression(expression);
    return client_.InvokeSync(broker_, h, {}, 5000);
  }

  Result<net::Frame> CommitOffset(const std::string& group) {
    v1::Header h;
    h.set_code(v1::UPDATE_CONSUMER_OFFSET);
    auto* u = h.mutable_update_offset_request();
    u->set_group(group);
    u->set_topic("orders");
    u->set_queue_id(0);
    u->set_offset(1);
    return client_.InvokeSync(broker_, h, {}, 5000);
  }

  // Max offset of every queue of `topic`, or NotFound when the topic does not exist.
  Result<int64_t> StoredMessages(const std::string& topic) {
    v1::Header h;
    h.set_code(v1::TOPIC_STATUS);
    h.mutable_topic_status_request()->set_topic(topic);
    auto r = client_.InvokeSync(broker_, h, {}, 5000);
    if (!r.ok()) return r.status();
    int64_t total = 0;
    for (const auto& q : r->header.topic_status_response().queues()) total += q.max_offset();
    return total;
  }

  std::vector<std::string> GroupNames() {
    v1::Header h;
    h.set_code(v1::LIST_GROUPS);
    auto r = client_.InvokeSync(broker_, h, {}, 5000);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::vector<std::string> names;
    v1::GroupListResponse page;  // one page in the body: the test has few groups
    if (r.ok() && page.ParseFromString(r->body)) {
      for (const auto& g : page.groups()) names.push_back(g.name());
    }
    return names;
  }

  // Another client, on its own connection, is served: a send through the SDK succeeds.
  void ExpectOthersServed() {
    auto producer = client::ProducerBuilder().SetNamesrvAddr(cluster_.namesrv_addrs()).Build();
    ASSERT_TRUE(producer.ok()) << producer.status().ToString();
    auto receipt = (*producer)->Send(client::Message("orders", "still served"));
    EXPECT_TRUE(receipt.ok()) << receipt.status().ToString();
    (*producer)->Shutdown();
  }

  std::string BrokerLog() { return ReadFile(cluster_.broker("broker-a").log_file()); }

  TestCluster cluster_;
  std::string broker_;
  net::RpcClient client_;
};

// --- item 6: reserved names ---

TEST_F(InputValidationTest, ReservedTopicsCannotBeCreated) {
  StartCluster();
  for (const char* name : kReservedTopics) {
    Status s = CreateTopic(name);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << name << ": " << s.ToString();
    EXPECT_TRUE(Contains(s.message(), "reserved")) << s.ToString();
    EXPECT_EQ(StoredMessages(name).status().code(), StatusCode::kNotFound) << name;
  }
  Status percent = CreateTopic("orders%x");
  EXPECT_EQ(percent.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(percent.message(), "'%'")) << percent.ToString();

  // The CLI refuses them too, with the same reason.
  auto cli = cluster_.Admin({"topic", "create", "%RETRY%orders-group"});
  EXPECT_EQ(cli.exit_code, 1) << cli.out << cli.err;
  EXPECT_TRUE(Contains(cli.err, "reserved")) << cli.err;
  auto list = cluster_.Admin({"topic", "list"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_FALSE(Contains(list.out, "RETRY")) << list.out;
  EXPECT_FALSE(Contains(list.out, "RMQ_SYS")) << list.out;
  // --system asks for the broker's system topics too (none exist here: the listing still works).
  auto system_list = cluster_.Admin({"topic", "list", "--system", "--json"});
  EXPECT_EQ(system_list.exit_code, 0) << system_list.err;
  EXPECT_TRUE(Contains(system_list.out, "\"topics\"")) << system_list.out;
  // Nor can a client delete one.
  v1::Header del;
  del.set_code(v1::DELETE_TOPIC);
  del.mutable_delete_topic_request()->set_topic("RMQ_SYS_TRANS_HALF_TOPIC");
  auto deleted = client_.InvokeSync(broker_, del, {}, 5000);
  ASSERT_FALSE(deleted.ok());
  EXPECT_EQ(deleted.status().code(), StatusCode::kPermissionDenied);
  ExpectOthersServed();
}

TEST_F(InputValidationTest, ReservedTopicsCannotBeAutoCreatedOrSentTo) {
  StartCluster({"autoCreateTopicEnable=true"});
  for (const char* name : kReservedTopics) {
    for (int queue_id : {-1, 0}) {
      auto r = SendRecords(name, queue_id, Encode(RecordSpec{.topic = name}));
      ASSERT_FALSE(r.ok()) << name;
      EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied) << name << ": " << r.status().ToString();
      EXPECT_TRUE(Contains(r.status().message(), "reserved system topic")) << r.status().ToString();
    }
    // A pull does not auto-create it either.
    auto pulled = Pull("g1", name);
    ASSERT_FALSE(pulled.ok()) << name;
    EXPECT_EQ(pulled.status().code(), StatusCode::kInvalidArgument) << pulled.status().ToString();
    EXPECT_EQ(StoredMessages(name).status().code(), StatusCode::kNotFound) << name;
  }
  // A user topic is still auto-created.
  auto user = SendRecords("fresh-topic", -1, Encode(RecordSpec{.topic = "fresh-topic"}));
  EXPECT_TRUE(user.ok()) << user.status().ToString();

  // The SDK refuses before sending.
  auto producer = client::ProducerBuilder().SetNamesrvAddr(cluster_.namesrv_addrs()).Build();
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  auto receipt = (*producer)->Send(client::Message("RMQ_SYS_TRANS_HALF_TOPIC", "x"));
  ASSERT_FALSE(receipt.ok());
  EXPECT_TRUE(Contains(receipt.status().message(), "reserved")) << receipt.status().ToString();
  (*producer)->Shutdown();
  ExpectOthersServed();
}

// --- item 6: group auto-creation ---

TEST_F(InputValidationTest, GroupAutoCreationOffRefusesUnknownGroups) {
  StartCluster({"autoCreateSubscriptionGroup=false"});
  auto pulled = Pull("unknown-group", "orders");
  ASSERT_FALSE(pulled.ok());
  EXPECT_EQ(pulled.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(pulled.status().subcode(), SubCode::kGroupNotFound);
  EXPECT_TRUE(Contains(pulled.status().message(), "autoCreateSubscriptionGroup is off")) << pulled.status().ToString();
  auto committed = CommitOffset("unknown-group");
  ASSERT_FALSE(committed.ok());
  EXPECT_EQ(committed.status().subcode(), SubCode::kGroupNotFound) << committed.status().ToString();
  auto pulled_with_commit = Pull("unknown-group-2", "orders", v1::FILTER_TAG, "*", /*commit_offset=*/5);
  ASSERT_FALSE(pulled_with_commit.ok());
  auto beat = Heartbeat("unknown-group-3");
  ASSERT_FALSE(beat.ok());
  EXPECT_EQ(beat.status().subcode(), SubCode::kGroupNotFound) << beat.status().ToString();
  EXPECT_TRUE(GroupNames().empty());

  // Created explicitly, the group works.
  auto created = cluster_.Admin({"group", "create", "unknown-group"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  auto after = Pull("unknown-group", "orders");
  EXPECT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_TRUE(CommitOffset("unknown-group").ok());
  ExpectOthersServed();
}

TEST_F(InputValidationTest, GroupAutoCreationStopsAtItsLimit) {
  StartCluster({"autoCreateSubscriptionGroupLimit=3"});
  for (int i = 0; i < 3; ++i) {
    auto r = Pull("auto-" + std::to_string(i), "orders");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  for (int i = 3; i < 10; ++i) {
    auto r = Pull("auto-" + std::to_string(i), "orders");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted) << r.status().ToString();
    EXPECT_TRUE(Contains(r.status().message(), "autoCreateSubscriptionGroupLimit")) << r.status().ToString();
  }
  EXPECT_EQ(GroupNames().size(), 3u);
  // Existing groups keep working, and an operator can still create more.
  EXPECT_TRUE(Pull("auto-1", "orders").ok());
  auto created = cluster_.Admin({"group", "create", "by-operator"});
  EXPECT_EQ(created.exit_code, 0) << created.err;
  EXPECT_TRUE(Pull("by-operator", "orders").ok());
  std::string log = BrokerLog();
  EXPECT_TRUE(Contains(log, "group auto-0 auto-created")) << log;
  EXPECT_TRUE(Contains(log, "not auto-created")) << log;
  ExpectOthersServed();
}

// --- item 7: records ---

TEST_F(InputValidationTest, BadCrcIsRefusedEvenWhenTheBrokerChoosesTheQueue) {
  StartCluster();
  for (int queue_id : {-1, 0, 1}) {
    // Encoded for queue 1: sent to queue 0 (or to -1, when the broker picks 0) it is re-stamped
    // with a new queue id and CRC, so its own CRC must be checked first.
    std::string record = Encode(RecordSpec{.topic = "orders", .queue = 1});
    record[record.size() - 1] ^= 0x01;  // one bit of the body flipped after the CRC was computed
    auto r = SendRecords("orders", queue_id, record);
    ASSERT_FALSE(r.ok()) << "queue " << queue_id;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(Contains(r.status().message(), "crc")) << r.status().ToString();
  }
  // A batch whose second record is damaged is refused whole.
  std::string batch = Encode(RecordSpec{.topic = "orders", .queue = 1});
  std::string second = Encode(RecordSpec{.topic = "orders", .queue = 1});
  second[second.size() - 1] ^= 0x01;
  for (int queue_id : {-1, 0}) {
    auto r = SendRecords("orders", queue_id, batch + second);
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(Contains(r.status().message(), "1 of the")) << r.status().ToString();
    EXPECT_TRUE(Contains(r.status().message(), "crc")) << r.status().ToString();
  }
  ASSERT_OK_AND_ASSIGN(int64_t stored, StoredMessages("orders"));
  EXPECT_EQ(stored, 0);
  // An intact record sent the same way is stored.
  auto good = SendRecords("orders", -1, Encode(RecordSpec{.topic = "orders", .queue = 1}));
  EXPECT_TRUE(good.ok()) << good.status().ToString();
  ExpectOthersServed();
}

TEST_F(InputValidationTest, MalformedPropertiesAreRefused) {
  StartCluster();
  for (const std::string& props : {std::string("no separators at all"), std::string("TAGS\x02", 5),
                                   EncodeProperties({{"TAGS", "a"}}) + std::string("KEYS\x01k", 6)}) {
    for (int queue_id : {-1, 0}) {
      auto r = SendRecords("orders", queue_id, Encode(RecordSpec{.topic = "orders", .properties = props}));
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
      EXPECT_TRUE(Contains(r.status().message(), "malformed")) << r.status().ToString();
    }
  }
  ASSERT_OK_AND_ASSIGN(int64_t stored, StoredMessages("orders"));
  EXPECT_EQ(stored, 0);
  ExpectOthersServed();
}

TEST_F(InputValidationTest, OverlongOrNonPrintableMessageIdsAreRefused) {
  StartCluster();
  const std::string bad_ids[] = {std::string(5000, 'a'), std::string(129, 'a'), std::string("id\0with-nul", 11),
                                 std::string("id with space"), std::string("\x01\x02\x03")};
  for (const auto& id : bad_ids) {
    auto r = SendRecords("orders", 0, Encode(RecordSpec{.topic = "orders", .msg_id = id}));
    ASSERT_FALSE(r.ok()) << id.size();
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(Contains(r.status().message(), "message id")) << r.status().ToString();
  }
  ASSERT_OK_AND_ASSIGN(int64_t stored, StoredMessages("orders"));
  EXPECT_EQ(stored, 0);
  auto longest = SendRecords("orders", 0, Encode(RecordSpec{.topic = "orders", .msg_id = std::string(128, 'z')}));
  EXPECT_TRUE(longest.ok()) << longest.status().ToString();
  ExpectOthersServed();
}

// --- item 7: SQL92 length ---

TEST_F(InputValidationTest, OverlongSql92GetsBadFilterAndTheConnectionStaysUsable) {
  StartCluster();
  // Longer than the 16 KiB expression limit.
  std::string expression = "a = 1";
  while (expression.size() < 40 * 1024) expression += " OR a = 1";
  auto pulled = Pull("g1", "orders", v1::FILTER_SQL92, expression);
  ASSERT_FALSE(pulled.ok());
  EXPECT_EQ(pulled.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(pulled.status().subcode(), SubCode::kBadFilter);
  EXPECT_TRUE(Contains(pulled.status().message(), "longer than 16384")) << pulled.status().ToString();
  auto beat = Heartbeat("g1", v1::FILTER_SQL92, expression);
  ASSERT_FALSE(beat.ok());
  EXPECT_EQ(beat.status().subcode(), SubCode::kBadFilter) << beat.status().ToString();
  // Deep nesting is refused the same way, without recursing.
  std::string nested = std::string(5000, '(') + "a = 1" + std::string(5000, ')');
  auto deep = Pull("g1", "orders", v1::FILTER_SQL92, nested);
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.status().subcode(), SubCode::kBadFilter) << deep.status().ToString();
  EXPECT_TRUE(Contains(deep.status().message(), "nested deeper")) << deep.status().ToString();
  // The same connection (one RpcClient connection per broker) still serves.
  auto ok = Pull("g1", "orders", v1::FILTER_SQL92, "a = 1");
  EXPECT_TRUE(ok.ok()) << ok.status().ToString();

  // 100 KB through the SDK and the CLI: BadFilter at subscribe time, with the limit named.
  std::string huge = "a = 1";
  while (huge.size() < 100 * 1024) huge += " OR a = 1";
  auto consumer = client::PushConsumerBuilder()
                      .SetNamesrvAddr(cluster_.namesrv_addrs())
                      .SetGroup("g2")
                      .Subscribe("orders", client::FilterExpression::Sql92(huge))
                      .SetListener([](const client::MessageView&) { return client::ConsumeResult::kSuccess; })
                      .Build();
  ASSERT_FALSE(consumer.ok());
  EXPECT_EQ(consumer.status().subcode(), client::SubCode::kBadFilter) << consumer.status().ToString();
  EXPECT_TRUE(Contains(consumer.status().message(), "longer than 16384")) << consumer.status().ToString();
  auto cli = cluster_.Admin({"consume", "--topic", "orders", "--group", "g3", "--sql", huge, "--count", "1",
                             "--timeout", "3"});
  EXPECT_EQ(cli.exit_code, 1);
  EXPECT_TRUE(Contains(cli.err, "longer than 16384")) << cli.err.substr(0, 300);
  ExpectOthersServed();
}

TEST_F(InputValidationTest, HundredKilobyteSql92InARawPullGetsBadFilterOnTheSameConnection) {
  StartCluster();
  // A raw pull, past the SDK's own check: the 100 KB expression fits the frame header's 1 MiB cap,
  // so the broker's filter refuses it by its own limit and the connection stays open.
  std::string huge = "a = 1";
  while (huge.size() < 100 * 1024) huge += " OR a = 1";
  auto pulled = Pull("g1", "orders", v1::FILTER_SQL92, huge);
  ASSERT_FALSE(pulled.ok());
  EXPECT_EQ(pulled.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(pulled.status().subcode(), SubCode::kBadFilter) << pulled.status().ToString();
  EXPECT_TRUE(Contains(pulled.status().message(), "longer than 16384")) << pulled.status().ToString();
  auto beat = Heartbeat("g1", v1::FILTER_SQL92, huge);
  ASSERT_FALSE(beat.ok());
  EXPECT_EQ(beat.status().subcode(), SubCode::kBadFilter) << beat.status().ToString();
  // The same connection (one RpcClient connection per broker) still serves.
  auto again = Pull("g1", "orders", v1::FILTER_SQL92, "a = 1");
  EXPECT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(BrokerLog().find("refusing frame"), std::string::npos) << "the network layer refused the frame";
  ExpectOthersServed();
}

// --- item 7: message get ---

TEST_F(InputValidationTest, MessageGetTellsUniqueIdsFromOffsetIds) {
  StartCluster();
  auto producer = client::ProducerBuilder().SetNamesrvAddr(cluster_.namesrv_addrs()).Build();
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  auto receipt = (*producer)->Send(client::Message("orders", "find me"));
  ASSERT_TRUE(receipt.ok()) << receipt.status().ToString();
  (*producer)->Shutdown();

  for (const std::string& id : {receipt->msg_id, receipt->offset_id}) {
    auto got = cluster_.Admin({"message", "get", id, "--json"});
    ASSERT_EQ(got.exit_code, 0) << id << ": " << got.err;
    EXPECT_TRUE(Contains(got.out, "find me")) << got.out;
  }

  // A unique id made on host 192.0.2.2 by process 10911: read naively as an offset id it names
  // 192.0.2.2:10911, an address nobody answers on. It is looked up, not dialled.
  char raw[16] = {};
  const unsigned char host[] = {192, 0, 2, 2};
  std::memcpy(raw, host, 4);
  coding::PutFixed16(raw + 4, 10911);
  coding::PutFixed32(raw + 6, 1796000000);
  raw[15] = 7;
  std::string unknown = coding::ToHex(std::string_view(raw, 16));
  auto missing = cluster_.Admin({"message", "get", unknown});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(Contains(missing.err, "looked up as a unique id")) << missing.err;
  EXPECT_TRUE(Contains(missing.err, broker_)) << missing.err;
  EXPECT_TRUE(Contains(missing.err, "not an offset id")) << missing.err;
  EXPECT_FALSE(Contains(missing.err, "192.0.2.2")) << missing.err;

  // Ids no producer makes are refused before anything is asked.
  auto bad = cluster_.Admin({"message", "get", std::string(200, 'a')});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(Contains(bad.err, "message id is 200 bytes")) << bad.err;
  ExpectOthersServed();
}

}  // namespace
}  // namespace vela::testing
