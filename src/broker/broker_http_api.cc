#include "broker/broker_http_api.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include <nlohmann/json.hpp>

#include "broker/http_api_support.h"
#include "common/build_info.h"
#include "common/clock.h"
#include "common/validation.h"

namespace vela::broker {
namespace {

const char* MessageTypeName(int32_t type) {
  switch (type) {
    case 0: return "NORMAL";
    case 1: return "FIFO";
    case 2: return "DELAY";
    case 3: return "TRANSACTION";
    default: return "UNKNOWN";
  }
}

// One topic of /api/topics with its queues' offsets.
nlohmann::json TopicJson(store::MessageStore& store, const store::TopicConfig& topic) {
  nlohmann::json queues = nlohmann::json::array();
  for (int32_t q = 0; q < topic.read_queues; ++q) {
    const auto qid = static_cast<uint32_t>(q);
    queues.push_back({{"queueId", q},
                      {"minOffset", store.MinQueueOffset(topic.name, qid).value()},
                      {"maxOffset", store.MaxQueueOffset(topic.name, qid).value()},
                      {"lastStoreTimestampMs", store.LastStoreTimestamp(topic.name, qid)}});
  }
  return {{"name", topic.name},
          {"readQueues", topic.read_queues},
          {"writeQueues", topic.write_queues},
          {"perm", topic.perm},
          {"messageType", MessageTypeName(topic.message_type)},
          {"queues", std::move(queues)}};
}

// A figure, or null when the broker did not report it.
template <typename T>
nlohmann::json OrNull(const std::optional<T>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

// One broker of /api/brokers. `before`: its sighting in the previous survey, for rates.
nlohmann::json BrokerJson(const BrokerSighting& b, const BrokerSighting* before, const std::string& self_addr,
                          int64_t now_ms) {
  nlohmann::json j = {{"clusterName", b.cluster_name},
                      {"brokerName", b.broker_name},
                      {"brokerId", b.broker_id},
                      {"address", b.address},
                      {"self", b.address == self_addr},
                      {"lastRegistrationMs", b.last_registration_ms},
                      // Between two clocks (the name server's and this broker's): skew shows here.
                      {"lastRegistrationAgeMs",
                       b.last_registration_ms > 0 ? nlohmann::json(now_ms - b.last_registration_ms) : nullptr},
                      {"reachable", b.reach.ok()}};
  if (!b.reach.ok()) {
    j["error"] = b.reach.ToString();
    return j;
  }
  const BrokerFigures f = FiguresOf(b, before);
  j["version"] = f.version;
  j["uptimeMs"] = OrNull(f.uptime_ms);
  j["httpPort"] = OrNull(f.http_port);
  j["messagesIn"] = OrNull(f.messages_in);
  j["messagesOut"] = OrNull(f.messages_out);
  j["messagesInPerSec"] = OrNull(f.messages_in_per_sec);
  j["messagesOutPerSec"] = OrNull(f.messages_out_per_sec);
  j["rateWindowMs"] = OrNull(f.rate_window_ms);
  j["commitLogBytes"] = OrNull(f.commit_log_bytes);
  j["diskUsedRatio"] = OrNull(f.disk_used_ratio);
  return j;
}

}  // namespace

BrokerHttpApi::BrokerHttpApi(const BrokerOptions& options, std::string broker_addr, store::MessageStore& store,
                             TopicManager& topics, BrokerCounters& counters, ClusterView& cluster_view,
                             int64_t start_time_ms)
    : options_(options),
      broker_addr_(std::move(broker_addr)),
      store_(store),
      topics_(topics),
      counters_(counters),
      cluster_view_(cluster_view),
      start_time_ms_(start_time_ms) {}

void BrokerHttpApi::Register(http::HttpServer& server) {
  server.Route("/metrics", {}, [this](const http::HttpRequest& r) { return Metrics(r); });
  server.Route("/api/cluster", {}, [this](const http::HttpRequest& r) { return Cluster(r); });
  server.Route("/api/topics", {"limit", "after", "name"}, [this](const http::HttpRequest& r) { return Topics(r); });
  server.Route("/api/brokers", {}, [this](const http::HttpRequest& r) { return Brokers(r); });
}

http::HttpResponse BrokerHttpApi::Metrics(const http::HttpRequest&) {
  http::HttpResponse r;
  r.content_type = http::kPrometheusContentType;
  r.body = counters_.SerializeText();
  return r;
}

http::HttpResponse BrokerHttpApi::Cluster(const http::HttpRequest&) {
  const store::StoreStats stats = store_.stats();
  nlohmann::json disk = nullptr;
  std::error_code ec;
  const auto space = std::filesystem::space(options_.store.root_dir, ec);
  if (!ec) {
    const double used = static_cast<double>(space.capacity - space.free);
    const double usable = used + static_cast<double>(space.available);
    disk = {{"totalBytes", space.capacity},
            {"availableBytes", space.available},
            {"usedRatio", usable > 0 ? used / usable : 0.0}};
  }
  nlohmann::json body = {
      {"brokerName", options_.broker_name},
      {"clusterName", options_.cluster_name},
      {"brokerId", options_.broker_id},
      {"brokerAddr", broker_addr_},
      {"version", std::string(BuildVersion())},
      {"commit", std::string(BuildCommit())},
      {"uptimeMs", NowEpochMs() - start_time_ms_},
      {"topics", topics_.ListTopics().size()},
      {"groups", topics_.group_count()},
      {"consoleWriteEnabled", options_.console_write_enabled},
      {"store",
       {{"rootDir", options_.store.root_dir},
        {"flushDiskType", options_.store.flush_disk_type == store::FlushDiskType::kSync ? "SYNC_FLUSH" : "ASYNC_FLUSH"},
        {"commitLogMinOffset", stats.min_physical_offset.value()},
        {"commitLogMaxOffset", stats.max_physical_offset.value()},
        {"commitLogFlushedOffset", stats.flushed_offset.value()},
        {"commitLogSegments", stats.commitlog_segments},
        {"diskWritable", stats.disk_writable},
        {"disk", disk}}},
  };
  return JsonOk(body);
}

http::HttpResponse BrokerHttpApi::Topics(const http::HttpRequest& request) {
  if (request.query.contains("name")) {
    if (request.query.size() > 1) return http::HttpResponse::JsonError(400, "name cannot be combined with limit or after");
    const std::string name = request.Param("name");
    if (Status valid = ValidateTopicName(name); !valid.ok()) return JsonError(400, valid);
    auto topic = topics_.GetTopic(name);
    if (!topic) return http::HttpResponse::JsonError(404, fmt::format("no topic {} on this broker", name));
    return JsonOk({{"topics", nlohmann::json::array({TopicJson(store_, *topic)})}, {"next", nullptr}});
  }
  auto parsed = IntParam(request, "limit", 500, 1, kMaxTopicsPerPage);
  if (!parsed.ok()) return JsonError(400, parsed.status());
  const int64_t limit = *parsed;
  const std::string after = request.Param("after");
  std::vector<store::TopicConfig> all = topics_.ListTopics();
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  auto it = after.empty() ? all.begin()
                          : std::upper_bound(all.begin(), all.end(), after,
                                             [](const std::string& name, const auto& t) { return name < t.name; });
  nlohmann::json topics = nlohmann::json::array();
  int64_t listed = 0;
  for (; it != all.end() && listed < limit; ++it, ++listed) topics.push_back(TopicJson(store_, *it));
  nlohmann::json next = nullptr;
  if (it != all.end() && listed > 0) next = topics.back()["name"];
  return JsonOk({{"topics", std::move(topics)}, {"next", next}});
}

http::HttpResponse BrokerHttpApi::Brokers(const http::HttpRequest&) {
  const auto snapshot = cluster_view_.Get();
  const ClusterSurvey& survey = *snapshot->latest;
  const int64_t now_ms = NowEpochMs();
  nlohmann::json brokers = nlohmann::json::array();
  for (const auto& b : survey.brokers) {
    brokers.push_back(BrokerJson(b, snapshot->Previous(b.address), broker_addr_, now_ms));
  }
  return JsonOk({{"takenAtMs", survey.taken_at_ms},
                 {"registered", survey.registered},
                 {"truncated", survey.registered > survey.brokers.size()},
                 {"namesrvErrors", survey.namesrv_errors},
                 {"brokers", std::move(brokers)}});
}

}  // namespace vela::broker
