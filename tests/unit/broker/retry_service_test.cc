// Consumer retries and dead letters over a real store and timer service: CONSUMER_SEND_BACK into
// %RETRY%<group> through the timer, the dead-letter decision, refusals, and the dead-letter admin
// (list, resend by id and all); the retry topic made at a clustering consumer's heartbeat.
#include "broker/retry/retry_service.h"

#include <chrono>
#include <future>
#include <memory>
#include <thread>

#include <asio/io_context.hpp>

#include <gtest/gtest.h>

#include "broker/processors/client_processor.h"
#include "broker/retry/retry_message.h"
#include "broker/retry/retry_processor.h"
#include "common/clock.h"
#include "common/message_id.h"
#include "metrics/metrics_registry.h"
#include "unit/broker/processor_test_util.h"

namespace vela::broker::retry {
namespace {

using namespace std::chrono_literals;

// A record of a queue, copied out of the store.
struct Stored {
  std::string raw;
  RecordView view;  // into raw
  Properties props;
  std::string Prop(const std::string& key) const {
    for (const auto& [k, v] : props) {
      if (k == key) return v;
    }
    return "";
  }
  int PropCount(const std::string& key) const {
    int n = 0;
    for (const auto& [k, v] : props) n += k == key ? 1 : 0;
    return n;
  }
};

class RetryServiceTest : public testing::ProcessorTest {
 protected:
  RetryServiceTest() {
    CreateTopic("orders");
    timer::TimerOptions o;
    // Short levels (level n: n * 20 ms) so retries come back within the test.
    for (int i = 1; i <= 18; ++i) o.delay_level_ms.push_back(20 * i);
    timers_ = std::make_unique<timer::TimerService>(*store_, *topics_, o, "broker-a", &counters_.metrics);
    EXPECT_OK(timers_->Start());
    retries_ = std::make_unique<RetryService>(*store_, *topics_, *timers_, registrar_.get(), &counters_.metrics);
  }
  ~RetryServiceTest() override {
    retries_.reset();
    timers_->Stop();
  }

  // Appends a message of "orders" queue 1; returns its commit-log offset.
  int64_t Produce(const std::string& id, const Properties& extra = {}) {
    Properties props = {{"TAGS", "TagA"}, {"KEYS", "k-" + id}, {"color", "red"}};
    props.insert(props.end(), extra.begin(), extra.end());
    const std::string encoded = EncodeProperties(props);
    RecordFields f;
    f.topic = "orders";
    f.queue_id = 1;
    f.msg_id = id;
    f.properties = encoded;
    f.born_timestamp_ms = 1700000000123;
    const std::string body = "body of " + id;
    f.body = body;
    auto appended = store::testing::AppendOne(*store_, EncodeRecordToString(f));
    EXPECT_TRUE(appended.ok());
    return appended.ok() ? appended->records[0].physical_offset.value() : -1;
  }

  Result<v1::SendBackResponse> SendBack(const std::string& group, const std::string& id, int64_t offset,
                                        int32_t delay_level = 0, int32_t max_reconsume = 0) {
    v1::SendBackRequest req;
    req.set_group(group);
    req.set_msg_id(id);
    req.set_physical_offset(offset);
    req.set_delay_level(delay_level);
    req.set_max_reconsume_times(max_reconsume);
    // The answer comes at once for a refusal, from the flush thread once the copy is durable.
    auto answered = std::make_shared<std::promise<Result<v1::SendBackResponse>>>();
    auto answer = answered->get_future();
    retries_->SendBack(req, [answered](Result<v1::SendBackResponse> r) { answered->set_value(std::move(r)); });
    const bool ready = answer.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
    EXPECT_TRUE(ready);
    return ready ? answer.get() : Result<v1::SendBackResponse>(Status::Internal("no answer"));
  }

  std::vector<Stored> ReadQueue(const std::string& topic, uint32_t queue = 0) {
    std::vector<Stored> out;
    auto got = store_->GetMessages(topic, queue, store::QueueOffset(0), 1000, 64 << 20, nullptr);
    for (std::string_view r : got.records) {
      Stored s;
      s.raw = std::string(r);
      out.push_back(std::move(s));
    }
    for (auto& s : out) {
      EXPECT_EQ(DecodeRecord(s.raw, true, &s.view), DecodeOutcome::kRecord);
      s.props = DecodeProperties(s.view.properties);
    }
    return out;
  }

