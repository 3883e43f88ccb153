// Damage in the middle of the log (a flipped byte, a lost page) is contained: intact records are
// always delivered, damaged ones are reported and skipped, no queue gets stuck, no queue offset is
// handed out twice. Clean restarts (the damage is found by reads) and unclean ones (found by the
// recovery scan) both.
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/message_id.h"
#include "store/mapped_segment.h"
#include "store/meta_store.h"
#include "store_test_util.h"

namespace vela::store {
namespace {

using testing::AppendOne;
using testing::MakeRecord;
using testing::OpenStore;
using testing::SmallOptions;
namespace fs = std::filesystem;

// Where one appended record sits, and its id.
struct Sent {
  std::string topic;
  std::string id;
  AppendedRecord at;
};

// What consuming every queue from offset 0 gave.
struct Consumed {
  std::set<std::string> ids;
  std::map<std::pair<std::string, uint32_t>, std::set<QueueOffset>> corrupt;  // (topic, queue) -> offsets
  std::map<std::pair<std::string, uint32_t>, QueueOffset> max_offsets;
};

class CorruptionTest : public ::testing::Test {
 protected:
  // n records over topic "T" (queues 0 and 1) and, every tenth, topic "U" (queue 0).
  std::vector<Sent> Fill(MessageStore& store, int n, const std::string& tag = "") {
    std::vector<Sent> out;
    for (int i = 0; i < n; ++i) {
      const bool other = i % 10 == 9;
      Sent s{other ? "U" : "T", tag + "ID-" + std::to_string(i), {}};
      const uint32_t queue = other ? 0 : i % 2;
      auto r = AppendOne(store, MakeRecord(s.topic, queue, std::string(200 + i % 300, 'a' + i % 26), "TagA", "", s.id));
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (!r.ok()) continue;
      s.at = r->records[0];
      out.push_back(s);
    }
    return out;
  }

  // Pulls every queue from 0 to its end in pages of 64, as a consumer would: each pull must make
  // progress (no queue stuck at a damaged record).
  Consumed ConsumeAll(DefaultMessageStore& store) {
    Consumed c;
    for (const auto& [topic, queues] : std::vector<std::pair<std::string, uint32_t>>{{"T", 2}, {"U", 1}}) {
      for (uint32_t q = 0; q < queues; ++q) {
        const QueueOffset max = store.MaxQueueOffset(topic, q);
        c.max_offsets[{topic, q}] = max;
        QueueOffset offset = store.MinQueueOffset(topic, q);
        while (offset < max) {
          auto got = store.GetMessages(topic, q, offset, 64, 1 << 20, nullptr);
          EXPECT_GT(got.next_begin_offset, offset) << topic << "/" << q << " stuck at " << offset << " ("
                                                   << GetOutcomeName(got.outcome) << ")";
          if (got.next_begin_offset <= offset) return c;
          for (auto raw : got.records) {
            RecordView v;
            EXPECT_EQ(DecodeRecord(raw, /*verify_crc=*/true, &v), DecodeOutcome::kRecord);
            c.ids.insert(std::string(v.msg_id));
          }
          for (QueueOffset bad : got.corrupt_offsets) c.corrupt[{topic, q}].insert(bad);
          offset = got.next_begin_offset;
        }
      }
    }
    return c;
  }

