#pragma once

#include <map>
#include <string>
#include <string_view>

#include "common/result.h"

namespace vela::http {

// The limits a query string must stay within (a request line is already bounded by the HTTP
// library, at 8 KiB).
inline constexpr size_t kMaxQueryParameters = 32;

// ParseQueryString decodes the query part of a request target (what follows '?', without it),
// strictly: `name=value` pairs joined by '&', names non-empty, `%XX` escapes with two hex digits,
// '+' meaning a space, every name at most once, at most kMaxQueryParameters pairs, no control
// bytes once decoded. An empty string is no parameter. Pure; thread-safe.
// Returns InvalidArgument naming what is wrong (to be answered as 400).
Result<std::map<std::string, std::string, std::less<>>> ParseQueryString(std::string_view query);

// Decodes one `%XX`/'+' component; InvalidArgument on a bad escape.
Result<std::string> DecodeQueryComponent(std::string_view component);

}  // namespace vela::http
