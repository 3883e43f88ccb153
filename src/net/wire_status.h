#pragma once

#include "common/status.h"
#include "vela/v1/vela.pb.h"

// The single mapping between vela::Status and the wire Status (STYLE.md §4).
namespace vela::net {

void ToWireStatus(const Status& status, v1::Status* out);
Status FromWireStatus(const v1::Status& wire);

}  // namespace vela::net
