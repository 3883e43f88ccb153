#include "common/logging.h"

#include <mutex>
#include <utility>

#include <fmt/format.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace vela {
namespace {

constexpr const char* kPattern = "%Y-%m-%d %H:%M:%S.%e %^%l%$ [%n] %v";

// The one sink every logger holds: forwards each record to its current target (stderr or a
// rotating file), which SetUpLogging and ReopenLogFile replace under the sink's mutex, so loggers
// created before the set-up follow it and no record is written to a closed file. Thread-safe.
class SwitchableSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  SwitchableSink() : target_(MakeStderr()) {}

  static std::unique_ptr<spdlog::sinks::sink> MakeStderr() {
    auto sink = std::make_unique<spdlog::sinks::stderr_sink_st>();
    sink->set_pattern(kPattern);
    return sink;
  }
  // Throws spdlog::spdlog_ex when the file cannot be opened.
  static std::unique_ptr<spdlog::sinks::sink> MakeFile(const LogSettings& s) {
    auto sink = std::make_unique<spdlog::sinks::rotating_file_sink_st>(
        s.file, static_cast<size_t>(s.max_file_bytes), static_cast<size_t>(s.max_files));
    sink->set_pattern(kPattern);
    return sink;
  }

  void Replace(std::unique_ptr<spdlog::sinks::sink> target) {
    std::lock_guard lock(mutex_);
    target_->flush();
    target_ = std::move(target);
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override { target_->log(msg); }
  void flush_() override { target_->flush(); }
  void set_pattern_(const std::string&) override {}  // every target keeps kPattern
  void set_formatter_(std::unique_ptr<spdlog::formatter>) override {}

 private:
  std::unique_ptr<spdlog::sinks::sink> target_;
};

std::mutex g_mu;
std::shared_ptr<SwitchableSink> g_sink;  // GUARDED_BY(g_mu) (the pointer; the sink locks itself)
LogSettings g_settings;                  // GUARDED_BY(g_mu)
spdlog::level::level_enum g_level = spdlog::level::info;

std::shared_ptr<SwitchableSink> SinkLocked() {
  if (!g_sink) g_sink = std::make_shared<SwitchableSink>();
  return g_sink;
}

bool ParseLevel(std::string_view text, spdlog::level::level_enum* out) {
  static constexpr std::pair<std::string_view, spdlog::level::level_enum> kLevels[] = {
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug}, {"info", spdlog::level::info},
      {"warn", spdlog::level::warn},   {"warning", spdlog::level::warn}, {"error", spdlog::level::err},
      {"critical", spdlog::level::critical}, {"off", spdlog::level::off}};
  for (const auto& [name, level] : kLevels) {
    if (text == name) {
      *out = level;
      return true;
    }
  }
  return false;
}

}  // namespace

Status ValidateLogSettings(const LogSettings& settings) {
  spdlog::level::level_enum level;
  if (!ParseLevel(settings.level, &level)) {
    return Status::InvalidArgument(fmt::format(
        "log level '{}' is not one of trace, debug, info, warn, error, critical, off", settings.level));
  }
  if (settings.max_file_bytes < 1) return Status::InvalidArgument("the log file size limit must be at least 1 byte");
  if (settings.max_files < 1) return Status::InvalidArgument("at least 1 rotated log file must be kept");
  return Status::OK();
}

Status SetUpLogging(const LogSettings& settings) {
  VELA_RETURN_IF_ERROR(ValidateLogSettings(settings));
  spdlog::level::level_enum level = spdlog::level::info;
  ParseLevel(settings.level, &level);
  std::unique_ptr<spdlog::sinks::sink> target;
  if (settings.file.empty()) {
    target = SwitchableSink::MakeStderr();
  } else {
    try {
      target = SwitchableSink::MakeFile(settings);
    } catch (const spdlog::spdlog_ex& e) {
      return Status::InvalidArgument(fmt::format("cannot open log file {}: {}", settings.file, e.what()));
    }
  }
  std::lock_guard lock(g_mu);
  SinkLocked()->Replace(std::move(target));
  g_settings = settings;
  g_level = level;
  if (!spdlog::get("vela")) {
    auto def = std::make_shared<spdlog::logger>("vela", SinkLocked());
    def->flush_on(spdlog::level::warn);
    spdlog::set_default_logger(def);
  }
  spdlog::set_level(level);  // every registered logger
  spdlog::default_logger()->set_level(level);
  return Status::OK();
}

void InitLogging(std::string_view level, const std::string& file) {
  LogSettings settings;
  settings.level = std::string(level);
  settings.file = file;
  spdlog::level::level_enum parsed;
  if (!ParseLevel(settings.level, &parsed)) settings.level = "info";
  Status s = SetUpLogging(settings);
  if (!s.ok()) {
    settings.file.clear();
    (void)SetUpLogging(settings);
    spdlog::error("{}: logging to stderr", s.ToString());
  }
}

Status ReopenLogFile() {
  std::lock_guard lock(g_mu);
  if (g_settings.file.empty()) return Status::OK();
  try {
    SinkLocked()->Replace(SwitchableSink::MakeFile(g_settings));
  } catch (const spdlog::spdlog_ex& e) {
    return Status::Unavailable(fmt::format("cannot reopen log file {}: {}", g_settings.file, e.what()));
  }
  return Status::OK();
}

std::shared_ptr<spdlog::logger> GetLogger(const std::string& name) {
  std::lock_guard lock(g_mu);
  if (auto existing = spdlog::get(name)) return existing;
  auto logger = std::make_shared<spdlog::logger>(name, SinkLocked());
  logger->set_level(g_level);
  logger->flush_on(spdlog::level::warn);
  spdlog::register_logger(logger);
  return logger;
}

}  // namespace vela
