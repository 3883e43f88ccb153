#include "broker/processors/admin_processor.h"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "broker/group_progress.h"
#include "broker/logger.h"
#include "common/build_info.h"
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
  // 0 is a value (no retry); a request that does not set the field gets the default.
  c.max_retries = g.has_max_retries() ? g.max_retries() : store::GroupConfig().max_retries;
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

// A CREATE_TOPICS / CREATE_GROUPS batch: converts every entry of the parsed list (null: the body
// did not parse) and stores them in one write (all or none), logging the outcome. `what` is
// "topics" or "groups"; `refusal` the error for an empty or unparsable body.
template <typename WireList, typename Convert, typename Store>
Status StoreBatch(const net::RequestContext& rc, std::string_view what, std::string_view refusal,
                  const WireList* wire, Convert convert, Store store) {
  if (wire == nullptr || wire->empty()) return Status::InvalidArgument(refusal);
  std::vector<decltype(convert(*wire->begin()))> entries;
  entries.reserve(static_cast<size_t>(wire->size()));
  for (const auto& e : *wire) entries.push_back(convert(e));
  Status s = store(entries);
  if (s.ok()) {
    BrokerLogger()->info("{} {} created/updated by {} ({} .. {})", entries.size(), what, rc.peer(),
                         entries.front().name, entries.back().name);
  } else {
    BrokerLogger()->warn("batch of {} {} from {} refused: {}", entries.size(), what, rc.peer(), s.ToString());
  }
  return s;
}

}  // namespace

AdminProcessor::AdminProcessor(const BrokerOptions& options, const std::string& broker_addr, ResourceResolver& resolver,
                               store::MessageStore& store, TopicManager& topics, ClientManager& clients,
                               PullHoldService& holds, NamesrvRegistrar& registrar, BrokerCounters& counters,
                               asio::thread_pool& admin_pool, int64_t start_time_ms)
    : options_(options),
      broker_addr_(broker_addr),
      resolver_(resolver),
      store_(store),
      topics_(topics),
      clients_(clients),
      holds_(holds),
      registrar_(registrar),
      counters_(counters),
      admin_pool_(admin_pool),
      start_time_ms_(start_time_ms) {}

void AdminProcessor::Register(net::Dispatcher& dispatcher) {
  using Handler = void (AdminProcessor::*)(net::RequestContext, net::Frame);
  const std::pair<v1::RequestCode, Handler> handlers[] = {
      {v1::CREATE_TOPIC, &AdminProcessor::HandleCreateTopic},
      {v1::DELETE_TOPIC, &AdminProcessor::HandleDeleteTopic},
      {v1::LIST_TOPICS, &AdminProcessor::HandleListTopics},
      {v1::CREATE_TOPICS, &AdminProcessor::HandleCreateTopics},
      {v1::TOPIC_STATUS, &AdminProcessor::HandleTopicStatus},
      {v1::CREATE_GROUP, &AdminProcessor::HandleCreateGroup},
      {v1::LIST_GROUPS, &AdminProcessor::HandleListGroups},
      {v1::CREATE_GROUPS, &AdminProcessor::HandleCreateGroups},
      {v1::GROUP_PROGRESS, &AdminProcessor::HandleGroupProgress},
      {v1::RESET_OFFSET, &AdminProcessor::HandleResetOffset},
      {v1::BROKER_STATUS, &AdminProcessor::HandleBrokerStatus},
  };
  for (const auto& [code, handler] : handlers) {
    dispatcher.RegisterProcessor(
        code, [this, handle = handler](net::RequestContext rc, net::Frame frame) { (this->*handle)(rc, std::move(frame)); },
        &admin_pool_);
  }
}

void AdminProcessor::HandleCreateTopic(net::RequestContext rc, net::Frame frame) {
  store::TopicConfig c = FromWire(frame.header.create_topic_request(), options_);
  Status s = topics_.UpsertTopic(c);
  if (s.ok()) {
    BrokerLogger()->info("topic {} created/updated by {}: {} queues, type {}", c.name, rc.peer(), c.write_queues,
                         c.message_type);
    registrar_.Trigger();
  }
  rc.Reply(s);
}

void AdminProcessor::HandleDeleteTopic(net::RequestContext rc, net::Frame frame) {
  const std::string& name = frame.header.delete_topic_request().topic();
  if (IsReservedTopicName(name)) {
    return rc.ReplyError(Status::PermissionDenied(
        fmt::format("topic {} is a reserved system topic: clients cannot delete it", name)));
  }
  Status s = topics_.DeleteTopic(name);
  if (s.ok()) {
    store_.DeleteTopicQueues(name);
    BrokerLogger()->info("topic {} deleted by {}", name, rc.peer());
    registrar_.Trigger();
  }
  rc.Reply(s);
}

