#include "common/logging.h"

#include <mutex>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace vela {
namespace {
std::mutex g_mu;
spdlog::sink_ptr g_sink;
spdlog::level::level_enum g_level = spdlog::level::info;

spdlog::sink_ptr SinkLocked() {
  if (!g_sink) g_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  return g_sink;
}
}  // namespace

void InitLogging(std::string_view level, const std::string& file) {
  std::lock_guard lock(g_mu);
  g_level = spdlog::level::from_str(std::string(level));
  if (!file.empty()) {
    g_sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(file);
  } else {
    g_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  }
  auto def = std::make_shared<spdlog::logger>("vela", g_sink);
  def->set_level(g_level);
  spdlog::set_default_logger(def);
  spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ [%n] %v");
  spdlog::flush_on(spdlog::level::warn);
}

std::shared_ptr<spdlog::logger> GetLogger(const std::string& name) {
  std::lock_guard lock(g_mu);
  if (auto existing = spdlog::get(name)) return existing;
  auto logger = std::make_shared<spdlog::logger>(name, SinkLocked());
  logger->set_level(g_level);
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ [%n] %v");
  logger->flush_on(spdlog::level::warn);
  spdlog::register_logger(logger);
  return logger;
}

}  // namespace vela
