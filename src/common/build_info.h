#pragma once

#include <string>
#include <string_view>

// The one version of a Vela build: CMake's project version plus the git commit it was built from
// (cmake/write_build_info.cmake). Every binary prints it for --version, the broker reports it in
// `broker status` and as the vela_build_info metric, and the SDK sends it in its heartbeats.
namespace vela {

// The project version, e.g. "0.1.0".
std::string_view BuildVersion();
// The short git commit, "<hash>-dirty" for a tree with changes, or "unknown".
std::string_view BuildCommit();
// "0.1.0 (commit 1a2b3c4d5e)": what `--version` prints after the program name.
std::string BuildVersionString();

}  // namespace vela
