#include "store/commit_log.h"

#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include <sys/mman.h>

#include <gtest/gtest.h>

#include "common/coding.h"
#include "store/message_store.h"
#include "store/flush_service.h"
#include "store/mapped_segment.h"
#include "store_test_util.h"

namespace vela::store {
namespace {

using testing::AppendOne;
using testing::MakeRecord;
using testing::OpenStore;
using testing::SmallOptions;

class CommitLogTest : public ::testing::Test {
 protected:
  vela::testing::TempDir dir_;
  StoreOptions options_ = SmallOptions(dir_.str());
};

TEST_F(CommitLogTest, RecordRoundTripsWithEveryField) {
  auto store = OpenStore(options_);
  ASSERT_NE(store, nullptr);
  const std::string rec = MakeRecord("TopicA", 3, "hello body", "TagA", "k1 k2", "ID-0001");
  ASSERT_OK_AND_ASSIGN(AppendResult res, AppendOne(*store, rec));
  ASSERT_EQ(res.records.size(), 1u);
  EXPECT_EQ(res.records[0].queue_offset, QueueOffset(0));
  EXPECT_EQ(res.records[0].physical_offset, PhysicalOffset(0));
  EXPECT_EQ(res.end_offset, PhysicalOffset(static_cast<int64_t>(rec.size())));
  ASSERT_OK_AND_ASSIGN(std::string stored, store->ReadRecordAt(PhysicalOffset(0)));
  RecordView v;
  ASSERT_EQ(DecodeRecord(stored, true, &v), DecodeOutcome::kRecord);
  EXPECT_EQ(v.topic, "TopicA");
  EXPECT_EQ(v.queue_id, 3u);
  EXPECT_EQ(v.queue_offset, 0);
  EXPECT_EQ(v.physical_offset, 0);
  EXPECT_EQ(v.flags, record::kFlagBodyCompressed);
  EXPECT_EQ(v.reconsume_times, 2u);
  EXPECT_EQ(v.born_timestamp_ms, 1700000000123);
  EXPECT_EQ(v.store_timestamp_ms, res.records[0].store_timestamp_ms);
  EXPECT_GT(v.store_timestamp_ms, 0);
  EXPECT_EQ(UnpackHost(v.born_host), "10.1.2.3:4567");
  EXPECT_EQ(UnpackHost(v.store_host), "127.0.0.1:10911");
  EXPECT_EQ(v.prepared_offset, 0);
  EXPECT_EQ(v.msg_id, "ID-0001");
  EXPECT_EQ(v.Tag(), "TagA");
  std::string_view keys;
  ASSERT_TRUE(FindProperty(v.properties, prop::kKeys, &keys));
  EXPECT_EQ(keys, "k1 k2");
  EXPECT_EQ(v.body, "hello body");

  // A second record of the same queue gets the next queue offset; another queue starts at 0.
  ASSERT_OK_AND_ASSIGN(AppendResult r2, AppendOne(*store, MakeRecord("TopicA", 3, "b")));
  EXPECT_EQ(r2.records[0].queue_offset, QueueOffset(1));
  EXPECT_EQ(r2.records[0].physical_offset, res.end_offset);
  ASSERT_OK_AND_ASSIGN(AppendResult r3, AppendOne(*store, MakeRecord("TopicA", 4, "c")));
  EXPECT_EQ(r3.records[0].queue_offset, QueueOffset(0));
}

TEST_F(CommitLogTest, BatchGetsConsecutiveQueueOffsets) {
  auto store = OpenStore(options_);
  std::vector<std::string> recs;
  for (int i = 0; i < 32; ++i) recs.push_back(MakeRecord("T", i % 2, std::string(100, 'x')));
  AppendRequest req;
  for (auto& r : recs) req.records.push_back(r);
  ASSERT_OK_AND_ASSIGN(AppendResult res, store->AppendAndWait(std::move(req)));
  ASSERT_EQ(res.records.size(), 32u);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(res.records[i].queue_offset, QueueOffset(i / 2));
}

TEST_F(CommitLogTest, RejectsMalformedAndOversizedRecords) {
  auto store = OpenStore(options_);
  std::string rec = MakeRecord("T", 0, "body");
  rec[rec.size() - 1] ^= 1;  // CRC mismatch
  auto r = AppendOne(*store, rec);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  auto r2 = AppendOne(*store, "garbage that is not a record at all, long enough to have a header.....");
  EXPECT_EQ(r2.status().code(), StatusCode::kInvalidArgument);
  auto r3 = AppendOne(*store, MakeRecord("T", 0, std::string(options_.max_message_size + 1, 'b')));
  EXPECT_EQ(r3.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r3.status().subcode(), SubCode::kMessageTooLarge);
  auto r4 = AppendOne(*store, MakeRecord("bad topic!", 0, "x"));
  EXPECT_EQ(r4.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->stats().max_physical_offset, PhysicalOffset(0));
}

// Appends records of `size` total bytes each.
std::string RecordOfSize(int64_t size, char fill) {
  const std::string probe = MakeRecord("T", 0, "", "", "", "ID");
  return MakeRecord("T", 0, std::string(static_cast<size_t>(size) - probe.size(), fill), "", "", "ID");
}

TEST_F(CommitLogTest, RollsAtAnExactSegmentBoundaryAndWritesABlankFiller) {
  const int64_t seg = options_.commitlog_segment_size;
  {
    auto store = OpenStore(options_);
    int64_t pos = 0;
    while (seg - pos > 300 * 1024) {
      ASSERT_OK_AND_ASSIGN(auto r, AppendOne(*store, RecordOfSize(200 * 1024, 'a')));
      pos = r.end_offset.value();
    }
    // Exactly fills the first segment.
    ASSERT_OK_AND_ASSIGN(auto exact, AppendOne(*store, RecordOfSize(seg - pos, 'e')));
    EXPECT_EQ(exact.end_offset, PhysicalOffset(seg));
    ASSERT_OK_AND_ASSIGN(auto next, AppendOne(*store, RecordOfSize(1000, 'n')));
    EXPECT_EQ(next.records[0].physical_offset, PhysicalOffset(seg));
    // Leave 100 bytes in the second segment, then append a bigger record: filler + roll.
    pos = next.end_offset.value();
    while (2 * seg - pos > 300 * 1024) {
      ASSERT_OK_AND_ASSIGN(auto r, AppendOne(*store, RecordOfSize(200 * 1024, 'b')));
      pos = r.end_offset.value();
    }
    ASSERT_OK_AND_ASSIGN(auto r, AppendOne(*store, RecordOfSize(2 * seg - pos - 100, 'c')));
    ASSERT_OK_AND_ASSIGN(auto rolled, AppendOne(*store, RecordOfSize(500, 'd')));
    EXPECT_EQ(rolled.records[0].physical_offset, PhysicalOffset(2 * seg));
    const auto seg2 = std::filesystem::path(dir_.str()) / "commitlog" / MappedSegment::FileName(seg);
    std::ifstream in(seg2, std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), {});
    ASSERT_EQ(static_cast<int64_t>(data.size()), seg);
    EXPECT_EQ(coding::GetFixed32(data.data() + seg - 100), 100u);
    EXPECT_EQ(coding::GetFixed32(data.data() + seg - 96), record::kBlankMagic);
    // Leave 4 bytes (< 8): no filler, zeros, next segment.
    pos = rolled.end_offset.value();
    while (3 * seg - pos > 300 * 1024) {
      ASSERT_OK_AND_ASSIGN(auto rr, AppendOne(*store, RecordOfSize(200 * 1024, 'f')));
      pos = rr.end_offset.value();
    }
    ASSERT_OK_AND_ASSIGN(auto r4, AppendOne(*store, RecordOfSize(3 * seg - pos - 4, 'g')));
    ASSERT_OK_AND_ASSIGN(auto r5, AppendOne(*store, RecordOfSize(700, 'h')));
    EXPECT_EQ(r5.records[0].physical_offset, PhysicalOffset(3 * seg));
    store->WaitForDispatch();
    const int64_t max = store->MaxQueueOffset("T", 0).value();
    auto got = store->GetMessages("T", 0, QueueOffset(0), 1000, 1LL << 40, nullptr);
    EXPECT_EQ(static_cast<int64_t>(got.records.size()), max);
  }
  // Both a clean reopen and a crash-style scan read every record back.
  for (bool crash : {false, true}) {
    if (crash) std::ofstream(std::filesystem::path(dir_.str()) / "abort") << "1";
    auto store = OpenStore(options_);
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->recovery_report().dropped_bytes, 0);
    auto got = store->GetMessages("T", 0, QueueOffset(0), 1000, 1LL << 40, nullptr);
    ASSERT_EQ(got.outcome, GetOutcome::kFound);
    EXPECT_EQ(static_cast<int64_t>(got.records.size()), store->MaxQueueOffset("T", 0).value());
    for (size_t i = 0; i < got.records.size(); ++i) {
      RecordView v;
      ASSERT_EQ(DecodeRecord(got.records[i], true, &v), DecodeOutcome::kRecord);
      EXPECT_EQ(v.queue_offset, static_cast<int64_t>(i));
    }
    ASSERT_OK_AND_ASSIGN(auto after, AppendOne(*store, RecordOfSize(600, 'z')));
    EXPECT_EQ(after.records[0].queue_offset, QueueOffset(static_cast<int64_t>(got.records.size())));
  }
}

