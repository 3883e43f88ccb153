#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace vela {

// Generates the unique ids producers give messages at send time (DESIGN.md §6): 32 hex digits of
// host IPv4 (4 bytes), process id (2), generator start second (4) and a per-process counter (6).
// Unique across processes and restarts for practical purposes. Thread-safe.
std::string NewMessageId();

// The offset id: 32 hex digits of the storing broker's packed host (8 bytes, record_format.h) and
// the physical offset (8 bytes, big-endian so ids sort by offset). Finds a record without an index.
std::string MakeOffsetId(uint64_t packed_store_host, int64_t physical_offset);
// A decoded offset id: where the record lives.
struct OffsetId {
  std::string broker_addr;  // "ip:port"
  int64_t physical_offset = 0;
};
// Both kinds of id are 32 hex digits: an id parses as an offset id only when its host part has the
// packed-host shape (non-zero IPv4 and port, two zero bytes). Callers that may hold either kind look
// the id up as a unique id first (vela-admin message get, VIEW_MESSAGE).
Result<OffsetId> ParseOffsetId(std::string_view id);

}  // namespace vela
