#include "store/default_message_store.h"

#include <atomic>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "store_test_util.h"

namespace vela::store {
namespace {

using testing::FaultInjectionFileSystem;
using testing::MakeRecord;
using testing::OpenStore;
using testing::SmallOptions;

// Writers append while the "machine" loses power: every byte not synced is dropped.
class PowerFailureTest : public ::testing::TestWithParam<FlushDiskType> {
 protected:
  vela::testing::TempDir dir_;
};

TEST_P(PowerFailureTest, RecoveryYieldsAConsistentPrefixWithoutLosingDurableRecords) {
  auto fault = std::make_shared<FaultInjectionFileSystem>();
  StoreOptions o = SmallOptions(dir_.str());
  o.fs = fault;
  o.flush_disk_type = GetParam();
  o.flush_interval_ms = 50;
  std::map<std::string, AppendedRecord> acked;  // msg id -> where
  for (int round = 0; round < 4; ++round) {
    auto store = OpenStore(o);
    ASSERT_NE(store, nullptr);
    // Everything acknowledged (sync) or flushed (async) before must be there, intact.
    for (const auto& [id, where] : acked) {
      auto raw = store->LookupByMessageId(id);
      ASSERT_TRUE(raw.ok()) << "lost " << id << " at " << where.physical_offset << " in round " << round;
      RecordView v;
      ASSERT_EQ(DecodeRecord(*raw, true, &v), DecodeOutcome::kRecord);
      EXPECT_EQ(v.physical_offset, where.physical_offset.value());
    }
    // The queues hold exactly a prefix of each queue: offsets 0..max-1 all readable.
    for (uint32_t q = 0; q < 2; ++q) {
      auto got = store->GetMessages("T", q, QueueOffset(0), 100000, 1LL << 40, nullptr);
      for (size_t i = 0; i < got.records.size(); ++i) {
        RecordView v;
        ASSERT_EQ(DecodeRecord(got.records[i], true, &v), DecodeOutcome::kRecord);
        ASSERT_EQ(v.queue_offset, static_cast<int64_t>(i));
      }
    }
    std::mutex mu;
    std::map<std::string, AppendedRecord> acked_now;
    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    for (int w = 0; w < 4; ++w) {
      writers.emplace_back([&, w] {
        for (int i = 0; !stop.load(); ++i) {
          const std::string id = fmt::format("r{}-w{}-{}", round, w, i);
          AppendRequest req;
          std::string rec = MakeRecord("T", w % 2, std::string(200 + i % 3000, 'p'), "", "", id);
          req.records.push_back(rec);
          auto r = store->AppendAndWait(std::move(req));
          if (!r.ok()) break;  // the crash aborts pending waiters
          std::lock_guard lock(mu);
          acked_now[id] = r->records[0];
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + 50 * round));
    // No wait for the dispatcher here: with the writers still appending it may never catch up (a
    // test that hung under load); recovery re-dispatches whatever it had not.
    const PhysicalOffset flushed_at_crash = store->stats().flushed_offset;
    store->CrashForTesting();
    stop = true;
    for (auto& t : writers) t.join();
    store.reset();
    fault->DropUnsyncedData();
    // What must survive: under SYNC every acknowledged record; under ASYNC what was flushed.
    for (const auto& [id, where] : acked_now) {
      if (GetParam() == FlushDiskType::kSync || where.physical_offset + where.size <= flushed_at_crash) {
        acked[id] = where;
      }
    }
    ASSERT_GT(acked_now.size(), 10u);
  }
}

INSTANTIATE_TEST_SUITE_P(FlushModes, PowerFailureTest,
                         ::testing::Values(FlushDiskType::kSync, FlushDiskType::kAsync),
                         [](const auto& info) { return info.param == FlushDiskType::kSync ? "Sync" : "Async"; });

}  // namespace
}  // namespace vela::store
