#include "broker/broker_http_api.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <system_error>

#include <nlohmann/json.hpp>

#include "common/build_info.h"
#include "common/clock.h"

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

// Strict decimal in [min, max]; InvalidArgument naming the parameter otherwise.
Result<int64_t> ParseBoundedInt(const std::string& name, const std::string& text, int64_t min, int64_t max) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || value < min || value > max) {
    return Status::InvalidArgument(fmt::format("{} must be an integer in {}..{}", name, min, max));
  }
  return value;
}

// Invalid UTF-8 (never expected: names are checked) is replaced rather than thrown on.
http::HttpResponse JsonOk(const nlohmann::json& body) {
  return http::HttpResponse::Json(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

}  // namespace

BrokerHttpApi::BrokerHttpApi(const BrokerOptions& options, std::string broker_addr, store::MessageStore& store,
                             TopicManager& topics, BrokerCounters& counters, int64_t start_time_ms)
    : options_(options),
      broker_addr_(std::move(broker_addr)),
      store_(store),
      topics_(topics),
      counters_(counters),
      start_time_ms_(start_time_ms) {}

void BrokerHttpApi::Register(http::HttpServer& server) {
  server.Route("/metrics", {}, [this](const http::HttpRequest& r) { return Metrics(r); });
  server.Route("/api/cluster", {}, [this](const http::HttpRequest& r) { return Cluster(r); });
  server.Route("/api/topics", {"limit", "after"}, [this](const http::HttpRequest& r) { return Topics(r); });
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
  int64_t limit = 500;
  if (request.query.contains("limit")) {
    auto parsed = ParseBoundedInt("limit", request.Param("limit"), 1, kMaxTopicsPerPage);
    if (!parsed.ok()) return http::HttpResponse::JsonError(400, std::string(parsed.status().message()));
    limit = *parsed;
  }
  const std::string after = request.Param("after");
  std::vector<store::TopicConfig> all = topics_.ListTopics();
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  auto it = after.empty() ? all.begin()
                          : std::upper_bound(all.begin(), all.end(), after,
                                             [](const std::string& name, const auto& t) { return name < t.name; });
  nlohmann::json topics = nlohmann::json::array();
  int64_t listed = 0;
  for (; it != all.end() && listed < limit; ++it, ++listed) {
    nlohmann::json queues = nlohmann::json::array();
    for (int32_t q = 0; q < it->read_queues; ++q) {
      const auto qid = static_cast<uint32_t>(q);
      queues.push_back({{"queueId", q},
                        {"minOffset", store_.MinQueueOffset(it->name, qid).value()},
                        {"maxOffset", store_.MaxQueueOffset(it->name, qid).value()},
                        {"lastStoreTimestampMs", store_.LastStoreTimestamp(it->name, qid)}});
    }
    topics.push_back({{"name", it->name},
                      {"readQueues", it->read_queues},
                      {"writeQueues", it->write_queues},
                      {"perm", it->perm},
                      {"messageType", MessageTypeName(it->message_type)},
                      {"queues", std::move(queues)}});
  }
  nlohmann::json next = nullptr;
  if (it != all.end() && listed > 0) next = topics.back()["name"];
  return JsonOk({{"topics", std::move(topics)}, {"next", next}});
}

}  // namespace vela::broker
