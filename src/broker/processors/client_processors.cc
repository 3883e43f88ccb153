#include <fmt/format.h>

#include "broker/logger.h"
#include "broker/processors/processors.h"
#include "broker/subscription_filter.h"
#include "common/clock.h"
#include "common/message_id.h"
#include "common/message_record.h"

namespace vela::broker {

void RegisterClientProcessors(BrokerContext& ctx, net::Dispatcher& dispatcher) {
  dispatcher.RegisterProcessor(v1::HEARTBEAT, [&ctx](net::RequestContext rc, net::Frame frame) {
    const auto& hb = frame.header.heartbeat_request();
    if (hb.client_id().empty()) {
      rc.ReplyError(Status::InvalidArgument("heartbeat needs a client id"));
      return;
    }
    for (const auto& c : hb.consumers()) {
      auto g = ResolveGroup(ctx, c.group(), rc.peer());
      if (!g.ok()) {
        rc.ReplyError(g.status());
        return;
      }
      // A subscription this broker cannot serve is refused here, at subscribe time, not at delivery.
      for (const auto& s : c.subscriptions()) {
        auto filter = SubscriptionFilter::Create(s.filter_type(), s.expression(), ctx.options.enable_property_filter,
                                                 ctx.filters, nullptr);
        if (!filter.ok()) {
          BrokerLogger()->info("subscription of {} in group {} to {} refused: {}", hb.client_id(), c.group(),
                               s.topic(), filter.status().ToString());
          rc.ReplyError(filter.status());
          return;
        }
      }
    }
    auto conn = rc.connection();
    if (!conn) return;
    ctx.clients.Heartbeat(hb, conn, NowEpochMs());
    rc.Reply(Status::OK());
  });
  dispatcher.RegisterProcessor(v1::UNREGISTER_CLIENT, [&ctx](net::RequestContext rc, net::Frame frame) {
    const auto& u = frame.header.unregister_client_request();
    ctx.clients.Unregister(u.client_id(), u.producer_group(), u.consumer_group());
    rc.Reply(Status::OK());
  });
  dispatcher.RegisterProcessor(v1::GET_CONSUMER_LIST, [&ctx](net::RequestContext rc, net::Frame frame) {
    v1::Header resp;
    for (auto& id : ctx.clients.ConsumerIds(frame.header.consumer_list_request().group())) {
      resp.mutable_consumer_list_response()->add_client_ids(id);
    }
    resp.mutable_consumer_list_response();
    rc.Reply(Status::OK(), std::move(resp));
  });
  dispatcher.RegisterProcessor(v1::QUERY_CONSUMER_OFFSET, [&ctx](net::RequestContext rc, net::Frame frame) {
    const auto& q = frame.header.query_offset_request();
    auto offset = ctx.store.meta().QueryOffset(q.group(), q.topic(), static_cast<uint32_t>(q.queue_id()));
    v1::Header resp;
    resp.mutable_query_offset_response()->set_offset(offset.value_or(-1));
    rc.Reply(Status::OK(), std::move(resp));
  });
  dispatcher.RegisterProcessor(v1::UPDATE_CONSUMER_OFFSET, [&ctx](net::RequestContext rc, net::Frame frame) {
    const auto& u = frame.header.update_offset_request();
    if (u.offset() < 0 || u.queue_id() < 0) {
      rc.ReplyError(Status::InvalidArgument("offset and queue id must not be negative"));
      return;
    }
    auto g = ResolveGroup(ctx, u.group(), rc.peer());
    if (!g.ok()) {
      rc.ReplyError(g.status());
      return;
    }
    rc.Reply(ctx.store.meta().CommitOffset(u.group(), u.topic(), static_cast<uint32_t>(u.queue_id()), u.offset()));
  });
}

void RegisterQueryProcessors(BrokerContext& ctx, net::Dispatcher& dispatcher) {
  dispatcher.RegisterProcessor(
      v1::VIEW_MESSAGE,
      [&ctx](net::RequestContext rc, net::Frame frame) {
        const std::string& id = frame.header.view_message_request().msg_id();
        auto found = ctx.store.LookupByMessageId(id);
        if (!found.ok()) {
          // An offset id is read here only when it names this broker: a unique id that happens to
          // parse as an offset id must not read a record at some unrelated offset.
          auto offset_id = ParseOffsetId(id);
          if (offset_id.ok() && offset_id->broker_addr == UnpackHost(ctx.options.store.store_host)) {
            found = ctx.store.ReadRecordAt(offset_id->physical_offset);
          }
        }
        if (!found.ok()) {
          rc.ReplyError(Status::NotFound(fmt::format("no message with id {} on broker {}", id, ctx.broker_addr)));
          return;
        }
        rc.Reply(Status::OK(), {}, net::OutBody(std::move(found).value()));
      },
      &ctx.admin_pool);
  dispatcher.RegisterProcessor(
      v1::QUERY_MESSAGE_BY_KEY,
      [&ctx](net::RequestContext rc, net::Frame frame) {
        const auto& q = frame.header.query_by_key_request();
        int max = q.max_messages() > 0 ? std::min(q.max_messages(), 1000) : 64;
        std::string body;
        for (auto& rec : ctx.store.QueryByKey(q.topic(), q.key(), max)) body += rec;
        rc.Reply(Status::OK(), {}, net::OutBody(std::move(body)));
      },
      &ctx.admin_pool);
  dispatcher.RegisterProcessor(v1::GET_QUEUE_OFFSETS, [&ctx](net::RequestContext rc, net::Frame frame) {
    const auto& q = frame.header.queue_offsets_request();
    auto qid = static_cast<uint32_t>(q.queue_id());
    v1::Header resp;
    auto* r = resp.mutable_queue_offsets_response();
    r->set_min_offset(ctx.store.MinQueueOffset(q.topic(), qid));
    r->set_max_offset(ctx.store.MaxQueueOffset(q.topic(), qid));
    r->set_last_store_timestamp_ms(ctx.store.LastStoreTimestamp(q.topic(), qid));
    if (q.timestamp_ms() > 0) r->set_offset_for_timestamp(ctx.store.QueueOffsetForTimestamp(q.topic(), qid, q.timestamp_ms()));
    rc.Reply(Status::OK(), std::move(resp));
  });
}

}  // namespace vela::broker
