// vela-admin: command-line administration of Vela (CLI.md). Global options may stand before or
// after the subcommand; exit status 0 ok, 1 failed (reason on stderr), 2 bad usage.
#include <iostream>

#include <CLI/CLI.hpp>

#include "common/command_line.h"
#include "common/logging.h"
#include "tools/admin_context.h"

int main(int argc, char** argv) {
  using namespace vela::tools;  // NOLINT
  vela::InitLogging("warn");
  AdminContext ctx;
  CLI::App app{"vela-admin: administer a Vela cluster, send and consume messages"};
  app.fallthrough();  // inherited: global options are accepted after any subcommand
  vela::AddVersionFlag(app, "vela-admin");
  app.add_option("--namesrv", ctx.namesrv, "name servers host:port[;host:port...] (default: $VELA_NAMESRV)");
  app.add_flag("--json", ctx.json, "print JSON instead of tables");
  app.add_option("--timeout", ctx.timeout_s, "request timeout in seconds (consume: idle time before stopping)")
      ->check(CLI::PositiveNumber);

  AddClusterCommands(app, ctx);
  AddTopicCommands(app, ctx);
  AddGroupCommands(app, ctx);
  AddMessageCommands(app, ctx);
  AddFilterCommands(app, ctx);
  AddTransactionCommands(app, ctx);

  if (auto exit_now = vela::ParseCommandLine(app, argc, argv)) return *exit_now;
  if (!ctx.action) {
    std::cerr << app.help() << std::endl;
    return kExitUsage;
  }
  int code = ctx.action();
  std::cout.flush();
  return code;
}
