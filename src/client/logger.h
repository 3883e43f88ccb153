#pragma once

#include <memory>

#include "common/logging.h"

namespace vela::client {
// The "client" module logger.
inline const std::shared_ptr<spdlog::logger>& ClientLogger() {
  static const auto logger = GetLogger("client");
  return logger;
}
}  // namespace vela::client
