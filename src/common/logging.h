#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

#include "common/status.h"

// Logging setup: every module has a named spdlog logger (its logger.h calls GetLogger), all sharing
// one process-wide sink. The sink writes to stderr or to a size-rotating file (spdlog's rotating
// sink: at max_file_bytes the file becomes FILE.1, FILE.1 becomes FILE.2, ... up to max_files), and
// can be switched or reopened while threads log (SIGHUP: ReopenLogFile, for logrotate).
namespace vela {

// Where and what the process logs.
struct LogSettings {
  std::string level = "info";  // trace | debug | info | warn | error | critical | off
  std::string file;            // empty: stderr
  int64_t max_file_bytes = 100 * 1024 * 1024;
  int max_files = 10;  // rotated files kept besides FILE
};

// InvalidArgument for an unknown level, or a size or count below 1; opens nothing.
Status ValidateLogSettings(const LogSettings& settings);

// Points the shared sink at `settings` and sets every logger's level. Fails (changing nothing) on
// an unknown level, a size or count below 1, or a file that cannot be opened. Thread-safe.
Status SetUpLogging(const LogSettings& settings);

// The former interface: stderr or a file, no size limit beyond the default. An unknown level
// falls back to info.
void InitLogging(std::string_view level, const std::string& file = "");

// Closes and opens the log file again under its name (after logrotate or an operator moved it);
// a no-op when logging to stderr. Thread-safe; called by the daemons on SIGHUP.
Status ReopenLogFile();

// Returns the logger named `name`, creating it on first use with the shared sink. Thread-safe.
std::shared_ptr<spdlog::logger> GetLogger(const std::string& name);

}  // namespace vela
