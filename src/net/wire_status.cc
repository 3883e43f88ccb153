#include "net/wire_status.h"

namespace vela::net {

void ToWireStatus(const Status& status, v1::Status* out) {
  out->set_code(static_cast<int32_t>(status.code()));
  out->set_message(std::string(status.message()));
  out->set_sub_code(static_cast<int32_t>(status.subcode()));
}

Status FromWireStatus(const v1::Status& wire) {
  if (wire.code() == 0) return Status::OK();
  return Status(static_cast<StatusCode>(wire.code()), wire.message(), static_cast<SubCode>(wire.sub_code()));
}

}  // namespace vela::net
