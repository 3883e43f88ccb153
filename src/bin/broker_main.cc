// vela-broker: stores and serves messages (CLI.md).
#include <cstdio>
#include <cstdlib>

#include "bin/daemon_support.h"
#include "broker/broker_controller.h"
#include "net/protobuf_log.h"

int main(int argc, char** argv) {
  const std::string program = "vela-broker";
  CLI::App app{"vela-broker: Vela's message broker"};
  vela::bin::DaemonFlags flags;
  vela::bin::AddDaemonFlags(app, flags, /*broker=*/true, program);
  if (auto code = vela::ParseCommandLine(app, argc, argv)) return *code;
  vela::bin::BlockStopSignals();
  vela::Config config = vela::bin::LoadDaemonConfig(flags, program);
  vela::bin::CommonSettings common = vela::bin::ReadCommonSettings(config, program);
  auto options = vela::broker::BrokerOptions::FromConfig(config);
  if (!options.ok()) {
    std::fprintf(stderr, "%s: %s\n", program.c_str(), options.status().ToString().c_str());
    return vela::kExitBadUsage;
  }
  if (auto code = vela::bin::FinishDaemonConfig(config, flags, common, program)) return *code;
  vela::net::RouteProtobufLogsToNetLogger();
  spdlog::info("{} {} starting", program, vela::BuildVersionString());
  vela::broker::BrokerController controller(*options);
  vela::Status started = controller.Start();
  if (!started.ok()) {
    std::fprintf(stderr, "error: %s\n", started.ToString().c_str());
    controller.Stop();
    return 1;
  }
  // The HTTP line first: a launcher reading up to the listening line sees both.
  if (!controller.http_address().empty()) std::printf("http on %s\n", controller.http_address().c_str());
  std::printf("listening on %s\n", controller.listen_address().c_str());
  std::fflush(stdout);
  int sig = vela::bin::WaitForStopSignal();
  spdlog::info("signal {} received: stopping", sig);
  controller.Stop();
  return 0;
}
