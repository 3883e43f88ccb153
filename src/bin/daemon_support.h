#pragma once

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/command_line.h"
#include "common/config.h"
#include "common/logging.h"

// What vela-namesrv and vela-broker share in main(): the flags of CLI.md, config loading with
// flags winning over the file, the settings common to both (logging, strictConfig), the refusal
// of unknown settings, --print-config, and waiting for SIGTERM/SIGINT (SIGHUP reopens the log).
namespace vela::bin {

// The command-line flags both daemons take (CLI.md).
struct DaemonFlags {
  std::string config_file;
  std::vector<std::string> overrides;
  std::string listen;
  std::string namesrv;
  std::string store_dir;
  std::string log_level;  // empty: not given
  bool print_config = false;
  bool broker = false;
};

inline void AddDaemonFlags(CLI::App& app, DaemonFlags& flags, bool broker, const std::string& program) {
  flags.broker = broker;
  AddVersionFlag(app, program);
  app.add_option("--config", flags.config_file, "key = value configuration file");
  app.add_option("--set", flags.overrides, "override one setting: key=value (repeatable)");
  app.add_option("--listen", flags.listen, "HOST:PORT to listen on (port 0 picks a free one)");
  app.add_option("--log-level", flags.log_level, "trace|debug|info|warn|error (the setting logLevel)");
  app.add_flag("--print-config", flags.print_config,
               "print every effective setting and where it came from (default, file, flag), then exit");
  if (broker) {
    app.add_option("--namesrv", flags.namesrv, "name servers host:port[;host:port...] (or VELA_NAMESRV)");
    app.add_option("--store-dir", flags.store_dir, "store directory (storePathRootDir)");
  }
}

[[noreturn]] inline void ExitBadUsage(const std::string& program, const std::string& reason) {
  std::fprintf(stderr, "%s: %s\n", program.c_str(), reason.c_str());
  std::exit(kExitBadUsage);
}

// Loads the config file (if any), then the --set overrides, then the dedicated flags, so that
// every flag wins over the file. VELA_NAMESRV fills namesrvAddr only when nothing else does.
// Exits with status 2 on errors.
inline Config LoadDaemonConfig(const DaemonFlags& flags, const std::string& program) {
  Config config;
  if (!flags.config_file.empty()) {
    auto loaded = Config::LoadFile(flags.config_file);
    if (!loaded.ok()) ExitBadUsage(program, loaded.status().ToString());
    config = std::move(loaded).value();
  }
  for (const auto& kv : flags.overrides) {
    Status s = config.ApplyOverride(kv);
    if (!s.ok()) ExitBadUsage(program, s.ToString());
  }
  if (!flags.listen.empty()) config.Set("listen", flags.listen, "flag --listen");
  if (!flags.log_level.empty()) config.Set("logLevel", flags.log_level, "flag --log-level");
  if (flags.broker) {
    if (!flags.store_dir.empty()) config.Set("storePathRootDir", flags.store_dir, "flag --store-dir");
    if (!flags.namesrv.empty()) {
      config.Set("namesrvAddr", flags.namesrv, "flag --namesrv");
    } else if (const char* env = std::getenv("VELA_NAMESRV"); env && !config.Has("namesrvAddr")) {
      config.Set("namesrvAddr", env, "environment VELA_NAMESRV");
    }
  }
  return config;
}

// The settings both daemons read besides their own options. Exits with status 2 on bad values.
struct CommonSettings {
  LogSettings log;
  bool strict_config = true;
};
inline CommonSettings ReadCommonSettings(const Config& config, const std::string& program) {
  CommonSettings out;
  out.log.level = config.GetString("logLevel", "info");
  out.log.file = config.GetString("logFile", "");
  auto max_bytes = config.GetBytes("logMaxFileSize", out.log.max_file_bytes);
  auto max_files = config.GetInt("logMaxFiles", out.log.max_files);
  auto strict = config.GetBool("strictConfig", true);
  if (!max_bytes.ok()) ExitBadUsage(program, max_bytes.status().ToString());
  if (!max_files.ok()) ExitBadUsage(program, max_files.status().ToString());
  if (!strict.ok()) ExitBadUsage(program, strict.status().ToString());
  out.log.max_file_bytes = *max_bytes;
  if (*max_files < 1 || *max_files > 1000) ExitBadUsage(program, "logMaxFiles must be between 1 and 1000");
  out.log.max_files = static_cast<int>(*max_files);
  out.strict_config = *strict;
  if (Status s = ValidateLogSettings(out.log); !s.ok()) ExitBadUsage(program, s.ToString());
  return out;
}

// Prints every effective setting with its source: "key = value  # source".
inline void PrintConfig(const Config& config) {
  auto settings = config.EffectiveSettings();
  size_t width = 0;
  for (const auto& s : settings) width = std::max(width, s.key.size() + 3 + s.value.size());
  for (const auto& s : settings) {
    std::string line = s.key + " = " + s.value;
    std::printf("%-*s  # %s\n", static_cast<int>(width), line.c_str(), s.source.c_str());
  }
  std::fflush(stdout);
}

// Called once the daemon has read all its settings: refuses unknown settings (or only warns with
// strictConfig=false), answers --print-config, then sets up logging. Returns the exit status when
// the program should stop now.
inline std::optional<int> FinishDaemonConfig(const Config& config, const DaemonFlags& flags,
                                             const CommonSettings& common, const std::string& program) {
  Status unknown = config.RefuseUnreadKeys(program);
  if (!unknown.ok() && common.strict_config) {
    std::fprintf(stderr, "error: %s (strictConfig=false only warns)\n", std::string(unknown.message()).c_str());
    return kExitBadUsage;
  }
  if (flags.print_config) {
    PrintConfig(config);
    return 0;
  }
  if (Status s = SetUpLogging(common.log); !s.ok()) {
    std::fprintf(stderr, "%s: %s\n", program.c_str(), s.ToString().c_str());
    return kExitBadUsage;
  }
  // Warnings and errors are written at once; everything else reaches the file within a second.
  spdlog::flush_every(std::chrono::seconds(1));
  if (!unknown.ok()) {
    std::fprintf(stderr, "warning: %s (ignored: strictConfig=false)\n", std::string(unknown.message()).c_str());
    spdlog::warn("{} (ignored: strictConfig=false)", unknown.message());
  }
  return std::nullopt;
}

// Blocks SIGTERM, SIGINT and SIGHUP in every thread (call before starting any), then
// WaitForStopSignal returns the stop signal once one arrives.
inline void BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}
// Waits for SIGTERM or SIGINT and returns it; every SIGHUP meanwhile reopens the log file.
inline int WaitForStopSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  while (true) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (sig != SIGHUP) return sig;
    Status reopened = ReopenLogFile();
    if (reopened.ok()) {
      spdlog::info("SIGHUP: log file reopened");
    } else {
      spdlog::error("SIGHUP: {}", reopened.ToString());
    }
  }
}

}  // namespace vela::bin