  std::string SegmentPath(const std::string& root, int64_t base) {
    return (fs::path(root) / "commitlog" / MappedSegment::FileName(base)).string();
  }
  void FlipByte(const std::string& root, int64_t offset, uint8_t mask) {
    const int64_t seg = options_.commitlog_segment_size;
    std::fstream f(SegmentPath(root, offset / seg * seg), std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(offset % seg);
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ mask);
    f.seekp(offset % seg);
    f.write(&c, 1);
  }
  // An unclean stop: the abort marker is left, so recovery scans the last segment (from the
  // checkpoint's); with drop_queues the consume queues are rebuilt from the whole log too.
  void MakeUnclean(const std::string& root, bool drop_queues = false) {
    std::ofstream(fs::path(root) / "abort") << "1";
    if (drop_queues) fs::remove_all(fs::path(root) / "consumequeue");
  }
  // The record containing byte `offset`, or null.
  static const Sent* RecordAt(const std::vector<Sent>& sent, int64_t offset) {
    for (const auto& s : sent) {
      if (offset >= s.at.physical_offset.value() && offset < (s.at.physical_offset + s.at.size).value()) return &s;
    }
    return nullptr;
  }
  // A consumer group that has consumed everything: its committed offsets are the queues' ends.
  static void CommitEverything(MessageStore& store) {
    ASSERT_OK(store.meta().PutGroup(GroupConfig{"G", false, 16, true}));
    for (const auto& [topic, queues] : std::vector<std::pair<std::string, uint32_t>>{{"T", 2}, {"U", 1}}) {
      for (uint32_t q = 0; q < queues; ++q) {
        ASSERT_OK(store.meta().CommitOffset("G", topic, q, store.MaxQueueOffset(topic, q)));
      }
    }
  }

  // Opens a damaged copy, checks the promises, and appends one record per queue.
  void CheckDamagedStore(const std::string& root, const std::vector<Sent>& sent, const Sent* damaged,
                         const std::string& label) {
    StoreOptions o = options_;
    o.root_dir = root;
    auto store = OpenStore(o);
    ASSERT_NE(store, nullptr) << label;
    // New messages after the restart: their offsets must be new ones.
    std::map<std::pair<std::string, uint32_t>, QueueOffset> old_max;
    for (const auto& s : sent) {
      auto& m = old_max[{s.topic, s.at.queue_id}];
      m = std::max(m, s.at.queue_offset + 1);
    }
    std::vector<std::string> fresh;
    for (const auto& [where, max] : old_max) {
      fresh.push_back("fresh-" + where.first + std::to_string(where.second));
      const std::string rec = MakeRecord(where.first, where.second, "new", "", "", fresh.back());
      ASSERT_OK_AND_ASSIGN(auto r, AppendOne(*store, rec));
      EXPECT_GE(r.records[0].queue_offset, max) << label << ": offset of " << where.first << "/" << where.second
                                                << " handed out again";
    }
    store->WaitForDispatch();
    Consumed c = ConsumeAll(*store);
    for (const auto& s : sent) {
      if (damaged && s.id == damaged->id) continue;
      EXPECT_TRUE(c.ids.contains(s.id)) << label << ": intact " << s.id << " at " << s.at.physical_offset
                                        << " not delivered";
    }
    for (const auto& id : fresh) EXPECT_TRUE(c.ids.contains(id)) << label << ": " << id << " not delivered";
    if (damaged) {
      EXPECT_FALSE(c.ids.contains(damaged->id)) << label << ": damaged " << damaged->id << " delivered";
      const auto& reported = c.corrupt[std::make_pair(damaged->topic, damaged->at.queue_id)];
      EXPECT_TRUE(reported.contains(damaged->at.queue_offset))
          << label << ": damaged " << damaged->id << " (offset " << damaged->at.queue_offset << ") not reported";
      EXPECT_GE(store->stats().corrupt_records, 1) << label;
    }
  }

