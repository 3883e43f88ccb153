#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace vela {

// The canonical status codes (abseil's set) plus the two storage codes leveldb taught us.
// Retry guidance, as abseil gives it:
//  - kUnavailable: retry the same call, ideally with backoff (broker restarting, no route yet).
//  - kAborted: retry at a higher level (read-modify-write lost a race).
//  - kFailedPrecondition: do not retry until the system state is fixed (disk full, topic read-only).
//  - kDeadlineExceeded: the outcome is unknown; retry only if the operation is idempotent.
enum class StatusCode : int32_t {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
  kCorruption = 100,
  kIOError = 101,
};

// Finer reasons under a code, for callers that act on them (RocksDB's SubCode idea).
enum class SubCode : int32_t {
  kNone = 0,
  kNoSpace = 1,        // disk full (with kResourceExhausted or kIOError)
  kOffsetMoved = 2,    // requested offset is below the retained minimum
  kMessageTooLarge = 3,
  kTopicNotFound = 4,
  kGroupNotFound = 5,
  kFrameTooLarge = 6,
  kBadFilter = 7,
};

std::string_view StatusCodeName(StatusCode code);

// Status is the one error vocabulary of Vela: OK is free (no allocation), an error carries a code,
// a message and an optional sub-code. Thread-compatible value type.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string_view message, SubCode sub = SubCode::kNone);

  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string_view m) { return {StatusCode::kInvalidArgument, m}; }
  static Status NotFound(std::string_view m, SubCode s = SubCode::kNone) { return {StatusCode::kNotFound, m, s}; }
  static Status AlreadyExists(std::string_view m) { return {StatusCode::kAlreadyExists, m}; }
  static Status FailedPrecondition(std::string_view m) { return {StatusCode::kFailedPrecondition, m}; }
  static Status ResourceExhausted(std::string_view m, SubCode s = SubCode::kNone) {
    return {StatusCode::kResourceExhausted, m, s};
  }
  static Status OutOfRange(std::string_view m, SubCode s = SubCode::kNone) { return {StatusCode::kOutOfRange, m, s}; }
  static Status Unavailable(std::string_view m) { return {StatusCode::kUnavailable, m}; }
  static Status DeadlineExceeded(std::string_view m) { return {StatusCode::kDeadlineExceeded, m}; }
  static Status Internal(std::string_view m) { return {StatusCode::kInternal, m}; }
  static Status Unimplemented(std::string_view m) { return {StatusCode::kUnimplemented, m}; }
  static Status Corruption(std::string_view m) { return {StatusCode::kCorruption, m}; }
  static Status IOError(std::string_view m, SubCode s = SubCode::kNone) { return {StatusCode::kIOError, m, s}; }
  static Status Cancelled(std::string_view m) { return {StatusCode::kCancelled, m}; }
  static Status PermissionDenied(std::string_view m) { return {StatusCode::kPermissionDenied, m}; }
  static Status Aborted(std::string_view m) { return {StatusCode::kAborted, m}; }

  bool ok() const { return rep_ == nullptr; }
  StatusCode code() const { return rep_ ? rep_->code : StatusCode::kOk; }
  SubCode subcode() const { return rep_ ? rep_->sub : SubCode::kNone; }
  std::string_view message() const { return rep_ ? std::string_view(rep_->message) : std::string_view(); }
  bool IsNoSpace() const { return subcode() == SubCode::kNoSpace; }

  // "OK" or "<CodeName>: message".
  std::string ToString() const;

  // Returns a copy whose message is prefixed by `context` ("context: message").
  Status WithContext(std::string_view context) const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code() == b.code() && a.message() == b.message();
  }

 private:
  struct Rep {
    StatusCode code;
    SubCode sub;
    std::string message;
  };
  std::shared_ptr<const Rep> rep_;  // null when OK; immutable, so copies share it
};

}  // namespace vela

// Returns early from the enclosing function when `expr` is an error Status.
#define VELA_RETURN_IF_ERROR(expr)            \
  do {                                        \
    ::vela::Status vela_status__ = (expr);    \
    if (!vela_status__.ok()) return vela_status__; \
  } while (0)
