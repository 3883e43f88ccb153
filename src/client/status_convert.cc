#include "client/status_convert.h"

#include <charconv>
#include <string>

#include "common/status.h"

namespace vela::client {

const char* StatusCodeName(StatusCode code) {
  // The public codes have the numbers of the internal ones: one table serves both.
  return vela::StatusCodeName(static_cast<vela::StatusCode>(code)).data();
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return std::string(StatusCodeName(code_)) + ": " + message_;
}

int ParseErrorPosition(std::string_view message) {
  static constexpr std::string_view kMarker = " at position ";
  auto at = message.rfind(kMarker);
  if (at == std::string_view::npos) return -1;
  auto digits = message.substr(at + kMarker.size());
  int pos = -1;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), pos);
  if (ec != std::errc()) return -1;
  return pos;
}

Status ToPublic(const vela::Status& status) {
  if (status.ok()) return Status::OK();
  int position = -1;
  if (status.subcode() == vela::SubCode::kBadFilter) position = ParseErrorPosition(status.message());
  return Status(static_cast<StatusCode>(status.code()), std::string(status.message()),
                static_cast<SubCode>(status.subcode()), position);
}

}  // namespace vela::client
