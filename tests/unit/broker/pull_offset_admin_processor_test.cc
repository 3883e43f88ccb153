// PullProcessor, OffsetProcessor and AdminProcessor without sockets, against a real store.
#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "broker/processors/admin_processor.h"
#include "broker/processors/offset_processor.h"
#include "broker/processors/pull_processor.h"
#include "common/message_record.h"
#include "unit/broker/processor_test_util.h"

namespace vela::broker {
namespace {

using store::testing::AppendOne;
using store::testing::MakeRecord;
using testing::Answer;
using testing::Call;

v1::Header PullHeader(const std::string& topic, int32_t queue_id, int64_t offset) {
  v1::Header h;
  h.set_code(v1::PULL_MESSAGE);
  auto* r = h.mutable_pull_request();
  r->set_group("pullers");
  r->set_topic(topic);
  r->set_queue_id(queue_id);
  r->set_queue_offset(offset);
  r->set_suspend_timeout_ms(0);  // answer at once: no long poll in these tests
  return h;
}

class PullProcessorTest : public testing::ProcessorTest {
 protected:
  Answer Pull(v1::Header h) {
    PullProcessor p(options_, *resolver_, *store_, holds_, filters_, counters_);
    return Call([&p](net::RequestContext rc, net::Frame f) { p.HandlePull(rc, std::move(f)); }, std::move(h));
  }
};

TEST_F(PullProcessorTest, FoundThenNoNewMessage) {
  CreateTopic("orders");
  ASSERT_TRUE(AppendOne(*store_, MakeRecord("orders", 1, "first", "TagA")).ok());
  ASSERT_TRUE(AppendOne(*store_, MakeRecord("orders", 1, "second", "TagB")).ok());
  store_->WaitForDispatch();

  Answer found = Pull(PullHeader("orders", 1, 0));
  ASSERT_TRUE(found.status.has_value());
  ASSERT_OK(*found.status);
  const auto& pr = found.header.pull_response();
  EXPECT_EQ(pr.outcome(), v1::PULL_FOUND);
  EXPECT_EQ(pr.message_count(), 2u);
  EXPECT_EQ(pr.next_offset(), 2);
  RecordView view;
  ASSERT_EQ(DecodeRecord(found.body, true, &view), DecodeOutcome::kRecord);
  EXPECT_EQ(view.body, "first");
  EXPECT_EQ(counters_.messages_out.load(), 2);
  EXPECT_EQ(counters_.registry.Total("rocketmq_messages_out_total"), 2);

  Answer none = Pull(PullHeader("orders", 1, 2));
  ASSERT_OK(*none.status);
  EXPECT_EQ(none.header.pull_response().outcome(), v1::PULL_NO_NEW_MESSAGE);
  EXPECT_EQ(none.header.pull_response().next_offset(), 2);
  EXPECT_EQ(holds_.held_count(), 0);
}

TEST_F(PullProcessorTest, BadSql92FilterIsBadFilterAndBadQueueIsRefused) {
  CreateTopic("orders");
  v1::Header h = PullHeader("orders", 0, 0);
  h.mutable_pull_request()->set_filter_type(v1::FILTER_SQL92);
  h.mutable_pull_request()->set_expression("a > AND (");
  Answer bad = Pull(h);
  ASSERT_TRUE(bad.status.has_value());
  EXPECT_EQ(bad.status->code(), StatusCode::kInvalidArgument) << bad.status->ToString();
  EXPECT_EQ(bad.status->subcode(), SubCode::kBadFilter) << bad.status->ToString();

  Answer bad_queue = Pull(PullHeader("orders", 9, 0));
  EXPECT_EQ(bad_queue.status->code(), StatusCode::kInvalidArgument);
  Answer unknown = Pull(PullHeader("nowhere", 0, 0));
  EXPECT_EQ(unknown.status->subcode(), SubCode::kTopicNotFound);
}

using OffsetProcessorTest = testing::ProcessorTest;

TEST_F(OffsetProcessorTest, CommitThenQuery) {
  OffsetProcessor p(*resolver_, *store_);
  auto query = [&](int32_t queue) {
    v1::Header h;
    h.set_code(v1::QUERY_CONSUMER_OFFSET);
    auto* q = h.mutable_query_offset_request();
    q->set_group("readers");
    q->set_topic("orders");
    q->set_queue_id(queue);
    return Call([&p](net::RequestContext rc, net::Frame f) { p.HandleQueryOffset(rc, std::move(f)); }, h);
  };
  Answer before = query(3);
  ASSERT_OK(*before.status);
  EXPECT_EQ(before.header.query_offset_response().offset(), -1);

  v1::Header u;
  u.set_code(v1::UPDATE_CONSUMER_OFFSET);
  auto* up = u.mutable_update_offset_request();
  up->set_group("readers");
  up->set_topic("orders");
  up->set_queue_id(3);
  up->set_offset(42);
  auto update = [&](v1::Header h) {
    return Call([&p](net::RequestContext rc, net::Frame f) { p.HandleUpdateOffset(rc, std::move(f)); }, h);
  };
  ASSERT_OK(*update(u).status);
  EXPECT_EQ(query(3).header.query_offset_response().offset(), 42);
  EXPECT_EQ(query(2).header.query_offset_response().offset(), -1);

  up->set_offset(-5);
  EXPECT_EQ(update(u).status->code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(query(3).header.query_offset_response().offset(), 42);
}

class AdminProcessorTest : public testing::ProcessorTest {
 protected:
  AdminProcessorTest()
      : admin_(options_, broker_addr_, *resolver_, *store_, *topics_, clients_, holds_, *registrar_, counters_, pool_,
               0) {}

  Answer CreateTopicRequest(const std::string& name) {
    v1::Header h;
    h.set_code(v1::CREATE_TOPIC);
    h.mutable_create_topic_request()->set_name(name);
    h.mutable_create_topic_request()->set_write_queues(2);
    return Call([this](net::RequestContext rc, net::Frame f) { admin_.HandleCreateTopic(rc, std::move(f)); }, h);
  }
  std::vector<std::string> ListTopics(bool include_system) {
    v1::Header h;
    h.set_code(v1::LIST_TOPICS);
    h.mutable_list_request()->set_include_system(include_system);
    Answer a = Call([this](net::RequestContext rc, net::Frame f) { admin_.HandleListTopics(rc, std::move(f)); }, h);
    EXPECT_OK(*a.status);
    v1::TopicListResponse list;
    EXPECT_TRUE(list.ParseFromString(a.body));
    EXPECT_EQ(a.header.list_page().count(), static_cast<uint32_t>(list.topics_size()));
    std::vector<std::string> names;
    for (const auto& t : list.topics()) names.push_back(t.name());
    return names;
  }

  AdminProcessor admin_;
};

TEST_F(AdminProcessorTest, CreateTopicWithReservedNameIsRefused) {
  for (const char* name : {"RMQ_SYS_TRANS_HALF_TOPIC", "rmq_sys_wheel_timer", "%RETRY%g", "TRANS_CHECK_MAX_TIME_TOPIC"}) {
    Answer a = CreateTopicRequest(name);
    ASSERT_TRUE(a.status.has_value());
    EXPECT_EQ(a.status->code(), StatusCode::kInvalidArgument) << name << ": " << a.status->ToString();
    EXPECT_FALSE(topics_->GetTopic(name).has_value()) << name;
  }
  Answer ok = CreateTopicRequest("orders");
  ASSERT_OK(*ok.status);
  ASSERT_TRUE(topics_->GetTopic("orders").has_value());
  EXPECT_EQ(topics_->GetTopic("orders")->write_queues, 2);
}

TEST_F(AdminProcessorTest, ListHidesSystemTopicsUnlessAsked) {
  CreateTopic("orders");
  CreateTopic("payments");
  store::TopicConfig timer;
  timer.name = "rmq_sys_wheel_timer";
  timer.read_queues = timer.write_queues = 1;
  ASSERT_OK(topics_->UpsertSystemTopic(timer));
  timer.name = "%RETRY%readers";
  ASSERT_OK(topics_->UpsertSystemTopic(timer));

  EXPECT_EQ(ListTopics(false), (std::vector<std::string>{"orders", "payments"}));
  std::vector<std::string> all = ListTopics(true);
  EXPECT_EQ(all.size(), 4u);
  EXPECT_NE(std::find(all.begin(), all.end(), "rmq_sys_wheel_timer"), all.end());
  EXPECT_NE(std::find(all.begin(), all.end(), "%RETRY%readers"), all.end());
}

TEST_F(AdminProcessorTest, BatchesAreStoredWholeOrRefused) {
  auto call = [this](v1::RequestCode code, std::string body) {
    v1::Header h;
    h.set_code(code);
    return Call(
        [this, code](net::RequestContext rc, net::Frame f) {
          code == v1::CREATE_TOPICS ? admin_.HandleCreateTopics(rc, std::move(f)) : admin_.HandleCreateGroups(rc, std::move(f));
        },
        h, std::move(body));
  };
  v1::TopicConfigList topics;
  topics.add_topics()->set_name("a");
  topics.add_topics()->set_name("b");
  ASSERT_OK(*call(v1::CREATE_TOPICS, topics.SerializeAsString()).status);
  EXPECT_TRUE(topics_->GetTopic("a").has_value());
  EXPECT_TRUE(topics_->GetTopic("b").has_value());
  topics.add_topics()->set_name("RMQ_SYS_TRACE_TOPIC");
  topics.mutable_topics(0)->set_name("c");
  EXPECT_EQ(call(v1::CREATE_TOPICS, topics.SerializeAsString()).status->code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(topics_->GetTopic("c").has_value());  // none of a refused batch is stored
  EXPECT_EQ(call(v1::CREATE_TOPICS, "not a list \xff").status->code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(call(v1::CREATE_TOPICS, "").status->code(), StatusCode::kInvalidArgument);

  v1::GroupConfigList groups;
  groups.add_groups()->set_name("g1");
  ASSERT_OK(*call(v1::CREATE_GROUPS, groups.SerializeAsString()).status);
  EXPECT_TRUE(topics_->GetGroup("g1").has_value());
  Answer empty = call(v1::CREATE_GROUPS, "");
  EXPECT_EQ(empty.status->code(), StatusCode::kInvalidArgument);
  EXPECT_NE(empty.status->message().find("GroupConfigList"), std::string::npos);
}

TEST_F(AdminProcessorTest, MaxRetriesZeroMeansNoRetryAndUnsetMeansSixteen) {
  auto create = [this](const std::string& name, std::optional<int32_t> max_retries) {
    v1::Header h;
    h.set_code(v1::CREATE_GROUP);
    h.mutable_create_group_request()->set_name(name);
    if (max_retries) h.mutable_create_group_request()->set_max_retries(*max_retries);
    return Call([this](net::RequestContext rc, net::Frame f) { admin_.HandleCreateGroup(rc, std::move(f)); }, h);
  };
  ASSERT_OK(*create("none", 0).status);
  EXPECT_EQ(topics_->GetGroup("none")->max_retries, 0);
  ASSERT_OK(*create("two", 2).status);
  EXPECT_EQ(topics_->GetGroup("two")->max_retries, 2);
  ASSERT_OK(*create("default", std::nullopt).status);
  EXPECT_EQ(topics_->GetGroup("default")->max_retries, 16);
  EXPECT_EQ(create("negative", -1).status->code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vela::broker
