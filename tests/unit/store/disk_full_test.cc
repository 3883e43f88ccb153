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
  // Retries the append for up to 5 s (the services that recover from a full disk run every
  // second); true once one succeeds.
  static bool AppendResumes(MessageStore& store, const std::string& record) {
    for (int i = 0; i < 100; ++i) {
      if (AppendOne(store, record).ok()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
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

TEST_F(DiskFullTest, StoreSizeLimitRejectsAppendsKeepsReadsAndResumesAfterForcibleRetention) {
  options_.store_size_limit = 3 * options_.commitlog_segment_size;
  options_.file_reserved_hours = 1;
  options_.clean_file_forcibly = true;  // the operator's choice: young segments may go
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
  auto low = store->GetMessages("T", 0, QueueOffset(0), 10, 1 << 20, nullptr);
  EXPECT_EQ(low.outcome, GetOutcome::kOffsetTooSmall);
  EXPECT_GT(low.next_begin_offset, QueueOffset(0));
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
  ASSERT_TRUE(AppendResumes(*store, MakeRecord("T", 0, std::string(8000, 'r'))));
  ExpectAllReadable(*store, ok + 1);
  store.reset();
  auto reopened = OpenStore(options_);
  ExpectAllReadable(*reopened, ok + 1);
}

TEST_F(DiskFullTest, UnindexableSendsAreRefusedUntilTheDispatcherCatchesUp) {
  auto fault = std::make_shared<FaultInjectionFileSystem>();
  options_.fs = fault;
  auto store = OpenStore(options_);
  ASSERT_OK(AppendOne(*store, MakeRecord("T", 0, "first")).status());
  store->WaitForDispatch();
  // Queue 1 needs a new consume-queue file, which the full disk refuses: the record reaches the
  // log, but the send is not acknowledged, and neither is any send after it.
  fault->set_no_space(true);
  auto unindexed = AppendOne(*store, MakeRecord("T", 1, "unindexed", "", "", "ID-unindexed"));
  ASSERT_FALSE(unindexed.ok());
  EXPECT_TRUE(unindexed.status().IsNoSpace()) << unindexed.status().ToString();
  auto refused = AppendOne(*store, MakeRecord("T", 0, "refused"));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("cannot index"), std::string::npos) << refused.status().ToString();
  EXPECT_FALSE(store->stats().dispatch_healthy);
  // Space returns: the dispatcher thread catches up by itself and sends are accepted again.
  fault->set_no_space(false);
  ASSERT_TRUE(AppendResumes(*store, MakeRecord("T", 0, "resumed")));
  store->WaitForDispatch();
  auto q1 = store->GetMessages("T", 1, QueueOffset(0), 10, 1 << 20, nullptr);
  ASSERT_EQ(q1.outcome, GetOutcome::kFound);  // written before the failure: served now (at least once)
  auto q0 = store->GetMessages("T", 0, QueueOffset(0), 10, 1 << 20, nullptr);
  EXPECT_EQ(q0.records.size(), 2u);  // "first" and "resumed"
}

// The fault campaign's case: 8 MiB log segments on a 64 MiB disk already holding 24 MiB. Queue and
// index files are sized from the segments, every acknowledged message stays readable, and a disk
// above diskMaxUsedSpaceRatio deletes nothing younger than fileReservedTime.
TEST_F(DiskFullTest, SmallDiskKeepsEveryAcknowledgedMessage) {
  auto fault = std::make_shared<FaultInjectionFileSystem>();
  fault->set_space_budget(40 << 20);
  options_ = StoreOptions{};
  options_.root_dir = dir_.str();
  options_.fs = fault;
  options_.commitlog_segment_size = 8 << 20;
  options_.retention_interval_ms = 3600 * 1000;
  options_.disk_space_warning_level_ratio = 100;
  auto store = OpenStore(options_);
  ASSERT_NE(store, nullptr);
  int ok = 0;
  Status st = FillUntilFailure(*store, &ok);
  EXPECT_TRUE(st.IsNoSpace()) << st.ToString();
  EXPECT_GT(ok, 1500);  // about three segments of the 40 MiB: queue and index files take little
  EXPECT_TRUE(store->stats().dispatch_healthy);
  ExpectAllReadable(*store, ok);
  // Space returns, but the disk stays above diskMaxUsedSpaceRatio: nothing is young enough to go.
  fault->set_space_budget(-1);
  fault->set_disk_usage(DiskUsage{64 << 20, 12 << 20, 12 << 20});  // 81 % used
  EXPECT_EQ(store->RunRetentionForTesting(), 0);
  ExpectAllReadable(*store, ok);
}

TEST_F(DiskFullTest, UsedPercentCountsAsDfDoes) {
  // df on this machine's volume: 252 GB size, 21 GB used, 75 GB available (the rest is reserved).
  DiskUsage usage{252ull << 30, 75ull << 30, 231ull << 30};
  EXPECT_NEAR(usage.UsedPercent(), 21.875, 0.01);
  EXPECT_EQ(DiskUsage{}.UsedPercent(), 0.0);
}

TEST_F(DiskFullTest, SendsAreRefusedPastTheWarningLevelAndResumeBelowIt) {
  auto fault = std::make_shared<FaultInjectionFileSystem>();
  fault->set_disk_usage(DiskUsage{100 << 20, 4 << 20, 4 << 20});  // 96 % used
  options_.fs = fault;
  options_.disk_space_warning_level_ratio = 90;
  auto store = OpenStore(options_);
  auto refused = AppendOne(*store, MakeRecord("T", 0, "x"));
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.status().IsNoSpace());
  EXPECT_NE(refused.status().message().find("diskSpaceWarningLevelRatio"), std::string::npos)
      << refused.status().ToString();
  fault->set_disk_usage(DiskUsage{100 << 20, 50 << 20, 50 << 20});
  EXPECT_TRUE(AppendResumes(*store, MakeRecord("T", 0, "y")));
}

class RetentionTest : public DiskFullTest {};

TEST_F(RetentionTest, DiskPressureDeletesYoungSegmentsOnlyWhenForcibleCleaningIsOn) {
  auto fault = std::make_shared<FaultInjectionFileSystem>();
  options_.fs = fault;
  options_.disk_max_used_space_ratio = 75;
  for (bool forcibly : {false, true}) {
    options_.clean_file_forcibly = forcibly;
    auto store = OpenStore(options_);
    for (int i = 0; i < 300; ++i) ASSERT_OK(AppendOne(*store, MakeRecord("T", 0, std::string(8000, 'a'))).status());
    store->WaitForDispatch();
    fault->set_disk_usage(DiskUsage{100 << 20, 20 << 20, 20 << 20});  // 80 %: above 75, below 90
    const int deleted = store->RunRetentionForTesting();
    if (forcibly) {
      EXPECT_GE(deleted, 1);
    } else {
      EXPECT_EQ(deleted, 0);
      EXPECT_EQ(store->MinQueueOffset("T", 0), QueueOffset(0));
    }
    fault->set_disk_usage(std::nullopt);
  }
}

TEST_F(RetentionTest, DeletesExpiredSegmentsAndReportsOffsetTooSmall) {
  options_.file_reserved_hours = 1;
  auto store = OpenStore(options_);
  for (int i = 0; i < 600; ++i) ASSERT_OK(AppendOne(*store, MakeRecord("T", 0, std::string(8000, 'a'))).status());
  store->WaitForDispatch();
  EXPECT_EQ(store->RunRetentionForTesting(), 0);  // nothing is old yet
  const auto segs = store->stats().commitlog_segments;
  ASSERT_GE(segs, 4);
  // Hold a read of the oldest records across the deletion: the pin keeps them mapped.
  auto held = store->GetMessages("T", 0, QueueOffset(0), 5, 1 << 20, nullptr);
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
  EXPECT_EQ(store->stats().min_physical_offset, PhysicalOffset(2 * options_.commitlog_segment_size));
  EXPECT_FALSE(std::filesystem::exists(dir / MappedSegment::FileName(0)));
  RecordView v;
  EXPECT_EQ(DecodeRecord(held.records[0], true, &v), DecodeOutcome::kRecord);  // still mapped
  const QueueOffset min = store->MinQueueOffset("T", 0);
  EXPECT_GT(min, QueueOffset(0));
  auto low = store->GetMessages("T", 0, QueueOffset(0), 10, 1 << 20, nullptr);
  EXPECT_EQ(low.outcome, GetOutcome::kOffsetTooSmall);
  EXPECT_EQ(low.next_begin_offset, min);
  auto ok = store->GetMessages("T", 0, min, 10, 1 << 20, nullptr);
  ASSERT_EQ(ok.outcome, GetOutcome::kFound);
  ASSERT_EQ(DecodeRecord(ok.records[0], true, &v), DecodeOutcome::kRecord);
  EXPECT_EQ(v.queue_offset, min.value());
  EXPECT_GE(v.physical_offset, 2 * options_.commitlog_segment_size);
  // After a restart the minimum stays.
  store.reset();
  store = OpenStore(options_);
  EXPECT_EQ(store->GetMessages("T", 0, QueueOffset(0), 10, 1 << 20, nullptr).outcome, GetOutcome::kOffsetTooSmall);
  EXPECT_EQ(store->MinQueueOffset("T", 0), min);
}

}  // namespace
}  // namespace vela::store