void AdminProcessor::HandleListTopics(net::RequestContext rc, net::Frame frame) {
  const v1::ListRequest& request = frame.header.list_request();
  std::vector<store::TopicConfig> topics = topics_.ListTopics();
  // The broker's own topics are shown only when asked for (vela-admin topic list --system).
  if (!request.include_system()) {
    std::erase_if(topics, [](const store::TopicConfig& t) { return IsReservedTopicName(t.name); });
  }
  v1::TopicListResponse list;
  v1::Header resp;
  *resp.mutable_list_page() = ListPageOf(topics, request, [&](const auto& t) {
    auto* w = list.add_topics();
    ToWire(t, w);
    return w->ByteSizeLong();
  });
  rc.Reply(Status::OK(), std::move(resp), net::OutBody(list.SerializeAsString()));
}

void AdminProcessor::HandleCreateTopics(net::RequestContext rc, net::Frame frame) {
  v1::TopicConfigList list;
  const bool parsed = list.ParseFromString(frame.body);
  Status s = StoreBatch(
      rc, "topics", "CREATE_TOPICS needs a TopicConfigList body with topics", parsed ? &list.topics() : nullptr,
      [this](const v1::TopicConfig& t) { return FromWire(t, options_); },
      [this](const std::vector<store::TopicConfig>& topics) { return topics_.UpsertTopics(topics); });
  if (s.ok()) registrar_.Trigger();
  rc.Reply(s);
}

void AdminProcessor::HandleTopicStatus(net::RequestContext rc, net::Frame frame) {
  const std::string& name = frame.header.topic_status_request().topic();
  auto topic = topics_.GetTopic(name);
  if (!topic) return rc.ReplyError(resolver_.TopicMissing(name));
  v1::Header resp;
  auto* st = resp.mutable_topic_status_response();
  for (int32_t q = 0; q < topic->read_queues; ++q) {
    auto qid = static_cast<uint32_t>(q);
    auto* qs = st->add_queues();
    qs->set_queue_id(q);
    qs->set_min_offset(store_.MinQueueOffset(name, qid).value());
    qs->set_max_offset(store_.MaxQueueOffset(name, qid).value());
    qs->set_last_store_timestamp_ms(store_.LastStoreTimestamp(name, qid));
  }
  rc.Reply(Status::OK(), std::move(resp));
}

void AdminProcessor::HandleCreateGroup(net::RequestContext rc, net::Frame frame) {
  rc.Reply(topics_.UpsertGroup(GroupFromWire(frame.header.create_group_request())));
}

void AdminProcessor::HandleListGroups(net::RequestContext rc, net::Frame frame) {
  v1::GroupListResponse list;
  v1::Header resp;
  *resp.mutable_list_page() = ListPageOf(topics_.ListGroups(), frame.header.list_request(), [&](const auto& g) {
    auto* w = list.add_groups();
    w->set_name(g.name);
    w->set_broadcast(g.broadcast);
    w->set_max_retries(g.max_retries);
    w->set_consume_enable(g.consume_enable);
    return w->ByteSizeLong();
  });
  rc.Reply(Status::OK(), std::move(resp), net::OutBody(list.SerializeAsString()));
}

void AdminProcessor::HandleCreateGroups(net::RequestContext rc, net::Frame frame) {
  v1::GroupConfigList list;
  const bool parsed = list.ParseFromString(frame.body);
  rc.Reply(StoreBatch(
      rc, "groups", "CREATE_GROUPS needs a GroupConfigList body with groups", parsed ? &list.groups() : nullptr,
      GroupFromWire,
      [this](const std::vector<store::GroupConfig>& groups) { return topics_.UpsertGroups(groups); }));
}

void AdminProcessor::HandleGroupProgress(net::RequestContext rc, net::Frame frame) {
  const auto& req = frame.header.group_progress_request();
  if (!topics_.GetGroup(req.group())) {
    return rc.ReplyError(resolver_.GroupMissing(req.group()));
  }
  v1::Header resp;
  auto* out = resp.mutable_group_progress_response();
  for (const QueueProgress& q : GroupProgress(store_, topics_, req.group(), req.topic())) {
    auto* p = out->add_queues();
    p->set_topic(q.topic);
    p->set_queue_id(q.queue_id);
    p->set_broker_offset(q.broker_offset);
    p->set_consumer_offset(q.consumer_offset);
    p->set_lag(q.lag);
  }
  for (auto& id : clients_.ConsumerIds(req.group())) out->add_members(id);
  rc.Reply(Status::OK(), std::move(resp));
}

