#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "broker/logger.h"
#include "broker/namesrv_registrar.h"
#include "broker/processors/processors.h"
#include "common/clock.h"
#include "common/validation.h"

namespace vela::broker {
namespace {

store::TopicConfig FromWire(const v1::TopicConfig& t, const BrokerOptions& options) {
  store::TopicConfig c;
  c.name = t.name();
  c.write_queues = t.write_queues() > 0 ? t.write_queues() : options.default_topic_queues;
  c.read_queues = t.read_queues() > 0 ? t.read_queues() : c.write_queues;
  c.perm = t.perm() != 0 ? t.perm() : 6;
  c.message_type = static_cast<int32_t>(t.message_type());
  return c;
}

void ToWire(const store::TopicConfig& c, v1::TopicConfig* t) {
  t->set_name(c.name);
  t->set_read_queues(c.read_queues);
  t->set_write_queues(c.write_queues);
  t->set_perm(c.perm);
  t->set_message_type(static_cast<v1::MessageType>(c.message_type));
}

store::GroupConfig GroupFromWire(const v1::GroupConfig& g) {
  store::GroupConfig c;
  c.name = g.name();
  c.broadcast = g.broadcast();
  c.max_retries = g.max_retries() > 0 ? g.max_retries() : 16;
  c.consume_enable = true;
  return c;
}

// One page of a name-sorted list (LIST_TOPICS, LIST_GROUPS): the entries after
// request.start_after, at most request.max_entries (capped by kListPageMaxEntries) and about
// kListPageBytes. `add` puts one entry into the response body and returns its encoded size.
constexpr size_t kListPageDefaultEntries = 5000;
constexpr size_t kListPageMaxEntries = 20000;
constexpr size_t kListPageBytes = 1 << 20;

template <typename Entry, typename AddFn>
v1::ListPage ListPageOf(const std::vector<Entry>& sorted, const v1::ListRequest& request, AddFn add) {
  const size_t max = request.max_entries() == 0 ? kListPageDefaultEntries
                                                : std::min<size_t>(request.max_entries(), kListPageMaxEntries);
  auto it = std::upper_bound(sorted.begin(), sorted.end(), request.start_after(),
                             [](const std::string& name, const Entry& e) { return name < e.name; });
  if (request.start_after().empty()) it = sorted.begin();
  v1::ListPage page;
  size_t bytes = 0;
  uint32_t count = 0;
  for (; it != sorted.end() && count < max && bytes < kListPageBytes; ++it, ++count) {
    bytes += add(*it);
    page.set_last(it->name);
  }
  page.set_count(count);
  page.set_more(it != sorted.end());
  return page;
}

Status TopicMissing(BrokerContext& ctx, const std::string& name) {
  return Status::NotFound(fmt::format("topic {} does not exist on broker {}", name, ctx.broker_addr),
                          SubCode::kTopicNotFound);
}

// Per-queue progress of a group on one topic.
void AddProgress(BrokerContext& ctx, const store::TopicConfig& topic,
                 const std::map<std::pair<std::string, uint32_t>, int64_t>& offsets, v1::GroupProgressResponse* out) {
  for (int32_t q = 0; q < topic.read_queues; ++q) {
    auto qid = static_cast<uint32_t>(q);
    auto* p = out->add_queues();
    p->set_topic(topic.name);
    p->set_queue_id(q);
    int64_t max = ctx.store.MaxQueueOffset(topic.name, qid);
    p->set_broker_offset(max);
    auto it = offsets.find({topic.name, qid});
    int64_t consumer = it == offsets.end() ? -1 : it->second;
    p->set_consumer_offset(consumer);
    int64_t from = consumer >= 0 ? consumer : ctx.store.MinQueueOffset(topic.name, qid);
    p->set_lag(std::max<int64_t>(0, max - from));
  }
}

void BrokerStatus(BrokerContext& ctx, google::protobuf::Map<std::string, std::string>& v) {
  auto stats = ctx.store.stats();
  const auto& c = ctx.counters;
  v["version"] = "0.1.0";
  v["brokerName"] = ctx.options.broker_name;
  v["brokerClusterName"] = ctx.options.cluster_name;
  v["brokerId"] = std::to_string(ctx.options.broker_id);
  v["brokerAddr"] = ctx.broker_addr;
  v["flushDiskType"] = ctx.options.store.flush_disk_type == store::FlushDiskType::kSync ? "SYNC_FLUSH" : "ASYNC_FLUSH";
  v["uptimeMs"] = std::to_string(NowEpochMs() - ctx.start_time_ms);
  v["topics"] = std::to_string(ctx.topics.ListTopics().size());
  v["clients"] = std::to_string(ctx.clients.client_count());
  v["heldPulls"] = std::to_string(ctx.holds.held_count());
  v["sendRequests"] = std::to_string(c.send_requests.load());
  v["messagesIn"] = std::to_string(c.messages_in.load());
  v["bytesIn"] = std::to_string(c.bytes_in.load());
  v["sendErrors"] = std::to_string(c.send_errors.load());
  v["pullRequests"] = std::to_string(c.pull_requests.load());
  v["messagesOut"] = std::to_string(c.messages_out.load());
  v["bytesOut"] = std::to_string(c.bytes_out.load());
  v["filterConversionFailures"] = std::to_string(c.filter_conversion_failures.load());
  v["commitLogMinOffset"] = std::to_string(stats.min_physical_offset);
  v["commitLogMaxOffset"] = std::to_string(stats.max_physical_offset);
  v["commitLogFlushedOffset"] = std::to_string(stats.flushed_offset);
  v["dispatchedOffset"] = std::to_string(stats.dispatched_offset);
  v["commitLogSegments"] = std::to_string(stats.commitlog_segments);
  v["diskFullRejections"] = std::to_string(stats.disk_full_rejections);
  v["recoveredTruncatedBytes"] = std::to_string(stats.recovered_truncated_bytes);
  v["recoveredDamagedRanges"] = std::to_string(stats.recovered_damaged_ranges);
  v["corruptRecords"] = std::to_string(stats.corrupt_records);
  v["corruptRecordsReported"] = std::to_string(c.corrupt_records_reported.load());
  v["dispatchHealthy"] = stats.dispatch_healthy ? "true" : "false";
  v["diskWritable"] = stats.disk_writable ? "true" : "false";
}

}  // namespace

void RegisterAdminProcessors(BrokerContext& ctx, net::Dispatcher& dispatcher) {
  asio::thread_pool* pool = &ctx.admin_pool;
  dispatcher.RegisterProcessor(
      v1::CREATE_TOPIC,
      [&ctx](net::RequestContext rc, net::Frame frame) {
        store::TopicConfig c = FromWire(frame.header.create_topic_request(), ctx.options);
        Status s = ctx.topics.UpsertTopic(c);
        if (s.ok()) {
          BrokerLogger()->info("topic {} created/updated by {}: {} queues, type {}", c.name, rc.peer(), c.write_queues,
                               c.message_type);
          ctx.registrar.Trigger();
        }
        rc.Reply(s);
      },
      pool);
  dispatcher.RegisterProcessor(
      v1::DELETE_TOPIC,
      [&ctx](net::RequestContext rc, net::Frame frame) {
        const std::string& name = frame.header.delete_topic_request().topic();
        if (IsReservedTopicName(name)) {
          return rc.ReplyError(Status::PermissionDenied(
              fmt::format("topic {} is a reserved system topic: clients cannot delete it", name)));
        }
        Status s = ctx.topics.DeleteTopic(name);
        if (s.ok()) {
          ctx.store.DeleteTopicQueues(name);
          BrokerLogger()->info("topic {} deleted by {}", name, rc.peer());
          ctx.registrar.Trigger();
        }
        rc.Reply(s);
      },
      pool);
  dispatcher.RegisterProcessor(
      v1::LIST_TOPICS,
      [&ctx](net::RequestContext rc, net::Frame frame) {
        v1::TopicListResponse list;
        v1::Header resp;
        *resp.mutable_list_page() = ListPageOf(ctx.topics.ListTopics(), frame.header.list_request(), [&](const auto& t) {
          auto* w = list.add_topics();
          ToWire(t, w);
          return w->ByteSizeLong();
        });
        rc.Reply(Status::OK(), std::move(resp), net::OutBody(list.SerializeAsString()));
      },
      pool);
  dispatcher.RegisterProcessor(
      v1::CREATE_TOPICS,
      [&ctx](net::RequestContext rc, net::Frame frame) {
        v1::TopicConfigList list;
        if (!list.ParseFromString(frame.body) || list.topics().empty()) {
          return rc.ReplyError(Status::InvalidArgument("CREATE_TOPICS needs a TopicConfigList body with topics"));
        }
        std::vector<store::TopicConfig> topics;
        topics.reserve(static_cast<size_t>(list.topics_size()));
        for (const auto& t : list.topics()) topics.push_back(FromWire(t, ctx.options));
        Status s = ctx.topics.UpsertTopics(topics);
        if (s.ok()) {
          BrokerLogger()->info("{} topics created/updated by {} ({} .. {})", topics.size(), rc.peer(),
                               topics.front().name, topics.back().name);
          ctx.registrar.Trigger();
        } else {
          BrokerLogger()->warn("batch of {} topics from {} refused: {}", topics.size(), rc.peer(), s.ToString());
        }
        rc.Reply(s);
      },
      pool);
  dispatcher.RegisterProcessor(
      v1::TOPIC_STATUS,
      [&ctx](net::RequestContext rc, net::Frame frame) {
        const std::string& name = frame.header.topic_status_request().topic();
        auto topic = ctx.topics.GetTopic(name);
        if (!topic) return rc.ReplyError(TopicMissing(ctx, name));
        v1::Header resp;
        auto* st = resp.mutable_topic_status_response();
        for (int32_t q = 0; q < topic->read_queues; ++q) {
          auto qid = static_cast<uint32_t>(q);
          auto* qs = st->add_queues();
          qs->set_queue_id(q);
          qs->set_min_offset(ctx.store.MinQueueOffset(name, qid));
          qs->set_max_offset(ctx.store.MaxQueueOffset(name, qid));
          qs->set_last_store_timestamp_ms(ctx.store.LastStoreTimestamp(name, qid));
        }
        rc.Reply(Status::OK(), std::move(resp));
      },
      pool);
  dispatcher.RegisterProcessor(
      v1::CREATE_GROUP,
      [&ctx](net::RequestContext rc, net::Frame frame) {
        rc.Reply(ctx.topics.UpsertGroup(GroupFromWire(frame.header.create_group_request())));
      },
      pool);
  dispatcher.RegisterProcessor(
      v1::LIST_GROUPS,
      [&ctx](net::RequestContext rc, net::Frame frame) {
        v1::GroupListResponse list;
        v1::Header resp;
        *resp.mutable_list_page() = ListPageOf(ctx.topics.ListGroups(), frame.header.list_request(), [&](const auto& g) {
          auto* w = list.add_groups();
          w->set_name(g.name);
          w->set_broadcast(g.broadcast);
          w->set_max_retries(g.max_retries);
          w->set_consume_enable(g.consume_enable);
          return w->ByteSizeLong();
        });
        rc.Reply(Status::OK(), std::move(resp), net::OutBody(list.SerializeAsString()));
      },
      pool);
  dispatcher.RegisterProcessor(
      v1::CREATE_GROUPS,
      [&ctx](net::RequestContext rc, net::Frame frame) {
        v1::GroupConfigList list;
        if (!list.ParseFromString(frame.body) || list.groups().empty()) {
          return rc.ReplyError(Status::InvalidArgument("CREATE_GROUPS needs a GroupConfigList body with groups"));
        }
        std::vector<store::GroupConfig> groups;
        groups.reserve(static_cast<size_t>(list.groups_size()));
        for (const auto& g : list.groups()) groups.push_back(GroupFromWire(g));
        Status s = ctx.topics.UpsertGroups(groups);
        if (s.ok()) {
          BrokerLogger()->info("{} groups created/updated by {} ({} .. {})", groups.size(), rc.peer(),
                               groups.front().name, groups.back().name);
        } else {
          BrokerLogger()->warn("batch of {} groups from {} refused: {}", groups.size(), rc.peer(), s.ToString());
        }
        rc.Reply(s);
      },
      pool);
  dispatcher.RegisterProcessor(
      v1::GROUP_PROGRESS,
      [&ctx](net::RequestContext rc, net::Frame frame) {
        const auto& req = frame.header.group_progress_request();
        if (!ctx.topics.GetGroup(req.group())) {
          return rc.ReplyError(Status::NotFound(
              fmt::format("group {} does not exist on broker {}", req.group(), ctx.broker_addr), SubCode::kGroupNotFound));
        }
        auto offsets = ctx.store.meta().GroupOffsets(req.group());
        v1::Header resp;
        auto* out = resp.mutable_group_progress_response();
        std::set<std::string> topics;
        if (!req.topic().empty()) {
          topics.insert(req.topic());
        } else {
          for (const auto& [key, off] : offsets) topics.insert(key.first);
        }
        for (const auto& name : topics) {
          if (auto t = ctx.topics.GetTopic(name)) AddProgress(ctx, *t, offsets, out);
        }
        for (auto& id : ctx.clients.ConsumerIds(req.group())) out->add_members(id);
        rc.Reply(Status::OK(), std::move(resp));
      },
      pool);
  dispatcher.RegisterProcessor(
      v1::RESET_OFFSET,
      [&ctx](net::RequestContext rc, net::Frame frame) {
        const auto& req = frame.header.reset_offset_request();
        auto topic = ctx.topics.GetTopic(req.topic());
        if (!topic) return rc.ReplyError(TopicMissing(ctx, req.topic()));
        if (!req.to().empty() && req.to() != "earliest" && req.to() != "latest") {
          return rc.ReplyError(Status::InvalidArgument("reset target must be earliest, latest or a timestamp"));
        }
        auto g = ResolveGroup(ctx, req.group(), rc.peer());
        if (!g.ok()) return rc.ReplyError(g.status());
        v1::Header resp;
        auto* out = resp.mutable_reset_offset_response();
        for (int32_t q = 0; q < topic->read_queues; ++q) {
          auto qid = static_cast<uint32_t>(q);
          int64_t target = req.to() == "earliest" ? ctx.store.MinQueueOffset(req.topic(), qid)
                           : req.to() == "latest"
                               ? ctx.store.MaxQueueOffset(req.topic(), qid)
                               : ctx.store.QueueOffsetForTimestamp(req.topic(), qid, req.timestamp_ms());
          Status s = ctx.store.meta().CommitOffset(req.group(), req.topic(), qid, target);
          if (!s.ok()) return rc.ReplyError(s);
          auto* p = out->add_queues();
          p->set_topic(req.topic());
          p->set_queue_id(q);
          p->set_consumer_offset(target);
          p->set_broker_offset(ctx.store.MaxQueueOffset(req.topic(), qid));
          p->set_lag(p->broker_offset() - target);
        }
        BrokerLogger()->info("offsets of group {} on topic {} reset by {}", req.group(), req.topic(), rc.peer());
        rc.Reply(Status::OK(), std::move(resp));
      },
      pool);
  dispatcher.RegisterProcessor(
      v1::BROKER_STATUS,
      [&ctx](net::RequestContext rc, net::Frame) {
        v1::Header resp;
        BrokerStatus(ctx, *resp.mutable_broker_status_response()->mutable_values());
        rc.Reply(Status::OK(), std::move(resp));
      },
      pool);
}

}  // namespace vela::broker
