#pragma once

#include "common/status.h"
#include "vela/client_config.h"

namespace vela::client {

// Applies a ClientConfig's log settings (level, file, rotation) to the process-wide log sink, when
// it names a level or a file; otherwise leaves logging as it is. Fails with InvalidArgument on an
// unknown level or a file that cannot be opened.
vela::Status ApplyClientLogging(const ClientConfig& config);

}  // namespace vela::client
