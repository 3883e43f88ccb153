#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <ostream>

#include <fmt/format.h>

namespace vela::store {

// Offset<Tag> is an int64_t that only mixes with offsets of the same kind: built explicitly from
// an integer, read back with value(), compared with its own kind, moved by an integer count
// (offset + n), and subtracted from its own kind to give that count back (end - begin). It is
// exactly an int64_t in size and cost (trivially copyable, constexpr throughout). Thread-compatible
// like any value. Use the aliases below, never the template directly.
template <class Tag>
class Offset {
 public:
  constexpr Offset() = default;
  constexpr explicit Offset(int64_t value) : value_(value) {}

  constexpr int64_t value() const { return value_; }

  friend constexpr bool operator==(Offset, Offset) = default;
  friend constexpr auto operator<=>(Offset, Offset) = default;

  // Moves by a count: entries for a queue offset, bytes for a physical offset.
  friend constexpr Offset operator+(Offset offset, int64_t count) { return Offset(offset.value_ + count); }
  friend constexpr Offset operator-(Offset offset, int64_t count) { return Offset(offset.value_ - count); }
  // The count between two offsets of the same kind.
  friend constexpr int64_t operator-(Offset end, Offset begin) { return end.value_ - begin.value_; }
  constexpr Offset& operator+=(int64_t count) {
    value_ += count;
    return *this;
  }
  constexpr Offset& operator-=(int64_t count) {
    value_ -= count;
    return *this;
  }
  constexpr Offset& operator++() {
    ++value_;
    return *this;
  }
  constexpr Offset operator++(int) {
    Offset before = *this;
    ++value_;
    return before;
  }

  friend std::ostream& operator<<(std::ostream& os, Offset offset) { return os << offset.value_; }

 private:
  int64_t value_ = 0;
};

struct QueueOffsetTag {};
struct PhysicalOffsetTag {};

// The index of a message within one (topic, queue): entry i of its consume queue. Consumers'
// committed offsets, pull positions and a queue's min/max are queue offsets.
using QueueOffset = Offset<QueueOffsetTag>;
// A byte position in the commit log (all topics share one log): where a record starts, how far
// the log is written, flushed or dispatched, what a checkpoint or the id index names.
using PhysicalOffset = Offset<PhysicalOffsetTag>;

static_assert(sizeof(QueueOffset) == sizeof(int64_t) && sizeof(PhysicalOffset) == sizeof(int64_t));

}  // namespace vela::store

template <class Tag>
struct std::hash<vela::store::Offset<Tag>> {
  size_t operator()(vela::store::Offset<Tag> offset) const noexcept { return std::hash<int64_t>{}(offset.value()); }
};

// Formats as the plain number (format specs of int64_t apply), for spdlog and fmt::format.
template <class Tag>
struct fmt::formatter<vela::store::Offset<Tag>> : fmt::formatter<int64_t> {
  template <class FormatContext>
  auto format(vela::store::Offset<Tag> offset, FormatContext& ctx) const {
    return fmt::formatter<int64_t>::format(offset.value(), ctx);
  }
};