void AdminProcessor::HandleResetOffset(net::RequestContext rc, net::Frame frame) {
  const auto& req = frame.header.reset_offset_request();
  auto topic = topics_.GetTopic(req.topic());
  if (!topic) return rc.ReplyError(resolver_.TopicMissing(req.topic()));
  // Checked before the group is resolved: a bad request auto-creates no group.
  if (Status valid = CheckResetTarget(req.to()); !valid.ok()) return rc.ReplyError(valid);
  auto g = resolver_.ResolveGroup(req.group(), rc.peer());
  if (!g.ok()) return rc.ReplyError(g.status());
  auto queues = ResetGroupOffsets(store_, *topic, req.group(), req.to(), req.timestamp_ms());
  if (!queues.ok()) return rc.ReplyError(queues.status());
  v1::Header resp;
  auto* out = resp.mutable_reset_offset_response();
  for (const QueueProgress& q : *queues) {
    auto* p = out->add_queues();
    p->set_topic(q.topic);
    p->set_queue_id(q.queue_id);
    p->set_consumer_offset(q.consumer_offset);
    p->set_broker_offset(q.broker_offset);
    p->set_lag(q.lag);
  }
  BrokerLogger()->info("offsets of group {} on topic {} reset by {}", req.group(), req.topic(), rc.peer());
  rc.Reply(Status::OK(), std::move(resp));
}

void AdminProcessor::HandleBrokerStatus(net::RequestContext rc, net::Frame) {
  v1::Header resp;
  auto& v = *resp.mutable_broker_status_response()->mutable_values();
  auto stats = store_.stats();
  // The request figures come from the metrics registry, where every series also appears under
  // its Prometheus name (e.g. vela_timer_pending{topic="orders"}).
  std::map<std::string, double> series;
  for (const metrics::MetricSample& sample : counters_.Snapshot()) series[sample.SeriesName()] = sample.value;
  auto figure = [&](const char* name) { return fmt::format("{:.0f}", series[name]); };
  v["version"] = std::string(BuildVersion());
  v["commit"] = std::string(BuildCommit());
  std::string client_versions;
  for (const auto& [version, count] : clients_.ClientVersions()) {
    client_versions += fmt::format("{}{}: {}", client_versions.empty() ? "" : "; ", version, count);
  }
  v["clientVersions"] = client_versions;
  v["brokerName"] = options_.broker_name;
  v["brokerClusterName"] = options_.cluster_name;
  v["brokerId"] = std::to_string(options_.broker_id);
  v["brokerAddr"] = broker_addr_;
  // The web console's port (the bound one), -1 when HTTP is off: other brokers' consoles link here.
  v["httpPort"] = std::to_string(options_.http.port);
  v["flushDiskType"] = options_.store.flush_disk_type == store::FlushDiskType::kSync ? "SYNC_FLUSH" : "ASYNC_FLUSH";
  v["uptimeMs"] = std::to_string(NowEpochMs() - start_time_ms_);
  v["topics"] = std::to_string(topics_.ListTopics().size());
  v["clients"] = std::to_string(clients_.client_count());
  v["heldPulls"] = std::to_string(holds_.held_count());
  v["sendRequests"] = figure("vela_send_requests_total");
  v["messagesIn"] = figure("vela_messages_in_total");
  v["bytesIn"] = figure("vela_bytes_in_total");
  v["sendErrors"] = figure("vela_send_errors_total");
  v["pullRequests"] = figure("vela_pull_requests_total");
  v["messagesOut"] = figure("vela_messages_out_total");
  v["bytesOut"] = figure("vela_bytes_out_total");
  v["filterConversionFailures"] = figure("vela_filter_conversion_failures_total");
  v["commitLogMinOffset"] = std::to_string(stats.min_physical_offset.value());
  v["commitLogMaxOffset"] = std::to_string(stats.max_physical_offset.value());
  v["commitLogFlushedOffset"] = std::to_string(stats.flushed_offset.value());
  v["dispatchedOffset"] = std::to_string(stats.dispatched_offset.value());
  v["commitLogSegments"] = std::to_string(stats.commitlog_segments);
  v["diskFullRejections"] = std::to_string(stats.disk_full_rejections);
  v["recoveredTruncatedBytes"] = std::to_string(stats.recovered_truncated_bytes);
  v["recoveredDamagedRanges"] = std::to_string(stats.recovered_damaged_ranges);
  v["corruptRecords"] = std::to_string(stats.corrupt_records);
  v["corruptRecordsReported"] = figure("vela_corrupt_records_reported_total");
  v["dispatchHealthy"] = stats.dispatch_healthy ? "true" : "false";
  v["diskWritable"] = stats.disk_writable ? "true" : "false";
  for (const auto& [name, value] : series) v[name] = fmt::format("{}", value);
  rc.Reply(Status::OK(), std::move(resp));
}

}  // namespace vela::broker
