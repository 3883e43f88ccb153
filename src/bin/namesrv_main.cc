// vela-namesrv: the routing registry (CLI.md).
#include <cstdio>

#include "bin/daemon_support.h"
#include "namesrv/namesrv_controller.h"
#include "net/protobuf_log.h"

int main(int argc, char** argv) {
  CLI::App app{"vela-namesrv: Vela's routing registry"};
  vela::bin::DaemonFlags flags;
  vela::bin::AddDaemonFlags(app, flags, /*broker=*/false);
  CLI11_PARSE(app, argc, argv);
  vela::bin::BlockStopSignals();
  vela::Config config = vela::bin::LoadDaemonConfig(flags);
  if (!flags.listen.empty()) config.Set("listen", flags.listen);
  vela::InitLogging(config.GetString("logLevel", flags.log_level), config.GetString("logFile", ""));
  vela::net::RouteProtobufLogsToNetLogger();
  auto options = vela::namesrv::NamesrvOptions::FromConfig(config);
  if (!options.ok()) {
    std::fprintf(stderr, "error: %s\n", options.status().ToString().c_str());
    return 2;
  }
  if (vela::Status unknown = config.RefuseUnreadKeys("vela-namesrv"); !unknown.ok()) {
    std::fprintf(stderr, "error: %s\n", unknown.ToString().c_str());
    return 2;
  }
  vela::namesrv::NamesrvController controller(*options);
  vela::Status started = controller.Start();
  if (!started.ok()) {
    std::fprintf(stderr, "error: %s\n", started.ToString().c_str());
    return 1;
  }
  std::printf("listening on %s\n", controller.listen_address().c_str());
  std::fflush(stdout);
  int sig = vela::bin::WaitForStopSignal();
  spdlog::info("signal {} received: stopping", sig);
  controller.Stop();
  return 0;
}