  // Waits (generously) until `topic` queue 0 holds `count` records.
  std::vector<Stored> WaitForRecords(const std::string& topic, size_t count) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    for (;;) {
      auto records = ReadQueue(topic);
      if (records.size() >= count || std::chrono::steady_clock::now() > deadline) return records;
      std::this_thread::sleep_for(5ms);
    }
  }

  void SetMaxRetries(const std::string& group, int32_t max) {
    store::GroupConfig g;
    g.name = group;
    g.max_retries = max;
    ASSERT_OK(topics_->UpsertGroup(g));
  }

  double Counter(const std::string& name, const std::string& group) {
    for (const auto& s : counters_.Snapshot()) {
      if (s.name == name && !s.labels.empty() && s.labels[0].second == group) return s.value;
    }
    return 0;
  }

  std::unique_ptr<timer::TimerService> timers_;
  std::unique_ptr<RetryService> retries_;
};

TEST(SendBackDecisionTest, FollowsLevelsAndLimits) {
  // First failure, broker picks: level 3 + 0; the count becomes 1.
  auto d = DecideSendBack(0, 0, 0, 16, 18);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->dead_letter);
  EXPECT_EQ(d->delay_level, 3);
  EXPECT_EQ(d->reconsume_times, 1u);
  // Fifth failure: level 3 + 4; capped at the last level.
  EXPECT_EQ(DecideSendBack(4, 0, 0, 16, 18)->delay_level, 7);
  EXPECT_EQ(DecideSendBack(15, 0, 0, 16, 18)->delay_level, 18);
  EXPECT_EQ(DecideSendBack(1, 0, 0, 16, 4)->delay_level, 4);
  // An explicit level.
  EXPECT_EQ(DecideSendBack(0, 5, 0, 16, 18)->delay_level, 5);
  // Max 2: the first and second failures retry, the third is a dead letter with count 3.
  EXPECT_FALSE(DecideSendBack(1, 0, 0, 2, 18)->dead_letter);
  EXPECT_TRUE(DecideSendBack(2, 0, 0, 2, 18)->dead_letter);
  EXPECT_EQ(DecideSendBack(2, 0, 0, 2, 18)->reconsume_times, 3u);
  // 0 retries: straight to the DLQ; -1: straight to the DLQ whatever the max.
  EXPECT_TRUE(DecideSendBack(0, 0, 0, 0, 18)->dead_letter);
  EXPECT_TRUE(DecideSendBack(0, -1, 0, 16, 18)->dead_letter);
  // The request's max applies when smaller than the group's, never when larger.
  EXPECT_TRUE(DecideSendBack(1, 0, 1, 16, 18)->dead_letter);
  EXPECT_FALSE(DecideSendBack(1, 0, 50, 16, 18)->dead_letter);
  EXPECT_TRUE(DecideSendBack(2, 0, 50, 2, 18)->dead_letter);
  // Bad levels.
  EXPECT_TRUE(DecideSendBack(0, 19, 0, 16, 18).status().code() == StatusCode::kInvalidArgument);
  EXPECT_TRUE(DecideSendBack(0, -2, 0, 16, 18).status().code() == StatusCode::kInvalidArgument);
  EXPECT_TRUE(DecideSendBack(0, 0, -1, 16, 18).status().code() == StatusCode::kInvalidArgument);
}

