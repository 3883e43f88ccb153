#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

// The SDK's error vocabulary: a mirror of Vela's internal status codes that public headers can
// include without any of Vela's internal headers.
namespace vela::client {

// Canonical codes (abseil's set plus Corruption and IOError); the numbers are those of the wire.
// Retry guidance: kUnavailable retry with backoff; kDeadlineExceeded the outcome is unknown;
// kInvalidArgument / kNotFound / kFailedPrecondition do not retry until the input or state changes.
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

// Finer reasons under a code (same numbers as the wire's sub_code).
enum class SubCode : int32_t {
  kNone = 0,
  kNoSpace = 1,
  kOffsetMoved = 2,
  kMessageTooLarge = 3,
  kTopicNotFound = 4,
  kGroupNotFound = 5,
  kFrameTooLarge = 6,
  kBadFilter = 7,
};

// Status is the outcome of an SDK call: OK, or a code, a sub-code, a message and, for a bad
// filter expression, the 0-based position of the offending token. Thread-compatible value type.
class Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message, SubCode sub = SubCode::kNone, int position = -1)
      : code_(code), sub_(sub), message_(std::move(message)), position_(position) {}
  static Status OK() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  SubCode subcode() const { return sub_; }
  const std::string& message() const { return message_; }
  // Position in a filter expression where parsing failed, or -1.
  int position() const { return position_; }
  // "OK" or "<CodeName>: message".
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  SubCode sub_ = SubCode::kNone;
  std::string message_;
  int position_ = -1;
};

// The name of a code ("NotFound", ...).
const char* StatusCodeName(StatusCode code);

// StatusOr<T> holds a value or a non-OK Status (absl::StatusOr's contract). Thread-compatible.
template <typename T>
// StatusOr<T> holds a value or the error that prevented it (absl::StatusOr's contract). Value type.
class StatusOr {
 public:
  StatusOr(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  StatusOr(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    if (status_.ok()) status_ = Status(StatusCode::kInternal, "StatusOr built from an OK status");
  }
  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  // REQUIRES: ok().
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace vela::client
