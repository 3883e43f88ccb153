#pragma once

#include <string>

namespace vela::client {

// The SDK's version and the commit it was built from, e.g. "0.1.0 (commit 1a2b3c4d5e)". Producers
// and consumers send it in their heartbeats; `vela-admin broker status` lists them per broker.
std::string SdkVersion();

}  // namespace vela::client