TEST_F(CommitLogTest, SecondOpenIsRefusedWithTheHolderPid) {
  auto store = OpenStore(options_);
  auto second = MessageStore::Open(options_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("is locked by another process (pid " + std::to_string(::getpid())),
            std::string::npos)
      << second.status().ToString();
  store->Shutdown();
  auto third = MessageStore::Open(options_);
  EXPECT_TRUE(third.ok()) << third.status().ToString();
}

TEST_F(CommitLogTest, CleanShutdownRemovesAbortMarkerAndWritesCheckpoint) {
  {
    auto store = OpenStore(options_);
    EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(dir_.str()) / "abort"));
    ASSERT_OK(AppendOne(*store, MakeRecord("T", 0, "x")).status());
  }
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(dir_.str()) / "abort"));
  EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(dir_.str()) / "checkpoint"));
}

TEST_F(CommitLogTest, SyncFlushAcknowledgesAfterTheFlush) {
  options_.flush_disk_type = FlushDiskType::kSync;
  auto store = OpenStore(options_);
  for (int i = 0; i < 20; ++i) {
    ASSERT_OK_AND_ASSIGN(auto r, AppendOne(*store, MakeRecord("T", 0, "sync")));
    EXPECT_GE(store->stats().flushed_offset, r.end_offset);
  }
}

