// Issue 15, message trace, with real processes: a message sent with --trace and consumed by a
// traced push consumer that fails it once shows send, store and two consumes (attempts 1 and 2,
// the right group) in time order in `vela-admin message trace ID --json`; the CLI's consume --trace
// and the text timeline; unknown and malformed ids; and the broker's SEND_TRACE accepting only
// well-formed trace records while a plain send to RMQ_SYS_TRACE_TOPIC stays refused.
#include <chrono>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cluster.h"
#include "common/message_id.h"
#include "common/message_record.h"
#include "common/trace_record.h"
#include "net/rpc_client.h"
#include "vela/consumer.h"
#include "vela/producer.h"

namespace vela::testing {
namespace {

using namespace std::chrono_literals;

class TraceTest : public ::testing::Test {
 protected:
  // A broker whose retries come back after 1 s; one topic of one queue.
  void StartCluster(const std::string& topic) {
    cluster_.StartNamesrv();
    std::string levels;
    for (int i = 0; i < 18; ++i) levels += i == 0 ? "1s" : " 1s";
    broker_ = cluster_.StartBroker("broker-a", {"messageDelayLevel=" + levels});
    ASSERT_TRUE(cluster_.WaitForBrokers(1));
    cluster_.CreateTopic(topic, 1);
  }

  // Sends one traced message through the CLI; returns its send --json object.
  nlohmann::json SendTraced(const std::string& topic) {
    auto sent = cluster_.Admin({"send", "--topic", topic, "--body", "traced", "--key", "order-1", "--tag", "TagA",
                                "--trace", "--json"});
    EXPECT_EQ(sent.exit_code, 0) << sent.err;
    return sent.exit_code == 0 ? nlohmann::json::parse(sent.out) : nlohmann::json();
  }

  // `message trace ID --json` once `count` events are there (the trace is written asynchronously).
  nlohmann::json TraceWithEvents(const std::string& id, size_t count) {
    nlohmann::json doc;
    WaitUntil(
        [&] {
          auto r = cluster_.Admin({"message", "trace", id, "--json"});
          if (r.exit_code != 0 && r.exit_code != 1) return false;
          doc = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
          return !doc.is_discarded() && doc.contains("events") && doc["events"].size() >= count;
        },
        30s);
    return doc;
  }

