// ClientProcessor and QueryProcessor without sockets, against a real store.
#include <string>

#include <gtest/gtest.h>

#include "broker/processors/client_processor.h"
#include "broker/processors/query_processor.h"
#include "common/message_record.h"
#include "unit/broker/processor_test_util.h"

namespace vela::broker {
namespace {

using store::testing::AppendOne;
using store::testing::MakeRecord;
using testing::Answer;
using testing::Call;

using ClientProcessorTest = testing::ProcessorTest;

TEST_F(ClientProcessorTest, HeartbeatRefusesNoClientIdAndBadSubscriptions) {
  ClientProcessor p(options_, *resolver_, clients_, filters_);
  // The heartbeat handler answers before it returns, or never (a dropped heartbeat): no waiting.
  auto heartbeat = [&p](v1::Header h) {
    h.set_code(v1::HEARTBEAT);
    return Call([&p](net::RequestContext rc, net::Frame f) { p.HandleHeartbeat(rc, std::move(f)); }, h, {},
                std::chrono::milliseconds(0));
  };
  v1::Header h;
  Answer no_id = heartbeat(h);
  ASSERT_TRUE(no_id.status.has_value());
  EXPECT_EQ(no_id.status->code(), StatusCode::kInvalidArgument);

  auto* hb = h.mutable_heartbeat_request();
  hb->set_client_id("client-1");
  auto* consumer = hb->add_consumers();
  consumer->set_group("readers");
  auto* sub = consumer->add_subscriptions();
  sub->set_topic("orders");
  sub->set_filter_type(v1::FILTER_SQL92);
  sub->set_expression("a > AND (");
  Answer bad = heartbeat(h);
  EXPECT_EQ(bad.status->subcode(), SubCode::kBadFilter) << bad.status->ToString();

  // A good heartbeat without a connection (no socket here) is dropped, as one whose peer left.
  sub->set_expression("a > 1");
  EXPECT_FALSE(heartbeat(h).status.has_value());
  EXPECT_TRUE(topics_->GetGroup("readers").has_value());  // auto-created on the way

  v1::Header list;
  list.set_code(v1::GET_CONSUMER_LIST);
  list.mutable_consumer_list_request()->set_group("readers");
  Answer members =
      Call([&p](net::RequestContext rc, net::Frame f) { p.HandleGetConsumerList(rc, std::move(f)); }, list);
  ASSERT_OK(*members.status);
  EXPECT_TRUE(members.header.has_consumer_list_response());
  EXPECT_EQ(members.header.consumer_list_response().client_ids_size(), 0);
}

using QueryProcessorTest = testing::ProcessorTest;

TEST_F(QueryProcessorTest, ViewMessageAndQueueOffsets) {
  CreateTopic("orders");
  const std::string record = MakeRecord("orders", 2, "hello", "", "order-7");
  auto appended = AppendOne(*store_, record);
  ASSERT_TRUE(appended.ok()) << appended.status().ToString();
  store_->WaitForDispatch();
  RecordView sent;
  ASSERT_EQ(DecodeRecord(record, false, &sent), DecodeOutcome::kRecord);
  QueryProcessor p(options_, broker_addr_, *store_, pool_);

  v1::Header view;
  view.set_code(v1::VIEW_MESSAGE);
  view.mutable_view_message_request()->set_msg_id(std::string(sent.msg_id));
  auto view_call = [&p](const v1::Header& h) {
    return Call([&p](net::RequestContext rc, net::Frame f) { p.HandleViewMessage(rc, std::move(f)); }, h);
  };
  Answer found = view_call(view);
  ASSERT_OK(*found.status);
  RecordView stored;
  ASSERT_EQ(DecodeRecord(found.body, true, &stored), DecodeOutcome::kRecord);
  EXPECT_EQ(stored.body, "hello");
  view.mutable_view_message_request()->set_msg_id("no-such-id");
  EXPECT_EQ(view_call(view).status->code(), StatusCode::kNotFound);

  v1::Header offsets;
  offsets.set_code(v1::GET_QUEUE_OFFSETS);
  offsets.mutable_queue_offsets_request()->set_topic("orders");
  offsets.mutable_queue_offsets_request()->set_queue_id(2);
  Answer o = Call([&p](net::RequestContext rc, net::Frame f) { p.HandleGetQueueOffsets(rc, std::move(f)); }, offsets);
  ASSERT_OK(*o.status);
  EXPECT_EQ(o.header.queue_offsets_response().min_offset(), 0);
  EXPECT_EQ(o.header.queue_offsets_response().max_offset(), 1);
}

}  // namespace
}  // namespace vela::broker
