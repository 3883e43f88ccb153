#pragma once

#include <memory>

#include "common/logging.h"

namespace vela::broker {
// The "broker" module logger.
inline const std::shared_ptr<spdlog::logger>& BrokerLogger() {
  static const auto logger = GetLogger("broker");
  return logger;
}
}  // namespace vela::broker
