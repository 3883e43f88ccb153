#include "store/default_message_store.h"

#include <filesystem>
#include <thread>

#include <sys/time.h>

#include <gtest/gtest.h>

#include "store_test_util.h"

namespace vela::store {
namespace {

using testing::AppendOne;
using testing::FaultInjectionFileSystem;
using testing::MakeRecord;
using testing::OpenStore;
using testing::SmallOptions;

class DiskFullTest : public ::testing::Test {
 protected:
  // Appends 8 KiB records until one fails; returns the failure and the number that succeeded.
  Status FillUntilFailure(MessageStore& store, int* ok_count) {
    for (int i = 0; i < 100000; ++i) {
      auto r = AppendOne(store, MakeRecord("T", 0, std::string(8000, 'f')));
      if (!r.ok()) return r.status();
      ++*ok_count;
    }
    return Status::OK();
  }
  void ExpectAllReadable(DefaultMessageStore& store, int count) {
    store.WaitForDispatch();
    auto got = store.GetMessages("T", 0, store.MinQueueOffset("T", 0), 100000, 1LL << 40, nullptr);
    ASSERT_EQ(got.outcome, GetOutcome::kFound);
    EXPECT_EQ(static_cast<int>(got.records.size()), count);
    for (auto raw : got.records) {
      RecordView v;
      EXPECT_EQ(DecodeRecord(raw, true, &v), DecodeOutcome::kRecord);
    }
  }
  vela::testing::TempDir dir_;
  StoreOptions options_ = SmallOptions(dir_.str());
};

TEST_F(DiskFullTest, StoreSizeLimitRejectsAppendsKeepsReadsAndResumesAfterRetention) {
  options_.store_size_limit = 3 * options_.commitlog_segment_size;
  options_.file_reserved_hours = 1;
  auto store = OpenStore(options_);
  int ok = 0;
  Status st = FillUntilFailure(*store, &ok);
  EXPECT_EQ(st.code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(st.IsNoSpace());
  EXPECT_NE(st.message().find("disk full"), std::string::npos) << st.ToString();
  EXPECT_GT(ok, 300);
  EXPECT_GE(store->stats().disk_full_rejections, 1);
  // Still full: a second try fails the same way; reads go on.
  EXPECT_TRUE(AppendOne(*store, MakeRecord("T", 0, std::string(8000, 'x'))).status().IsNoSpace());
  ExpectAllReadable(*store, ok);
  // Space returns: retention deletes the oldest segment (the log is at its limit).
  EXPECT_GE(store->RunRetentionForTesting(), 1);
  ASSERT_OK(AppendOne(*store, MakeRecord("T", 0, std::string(8000, 'y'))).status());
  store->WaitForDispatch();
  auto low = store->GetMessages("T", 0, 0, 10, 1 << 20, nullptr);
  EXPECT_EQ(low.outcome, GetOutcome::kOffsetTooSmall);
  EXPECT_GT(low.next_begin_offset, 0);
}

TEST_F(DiskFullTest, EnospcFromTheFileSystemIsReportedAndAppendsResume) {
  auto fault = std::make_shared<FaultInjectionFileSystem>();
  options_.fs = fault;
  auto store = OpenStore(options_);
  ASSERT_OK(AppendOne(*store, MakeRecord("T", 0, "first")).status());
  // The queue file exists before the disk goes away (its creation needs space too; a dispatcher
  // that cannot create it retries every second until space returns).
  store->WaitForDispatch();
  // Let the allocator prepare the spare, then take the disk away and use up the spare.
  fault->set_no_space(true);
  int ok = 1;
  Status st = FillUntilFailure(*store, &ok);
  EXPECT_EQ(st.code(), StatusCode::kResourceExhausted) << st.ToString();
  EXPECT_TRUE(st.IsNoSpace());
  EXPECT_NE(st.message().find("disk full"), std::string::npos) << st.ToString();
  ExpectAllReadable(*store, ok);
  // Space returns: appends resume (after the allocator's retry) and nothing earlier is damaged.
  fault->set_no_space(false);
  bool resumed = false;
  for (int i = 0; i < 100 && !resumed; ++i) {
    resumed = AppendOne(*store, MakeRecord("T", 0, std::string(8000, 'r'))).ok();
    if (!resumed) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(resumed);
  ExpectAllReadable(*store, ok + 1);
  store.reset();
  auto reopened = OpenStore(options_);
  ExpectAllReadable(*reopened, ok + 1);
}

class RetentionTest : public DiskFullTest {};

TEST_F(RetentionTest, DeletesExpiredSegmentsAndReportsOffsetTooSmall) {
  options_.file_reserved_hours = 1;
  auto store = OpenStore(options_);
  for (int i = 0; i < 600; ++i) ASSERT_OK(AppendOne(*store, MakeRecord("T", 0, std::string(8000, 'a'))).status());
  store->WaitForDispatch();
  EXPECT_EQ(store->RunRetentionForTesting(), 0);  // nothing is old yet
  const auto segs = store->stats().commitlog_segments;
  ASSERT_GE(segs, 4);
  // Hold a read of the oldest records across the deletion: the pin keeps them mapped.
  auto held = store->GetMessages("T", 0, 0, 5, 1 << 20, nullptr);
  ASSERT_EQ(held.outcome, GetOutcome::kFound);
  // Age the two oldest segments by two hours.
  const auto dir = std::filesystem::path(dir_.str()) / "commitlog";
  for (int64_t base : {int64_t{0}, options_.commitlog_segment_size}) {
    const auto path = dir / MappedSegment::FileName(base);
    struct timeval tv[2];
    tv[0].tv_sec = tv[1].tv_sec = time(nullptr) - 7200;
    tv[0].tv_usec = tv[1].tv_usec = 0;
    ASSERT_EQ(::utimes(path.c_str(), tv), 0);
  }
  EXPECT_EQ(store->RunRetentionForTesting(), 2);
  EXPECT_EQ(store->stats().min_physical_offset, 2 * options_.commitlog_segment_size);
  EXPECT_FALSE(std::filesystem::exists(dir / MappedSegment::FileName(0)));
  RecordView v;
  EXPECT_EQ(DecodeRecord(held.records[0], true, &v), DecodeOutcome::kRecord);  // still mapped
  const int64_t min = store->MinQueueOffset("T", 0);
  EXPECT_GT(min, 0);
  auto low = store->GetMessages("T", 0, 0, 10, 1 << 20, nullptr);
  EXPECT_EQ(low.outcome, GetOutcome::kOffsetTooSmall);
  EXPECT_EQ(low.next_begin_offset, min);
  auto ok = store->GetMessages("T", 0, min, 10, 1 << 20, nullptr);
  ASSERT_EQ(ok.outcome, GetOutcome::kFound);
  ASSERT_EQ(DecodeRecord(ok.records[0], true, &v), DecodeOutcome::kRecord);
  EXPECT_EQ(v.queue_offset, min);
  EXPECT_GE(v.physical_offset, 2 * options_.commitlog_segment_size);
  // After a restart the minimum stays.
  store.reset();
  store = OpenStore(options_);
  EXPECT_EQ(store->GetMessages("T", 0, 0, 10, 1 << 20, nullptr).outcome, GetOutcome::kOffsetTooSmall);
  EXPECT_EQ(store->MinQueueOffset("T", 0), min);
}

}  // namespace
}  // namespace vela::store
