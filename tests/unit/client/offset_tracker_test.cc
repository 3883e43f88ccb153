#include "client/offset_tracker.h"

#include <gtest/gtest.h>

namespace vela::client {
namespace {

TEST(OffsetTrackerTest, EmptyTrackerCommitsItsStart) {
  OffsetTracker t(42);
  EXPECT_EQ(t.CommittableOffset(), 42);
  EXPECT_EQ(t.count(), 0u);
}

TEST(OffsetTrackerTest, CommitNeverPassesTheLowestInFlightMessage) {
  OffsetTracker t(10);
  for (int64_t o = 10; o < 15; ++o) t.Add(o, 100);
  t.AdvanceTo(15);
  EXPECT_EQ(t.count(), 5u);
  EXPECT_EQ(t.bytes(), 500u);
  EXPECT_TRUE(t.Remove(12));
  EXPECT_TRUE(t.Remove(13));
  EXPECT_EQ(t.CommittableOffset(), 10);  // 10 is still being consumed
  EXPECT_TRUE(t.Remove(10));
  EXPECT_EQ(t.CommittableOffset(), 11);
  EXPECT_TRUE(t.Remove(11));
  EXPECT_EQ(t.CommittableOffset(), 14);
  EXPECT_TRUE(t.Remove(14));
  EXPECT_EQ(t.CommittableOffset(), 15);
  EXPECT_EQ(t.bytes(), 0u);
}

TEST(OffsetTrackerTest, FilteredGapsAdvanceWithTheNextOffset) {
  OffsetTracker t(0);
  t.Add(3, 1);
  t.AdvanceTo(20);  // offsets 4..19 were filtered out by the broker
  EXPECT_EQ(t.CommittableOffset(), 3);
  t.Remove(3);
  EXPECT_EQ(t.CommittableOffset(), 20);
  EXPECT_EQ(t.next_offset(), 20);
}

TEST(OffsetTrackerTest, UnknownAndRepeatedRemovesAreIgnored) {
  OffsetTracker t(0);
  t.Add(0, 8);
  EXPECT_FALSE(t.Remove(5));
  EXPECT_TRUE(t.Remove(0));
  EXPECT_FALSE(t.Remove(0));
  EXPECT_EQ(t.bytes(), 0u);
}

TEST(OffsetTrackerTest, RepeatedAndOutOfOrderAddsKeepOneEntryEach) {
  OffsetTracker t(0);
  for (int64_t o : {2, 4, 6}) t.Add(o, 10);
  t.Add(4, 10);  // already in flight: no second entry
  EXPECT_EQ(t.count(), 3u);
  t.Add(3, 5);  // below the newest: goes in its place
  EXPECT_EQ(t.count(), 4u);
  EXPECT_EQ(t.bytes(), 35u);
  EXPECT_TRUE(t.Remove(4));
  t.Add(4, 7);  // consumed, pulled again while 2 and 3 are in flight: in flight again
  EXPECT_EQ(t.count(), 4u);
  EXPECT_EQ(t.bytes(), 32u);
  for (int64_t o : {6, 3, 4}) EXPECT_TRUE(t.Remove(o));
  EXPECT_EQ(t.CommittableOffset(), 2);
  EXPECT_EQ(t.span(), 0);
  EXPECT_TRUE(t.Remove(2));
  EXPECT_EQ(t.CommittableOffset(), 7);
  EXPECT_EQ(t.count(), 0u);
  EXPECT_EQ(t.bytes(), 0u);
}

TEST(OffsetTrackerTest, NextOffsetNeverMovesBack) {
  OffsetTracker t(5);
  t.AdvanceTo(3);
  EXPECT_EQ(t.next_offset(), 5);
  t.Add(7, 1);
  EXPECT_EQ(t.next_offset(), 8);
  EXPECT_EQ(t.span(), 0);
  t.Add(9, 1);
  EXPECT_EQ(t.span(), 2);
}

}  // namespace
}  // namespace vela::client