TEST_F(RetryServiceTest, SendBackLandsInRetryTopicAfterItsDelay) {
  const std::string id = NewMessageId();
  const int64_t offset = Produce(id);
  const int64_t before = NowEpochMs();
  auto r = SendBack("cg", id, offset);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->dead_lettered());
  EXPECT_EQ(r->reconsume_times(), 1);
  EXPECT_EQ(r->delay_level(), 3);
  EXPECT_GE(r->deliver_at_ms(), before + 60);
  ASSERT_TRUE(topics_->GetTopic("%RETRY%cg").has_value());
  EXPECT_EQ(topics_->GetTopic("%RETRY%cg")->write_queues, 1);

  auto retried = WaitForRecords("%RETRY%cg", 1);
  ASSERT_EQ(retried.size(), 1u);
  const Stored& s = retried[0];
  EXPECT_EQ(s.view.msg_id, id);
  EXPECT_EQ(s.view.topic, "%RETRY%cg");
  EXPECT_EQ(s.view.queue_id, 0u);
  EXPECT_EQ(s.view.reconsume_times, 1u);
  EXPECT_EQ(s.view.body, "body of " + id);
  EXPECT_EQ(s.view.born_timestamp_ms, 1700000000123);
  EXPECT_GE(s.view.store_timestamp_ms, r->deliver_at_ms());  // never early
  EXPECT_EQ(s.Prop("TAGS"), "TagA");
  EXPECT_EQ(s.Prop("KEYS"), "k-" + id);
  EXPECT_EQ(s.Prop("color"), "red");
  EXPECT_EQ(s.Prop("RETRY_TOPIC"), "orders");
  EXPECT_EQ(s.Prop("ORIGIN_MSG_ID"), id);
  EXPECT_EQ(s.PropCount("REAL_TOPIC"), 0);
  EXPECT_EQ(s.PropCount("TIMER_OUT_MS"), 0);
  EXPECT_EQ(Counter("vela_consumer_send_backs_total", "cg"), 1);
  EXPECT_EQ(Counter("rocketmq_send_to_dlq_messages_total", "cg"), 0);
}

TEST_F(RetryServiceTest, SecondFailureKeepsTheOriginTopicAndCounts) {
  const std::string id = NewMessageId();
  ASSERT_TRUE(SendBack("cg", id, Produce(id)).ok());
  auto first = WaitForRecords("%RETRY%cg", 1);
  ASSERT_EQ(first.size(), 1u);
  auto r = SendBack("cg", id, first[0].view.physical_offset);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->reconsume_times(), 2);
  EXPECT_EQ(r->delay_level(), 4);  // 3 + the one failure before
  auto both = WaitForRecords("%RETRY%cg", 2);
  ASSERT_EQ(both.size(), 2u);
  const Stored& s = both[1];
  EXPECT_EQ(s.view.msg_id, id);
  EXPECT_EQ(s.view.reconsume_times, 2u);
  EXPECT_EQ(s.Prop("RETRY_TOPIC"), "orders");
  EXPECT_EQ(s.PropCount("RETRY_TOPIC"), 1);
  EXPECT_EQ(s.PropCount("ORIGIN_MSG_ID"), 1);
  // The timer's mark of the first re-put is not carried over: one ORIGIN_OFFSET, the second's.
  EXPECT_EQ(s.PropCount("ORIGIN_OFFSET"), 1);
  EXPECT_NE(s.Prop("ORIGIN_OFFSET"), first[0].Prop("ORIGIN_OFFSET"));
  EXPECT_EQ(s.Prop("color"), "red");
}

TEST_F(RetryServiceTest, DeadLetterAfterTheGroupsMaxRetries) {
  SetMaxRetries("cg", 2);
  const std::string id = NewMessageId();
  int64_t offset = Produce(id);
  for (int failure = 1; failure <= 2; ++failure) {
    auto r = SendBack("cg", id, offset);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_FALSE(r->dead_lettered());
    auto retried = WaitForRecords("%RETRY%cg", static_cast<size_t>(failure));
    ASSERT_EQ(retried.size(), static_cast<size_t>(failure));
    offset = retried.back().view.physical_offset;
  }
  EXPECT_FALSE(topics_->GetTopic("%DLQ%cg").has_value());
  auto r = SendBack("cg", id, offset);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->dead_lettered());
  EXPECT_EQ(r->reconsume_times(), 3);
  ASSERT_TRUE(topics_->GetTopic("%DLQ%cg").has_value());
  auto dead = ReadQueue("%DLQ%cg");  // at once, not through the timer
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].view.msg_id, id);
  EXPECT_EQ(dead[0].view.reconsume_times, 3u);
  EXPECT_EQ(dead[0].Prop("RETRY_TOPIC"), "orders");
  EXPECT_EQ(dead[0].Prop("color"), "red");
  EXPECT_EQ(dead[0].view.body, "body of " + id);
  EXPECT_EQ(Counter("rocketmq_send_to_dlq_messages_total", "cg"), 1);
  EXPECT_EQ(Counter("vela_consumer_send_backs_total", "cg"), 3);
}

