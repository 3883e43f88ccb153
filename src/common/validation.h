#pragma once

#include <string_view>

#include "common/status.h"

// Validation of names and properties shared by the SDK (fail early) and the broker (the authority).
namespace vela {

inline constexpr size_t kMaxPropertyKeyLength = 64;
inline constexpr size_t kMaxPropertyValueLength = 16 * 1024;
inline constexpr size_t kMaxPropertiesBytes = 32 * 1024;
inline constexpr size_t kMaxGroupNameLength = 255;

// Topic names: [A-Za-z0-9_%|-]{1,127}.
Status ValidateTopicName(std::string_view topic);
// Group names: [A-Za-z0-9_%|-]{1,255}.
Status ValidateGroupName(std::string_view group);
// Property keys: 1..64 chars of [A-Za-z0-9_$.-], starting with a letter, '_' or '$' (so SQL92 can
// name them); values: up to 16 KiB without the separator bytes 0x01 and 0x02.
Status ValidateProperty(std::string_view key, std::string_view value);

}  // namespace vela
