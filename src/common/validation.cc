#include "common/validation.h"

#include <fmt/format.h>

namespace vela {
namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '%' ||
         c == '|' || c == '-';
}

Status ValidateName(std::string_view what, std::string_view name, size_t max) {
  if (name.empty()) return Status::InvalidArgument(fmt::format("{} name is empty", what));
  if (name.size() > max) {
    return Status::InvalidArgument(fmt::format("{} name is {} characters, the limit is {}", what, name.size(), max));
  }
  for (char c : name) {
    if (!IsNameChar(c)) {
      return Status::InvalidArgument(
          fmt::format("{} name '{}' has an illegal character; allowed: letters, digits, _ % | -", what, name));
    }
  }
  return Status::OK();
}

}  // namespace

Status ValidateTopicName(std::string_view topic) { return ValidateName("topic", topic, 127); }
Status ValidateGroupName(std::string_view group) { return ValidateName("group", group, kMaxGroupNameLength); }

Status ValidateProperty(std::string_view key, std::string_view value) {
  if (key.empty() || key.size() > kMaxPropertyKeyLength) {
    return Status::InvalidArgument(fmt::format("property key must be 1..{} characters", kMaxPropertyKeyLength));
  }
  auto first = key.front();
  if (!((first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z') || first == '_' || first == '$')) {
    return Status::InvalidArgument(fmt::format("property key '{}' must start with a letter, '_' or '$'", key));
  }
  for (char c : key) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$' ||
              c == '.' || c == '-';
    if (!ok) return Status::InvalidArgument(fmt::format("property key '{}' has an illegal character", key));
  }
  if (value.size() > kMaxPropertyValueLength) {
    return Status::InvalidArgument(
        fmt::format("property '{}' value is {} bytes, the limit is {}", key, value.size(), kMaxPropertyValueLength));
  }
  if (value.find('\x01') != std::string_view::npos || value.find('\x02') != std::string_view::npos) {
    return Status::InvalidArgument(fmt::format("property '{}' value contains a reserved byte 0x01 or 0x02", key));
  }
  return Status::OK();
}

}  // namespace vela
