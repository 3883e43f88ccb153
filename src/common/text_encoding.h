#pragma once

#include <string>
#include <string_view>

namespace vela {

// Text helpers for showing stored bytes (message bodies, property values) to people and to JSON:
// pure functions, thread-safe.

// True when `s` is valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF).
bool IsValidUtf8(std::string_view s);
// Standard base64 (RFC 4648, with '=' padding).
std::string Base64Encode(std::string_view data);

}  // namespace vela
