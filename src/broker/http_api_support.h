#pragma once

#include <charconv>
#include <cstdint>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/result.h"
#include "http/http_server.h"

// What the broker's JSON routes share (BrokerHttpApi, ConsoleApi); include from .cc files only.
namespace vela::broker {

// The integer query parameter `name` of `request`: `fallback` when absent; InvalidArgument naming
// the parameter unless it is a plain decimal in [min, max].
inline Result<int64_t> IntParam(const http::HttpRequest& request, const std::string& name, int64_t fallback,
                                int64_t min, int64_t max) {
  auto it = request.query.find(name);
  if (it == request.query.end()) return fallback;
  const std::string& text = it->second;
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || value < min || value > max) {
    return Status::InvalidArgument(fmt::format("{} must be an integer in {}..{}", name, min, max));
  }
  return value;
}

// A 200 JSON answer. Invalid UTF-8 (never expected: names are checked, bodies are encoded) is
// replaced rather than thrown on.
inline http::HttpResponse JsonOk(const nlohmann::json& body) {
  return http::HttpResponse::Json(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

// A JSON error answer {"error": status's message}: `http_status`.
inline http::HttpResponse JsonError(int http_status, const Status& status) {
  return http::HttpResponse::JsonError(http_status, std::string(status.message()));
}

}  // namespace vela::broker
