#include "client/client_logging.h"

#include "common/build_info.h"
#include "common/logging.h"
#include "vela/version.h"

namespace vela::client {

vela::Status ApplyClientLogging(const ClientConfig& config) {
  if (config.log_level.empty() && config.log_file.empty()) return vela::Status::OK();
  LogSettings settings;
  settings.level = config.log_level.empty() ? "info" : config.log_level;
  settings.file = config.log_file;
  settings.max_file_bytes = config.log_max_file_bytes;
  settings.max_files = config.log_max_files;
  return SetUpLogging(settings);
}

std::string SdkVersion() { return BuildVersionString(); }

}  // namespace vela::client