TEST_F(RetryServiceTest, ZeroRetriesAndLevelMinusOneGoStraightToTheDlq) {
  SetMaxRetries("none", 0);
  const std::string a = NewMessageId();
  auto r = SendBack("none", a, Produce(a));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->dead_lettered());
  EXPECT_EQ(ReadQueue("%DLQ%none").size(), 1u);

  const std::string b = NewMessageId();
  r = SendBack("cg", b, Produce(b), /*delay_level=*/-1);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->dead_lettered());
  auto dead = ReadQueue("%DLQ%cg");
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].view.msg_id, b);
  EXPECT_EQ(dead[0].view.reconsume_times, 1u);

  // The request's own max, smaller than the group's default 16.
  const std::string c = NewMessageId();
  r = SendBack("cg", c, Produce(c), 0, /*max_reconsume=*/1);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->dead_lettered());
}

TEST_F(RetryServiceTest, RefusesWhatIsNotThere) {
  const std::string id = NewMessageId();
  const int64_t offset = Produce(id);
  // An offset past the end, one inside the record, another id.
  EXPECT_TRUE(SendBack("cg", id, offset + 1000000).status().code() == StatusCode::kNotFound);
  EXPECT_TRUE(SendBack("cg", id, offset + 3).status().code() == StatusCode::kNotFound);
  auto wrong = SendBack("cg", "0123456789ABCDEF0123456789ABCDEF", offset);
  EXPECT_TRUE(wrong.status().code() == StatusCode::kNotFound);
  EXPECT_NE(wrong.status().message().find(id), std::string::npos) << wrong.status().ToString();
  // Bad requests.
  EXPECT_TRUE(SendBack("", id, offset).status().code() == StatusCode::kInvalidArgument);
  EXPECT_TRUE(SendBack("cg", "", offset).status().code() == StatusCode::kInvalidArgument);
  EXPECT_TRUE(SendBack("cg", id, -5).status().code() == StatusCode::kInvalidArgument);
  EXPECT_TRUE(SendBack("cg", id, offset, 19).status().code() == StatusCode::kInvalidArgument);
  EXPECT_TRUE(SendBack("cg", id, offset, -2).status().code() == StatusCode::kInvalidArgument);
  EXPECT_TRUE(SendBack(std::string(200, 'g'), id, offset).status().code() == StatusCode::kInvalidArgument);
  // Nothing was stored.
  EXPECT_TRUE(ReadQueue("%RETRY%cg").empty());
  EXPECT_FALSE(topics_->GetTopic("%DLQ%cg").has_value());
}

TEST_F(RetryServiceTest, RefusesRecordsOfSystemTopics) {
  // A retry record of another group, and a dead letter.
  const std::string id = NewMessageId();
  ASSERT_TRUE(SendBack("other", id, Produce(id), -1).ok());
  auto dead = ReadQueue("%DLQ%other");
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_TRUE(SendBack("cg", id, dead[0].view.physical_offset).status().code() == StatusCode::kPermissionDenied);
  EXPECT_TRUE(SendBack("other", id, dead[0].view.physical_offset).status().code() == StatusCode::kPermissionDenied);
}

TEST_F(RetryServiceTest, ProcessorAnswersWithStatusAndResponse) {
  RetryProcessor processor(*retries_, pool_);
  auto handler = [&](net::RequestContext rc, net::Frame f) { processor.HandleSendBack(rc, std::move(f)); };
  const std::string id = NewMessageId();
  v1::Header h;
  h.set_code(v1::CONSUMER_SEND_BACK);
  auto* req = h.mutable_send_back_request();
  req->set_group("cg");
  req->set_msg_id(id);
  req->set_physical_offset(Produce(id));
  auto ok = testing::Call(handler, h);
  ASSERT_TRUE(ok.status.has_value());
  EXPECT_TRUE(ok.status->ok()) << ok.status->ToString();
  EXPECT_EQ(ok.header.send_back_response().reconsume_times(), 1);
  req->set_physical_offset(req->physical_offset() + 1);
  auto missing = testing::Call(handler, h);
  ASSERT_TRUE(missing.status.has_value());
  EXPECT_TRUE(missing.status->code() == StatusCode::kNotFound);
  v1::Header empty;
  empty.set_code(v1::CONSUMER_SEND_BACK);
  auto bad = testing::Call(handler, empty);
  ASSERT_TRUE(bad.status.has_value());
  EXPECT_TRUE(bad.status->code() == StatusCode::kInvalidArgument);
}

