// vela-admin message trace: a traced message's timeline from RMQ_SYS_TRACE_TOPIC.
#include <algorithm>
#include <iostream>
#include <set>

#include <fmt/format.h>

#include "client/message_codec.h"
#include "common/trace_json.h"
#include "common/trace_record.h"
#include "common/validation.h"
#include "tools/admin_context.h"

namespace vela::tools {
namespace {

// The human-readable details of one event.
std::string EventDetails(const trace::TraceEvent& e) {
  std::string out;
  auto add = [&](std::string_view key, const std::string& value) {
    if (value.empty()) return;
    if (!out.empty()) out += ' ';
    out += fmt::format("{}={}", key, value);
  };
  switch (e.type) {
    case trace::EventType::kSend:
      add("status", e.status);
      add("topic", e.topic);
      add("group", e.group);
      add("client", e.client_id);
      add("tag", e.tags);
      add("keys", e.keys);
      break;
    case trace::EventType::kStore:
      add("broker", e.broker);
      add("topic", e.topic);
      if (e.queue_id >= 0) add("queue", std::to_string(e.queue_id));
      if (e.queue_offset >= 0) add("offset", std::to_string(e.queue_offset));
      break;
    case trace::EventType::kConsume:
      add("result", e.status);
      add("group", e.group);
      if (e.attempt > 0) add("attempt", std::to_string(e.attempt));
      add("client", e.client_id);
      add("topic", e.topic);
      break;
    default:
      add("broker", e.broker);
      add("topic", e.topic);
      add("group", e.group);
      break;
  }
  if (e.cost_us >= 0) add("cost", fmt::format("{:.3f}ms", static_cast<double>(e.cost_us) / 1000.0));
  add("detail", e.detail);
  return out;
}

}  // namespace

// Every broker of the cluster is asked for the trace records keyed by the id (each event is
// written to the broker that stored the message or that delivered it); the events are merged and
// printed in time order (same millisecond: send, store, the broker's events, consume by attempt).
int MessageTrace(AdminContext& ctx, const std::string& id) {
  if (vela::Status valid = ValidateMessageId(id); !valid.ok()) {
    return Fail(vela::Status::InvalidArgument(fmt::format("'{}' is not a message id: {}", id, valid.message())));
  }
  auto brokers = ctx.BrokerAddrs();
  if (!brokers.ok()) return Fail(brokers.status());
  if (brokers->empty()) return Fail("the cluster lists no broker to read traces from");
  std::vector<trace::TraceEvent> events;
  std::set<std::string> seen;  // trace record ids: a record is counted once
  int code = kExitOk;
  size_t malformed = 0;
  for (const auto& addr : *brokers) {
    v1::Header header;
    header.set_code(v1::QUERY_MESSAGE_BY_KEY);
    auto* q = header.mutable_query_by_key_request();
    q->set_topic(std::string(trace::kTraceTopic));
    q->set_key(id);
    q->set_max_messages(1000);
    auto response = ctx.Invoke(addr, std::move(header));
    if (!response.ok()) {
      if (response.status().code() != vela::StatusCode::kNotFound) code = Fail(response.status().WithContext(addr));
      continue;
    }
    auto messages = client::DecodeMessages(response->body, addr);
    if (!messages.ok()) {
      code = Fail(messages.status().WithContext(addr));
      continue;
    }
    for (const auto& m : *messages) {
      if (!seen.insert(m.msg_id).second) continue;
      if (!trace::AppendEventsOfMessage(m.body, id, &events).ok()) ++malformed;
    }
  }
  std::stable_sort(events.begin(), events.end(), trace::TimelineBefore);
  if (malformed > 0) std::cerr << fmt::format("warning: {} unreadable trace record(s) skipped", malformed) << std::endl;
  if (ctx.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& e : events) list.push_back(trace::TraceEventJson(e));
    PrintJson({{"id", id}, {"events", list}});
  } else if (!events.empty()) {
    std::cout << fmt::format("trace of message {} ({} events)", id, events.size()) << std::endl;
    Table table({"TIME", "EVENT", "DETAILS"});
    for (const auto& e : events) {
      table.AddRow({FormatTime(e.time_ms), std::string(trace::EventTypeName(e.type)), EventDetails(e)});
    }
    table.Print();
  }
  if (events.empty() && code == kExitOk) {
    return Fail(fmt::format("no trace recorded for message {} on the cluster's brokers ({}): unknown id, or it was "
                            "not sent or consumed with tracing enabled (--trace, EnableTrace)",
                            id, fmt::join(*brokers, ", ")));
  }
  return code;
}

}  // namespace vela::tools
