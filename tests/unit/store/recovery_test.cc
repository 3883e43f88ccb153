#include "store/default_message_store.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "store/mapped_segment.h"
#include "store_test_util.h"

namespace vela::store {
namespace {

using testing::AppendOne;
using testing::MakeRecord;
using testing::OpenStore;
using testing::SmallOptions;
namespace fs = std::filesystem;

class RecoveryTest : public ::testing::Test {
 protected:
  // Appends n records to queues 0 and 1 of "T" and returns their (offset, end) list.
  std::vector<AppendedRecord> Fill(MessageStore& store, int n) {
    std::vector<AppendedRecord> out;
    for (int i = 0; i < n; ++i) {
      auto r = AppendOne(store, MakeRecord("T", i % 2, std::string(300 + i % 700, 'a' + i % 26), "", "",
                                           "ID-" + std::to_string(i)));
      EXPECT_TRUE(r.ok());
      if (r.ok()) out.push_back(r->records[0]);
    }
    return out;
  }
  // Checks every queue entry names the record with the right topic, queue and queue offset.
  void ExpectQueuesConsistent(DefaultMessageStore& store, int64_t expected_total) {
    int64_t total = 0;
    for (uint32_t q = 0; q < 2; ++q) {
      auto got = store.GetMessages("T", q, QueueOffset(0), 100000, 1LL << 40, nullptr);
      for (size_t i = 0; i < got.records.size(); ++i) {
        RecordView v;
        ASSERT_EQ(DecodeRecord(got.records[i], true, &v), DecodeOutcome::kRecord);
        EXPECT_EQ(v.queue_id, q);
        EXPECT_EQ(v.queue_offset, static_cast<int64_t>(i));
      }
      EXPECT_EQ(static_cast<int64_t>(got.records.size()), store.MaxQueueOffset("T", q).value());
      total += static_cast<int64_t>(got.records.size());
    }
    EXPECT_EQ(total, expected_total);
  }
  void MarkCrashed() { std::ofstream(fs::path(dir_.str()) / "abort") << "1"; }
  std::string SegmentPath(int64_t base) {
    return (fs::path(dir_.str()) / "commitlog" / MappedSegment::FileName(base)).string();
  }
  void WriteByte(const std::string& path, int64_t offset, char value) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(offset);
    f.write(&value, 1);
  }

  vela::testing::TempDir dir_;
  StoreOptions options_ = SmallOptions(dir_.str());
};

TEST_F(RecoveryTest, QueueEntriesPointAtTheRightRecordsAfterCleanRestarts) {
  for (int round = 0; round < 3; ++round) {
    auto store = OpenStore(options_);
    ASSERT_NE(store, nullptr);
    Fill(*store, 1500);
    store->WaitForDispatch();
    ExpectQueuesConsistent(*store, 1500 * (round + 1));
  }
}

TEST_F(RecoveryTest, QueueEntriesPointAtTheRightRecordsAfterSimulatedCrashes) {
  for (int round = 0; round < 3; ++round) {
    auto store = OpenStore(options_);
    ASSERT_NE(store, nullptr);
    ExpectQueuesConsistent(*store, 1500 * round);
    Fill(*store, 1500);
    store->WaitForDispatch();
    store->CrashForTesting();
  }
  auto store = OpenStore(options_);
  ExpectQueuesConsistent(*store, 4500);
}

TEST_F(RecoveryTest, RecoversAfterTornTailRecord) {
  std::vector<AppendedRecord> recs;
  {
    auto store = OpenStore(options_);
    recs = Fill(*store, 50);
    store->WaitForDispatch();
    store->CrashForTesting();
  }
  // Cut the last record in half: zero its second half.
  const auto& last = recs.back();
  const int64_t base = last.physical_offset.value() / options_.commitlog_segment_size * options_.commitlog_segment_size;
  const std::string seg = SegmentPath(base);
  for (int64_t i = last.size / 2; i < last.size; ++i) WriteByte(seg, last.physical_offset.value() - base + i, 0);
  auto store = OpenStore(options_);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->recovery_report().end_offset, last.physical_offset);
  EXPECT_GT(store->recovery_report().dropped_bytes, 0);
  EXPECT_FALSE(store->ReadRecordAt(last.physical_offset).ok());
  ExpectQueuesConsistent(*store, 49);
  // Appends and reads work again, with the queue offset of the dropped record reused.
  ASSERT_OK_AND_ASSIGN(auto r, AppendOne(*store, MakeRecord("T", last.queue_id, "after")));
  EXPECT_EQ(r.records[0].physical_offset, last.physical_offset);
  EXPECT_EQ(r.records[0].queue_offset, last.queue_offset);
  store->WaitForDispatch();
  ExpectQueuesConsistent(*store, 50);
}

