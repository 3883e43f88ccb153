#pragma once

#include <string_view>

#include "common/record_format.h"
#include "common/status.h"

// Validation of names and properties shared by the SDK (fail early) and the broker (the authority).
namespace vela {

inline constexpr size_t kMaxPropertyKeyLength = 64;
inline constexpr size_t kMaxPropertyValueLength = 16 * 1024;
inline constexpr size_t kMaxPropertiesBytes = 32 * 1024;
inline constexpr size_t kMaxGroupNameLength = 255;

// The syntax of every topic the log can hold, system topics included: [A-Za-z0-9_%|-]{1,127}.
// The store checks this; whatever comes from a client must pass ValidateUserTopicName instead.
Status ValidateTopicName(std::string_view topic);

// Reserved (system) topic names: the broker's own topics (DESIGN.md §7.1). Names starting with
// '%' (`%RETRY%<group>`, `%DLQ%<group>`), with `RMQ_SYS_` in any case (`RMQ_SYS_TRANS_HALF_TOPIC`,
// `RMQ_SYS_TRANS_OP_HALF_TOPIC`, `RMQ_SYS_TRACE_TOPIC`, `rmq_sys_wheel_timer`, ...), and the exact
// names `TRANS_CHECK_MAX_TIME_TOPIC` and `SCHEDULE_TOPIC_XXXX`. This is the only place the rule lives.
bool IsReservedTopicName(std::string_view topic);
// A topic name a client may create, auto-create or send to: ValidateTopicName without '%', and
// not reserved. Errors are InvalidArgument naming the rule broken.
Status ValidateUserTopicName(std::string_view topic);
// A topic the broker creates for itself (the internal path): ValidateTopicName and reserved.
Status ValidateSystemTopicName(std::string_view topic);
// Group names: [A-Za-z0-9_%|-]{1,255}.
Status ValidateGroupName(std::string_view group);
// Property keys: 1..64 chars of [A-Za-z0-9_$.-], starting with a letter, '_' or '$' (so SQL92 can
// name them); values: up to 16 KiB without the separator bytes 0x01 and 0x02.
Status ValidateProperty(std::string_view key, std::string_view value);
// An encoded properties block as it travels in a record (message_record.h): empty, or pairs of
// key 0x01 value 0x02, every pair whole (the last one too), at most kMaxPropertiesBytes in all,
// every pair passing ValidateProperty.
Status ValidatePropertiesBlock(std::string_view encoded);

// Message (unique) ids as producers set them: 1..kMaxMessageIdLength printable ASCII characters
// (0x21..0x7e: no NUL, no control bytes, no spaces). The SDK's ids are 32 hex digits.
inline constexpr size_t kMaxMessageIdLength = record::kMaxMsgIdLength;
Status ValidateMessageId(std::string_view msg_id);

}  // namespace vela
