#pragma once

#include <memory>

#include "common/logging.h"

namespace vela::net {
// The "net" module logger.
inline const std::shared_ptr<spdlog::logger>& NetLogger() {
  static const auto logger = GetLogger("net");
  return logger;
}
}  // namespace vela::net