TEST_F(RecoveryTest, CrcMismatchInTheMiddleIsSkippedAndTheRecordsAfterItAreKept) {
  std::vector<AppendedRecord> recs;
  {
    auto store = OpenStore(options_);
    recs = Fill(*store, 60);
    store->WaitForDispatch();
  }  // clean shutdown: the checkpoint says everything is fine
  MarkCrashed();
  // Flip one body byte of record 40 (in the last segment).
  const auto& bad = recs[40];
  const int64_t base = bad.physical_offset.value() / options_.commitlog_segment_size * options_.commitlog_segment_size;
  const std::string seg = SegmentPath(base);
  ASSERT_EQ(base,
            recs.back().physical_offset.value() / options_.commitlog_segment_size * options_.commitlog_segment_size);
  WriteByte(seg, bad.physical_offset.value() - base + bad.size - 3, 0x5a);
  {
    // The checkpoint lies past the damage: recovery scans from the checkpoint's segment start.
    auto store = OpenStore(options_);
    ASSERT_NE(store, nullptr);
    const auto& report = store->recovery_report();
    EXPECT_EQ(report.end_offset, recs.back().physical_offset + recs.back().size);  // nothing cut
    EXPECT_EQ(report.dropped_bytes, 0);
    ASSERT_EQ(report.damaged.size(), 1u);
    EXPECT_EQ(report.damaged[0].begin, bad.physical_offset);
    EXPECT_EQ(report.damaged[0].end, bad.physical_offset + bad.size);
    EXPECT_NE(report.damaged[0].reason.find("crc"), std::string::npos) << report.damaged[0].reason;
    for (int i = 0; i < 60; ++i) EXPECT_EQ(store->LookupByMessageId("ID-" + std::to_string(i)).ok(), i != 40) << i;
    // The damaged record's queue offset stays taken: reported by the pull, never served.
    auto got = store->GetMessages("T", bad.queue_id, QueueOffset(0), 1000, 1LL << 40, nullptr);
    EXPECT_EQ(got.records.size(), 29u);
    EXPECT_EQ(got.corrupt_offsets, std::vector<QueueOffset>{bad.queue_offset});
    EXPECT_EQ(got.next_begin_offset, QueueOffset(30));
    ASSERT_OK_AND_ASSIGN(auto r, AppendOne(*store, MakeRecord("T", bad.queue_id, "after")));
    EXPECT_EQ(r.records[0].queue_offset, QueueOffset(30));
  }
}

TEST_F(RecoveryTest, DeletedConsumeQueueDirectoryIsRebuilt) {
  {
    auto store = OpenStore(options_);
    Fill(*store, 3000);  // several segments of log and queue
    store->WaitForDispatch();
  }
  fs::remove_all(fs::path(dir_.str()) / "consumequeue");
  auto store = OpenStore(options_);
  ASSERT_NE(store, nullptr);
  ExpectQueuesConsistent(*store, 3000);
  ASSERT_OK_AND_ASSIGN(auto r, AppendOne(*store, MakeRecord("T", 0, "after")));
  EXPECT_EQ(r.records[0].queue_offset, QueueOffset(1500));
}

TEST_F(RecoveryTest, DeletedMessageIdIndexIsRebuilt) {
  {
    auto store = OpenStore(options_);
    Fill(*store, 1000);  // several id index files (SmallOptions)
    store->WaitForDispatch();
  }
  fs::remove_all(fs::path(dir_.str()) / "index");
  auto store = OpenStore(options_);
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < 1000; i += 7) EXPECT_TRUE(store->LookupByMessageId("ID-" + std::to_string(i)).ok()) << i;
  EXPECT_TRUE(store->LookupByMessageId("ID-999").ok());
}

TEST_F(RecoveryTest, SpareSegmentsPastTheEndAreIgnored) {
  {
    auto store = OpenStore(options_);
    Fill(*store, 10);
  }
  for (int i = 0; i < 2; ++i) {
    auto store = OpenStore(options_);
    ExpectQueuesConsistent(*store, 10);
    store->CrashForTesting();
  }
}

TEST_F(RecoveryTest, EmptyFilesLeftByACrashDuringTheirCreationAreSurvived) {
  {
    auto store = OpenStore(options_);
    Fill(*store, 200);
    store->WaitForDispatch();
    store->CrashForTesting();
  }
  // kill -9 between creating a file and allocating it: an empty message-id index file past the
  // last one, and an empty first file of a new consume queue.
  std::ofstream(fs::path(dir_.str()) / "index" / MappedSegment::FileName(1LL << 40));
  fs::create_directories(fs::path(dir_.str()) / "consumequeue" / "Fresh" / "0");
  std::ofstream(fs::path(dir_.str()) / "consumequeue" / "Fresh" / "0" / MappedSegment::FileName(0));
  MarkCrashed();
  auto store = OpenStore(options_);
  ASSERT_NE(store, nullptr);
  ExpectQueuesConsistent(*store, 200);
  EXPECT_TRUE(store->LookupByMessageId("ID-199").ok());
  EXPECT_FALSE(fs::exists(fs::path(dir_.str()) / "index" / MappedSegment::FileName(1LL << 40)));
  ASSERT_OK_AND_ASSIGN(auto r, AppendOne(*store, MakeRecord("Fresh", 0, "first")));
  EXPECT_EQ(r.records[0].queue_offset, QueueOffset(0));
}

}  // namespace
}  // namespace vela::store