TEST_F(RetryServiceTest, DeadLettersAreListedAndResentOnce) {
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(NewMessageId());
    ASSERT_TRUE(SendBack("cg", ids.back(), Produce(ids.back()), -1).ok());
  }
  EXPECT_TRUE(retries_->ListDeadLetters("nobody", 0, 0).status().code() == StatusCode::kNotFound);
  auto page = retries_->ListDeadLetters("cg", 0, 0);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->count, 3u);
  EXPECT_FALSE(page->more);
  // Pages of two.
  auto first = retries_->ListDeadLetters("cg", 0, 2);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->count, 2u);
  EXPECT_TRUE(first->more);
  auto second = retries_->ListDeadLetters("cg", first->next_offset, 2);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->count, 1u);
  EXPECT_FALSE(second->more);

  // One by id: back in the retry topic at once, reconsume 0, same id and properties.
  auto one = retries_->Resend("cg", ids[1], false);
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_EQ(one->resent, 1);
  auto retry = ReadQueue("%RETRY%cg");
  ASSERT_EQ(retry.size(), 1u);
  EXPECT_EQ(retry[0].view.msg_id, ids[1]);
  EXPECT_EQ(retry[0].view.reconsume_times, 0u);
  EXPECT_EQ(retry[0].Prop("RETRY_TOPIC"), "orders");
  EXPECT_EQ(retry[0].Prop("color"), "red");
  EXPECT_EQ(retries_->ListDeadLetters("cg", 0, 0)->count, 2u);
  EXPECT_TRUE(retries_->Resend("cg", ids[1], false).status().code() == StatusCode::kNotFound);  // resent already
  EXPECT_TRUE(retries_->Resend("cg", "nope", false).status().code() == StatusCode::kNotFound);
  EXPECT_TRUE(retries_->Resend("cg", "", false).status().code() == StatusCode::kInvalidArgument);

  // All: the other two, once.
  auto all = retries_->Resend("cg", "", true);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->resent, 2);
  EXPECT_EQ(ReadQueue("%RETRY%cg").size(), 3u);
  EXPECT_EQ(retries_->ListDeadLetters("cg", 0, 0)->count, 0u);
  EXPECT_EQ(retries_->Resend("cg", "", true)->resent, 0);
  EXPECT_EQ(Counter("vela_dlq_resent_total", "cg"), 3);

  // A dead letter that arrives afterwards is listed and resent on its own.
  ids.push_back(NewMessageId());
  ASSERT_TRUE(SendBack("cg", ids.back(), Produce(ids.back()), -1).ok());
  EXPECT_EQ(retries_->ListDeadLetters("cg", 0, 0)->count, 1u);
  EXPECT_EQ(retries_->Resend("cg", "", true)->resent, 1);
}

TEST_F(RetryServiceTest, ClusteringHeartbeatCreatesTheRetryTopic) {
  ClientProcessor processor(options_, *resolver_, clients_, filters_, retries_.get());
  asio::io_context io;
  auto connection = std::make_shared<net::Connection>(asio::ip::tcp::socket(io), net::ConnectionOptions{}, nullptr);
  auto heartbeat = [&](const std::string& group, v1::ConsumeModel model) {
    v1::Header h;
    h.set_code(v1::HEARTBEAT);
    auto* hb = h.mutable_heartbeat_request();
    hb->set_client_id("client-1");
    auto* c = hb->add_consumers();
    c->set_group(group);
    c->set_model(model);
    // Through the handler; with no socket it does not reply, but it did its work first.
    testing::Call([&](net::RequestContext rc, net::Frame f) { processor.HandleHeartbeat(rc, std::move(f)); }, h, {},
                  std::chrono::milliseconds(0));
  };
  heartbeat("clustered", v1::CLUSTERING);
  heartbeat("broadcast", v1::BROADCASTING);
  ASSERT_TRUE(topics_->GetTopic("%RETRY%clustered").has_value());
  EXPECT_EQ(topics_->GetTopic("%RETRY%clustered")->read_queues, 1);
  EXPECT_FALSE(topics_->GetTopic("%RETRY%broadcast").has_value());
}

}  // namespace
}  // namespace vela::broker::retry
