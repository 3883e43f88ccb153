#include "net/protobuf_log.h"

#include <google/protobuf/stubs/logging.h>

#include "common/log_rate_limiter.h"
#include "net/logger.h"

namespace vela::net {

void RouteProtobufLogsToNetLogger() {
  google::protobuf::SetLogHandler(
      [](google::protobuf::LogLevel level, const char* file, int line, const std::string& message) {
        static LogRateLimiter limiter(10, 10000);
        uint64_t suppressed = 0;
        if (!limiter.Allow(&suppressed)) return;
        NetLogger()->log(level >= google::protobuf::LOGLEVEL_ERROR ? spdlog::level::warn : spdlog::level::info,
                         "protobuf: {} ({}:{}; {} similar lines suppressed)", message, file, line, suppressed);
      });
}

}  // namespace vela::net
