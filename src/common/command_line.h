#pragma once

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "common/build_info.h"

// The command-line behaviour every Vela binary shares (CLI.md "Every binary"): `--version` prints
// "<program> <version> (commit <hash>)" and exits 0, `--help` prints the usage and exits 0, and bad
// usage prints the reason and exits 2 (CLI11's own codes, e.g. 109 for an unknown flag, never leak).
namespace vela {

inline constexpr int kExitBadUsage = 2;

// Adds --version to `app`, printing `program` followed by the build's version.
inline void AddVersionFlag(CLI::App& app, const std::string& program) {
  app.set_version_flag("--version", program + " " + BuildVersionString(), "print the version and exit");
}

// Parses argv. Returns nothing when the program should go on, or the exit status to return now:
// 0 after --help or --version, 2 after bad usage (the reason is on stderr).
inline std::optional<int> ParseCommandLine(CLI::App& app, int argc, const char* const* argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitBadUsage;
  }
  return std::nullopt;
}

}  // namespace vela
