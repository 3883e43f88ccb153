#pragma once

#include <signal.h>

#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/config.h"
#include "common/logging.h"

// What vela-namesrv and vela-broker share in main(): the flags of CLI.md, config loading with
// --set overrides, and waiting for SIGTERM/SIGINT.
namespace vela::bin {

// The command-line flags both daemons take (CLI.md).
struct DaemonFlags {
  std::string config_file;
  std::vector<std::string> overrides;
  std::string listen;
  std::string namesrv;
  std::string store_dir;
  std::string log_level = "info";
};

inline void AddDaemonFlags(CLI::App& app, DaemonFlags& flags, bool broker) {
  app.add_option("--config", flags.config_file, "key = value configuration file");
  app.add_option("--set", flags.overrides, "override one setting: key=value (repeatable)");
  app.add_option("--listen", flags.listen, "HOST:PORT to listen on (port 0 picks a free one)");
  app.add_option("--log-level", flags.log_level, "trace|debug|info|warn|error");
  if (broker) {
    app.add_option("--namesrv", flags.namesrv, "name servers host:port[;host:port...] (or VELA_NAMESRV)");
    app.add_option("--store-dir", flags.store_dir, "store directory (storePathRootDir)");
  }
}

// Loads the config file (if any) and applies the overrides. Exits with status 2 on errors.
inline Config LoadDaemonConfig(const DaemonFlags& flags) {
  Config config;
  if (!flags.config_file.empty()) {
    auto loaded = Config::LoadFile(flags.config_file);
    if (!loaded.ok()) {
      std::fprintf(stderr, "error: %s\n", loaded.status().ToString().c_str());
      std::exit(2);
    }
    config = std::move(loaded).value();
  }
  for (const auto& kv : flags.overrides) {
    Status s = config.ApplyOverride(kv);
    if (!s.ok()) {
      std::fprintf(stderr, "error: %s\n", s.ToString().c_str());
      std::exit(2);
    }
  }
  return config;
}

// Blocks SIGTERM/SIGINT in every thread (call before starting any), then WaitForStopSignal
// returns the signal once one arrives.
inline void BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}
inline int WaitForStopSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

}  // namespace vela::bin
