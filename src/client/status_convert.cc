#include "client/status_convert.h"

#include <charconv>
#include <string>

namespace vela::client {

const char* StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kCancelled: return "Cancelled";
    case StatusCode::kUnknown: return "Unknown";
    case StatusCode::kInvalidArgument: return "InvalidArgument";
    case StatusCode::kDeadlineExceeded: return "DeadlineExceeded";
    case StatusCode::kNotFound: return "NotFound";
    case StatusCode::kAlreadyExists: return "AlreadyExists";
    case StatusCode::kPermissionDenied: return "PermissionDenied";
    case StatusCode::kResourceExhausted: return "ResourceExhausted";
    case StatusCode::kFailedPrecondition: return "FailedPrecondition";
    case StatusCode::kAborted: return "Aborted";
    case StatusCode::kOutOfRange: return "OutOfRange";
    case StatusCode::kUnimplemented: return "Unimplemented";
    case StatusCode::kInternal: return "Internal";
    case StatusCode::kUnavailable: return "Unavailable";
    case StatusCode::kDataLoss: return "DataLoss";
    case StatusCode::kUnauthenticated: return "Unauthenticated";
    case StatusCode::kCorruption: return "Corruption";
    case StatusCode::kIOError: return "IOError";
  }
  return "Unknown";
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