  TestCluster cluster_;
  std::string broker_;
};

TEST_F(TraceTest, SendStoreAndTwoConsumesInTimeOrder) {
  ASSERT_NO_FATAL_FAILURE(StartCluster("traced"));
  const nlohmann::json sent = SendTraced("traced");
  ASSERT_TRUE(sent.contains("id"));
  const std::string id = sent["id"];

  // A traced consumer that fails the message's first delivery and takes the second.
  std::mutex mu;
  std::vector<int32_t> reconsumes;
  auto consumer = client::PushConsumerBuilder()
                      .SetNamesrvAddr(cluster_.namesrv_addrs())
                      .SetGroup("trace-workers")
                      .Subscribe("traced")
                      .SetConsumeFrom(client::ConsumeFrom::kFirst)
                      .EnableTrace()
                      .SetListener([&](const client::MessageView& m) {
                        std::lock_guard lock(mu);
                        reconsumes.push_back(m.reconsume_times);
                        return m.reconsume_times == 0 ? client::ConsumeResult::kFailure
                                                      : client::ConsumeResult::kSuccess;
                      })
                      .Build();
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  EXPECT_TRUE(WaitUntil(
      [&] {
        std::lock_guard lock(mu);
        return reconsumes.size() >= 2;
      },
      60s));
  (*consumer)->Shutdown();  // writes the queued trace events
  EXPECT_EQ((*consumer)->trace_dropped(), 0u);

  // send, store, consume (failed), the retry's timer (the broker's event: the send-back went
  // through the timer service), consume (ok).
  const nlohmann::json doc = TraceWithEvents(id, 5);
  ASSERT_EQ(doc["id"], id);
  const auto& all = doc["events"];
  ASSERT_EQ(all.size(), 5u) << doc.dump();
  for (size_t i = 1; i < all.size(); ++i) {
    EXPECT_LE(all[i - 1]["time_ms"].get<int64_t>(), all[i]["time_ms"].get<int64_t>()) << doc.dump();
  }
  EXPECT_EQ(all[3]["type"], "timer_due") << doc.dump();
  EXPECT_EQ(all[3]["topic"], "%RETRY%trace-workers") << doc.dump();
  EXPECT_EQ(all[3]["broker"], sent["broker"]) << doc.dump();
  std::vector<nlohmann::json> events;  // the clients' events
  for (const auto& e : all) {
    if (e["type"] == "send" || e["type"] == "store" || e["type"] == "consume") events.push_back(e);
  }
  ASSERT_EQ(events.size(), 4u) << doc.dump();
  EXPECT_EQ(events[0]["type"], "send") << doc.dump();
  EXPECT_EQ(events[1]["type"], "store") << doc.dump();
  EXPECT_EQ(events[2]["type"], "consume") << doc.dump();
  EXPECT_EQ(events[3]["type"], "consume") << doc.dump();
  // send: the producer's side.
  EXPECT_EQ(events[0]["status"], "ok");
  EXPECT_EQ(events[0]["topic"], "traced");
  EXPECT_EQ(events[0]["keys"], "order-1");
  EXPECT_EQ(events[0]["tags"], "TagA");
  EXPECT_EQ(events[0]["group"], "vela-admin");
  EXPECT_FALSE(events[0]["client_id"].get<std::string>().empty());
  EXPECT_GE(events[0]["cost_us"].get<int64_t>(), 0);
  // store: where the receipt says it landed.
  EXPECT_EQ(events[1]["broker"], sent["broker"]);
  EXPECT_EQ(events[1]["queue"], sent["queue"]);
  EXPECT_EQ(events[1]["offset"], sent["offset"]);
  // consumes: the group, attempts 1 then 2, failed then ok.
  EXPECT_EQ(events[2]["group"], "trace-workers");
  EXPECT_EQ(events[3]["group"], "trace-workers");
  EXPECT_EQ(events[2]["attempt"], 1);
  EXPECT_EQ(events[3]["attempt"], 2);
  EXPECT_EQ(events[2]["result"], "failed");
  EXPECT_EQ(events[3]["result"], "ok");
  EXPECT_EQ(events[2]["client_id"], (*consumer)->client_id());
  EXPECT_EQ(events[3]["topic"], "traced");
}

TEST_F(TraceTest, BrokerAddsTimerAndTransactionEvents) {
  ASSERT_NO_FATAL_FAILURE(StartCluster("traced-broker"));
  // A timer message: the broker records when it was due and published.
  auto timer = cluster_.Admin({"send", "--topic", "traced-broker", "--delay-ms", "300", "--trace", "--json"});
  ASSERT_EQ(timer.exit_code, 0) << timer.err;
  const std::string timer_id = nlohmann::json::parse(timer.out)["id"];
  const nlohmann::json timed = TraceWithEvents(timer_id, 3);
  ASSERT_EQ(timed["events"].size(), 3u) << timed.dump();
  EXPECT_EQ(timed["events"][0]["type"], "send") << timed.dump();
  EXPECT_EQ(timed["events"][1]["type"], "store") << timed.dump();
  EXPECT_EQ(timed["events"][2]["type"], "timer_due") << timed.dump();
  EXPECT_EQ(timed["events"][2]["topic"], "traced-broker") << timed.dump();

  // A committed transaction: the half message's store, then the commit.
  auto tx = cluster_.Admin({"send", "--topic", "traced-broker", "--transaction", "commit", "--trace", "--json"});
  ASSERT_EQ(tx.exit_code, 0) << tx.err;
  const std::string tx_id = nlohmann::json::parse(tx.out.substr(0, tx.out.find('\n')))["id"];
  const nlohmann::json committed = TraceWithEvents(tx_id, 3);
  ASSERT_EQ(committed["events"].size(), 3u) << committed.dump();
  EXPECT_EQ(committed["events"][0]["type"], "send") << committed.dump();
  EXPECT_EQ(committed["events"][1]["type"], "store") << committed.dump();
  EXPECT_EQ(committed["events"][2]["type"], "transaction_commit") << committed.dump();
  EXPECT_EQ(committed["events"][2]["group"], "vela-admin-tx") << committed.dump();
}

TEST_F(TraceTest, CliConsumeTraceTextTimelineAndBadIds) {
  ASSERT_NO_FATAL_FAILURE(StartCluster("traced-cli"));
  const nlohmann::json sent = SendTraced("traced-cli");
  ASSERT_TRUE(sent.contains("id"));
  const std::string id = sent["id"];
  auto consumed = cluster_.Admin({"consume", "--topic", "traced-cli", "--group", "cli-trace", "--from", "first",
                                  "--count", "1", "--timeout", "10", "--trace", "--json"});
  ASSERT_EQ(consumed.exit_code, 0) << consumed.err;

  const nlohmann::json doc = TraceWithEvents(id, 3);
  ASSERT_EQ(doc["events"].size(), 3u) << doc.dump();
  EXPECT_EQ(doc["events"][2]["type"], "consume");
  EXPECT_EQ(doc["events"][2]["group"], "cli-trace");
  EXPECT_EQ(doc["events"][2]["attempt"], 1);
  EXPECT_EQ(doc["events"][2]["result"], "ok");

  auto text = cluster_.Admin({"message", "trace", id});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("trace of message " + id + " (3 events)"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("send"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("group=cli-trace"), std::string::npos) << text.out;

  // An id nothing was traced for: an empty timeline, exit 1 and the reason.
  const std::string unknown = NewMessageId();
  auto none = cluster_.Admin({"message", "trace", unknown, "--json"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_EQ(nlohmann::json::parse(none.out)["events"].size(), 0u) << none.out;
  EXPECT_NE(none.err.find("no trace recorded for message " + unknown), std::string::npos) << none.err;
  // A malformed id: refused before asking anyone.
  auto bad = cluster_.Admin({"message", "trace", "not an id"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("is not a message id"), std::string::npos) << bad.err;
}

TEST_F(TraceTest, AsyncAndBatchSendsAreTraced) {
  ASSERT_NO_FATAL_FAILURE(StartCluster("traced-async"));
  auto producer = client::ProducerBuilder()
                      .SetNamesrvAddr(cluster_.namesrv_addrs())
                      .SetGroup("async-producers")
                      .EnableTrace()
                      .Build();
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  std::mutex mu;
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    (*producer)->SendAsync(client::Message("traced-async", "async"),
                           [&](const client::Status& status, const client::SendReceipt& receipt) {
                             EXPECT_TRUE(status.ok()) << status.ToString();
                             std::lock_guard lock(mu);
                             ids.push_back(receipt.msg_id);
                           });
  }
  auto batch = (*producer)->SendBatch({client::Message("traced-async", "b1"), client::Message("traced-async", "b2")});
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  EXPECT_GT(batch->front().store_timestamp_ms, 0);
  (*producer)->Shutdown();  // waits for the async sends, then writes the queued trace events
  EXPECT_EQ((*producer)->trace_dropped(), 0u);
  for (const auto& r : *batch) ids.push_back(r.msg_id);
  ASSERT_EQ(ids.size(), 5u);
  for (const auto& id : ids) {
    const nlohmann::json doc = TraceWithEvents(id, 2);
    ASSERT_EQ(doc["events"].size(), 2u) << doc.dump();
    EXPECT_EQ(doc["events"][0]["type"], "send") << doc.dump();
    EXPECT_EQ(doc["events"][0]["group"], "async-producers") << doc.dump();
    EXPECT_EQ(doc["events"][1]["type"], "store") << doc.dump();
  }
}

TEST_F(TraceTest, OnlyWellFormedTraceRecordsReachTheTraceTopic) {
  ASSERT_NO_FATAL_FAILURE(StartCluster("plain"));
  // A plain send to the reserved topic stays refused.
  auto plain = cluster_.Admin({"send", "--topic", std::string(trace::kTraceTopic), "--body", "x"});
  EXPECT_EQ(plain.exit_code, 1);

  net::RpcClient rpc;
  auto send_trace = [&](const std::string& body) {
    v1::Header h;
    h.set_code(v1::SEND_TRACE);
    h.mutable_send_request()->set_topic(std::string(trace::kTraceTopic));
    return rpc.InvokeSync(broker_, h, net::OutBody(body), 5000);
  };
  // A record of the trace topic whose body is not a trace event.
  RecordFields forged;
  forged.topic = trace::kTraceTopic;
  const std::string forged_id = NewMessageId();
  forged.msg_id = forged_id;
  forged.body = "hello";
  auto refused = send_trace(EncodeRecordToString(forged));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument) << refused.status().ToString();
  EXPECT_FALSE(send_trace("").ok());

  // A well-formed one is stored and found by `message trace`.
  trace::TraceEvent e;
  e.type = trace::EventType::kSend;
  e.msg_id = NewMessageId();
  e.time_ms = 1234;
  e.status = "ok";
  e.topic = "plain";
  trace::TraceRecordBuilder builder;
  ASSERT_EQ(builder.Add(e), trace::TraceRecordBuilder::AddOutcome::kAdded);
  std::string record;
  builder.Finish(NewMessageId(), 0, 1234, &record);
  auto accepted = send_trace(record);
  ASSERT_TRUE(accepted.ok()) << accepted.status().ToString();
  const nlohmann::json doc = TraceWithEvents(e.msg_id, 1);
  ASSERT_EQ(doc["events"].size(), 1u) << doc.dump();
  EXPECT_EQ(doc["events"][0]["time_ms"], 1234);
}

}  // namespace
}  // namespace vela::testing
