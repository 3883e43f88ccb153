#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

// Logging setup: every module has a named spdlog logger (its logger.h calls GetLogger), all sharing
// one sink configured once per process by InitLogging.
namespace vela {

// Configures the process-wide sink: stderr, or a file when `file` is non-empty; `level` is one of
// trace, debug, info, warn, error. Safe to call once at startup, before any thread logs.
void InitLogging(std::string_view level, const std::string& file = "");

// Returns the logger named `name`, creating it on first use with the shared sink. Thread-safe.
std::shared_ptr<spdlog::logger> GetLogger(const std::string& name);

}  // namespace vela
