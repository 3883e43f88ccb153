#include "broker/console/console_api.h"

#include <algorithm>
#include <map>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "broker/group_progress.h"
#include "broker/http_api_support.h"
#include "broker/logger.h"
#include "broker/processors/query_processor.h"
#include "common/message_record.h"
#include "common/text_encoding.h"
#include "common/trace_json.h"
#include "common/trace_record.h"
#include "common/validation.h"

namespace vela::broker {
namespace {

// The longest key a search takes (keys are properties: far shorter in practice).
constexpr size_t kMaxKeyLength = 1024;

// Text when valid UTF-8, base64 otherwise: {"<name>": text} or {"<name>Base64": base64}.
void PutBytes(nlohmann::json& out, const std::string& name, std::string_view bytes) {
  if (IsValidUtf8(bytes)) {
    out[name] = std::string(bytes);
  } else {
    out[name + "Base64"] = Base64Encode(bytes);
  }
}

// The JSON of one stored record; at most `max_body` bytes of its body (bodyTruncated says so).
nlohmann::json MessageJson(const RecordView& r, size_t max_body) {
  nlohmann::json m;
  m["id"] = std::string(r.msg_id);
  m["topic"] = std::string(r.topic);
  m["queueId"] = r.queue_id;
  m["queueOffset"] = r.queue_offset;
  m["physicalOffset"] = r.physical_offset;
  m["tag"] = std::string(r.Tag());
  nlohmann::json keys = nlohmann::json::array();
  nlohmann::json properties = nlohmann::json::object();
  ForEachProperty(r.properties, [&](std::string_view key, std::string_view value) {
    if (key == prop::kKeys) {
      size_t start = 0;
      while (start < value.size()) {
        size_t end = value.find(' ', start);
        if (end == std::string_view::npos) end = value.size();
        if (end > start) keys.push_back(std::string(value.substr(start, end - start)));
        start = end + 1;
      }
    }
    const std::string k = IsValidUtf8(key) ? std::string(key) : "base64:" + Base64Encode(key);
    properties[k] = IsValidUtf8(value) ? std::string(value) : "base64:" + Base64Encode(value);
    return true;
  });
  m["keys"] = std::move(keys);
  m["properties"] = std::move(properties);
  m["bornTimestampMs"] = r.born_timestamp_ms;
  m["storeTimestampMs"] = r.store_timestamp_ms;
  m["bornHost"] = UnpackHost(r.born_host);
  m["storeHost"] = UnpackHost(r.store_host);
  m["reconsumeTimes"] = r.reconsume_times;
  m["bodySize"] = r.body.size();
  std::string_view body = r.body;
  const bool truncated = body.size() > max_body;
  if (truncated) {
    size_t cut = max_body;
    // A text body is cut at a character boundary (at most 3 bytes back).
    for (int i = 0; i < 3 && cut > 0 && (static_cast<unsigned char>(body[cut]) & 0xC0) == 0x80; ++i) --cut;
    body = body.substr(0, cut);
  }
  m["bodyTruncated"] = truncated;
  PutBytes(m, "body", body);
  return m;
}

// Every record of `records` (stored records, concatenated) as JSON; a record that does not decode
// ends the list (corrupt: `*corrupt` is set).
nlohmann::json MessagesJson(std::string_view records, size_t max_body, bool* corrupt) {
  nlohmann::json list = nlohmann::json::array();
  while (!records.empty()) {
    RecordView view;
    if (DecodeRecord(records, /*verify_crc=*/false, &view) != DecodeOutcome::kRecord || view.raw.empty()) {
      *corrupt = true;
      break;
    }
    list.push_back(MessageJson(view, max_body));
    records.remove_prefix(view.raw.size());
  }
  return list;
}

// A group's JSON: its settings, its progress per topic and queue, its members (ids only with
// `with_member_ids`, at most kMaxMembersListed).
nlohmann::json GroupJson(const store::GroupConfig& g, store::MessageStore& store, const TopicManager& topics,
                         const ClientManager& clients, bool with_member_ids) {
  nlohmann::json topic_list = nlohmann::json::array();
  int64_t total_lag = 0;
  std::map<std::string, nlohmann::json> by_topic;
  for (const QueueProgress& q : GroupProgress(store, topics, g.name, "")) {
    nlohmann::json& t = by_topic[q.topic];
    if (t.is_null()) t = {{"topic", q.topic}, {"lag", 0}, {"queues", nlohmann::json::array()}};
    t["lag"] = t["lag"].get<int64_t>() + q.lag;
    t["queues"].push_back({{"queueId", q.queue_id},
                           {"brokerOffset", q.broker_offset},
                           {"consumerOffset", q.consumer_offset},
                           {"lag", q.lag}});
    total_lag += q.lag;
  }
  for (auto& [name, t] : by_topic) topic_list.push_back(std::move(t));
  const std::vector<std::string> members = clients.ConsumerIds(g.name);
  nlohmann::json out = {{"name", g.name},
                        {"broadcast", g.broadcast},
                        {"maxRetries", g.max_retries},
                        {"consumeEnable", g.consume_enable},
                        {"members", members.size()},
                        {"lag", total_lag},
                        {"topics", std::move(topic_list)}};
  if (with_member_ids) {
    nlohmann::json ids = nlohmann::json::array();
    for (size_t i = 0; i < members.size() && i < static_cast<size_t>(kMaxMembersListed); ++i) ids.push_back(members[i]);
    out["memberIds"] = std::move(ids);
  }
  return out;
}

}  // namespace

ConsoleApi::ConsoleApi(const BrokerOptions& options, store::MessageStore& store, TopicManager& topics,
                       ClientManager& clients, timer::TimerService& timers,
                       transaction::TransactionService& transactions, retry::RetryService& retries)
    : options_(options),
      store_(store),
      topics_(topics),
      clients_(clients),
      timers_(timers),
      transactions_(transactions),
      retries_(retries) {}

void ConsoleApi::Register(http::HttpServer& server) {
  server.Route("/", {}, [this](const http::HttpRequest& r) { return Page(r); });
  server.Route("/console.js", {}, [](const http::HttpRequest&) {
    return http::HttpResponse::Content("text/javascript; charset=utf-8", std::string(ConsoleScriptJs()));
  });
  server.Route("/console.css", {}, [](const http::HttpRequest&) {
    return http::HttpResponse::Content("text/css; charset=utf-8", std::string(ConsoleStyleCss()));
  });
  server.Route("/api/groups", {"limit", "after", "name"}, [this](const http::HttpRequest& r) { return Groups(r); });
  server.Route("/api/messages", {"topic", "key", "id", "limit"},
               [this](const http::HttpRequest& r) { return Messages(r); });
  server.Route("/api/timers", {}, [this](const http::HttpRequest& r) { return Timers(r); });
  server.Route("/api/transactions", {"limit"}, [this](const http::HttpRequest& r) { return Transactions(r); });
  server.Route("/api/dlq", {"group", "limit", "from"}, [this](const http::HttpRequest& r) { return DeadLetters(r); });
  server.Route("/api/trace", {"id"}, [this](const http::HttpRequest& r) { return Trace(r); });
  // Registered whether writes are on or off: off, they answer 403 naming the setting.
  server.PostRoute("/api/dlq/resend", {"group", "id", "all"},
                   [this](const http::HttpRequest& r) { return ResendDeadLetters(r); });
  server.PostRoute("/api/groups/reset-offset", {"group", "topic", "to", "time"},
                   [this](const http::HttpRequest& r) { return ResetOffset(r); });
}

http::HttpResponse ConsoleApi::Page(const http::HttpRequest&) {
  return http::HttpResponse::Content("text/html; charset=utf-8", std::string(ConsolePageHtml()));
}

http::HttpResponse ConsoleApi::Groups(const http::HttpRequest& request) {
  if (request.query.contains("name")) {
    if (request.query.size() > 1) return http::HttpResponse::JsonError(400, "name cannot be combined with limit or after");
    const std::string name = request.Param("name");
    if (Status valid = ValidateGroupName(name); !valid.ok()) return JsonError(400, valid);
    auto group = topics_.GetGroup(name);
    if (!group) return http::HttpResponse::JsonError(404, fmt::format("no group {} on this broker", name));
    return JsonOk({{"groups", nlohmann::json::array({GroupJson(*group, store_, topics_, clients_, true)})},
                   {"next", nullptr}});
  }
  auto limit = IntParam(request, "limit", 100, 1, kMaxGroupsPerPage);
  if (!limit.ok()) return JsonError(400, limit.status());
  const std::string after = request.Param("after");
  std::vector<store::GroupConfig> all = topics_.ListGroups();
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  auto it = after.empty() ? all.begin()
                          : std::upper_bound(all.begin(), all.end(), after,
                                             [](const std::string& name, const auto& g) { return name < g.name; });
  nlohmann::json groups = nlohmann::json::array();
  int64_t listed = 0;
  for (; it != all.end() && listed < *limit; ++it, ++listed) {
    groups.push_back(GroupJson(*it, store_, topics_, clients_, false));
  }
  nlohmann::json next = nullptr;
  if (it != all.end() && listed > 0) next = groups.back()["name"];
  return JsonOk({{"groups", std::move(groups)}, {"next", next}});
}

http::HttpResponse ConsoleApi::Messages(const http::HttpRequest& request) {
  const bool by_id = request.query.contains("id");
  const bool by_key = request.query.contains("topic") || request.query.contains("key");
  if (by_id == by_key) {
    return http::HttpResponse::JsonError(400, "give either id=ID, or topic=T and key=K");
  }
  bool corrupt = false;
  if (by_id) {
    if (request.query.size() > 1) return http::HttpResponse::JsonError(400, "id cannot be combined with other parameters");
    const std::string id = request.Param("id");
    if (Status valid = ValidateMessageId(id); !valid.ok()) return JsonError(400, valid);
    auto record = LookUpMessageRecord(store_, options_.store.store_host, id);
    if (!record.ok()) {
      if (record.status().code() == StatusCode::kNotFound) {
        return http::HttpResponse::JsonError(404, fmt::format("no message with id {} on this broker", id));
      }
      return JsonError(500, record.status());
    }
    nlohmann::json messages = MessagesJson(*record, kMaxBodyBytesOne, &corrupt);
    if (messages.empty()) return http::HttpResponse::JsonError(500, fmt::format("the record of {} does not decode", id));
    return JsonOk({{"messages", std::move(messages)}, {"undecodable", corrupt}});
  }
  const std::string topic = request.Param("topic");
  const std::string key = request.Param("key");
  if (topic.empty() || key.empty()) return http::HttpResponse::JsonError(400, "a search by key needs both topic=T and key=K");
  if (Status valid = ValidateTopicName(topic); !valid.ok()) return JsonError(400, valid);
  if (key.size() > kMaxKeyLength) {
    return http::HttpResponse::JsonError(400, fmt::format("key is longer than {} bytes", kMaxKeyLength));
  }
  auto limit = IntParam(request, "limit", 32, 1, kMaxMessagesByKey);
  if (!limit.ok()) return JsonError(400, limit.status());
  if (!topics_.GetTopic(topic)) return http::HttpResponse::JsonError(404, fmt::format("no topic {} on this broker", topic));
  std::string records;
  for (const std::string& rec : store_.QueryByKey(topic, key, static_cast<int>(*limit))) records += rec;
  nlohmann::json messages = MessagesJson(records, kMaxBodyBytesListed, &corrupt);
  return JsonOk({{"messages", std::move(messages)}, {"limit", *limit}, {"undecodable", corrupt}});
}

http::HttpResponse ConsoleApi::Trace(const http::HttpRequest& request) {
  const std::string id = request.Param("id");
  if (id.empty()) return http::HttpResponse::JsonError(400, "give id=ID, the unique id of a traced message");
  if (Status valid = ValidateMessageId(id); !valid.ok()) return JsonError(400, valid);
  std::vector<vela::trace::TraceEvent> events;
  int64_t unreadable = 0;
  const std::string trace_topic(vela::trace::kTraceTopic);
  if (topics_.GetTopic(trace_topic)) {
    for (const std::string& record : store_.QueryByKey(trace_topic, id, static_cast<int>(kMaxTraceEvents))) {
      RecordView view;
      std::string_view bytes = record;
      if (DecodeRecord(bytes, /*verify_crc=*/false, &view) != DecodeOutcome::kRecord) {
        ++unreadable;
        continue;
      }
      if (!vela::trace::AppendEventsOfMessage(view.body, id, &events).ok()) ++unreadable;
    }
  }
  std::stable_sort(events.begin(), events.end(), vela::trace::TimelineBefore);
  nlohmann::json list = nlohmann::json::array();
  for (const auto& e : events) list.push_back(vela::trace::TraceEventJson(e));
  return JsonOk({{"id", id}, {"events", std::move(list)}, {"limit", kMaxTraceEvents}, {"unreadable", unreadable}});
}

http::HttpResponse ConsoleApi::Timers(const http::HttpRequest&) {
  const timer::TimerStats s = timers_.stats();
  std::vector<std::pair<std::string, int64_t>> by_topic(s.pending_by_topic.begin(), s.pending_by_topic.end());
  std::sort(by_topic.begin(), by_topic.end(),
            [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
  nlohmann::json topics = nlohmann::json::array();
  for (size_t i = 0; i < by_topic.size() && i < kMaxTimerTopicsListed; ++i) {
    topics.push_back({{"topic", by_topic[i].first}, {"pending", by_topic[i].second}});
  }
  return JsonOk({{"pending", s.pending},
                 {"nextDueMs", s.next_due_ms > 0 ? nlohmann::json(s.next_due_ms) : nlohmann::json(nullptr)},
                 {"delivered", s.delivered},
                 {"recalled", s.recalled},
                 {"dropped", s.dropped},
                 {"latenessP50Us", s.lateness_p50_us},
                 {"latenessP99Us", s.lateness_p99_us},
                 {"latenessMaxUs", s.lateness_max_us},
                 {"pendingByTopic", std::move(topics)},
                 {"pendingByTopicTruncated", by_topic.size() > kMaxTimerTopicsListed}});
}

http::HttpResponse ConsoleApi::Transactions(const http::HttpRequest& request) {
  auto limit = IntParam(request, "limit", 200, 1, kMaxTransactionsListed);
  if (!limit.ok()) return JsonError(400, limit.status());
  bool truncated = false;
  nlohmann::json list = nlohmann::json::array();
  for (const transaction::TransactionSummary& t : transactions_.List(static_cast<size_t>(*limit), &truncated)) {
    list.push_back({{"transactionId", t.transaction_id},
                    {"producerGroup", t.producer_group},
                    {"topics", t.topics},
                    {"messageCount", t.message_count},
                    {"firstStoreMs", t.first_store_ms},
                    {"checkTimes", t.check_times},
                    {"discarded", t.discarded}});
  }
  const transaction::TransactionStats s = transactions_.stats();
  return JsonOk({{"transactions", std::move(list)},
                 {"truncated", truncated},
                 {"pending", s.pending},
                 {"oldestPendingStoreMs",
                  s.oldest_pending_store_ms > 0 ? nlohmann::json(s.oldest_pending_store_ms) : nlohmann::json(nullptr)},
                 {"committed", s.committed},
                 {"rolledBack", s.rolled_back},
                 {"checksSent", s.checks_sent},
                 {"discarded", s.discarded}});
}

http::HttpResponse ConsoleApi::DeadLetters(const http::HttpRequest& request) {
  const std::string group = request.Param("group");
  if (group.empty()) return http::HttpResponse::JsonError(400, "dead letters need group=G");
  if (Status valid = ValidateGroupName(group); !valid.ok()) return JsonError(400, valid);
  auto limit = IntParam(request, "limit", 50, 1, kMaxDeadLettersPerPage);
  if (!limit.ok()) return JsonError(400, limit.status());
  auto from = IntParam(request, "from", 0, 0, INT64_MAX);
  if (!from.ok()) return JsonError(400, from.status());
  if (!topics_.GetGroup(group)) return http::HttpResponse::JsonError(404, fmt::format("no group {} on this broker", group));
  auto page = retries_.ListDeadLetters(group, *from, static_cast<int32_t>(*limit));
  if (!page.ok()) {
    if (page.status().code() == StatusCode::kNotFound) {
      // The group exists but nothing was dead-lettered yet: no %DLQ% topic.
      return JsonOk({{"group", group}, {"messages", nlohmann::json::array()}, {"nextOffset", nullptr}, {"more", false}});
    }
    return JsonError(500, page.status());
  }
  bool corrupt = false;
  nlohmann::json messages = MessagesJson(page->records, kMaxBodyBytesListed, &corrupt);
  return JsonOk({{"group", group},
                 {"messages", std::move(messages)},
                 {"nextOffset", page->more ? nlohmann::json(page->next_offset) : nlohmann::json(nullptr)},
                 {"more", page->more},
                 {"undecodable", corrupt}});
}

std::optional<http::HttpResponse> ConsoleApi::RefuseWrite(const http::HttpRequest& request) const {
  if (!options_.console_write_enabled) {
    return http::HttpResponse::JsonError(
        403, "the console's write actions are off: the broker runs with consoleWriteEnabled=false "
             "(use vela-admin group dlq-resend / group reset-offset, or set consoleWriteEnabled=true)");
  }
  if (request.Header("x-vela-console") != kConsoleWriteHeaderValue) {  // kConsoleWriteHeader, as the server keys it
    return http::HttpResponse::JsonError(403, fmt::format("a console write request needs the header {}: {}",
                                                          kConsoleWriteHeader, kConsoleWriteHeaderValue));
  }
  return std::nullopt;
}

http::HttpResponse ConsoleApi::LogWrite(const http::HttpRequest& request, const std::string& action,
                                        http::HttpResponse response) const {
  std::string result = response.body;
  while (!result.empty() && result.back() == '\n') result.pop_back();
  BrokerLogger()->info("console write from {}: {}: {} {}", request.peer, action, response.status, result);
  return response;
}

http::HttpResponse ConsoleApi::ResendDeadLetters(const http::HttpRequest& request) {
  if (auto refused = RefuseWrite(request)) return *refused;
  const std::string group = request.Param("group");
  const bool all = request.query.contains("all");
  const std::string id = request.Param("id");
  const std::string action = fmt::format("dlq resend group={} {}", group, all ? "all" : "id=" + id);
  auto answer = [&](http::HttpResponse response) { return LogWrite(request, action, std::move(response)); };
  if (group.empty()) return answer(http::HttpResponse::JsonError(400, "resend needs group=G"));
  if (Status valid = ValidateGroupName(group); !valid.ok()) return answer(JsonError(400, valid));
  if (all == request.query.contains("id")) {
    return answer(http::HttpResponse::JsonError(400, "resend needs either id=ID or all=true"));
  }
  if (all && request.Param("all") != "true") return answer(http::HttpResponse::JsonError(400, "all must be true"));
  if (!all) {
    if (Status valid = ValidateMessageId(id); !valid.ok()) return answer(JsonError(400, valid));
  }
  if (!topics_.GetGroup(group)) {
    return answer(http::HttpResponse::JsonError(404, fmt::format("no group {} on this broker", group)));
  }
  auto result = retries_.Resend(group, id, all);
  if (!result.ok()) {
    // NotFound: no dead-letter topic, or no such dead letter left; with all=true nothing to resend.
    if (result.status().code() == StatusCode::kNotFound) {
      if (all) return answer(JsonOk({{"group", group}, {"resent", 0}, {"ids", nlohmann::json::array()}}));
      return answer(JsonError(404, result.status()));
    }
    if (result.status().code() == StatusCode::kInvalidArgument) return answer(JsonError(400, result.status()));
    return answer(JsonError(500, result.status()));
  }
  return answer(JsonOk({{"group", group}, {"resent", result->resent}, {"ids", result->msg_ids}}));
}

http::HttpResponse ConsoleApi::ResetOffset(const http::HttpRequest& request) {
  if (auto refused = RefuseWrite(request)) return *refused;
  const std::string group = request.Param("group");
  const std::string topic = request.Param("topic");
  const bool by_time = request.query.contains("time");
  const std::string to = request.Param("to");
  const std::string action = fmt::format("reset offset group={} topic={} {}", group, topic,
                                         by_time ? "time=" + request.Param("time") : "to=" + to);
  auto answer = [&](http::HttpResponse response) { return LogWrite(request, action, std::move(response)); };
  if (group.empty() || topic.empty()) {
    return answer(http::HttpResponse::JsonError(400, "reset-offset needs group=G and topic=T"));
  }
  if (Status valid = ValidateGroupName(group); !valid.ok()) return answer(JsonError(400, valid));
  if (Status valid = ValidateTopicName(topic); !valid.ok()) return answer(JsonError(400, valid));
  if (by_time == request.query.contains("to")) {
    return answer(http::HttpResponse::JsonError(400, "reset-offset needs either to=earliest|latest or time=EPOCH_MS"));
  }
  if (!by_time && to != "earliest" && to != "latest") {
    return answer(http::HttpResponse::JsonError(400, "to must be earliest or latest"));
  }
  auto time = IntParam(request, "time", 0, 0, INT64_MAX);
  if (!time.ok()) return answer(JsonError(400, time.status()));
  auto config = topics_.GetTopic(topic);
  if (!config) return answer(http::HttpResponse::JsonError(404, fmt::format("no topic {} on this broker", topic)));
  if (!topics_.GetGroup(group)) {
    return answer(http::HttpResponse::JsonError(404, fmt::format("no group {} on this broker", group)));
  }
  auto queues = ResetGroupOffsets(store_, *config, group, by_time ? "" : to, *time);
  if (!queues.ok()) return answer(JsonError(500, queues.status()));
  nlohmann::json list = nlohmann::json::array();
  for (const QueueProgress& q : *queues) {
    list.push_back({{"queueId", q.queue_id},
                    {"brokerOffset", q.broker_offset},
                    {"consumerOffset", q.consumer_offset},
                    {"lag", q.lag}});
  }
  return answer(JsonOk({{"group", group}, {"topic", topic}, {"queues", std::move(list)}}));
}

}  // namespace vela::broker
