#include "common/build_info.h"

#include "vela_build_info_generated.h"

namespace vela {

std::string_view BuildVersion() { return VELA_BUILD_VERSION; }
std::string_view BuildCommit() { return VELA_BUILD_COMMIT; }
std::string BuildVersionString() {
  return std::string(BuildVersion()) + " (commit " + std::string(BuildCommit()) + ")";
}

}  // namespace vela
