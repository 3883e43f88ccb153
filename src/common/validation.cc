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

bool IsReservedTopicName(std::string_view topic) {
  if (!topic.empty() && topic.front() == '%') return true;  // %RETRY%<group>, %DLQ%<group>, ...
  constexpr std::string_view kSystemPrefix = "RMQ_SYS_";
  if (topic.size() >= kSystemPrefix.size()) {
    bool prefixed = true;
    for (size_t i = 0; i < kSystemPrefix.size() && prefixed; ++i) {
      char c = topic[i];
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      prefixed = c == kSystemPrefix[i];
    }
    if (prefixed) return true;
  }
  return topic == "TRANS_CHECK_MAX_TIME_TOPIC" || topic == "SCHEDULE_TOPIC_XXXX";
}

Status ValidateUserTopicName(std::string_view topic) {
  VELA_RETURN_IF_ERROR(ValidateTopicName(topic));
  if (IsReservedTopicName(topic)) {
    return Status::InvalidArgument(fmt::format(
        "topic name '{}' is reserved for the broker's system topics (%RETRY%, %DLQ%, RMQ_SYS_..., "
        "TRANS_CHECK_MAX_TIME_TOPIC, SCHEDULE_TOPIC_XXXX); clients cannot create or send to it",
        topic));
  }
  if (topic.find('%') != std::string_view::npos) {
    return Status::InvalidArgument(
        fmt::format("topic name '{}' has an illegal character '%' (reserved for system topics); allowed: "
                    "letters, digits, _ | -",
                    topic));
  }
  return Status::OK();
}

Status ValidateSystemTopicName(std::string_view topic) {
  VELA_RETURN_IF_ERROR(ValidateTopicName(topic));
  if (!IsReservedTopicName(topic)) {
    return Status::InvalidArgument(fmt::format("'{}' is not a system topic name", topic));
  }
  return Status::OK();
}
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

Status ValidatePropertiesBlock(std::string_view encoded) {
  if (encoded.size() > kMaxPropertiesBytes) {
    return Status::InvalidArgument(
        fmt::format("message properties take {} bytes, the limit is {}", encoded.size(), kMaxPropertiesBytes));
  }
  size_t pair_index = 0;
  while (!encoded.empty()) {
    auto pair_end = encoded.find(record::kPropPairSep);
    if (pair_end == std::string_view::npos) {
      return Status::InvalidArgument(fmt::format(
          "message properties are malformed: pair {} does not end with the separator 0x02", pair_index));
    }
    std::string_view pair = encoded.substr(0, pair_end);
    auto name_end = pair.find(record::kPropNameSep);
    if (name_end == std::string_view::npos) {
      return Status::InvalidArgument(fmt::format(
          "message properties are malformed: pair {} has no key/value separator 0x01", pair_index));
    }
    VELA_RETURN_IF_ERROR(ValidateProperty(pair.substr(0, name_end), pair.substr(name_end + 1)));
    encoded.remove_prefix(pair_end + 1);
    ++pair_index;
  }
  return Status::OK();
}

Status ValidateMessageId(std::string_view msg_id) {
  if (msg_id.empty()) return Status::InvalidArgument("message has no id");
  if (msg_id.size() > kMaxMessageIdLength) {
    return Status::InvalidArgument(
        fmt::format("message id is {} bytes, the limit is {}", msg_id.size(), kMaxMessageIdLength));
  }
  for (size_t i = 0; i < msg_id.size(); ++i) {
    auto c = static_cast<unsigned char>(msg_id[i]);
    if (c < 0x21 || c > 0x7e) {
      return Status::InvalidArgument(fmt::format(
          "message id has byte {:#04x} at position {}; ids are printable ASCII without spaces", c, i));
    }
  }
  return Status::OK();
}

}  // namespace vela
