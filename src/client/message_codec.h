#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/message_record.h"
#include "common/result.h"
#include "vela/message.h"

// Conversions between the SDK's messages and the record format (common/message_record.h): what a
// producer puts in a send request's body, and what a consumer makes of a pull response's body.
namespace vela::client {

// Checks what the broker would refuse, before sending: topic name, non-empty body no larger than
// `max_body_bytes`, keys without spaces, property names and values, not both delay and deliver-at.
// Returns InvalidArgument naming the problem.
vela::Status ValidateMessage(const Message& message, size_t max_body_bytes);

// The encoded properties block: TAGS, KEYS (space-separated), SHARDING_KEY, DELAY_MS,
// DELIVER_AT_MS, then the user properties.
std::string EncodeMessageProperties(const Message& message);

// Appends the record of `message` to *out (queue id and offsets are stamped by the broker).
void AppendMessageRecord(const Message& message, std::string_view msg_id, uint64_t born_host, int64_t born_ms,
                         std::string* out, uint32_t queue_id = 0);

// Decodes every record of a pull (or query) response body, verifying CRCs. Fails with
// Corruption on a record that does not decode. `expected_count` (the response's message count)
// only sizes the result.
Result<std::vector<MessageView>> DecodeMessages(std::string_view body, const std::string& broker_addr,
                                                size_t expected_count = 0);

}  // namespace vela::client
