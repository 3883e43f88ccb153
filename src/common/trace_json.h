#pragma once

// The JSON form of a trace event, shared by `vela-admin message trace --json` and the console's
// /api/trace (CLI.md): header-only, for the modules that already use nlohmann-json.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "common/trace_record.h"

namespace vela::trace {

// `type` and `time_ms`, then the fields the event has: topic, client_id, group, cost_us, status
// (a consume's ok/failed is "result", as `consume --json` prints it), keys, tags, broker, queue,
// offset, attempt, detail.
inline nlohmann::json TraceEventJson(const TraceEvent& e) {
  nlohmann::json j = {{"type", std::string(EventTypeName(e.type))}, {"time_ms", e.time_ms}};
  auto text = [&](const char* key, const std::string& value) {
    if (!value.empty()) j[key] = value;
  };
  auto number = [&](const char* key, int64_t value) {
    if (value >= 0) j[key] = value;
  };
  text("topic", e.topic);
  text("client_id", e.client_id);
  text("group", e.group);
  number("cost_us", e.cost_us);
  text(e.type == EventType::kConsume ? "result" : "status", e.status);
  text("keys", e.keys);
  text("tags", e.tags);
  text("broker", e.broker);
  number("queue", e.queue_id);
  number("offset", e.queue_offset);
  number("attempt", e.attempt);
  text("detail", e.detail);
  return j;
}

}  // namespace vela::trace
