#pragma once

#include <cstdlib>
#include <optional>
#include <utility>

#include "common/status.h"

namespace vela {

// Result<T> holds either a value or a non-OK Status (the contract of absl::StatusOr):
// constructing one from an OK Status is a bug and is turned into kInternal.
// Thread-compatible value type.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    if (status_.ok()) status_ = Status::Internal("Result constructed from an OK status without a value");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  // REQUIRES: ok().
  T& value() & { return Checked(); }
  const T& value() const& { return const_cast<Result*>(this)->Checked(); }
  T&& value() && { return std::move(Checked()); }
  T* operator->() { return &Checked(); }
  const T* operator->() const { return &const_cast<Result*>(this)->Checked(); }
  T& operator*() & { return Checked(); }
  const T& operator*() const& { return const_cast<Result*>(this)->Checked(); }

  T value_or(T fallback) const { return value_ ? *value_ : std::move(fallback); }

 private:
  T& Checked() {
    if (!value_) std::abort();
    return *value_;
  }
  std::optional<T> value_;
  Status status_;
};

}  // namespace vela

#define VELA_CONCAT_INNER_(a, b) a##b
#define VELA_CONCAT_(a, b) VELA_CONCAT_INNER_(a, b)
// VELA_ASSIGN_OR_RETURN(auto x, Expr()): returns the error, or binds the value.
#define VELA_ASSIGN_OR_RETURN(lhs, expr)                          \
  auto VELA_CONCAT_(vela_result_, __LINE__) = (expr);             \
  if (!VELA_CONCAT_(vela_result_, __LINE__).ok())                 \
    return VELA_CONCAT_(vela_result_, __LINE__).status();         \
  lhs = std::move(VELA_CONCAT_(vela_result_, __LINE__)).value()