  vela::testing::TempDir dir_;
  StoreOptions options_ = SmallOptions(dir_.str());
};

TEST_F(CorruptionTest, FlippedByteAfterCleanRestartIsReportedAndTheQueueMovesOn) {
  std::vector<Sent> sent;
  {
    auto store = OpenStore(options_);
    sent = Fill(*store, 1000);
    store->WaitForDispatch();
  }
  // One byte in the middle of the first segment (in a record body, most likely).
  const int64_t at = options_.commitlog_segment_size / 4;
  const Sent* damaged = RecordAt(sent, at);
  ASSERT_NE(damaged, nullptr);
  FlipByte(dir_.str(), at, 0x20);
  CheckDamagedStore(dir_.str(), sent, damaged, "clean restart");
}

TEST_F(CorruptionTest, FlippedByteAfterUncleanRestartKeepsEveryIntactRecordAfterIt) {
  std::vector<Sent> sent;
  {
    auto store = OpenStore(options_);
    sent = Fill(*store, 1000);
    store->WaitForDispatch();
    CommitEverything(*store);
  }
  const int64_t at = options_.commitlog_segment_size / 4;
  const Sent* damaged = RecordAt(sent, at);
  ASSERT_NE(damaged, nullptr);
  FlipByte(dir_.str(), at, 0x01);
  MakeUnclean(dir_.str());
  {
    auto store = OpenStore(options_);
    ASSERT_NE(store, nullptr);
    ASSERT_EQ(store->recovery_report().damaged.size(), 1u);
    EXPECT_EQ(store->recovery_report().damaged[0].begin, damaged->at.physical_offset);
    EXPECT_EQ(store->recovery_report().dropped_bytes, 0);
    EXPECT_EQ(store->recovery_report().end_offset, sent.back().at.physical_offset + sent.back().at.size);
  }
  CheckDamagedStore(dir_.str(), sent, damaged, "unclean restart");
}

TEST_F(CorruptionTest, DamagedHeaderLeavesAReportedHoleNotAReusedOffset) {
  std::vector<Sent> sent;
  {
    auto store = OpenStore(options_);
    sent = Fill(*store, 300);
    store->WaitForDispatch();
    CommitEverything(*store);
  }
  // The magic number of the last record of queue T/1: nothing of its header is trusted.
  const Sent* victim = nullptr;
  for (const auto& s : sent) {
    if (s.topic == "T" && s.at.queue_id == 1) victim = &s;
  }
  ASSERT_NE(victim, nullptr);
  FlipByte(dir_.str(), victim->at.physical_offset.value() + 5, 0xff);
  MakeUnclean(dir_.str(), /*drop_queues=*/true);
  CheckDamagedStore(dir_.str(), sent, victim, "damaged header");
}

TEST_F(CorruptionTest, TornTailDoesNotHandOutAnOffsetAGroupCommittedPast) {
  std::vector<Sent> sent;
  {
    auto store = OpenStore(options_);
    sent = Fill(*store, 50);
    store->WaitForDispatch();
    CommitEverything(*store);  // the group consumed the last record before the crash
  }
  const Sent& last = sent.back();  // T/0... or U/0: whichever was last
  for (int64_t i = last.at.size / 2; i < last.at.size; ++i) {
    FlipByte(dir_.str(), last.at.physical_offset.value() + i, 0xff);
  }
  MakeUnclean(dir_.str());
  auto store = OpenStore(options_);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->recovery_report().end_offset, last.at.physical_offset);  // a torn tail: cut
  ASSERT_OK_AND_ASSIGN(auto r, AppendOne(*store, MakeRecord(last.topic, last.at.queue_id, "after")));
  EXPECT_EQ(r.records[0].queue_offset, last.at.queue_offset + 1);
}

// The campaign: on copies of one store, each of 50 random bytes flipped, restarted clean and
// unclean.
TEST_F(CorruptionTest, CampaignOfFiftyRandomByteFlips) {
  std::vector<Sent> sent;
  {
    auto store = OpenStore(options_);
    sent = Fill(*store, 3000);  // two segments
    store->WaitForDispatch();
    CommitEverything(*store);
  }
  const int64_t log_end = (sent.back().at.physical_offset + sent.back().at.size).value();
  std::mt19937_64 rng(20261201);
  for (int round = 0; round < 50; ++round) {
    const int64_t at = static_cast<int64_t>(rng() % static_cast<uint64_t>(log_end));
    const auto mask = static_cast<uint8_t>(1 + rng() % 255);
    const Sent* damaged = RecordAt(sent, at);  // null: a filler or a segment tail
    for (bool unclean : {false, true}) {
      const std::string copy = dir_.str() + "-copy";
      fs::remove_all(copy);
      fs::copy(dir_.str(), copy, fs::copy_options::recursive);
      fs::remove(fs::path(copy) / "lock");
      FlipByte(copy, at, mask);
      if (unclean) MakeUnclean(copy, /*drop_queues=*/round % 2 == 1);
      CheckDamagedStore(copy, sent, damaged,
                        fmt::format("round {} byte {} mask {:#x} {}", round, at, mask, unclean ? "unclean" : "clean"));
      fs::remove_all(copy);
      if (HasFatalFailure()) return;
    }
  }
}

}  // namespace
}  // namespace vela::store
