#pragma once

#include <memory>

#include "common/logging.h"

namespace vela::metrics {
// The "metrics" module logger.
inline const std::shared_ptr<spdlog::logger>& MetricsLogger() {
  static const auto logger = GetLogger("metrics");
  return logger;
}
}  // namespace vela::metrics