// Pages are read in a stretch ahead of the writer, never the whole segment: a fresh broker's
// resident size does not grow with the segment size, and appends still find their pages ready.
TEST_F(CommitLogTest, PagesAreReadInJustAheadOfTheWriterNotTheWholeSegment) {
  constexpr int64_t kSegment = 256 << 20;
  constexpr int64_t kPage = 4096;
  auto fs = DefaultFileSystem();
  const std::string log_dir = dir_.str() + "/commitlog";
  std::filesystem::create_directories(log_dir);
  CommitLog log(*fs, log_dir, kSegment, 0, PackHost("127.0.0.1:10911"), /*prewrite_segments=*/false);
  ASSERT_OK(log.Load());
  ASSERT_OK(log.Start());
  auto resident = [&](int64_t offset) {
    auto seg = log.SegmentFor(PhysicalOffset(offset));
    unsigned char in_core = 0;
    char* page = seg->data() + (offset - seg->base()) / kPage * kPage;
    EXPECT_EQ(::mincore(page, kPage, &in_core), 0);
    return (in_core & 1) != 0;
  };
  auto wait_resident = [&](int64_t offset) {
    for (int i = 0; i < 2000 && !resident(offset); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return resident(offset);
  };
  EXPECT_TRUE(wait_resident(20 << 20));  // within the first stretch
  EXPECT_FALSE(resident(128 << 20));     // far ahead of the writer: untouched

  // Write 40 MiB: the writer asks for the next stretch on its way.
  const std::string rec = MakeRecord("T", 0, std::string(64 << 10, 'x'));
  std::vector<PendingRecord> batch(16, PendingRecord{rec, "T", 0});
  while (log.write_offset().value() < (40 << 20)) {
    AppendResult out;
    ASSERT_OK(log.Append(batch, 1, &out));
  }
  EXPECT_TRUE(wait_resident(60 << 20));  // ahead of the writer now
  EXPECT_FALSE(resident(200 << 20));
  log.Stop();
}

// An append that raced with a shutdown or a crash asks for durability after the flush thread's
// last round: it fails at once instead of waiting forever (a power-failure test hung on it under
// load, its writer thread never returning from AppendAndWait).
TEST_F(CommitLogTest, DurabilityAskedForAfterShutdownOrCrashFailsAtOnce) {
  for (const bool crash : {false, true}) {
    auto fs = DefaultFileSystem();
    const std::string log_dir = dir_.str() + (crash ? "/crash" : "/clean");
    std::filesystem::create_directories(log_dir);
    CommitLog log(*fs, log_dir, 1 << 20, 0, PackHost("127.0.0.1:10911"), /*prewrite_segments=*/false);
    ASSERT_OK(log.Load());
    ASSERT_OK(log.Start());
    FlushService flush(log, FlushDiskType::kSync, 10, 0, 5000);
    flush.Start();
    if (crash) {
      flush.Abandon();
    } else {
      flush.Shutdown();
    }
    const std::string rec = MakeRecord("T", 0, "late");
    std::vector<PendingRecord> batch{PendingRecord{rec, "T", 0}};
    AppendResult appended;
    ASSERT_OK(log.Append(batch, 1, &appended));  // written, not flushed: nothing flushes any more
    std::optional<Result<AppendResult>> answer;
    flush.AwaitDurable(appended, [&](Result<AppendResult> r) { answer = std::move(r); });
    ASSERT_TRUE(answer.has_value()) << "the callback was not run at once";
    EXPECT_EQ(answer->status().code(), StatusCode::kAborted) << answer->status().ToString();
    log.Stop();
  }
}

}  // namespace
}  // namespace vela::store
