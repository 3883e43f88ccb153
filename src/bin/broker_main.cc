// vela-broker: stores and serves messages (CLI.md).
#include <cstdio>
#include <cstdlib>

#include "bin/daemon_support.h"
#include "broker/broker_controller.h"
#include "net/protobuf_log.h"

int main(int argc, char** argv) {
  CLI::App app{"vela-broker: Vela's message broker"};
  vela::bin::DaemonFlags flags;
  vela::bin::AddDaemonFlags(app, flags, /*broker=*/true);
  CLI11_PARSE(app, argc, argv);
  vela::bin::BlockStopSignals();
  vela::Config config = vela::bin::LoadDaemonConfig(flags);
  if (!flags.listen.empty()) config.Set("listen", flags.listen);
  if (!flags.store_dir.empty()) config.Set("storePathRootDir", flags.store_dir);
  if (!flags.namesrv.empty()) {
    config.Set("namesrvAddr", flags.namesrv);
  } else if (const char* env = std::getenv("VELA_NAMESRV"); env && !config.Has("namesrvAddr")) {
    config.Set("namesrvAddr", env);
  }
  vela::InitLogging(config.GetString("logLevel", flags.log_level), config.GetString("logFile", ""));
  vela::net::RouteProtobufLogsToNetLogger();
  auto options = vela::broker::BrokerOptions::FromConfig(config);
  if (!options.ok()) {
    std::fprintf(stderr, "error: %s\n", options.status().ToString().c_str());
    return 2;
  }
  if (vela::Status unknown = config.RefuseUnreadKeys("vela-broker"); !unknown.ok()) {
    std::fprintf(stderr, "error: %s\n", unknown.ToString().c_str());
    return 2;
  }
  vela::broker::BrokerController controller(*options);
  vela::Status started = controller.Start();
  if (!started.ok()) {
    std::fprintf(stderr, "error: %s\n", started.ToString().c_str());
    controller.Stop();
    return 1;
  }
  std::printf("listening on %s\n", controller.listen_address().c_str());
  std::fflush(stdout);
  int sig = vela::bin::WaitForStopSignal();
  spdlog::info("signal {} received: stopping", sig);
  controller.Stop();
  return 0;
}
