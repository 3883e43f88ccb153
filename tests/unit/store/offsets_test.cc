#include "store/offsets.h"

#include <algorithm>
#include <concepts>
#include <sstream>
#include <type_traits>
#include <unordered_set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "store/message_store.h"

namespace vela::store {
namespace {

// The two kinds never convert into each other, nor silently from or to an integer.
static_assert(!std::is_convertible_v<QueueOffset, PhysicalOffset>);
static_assert(!std::is_convertible_v<PhysicalOffset, QueueOffset>);
static_assert(!std::is_constructible_v<QueueOffset, PhysicalOffset>);
static_assert(!std::is_constructible_v<PhysicalOffset, QueueOffset>);
static_assert(!std::is_convertible_v<int64_t, QueueOffset>);
static_assert(!std::is_convertible_v<int64_t, PhysicalOffset>);
static_assert(!std::is_convertible_v<QueueOffset, int64_t>);
static_assert(!std::is_convertible_v<PhysicalOffset, int64_t>);
static_assert(std::is_constructible_v<QueueOffset, int64_t>);
static_assert(!std::equality_comparable_with<QueueOffset, PhysicalOffset>);
static_assert(!std::totally_ordered_with<QueueOffset, int64_t>);
// Zero cost: a plain int64_t underneath.
static_assert(sizeof(QueueOffset) == sizeof(int64_t));
static_assert(std::is_trivially_copyable_v<QueueOffset> && std::is_trivially_copyable_v<PhysicalOffset>);
// constexpr throughout.
static_assert(QueueOffset(5) + 3 == QueueOffset(8));
static_assert(QueueOffset(8) - QueueOffset(5) == 3);
static_assert(PhysicalOffset(100) - 40 == PhysicalOffset(60));
static_assert(PhysicalOffset() == PhysicalOffset(0));
static_assert(QueueOffset(1) < QueueOffset(2));

// Whether `a + b` compiles: used to show that the two kinds cannot be added together.
template <class A, class B>
concept Addable = requires(A a, B b) { a + b; };
static_assert(Addable<QueueOffset, int64_t>);
static_assert(!Addable<QueueOffset, PhysicalOffset>);
static_assert(!Addable<QueueOffset, QueueOffset>);

// The store's API takes each kind only where it belongs.
static_assert(std::is_invocable_v<decltype(&MessageStore::ReadRecordAt), MessageStore&, PhysicalOffset>);
static_assert(!std::is_invocable_v<decltype(&MessageStore::ReadRecordAt), MessageStore&, QueueOffset>);
static_assert(!std::is_invocable_v<decltype(&MessageStore::ReadRecordAt), MessageStore&, int64_t>);
static_assert(std::is_invocable_v<decltype(&MessageStore::GetMessages), MessageStore&, std::string_view, uint32_t,
                                  QueueOffset, int32_t, int64_t, const MessageFilter*, bool>);
static_assert(!std::is_invocable_v<decltype(&MessageStore::GetMessages), MessageStore&, std::string_view, uint32_t,
                                   PhysicalOffset, int32_t, int64_t, const MessageFilter*, bool>);
static_assert(std::is_same_v<decltype(GetResult::next_begin_offset), QueueOffset>);
static_assert(std::is_same_v<decltype(AppendedRecord::queue_offset), QueueOffset>);
static_assert(std::is_same_v<decltype(AppendedRecord::physical_offset), PhysicalOffset>);
static_assert(std::is_same_v<decltype(DispatchedRecord::physical_offset), PhysicalOffset>);

TEST(OffsetsTest, ArithmeticMovesByCountsAndGivesCountsBack) {
  QueueOffset q(10);
  q += 5;
  EXPECT_EQ(q, QueueOffset(15));
  q -= 2;
  EXPECT_EQ(q.value(), 13);
  EXPECT_EQ((q++).value(), 13);
  EXPECT_EQ((++q).value(), 15);
  PhysicalOffset begin(4096);
  PhysicalOffset end = begin + 250;
  EXPECT_EQ(end - begin, 250);
  EXPECT_GT(end, begin);
  EXPECT_EQ(std::min(end, begin), begin);
}

TEST(OffsetsTest, HashesAndFormatsAsTheNumber) {
  std::unordered_set<PhysicalOffset> seen{PhysicalOffset(1), PhysicalOffset(1), PhysicalOffset(2)};
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_EQ(fmt::format("{} {:>4}", QueueOffset(42), PhysicalOffset(7)), "42    7");
  std::ostringstream os;
  os << QueueOffset(-1);
  EXPECT_EQ(os.str(), "-1");
}

}  // namespace
}  // namespace vela::store
