#pragma once

#include "common/status.h"
#include "vela/status.h"

// The one mapping between Vela's internal status and the SDK's public mirror.
namespace vela::client {

Status ToPublic(const vela::Status& status);

// For an SQL92 error message of the form "<text> at position <N>", the N; else -1.
int ParseErrorPosition(std::string_view message);

}  // namespace vela::client
