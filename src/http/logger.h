#pragma once

#include <memory>

#include "common/logging.h"

namespace vela::http {
// The "http" module logger.
inline const std::shared_ptr<spdlog::logger>& HttpLogger() {
  static const auto logger = GetLogger("http");
  return logger;
}
}  // namespace vela::http
