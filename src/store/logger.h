#pragma once

#include <memory>

#include <spdlog/spdlog.h>

#include "common/logging.h"

namespace vela::store {

// The store's spdlog logger, named "store".
inline spdlog::logger& Log() {
  static std::shared_ptr<spdlog::logger> logger = GetLogger("store");
  return *logger;
}

}  // namespace vela::store
