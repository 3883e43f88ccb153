#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace vela {

// A timer message's recall handle (DESIGN.md §7.2): the broker that holds the timer, its due time
// and the message's unique id, everything needed to find the timer without a lookup. The SDK reads
// the broker name to route a recall; the broker reads the rest. Printable (base64url, no padding)
// and opaque to users.
struct RecallHandle {
  std::string broker_name;
  int64_t due_ms = 0;
  std::string msg_id;
};
std::string EncodeRecallHandle(const RecallHandle& handle);
std::string EncodeRecallHandle(std::string_view broker_name, int64_t due_ms, std::string_view msg_id);
// InvalidArgument ("recall handle ... is not one this broker issued") for anything else.
Result<RecallHandle> DecodeRecallHandle(std::string_view text);

}  // namespace vela
