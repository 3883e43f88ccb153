#include <fmt/format.h>

#include "broker/logger.h"
#include "broker/namesrv_registrar.h"
#include "broker/processors/processors.h"
#include "common/clock.h"
#include "common/coding.h"
#include "common/message_id.h"
#include "common/validation.h"

namespace vela::broker {
namespace {

// Splits a send body into its records and checks each one against the request and the limits.
// Patches the queue id where the broker chose it, after checking the CRC the client computed: a
// record damaged on its way must not be re-stamped into a valid one. Records left as they came
// are CRC-checked once, by the store's Append.
Status SplitAndValidate(const v1::SendRequest& req, uint32_t queue_id, std::string& body,
                        std::vector<std::string_view>* records) {
  size_t pos = 0;
  while (pos < body.size()) {
    RecordView view;
    std::string reason;
    std::string_view rest(body.data() + pos, body.size() - pos);
    if (DecodeRecord(rest, /*verify_crc=*/false, &view, &reason) != DecodeOutcome::kRecord) {
      return Status::InvalidArgument(
          fmt::format("message {} of the request is malformed: {}", records->size(), reason.empty() ? "no record" : reason));
    }
    if (view.topic != req.topic()) {
      return Status::InvalidArgument(
          fmt::format("message {} is for topic {}, the request for {}", records->size(), view.topic, req.topic()));
    }
    // The body size limit (maxMessageSize) is checked by the store's Append.
    if (Status props = ValidatePropertiesBlock(view.properties); !props.ok()) {
      return props.WithContext(fmt::format("message {} of the request", records->size()));
    }
    if (Status id = ValidateMessageId(view.msg_id); !id.ok()) {
      return id.WithContext(fmt::format("message {} of the request", records->size()));
    }
    char* raw = body.data() + pos;
    if (view.queue_id != queue_id) {
      RecordView checked;
      if (DecodeRecord(view.raw, /*verify_crc=*/true, &checked, &reason) != DecodeOutcome::kRecord) {
        return Status::InvalidArgument(
            fmt::format("message {} of the request is corrupt: {}", records->size(), reason));
      }
      coding::PutFixed32(raw + record::kOffQueueId, queue_id);
      RefreshRecordCrc(raw);
    }
    records->push_back(view.raw);
    pos += view.raw.size();
  }
  if (records->empty()) return Status::InvalidArgument("send request carries no message");
  if (req.message_count() != 0 && req.message_count() != records->size()) {
    return Status::InvalidArgument(
        fmt::format("request says {} messages, body holds {}", req.message_count(), records->size()));
  }
  return Status::OK();
}

}  // namespace

Result<store::TopicConfig> ResolveTopic(BrokerContext& ctx, const std::string& topic, bool for_write) {
  // System topics are written by the broker's own services only (DESIGN.md §7.1).
  if (for_write && IsReservedTopicName(topic)) {
    return Status::PermissionDenied(
        fmt::format("topic {} is a reserved system topic: clients cannot send to it directly", topic));
  }
  if (auto t = ctx.topics.GetTopic(topic)) {
    if (for_write && (t->perm & 2) == 0) return Status::PermissionDenied(fmt::format("topic {} is not writable", topic));
    if (!for_write && (t->perm & 4) == 0) return Status::PermissionDenied(fmt::format("topic {} is not readable", topic));
    return *t;
  }
  VELA_RETURN_IF_ERROR(ValidateUserTopicName(topic));
  if (!ctx.options.auto_create_topic) {
    return Status::NotFound(fmt::format("topic {} does not exist on broker {}", topic, ctx.broker_addr),
                            SubCode::kTopicNotFound);
  }
  store::TopicConfig config;
  config.name = topic;
  config.read_queues = config.write_queues = ctx.options.default_topic_queues;
  VELA_RETURN_IF_ERROR(ctx.topics.UpsertTopic(config));
  BrokerLogger()->info("topic {} auto-created with {} queues", topic, config.write_queues);
  ctx.registrar.Trigger();
  return config;
}

Result<store::GroupConfig> ResolveGroup(BrokerContext& ctx, const std::string& group, std::string_view peer) {
  if (auto g = ctx.topics.GetGroup(group)) return *g;
  VELA_RETURN_IF_ERROR(ValidateGroupName(group));
  if (!ctx.options.auto_create_group) {
    return Status::NotFound(fmt::format("group {} does not exist on broker {} and autoCreateSubscriptionGroup is off: "
                                        "create it first (vela-admin group create {})",
                                        group, ctx.broker_addr, group),
                            SubCode::kGroupNotFound);
  }
  store::GroupConfig config;
  config.name = group;
  auto created = ctx.topics.CreateGroupIfAbsent(config, ctx.options.auto_create_group_limit);
  if (!created.ok()) {
    // A client may ask for many groups: at most one line a second, with how many were not logged.
    static std::atomic<int64_t> last_log_ms{0};
    static std::atomic<int64_t> unlogged{0};
    const int64_t now = NowEpochMs();
    int64_t last = last_log_ms.load(std::memory_order_relaxed);
    if (now - last >= 1000 && last_log_ms.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
      BrokerLogger()->warn("group {} not auto-created for {}: {} ({} more refusals since the last line)", group, peer,
                           created.status().ToString(), unlogged.exchange(0, std::memory_order_relaxed));
    } else {
      unlogged.fetch_add(1, std::memory_order_relaxed);
    }
    return created.status();
  }
  if (*created) {
    BrokerLogger()->info("group {} auto-created for {} ({} groups on this broker)", group, peer,
                         ctx.topics.group_count());
  }
  auto stored = ctx.topics.GetGroup(group);  // when another request created it first, its config
  return stored ? *stored : config;
}

void RegisterSendProcessor(BrokerContext& ctx, net::Dispatcher& dispatcher) {
  dispatcher.RegisterProcessor(v1::SEND_MESSAGE, [&ctx](net::RequestContext rc, net::Frame frame) {
    ctx.counters.send_requests.fetch_add(1, std::memory_order_relaxed);
    auto fail = [&](const Status& s) {
      ctx.counters.send_errors.fetch_add(1, std::memory_order_relaxed);
      BrokerLogger()->debug("send from {} refused: {}", rc.peer(), s.ToString());
      rc.ReplyError(s);
    };
    if (!frame.header.has_send_request()) return fail(Status::InvalidArgument("SEND_MESSAGE needs send_request"));
    const v1::SendRequest& req = frame.header.send_request();
    auto topic = ResolveTopic(ctx, req.topic(), /*for_write=*/true);
    if (!topic.ok()) return fail(topic.status());
    uint32_t queue_id;
    if (req.queue_id() < 0) {
      static std::atomic<uint32_t> round_robin{0};
      queue_id = round_robin.fetch_add(1, std::memory_order_relaxed) % static_cast<uint32_t>(topic->write_queues);
    } else if (req.queue_id() >= topic->write_queues) {
      return fail(Status::InvalidArgument(
          fmt::format("queue {} does not exist: topic {} has {} write queues", req.queue_id(), req.topic(),
                      topic->write_queues)));
    } else {
      queue_id = static_cast<uint32_t>(req.queue_id());
    }
    store::AppendRequest append;
    Status valid = SplitAndValidate(req, queue_id, frame.body, &append.records);
    if (!valid.ok()) return fail(valid);
    const int64_t bytes = static_cast<int64_t>(frame.body.size());
    const int64_t count = static_cast<int64_t>(append.records.size());
    const bool compact = req.compact_receipts();
    // Full receipts repeat each message's id: they are read from the request's records, so the
    // body travels with the callback, with where each record starts in it.
    std::string body;
    std::vector<size_t> starts;
    if (!compact) {
      for (std::string_view r : append.records) starts.push_back(static_cast<size_t>(r.data() - frame.body.data()));
      body = frame.body;
    }
    ctx.store.Append(std::move(append), [&ctx, rc, bytes, count, compact, body = std::move(body),
                                         starts = std::move(starts)](Result<store::AppendResult> result) {
      if (!result.ok()) {
        ctx.counters.send_errors.fetch_add(1, std::memory_order_relaxed);
        if (result.status().IsNoSpace()) BrokerLogger()->warn("send refused: {}", result.status().ToString());
        rc.ReplyError(result.status());
        return;
      }
      ctx.counters.messages_in.fetch_add(count, std::memory_order_relaxed);
      ctx.counters.bytes_in.fetch_add(bytes, std::memory_order_relaxed);
      v1::Header resp;
      auto* sr = resp.mutable_send_response();
      sr->set_broker_addr(ctx.broker_addr);
      if (compact) {
        // The records of one request sit in one queue with consecutive offsets (the store's
        // guarantee); the client knows their ids.
        auto* c = sr->mutable_compact_receipt();
        c->set_queue_id(static_cast<int32_t>(result->records.front().queue_id));
        c->set_first_queue_offset(result->records.front().queue_offset);
        c->set_store_host(ctx.options.store.store_host);
        c->mutable_physical_offsets()->Reserve(static_cast<int>(result->records.size()));
        for (const auto& r : result->records) c->add_physical_offsets(r.physical_offset);
        rc.Reply(Status::OK(), std::move(resp));
        return;
      }
      for (size_t i = 0; i < result->records.size(); ++i) {
        const store::AppendedRecord& r = result->records[i];
        RecordView view;
        (void)DecodeRecord(std::string_view(body).substr(starts[i]), /*verify_crc=*/false, &view);  // validated
        auto* receipt = sr->add_receipts();
        receipt->set_msg_id(std::string(view.msg_id));
        receipt->set_offset_id(MakeOffsetId(ctx.options.store.store_host, r.physical_offset));
        receipt->set_queue_id(static_cast<int32_t>(r.queue_id));
        receipt->set_queue_offset(r.queue_offset);
        receipt->set_physical_offset(r.physical_offset);
      }
      rc.Reply(Status::OK(), std::move(resp));
    });
  });
}

}  // namespace vela::broker
