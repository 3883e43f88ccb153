// Micro-benchmarks of the store: appends (single and batched, both flush modes), SYNC_FLUSH group
// commit under concurrent writers, sequential queue reads, and the recovery scan.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>
#include <unistd.h>

#include "common/message_record.h"
#include "common/logging.h"
#include "store/commit_log.h"
#include "store/default_message_store.h"
#include "store/message_store.h"

namespace vela::store {
namespace {

std::string BenchDir() {
  static std::atomic<int> n{0};
  const char* base = std::getenv("VELA_BENCH_DIR");
  auto dir = std::filesystem::path(base ? base : "/tmp") / ("vela-store-bench-" + std::to_string(::getpid()) + "-" +
                                                             std::to_string(n++));
  std::filesystem::remove_all(dir);
  return dir.string();
}

std::string Record1K(uint32_t queue) {
  RecordFields f;
  f.topic = "BenchTopic";
  f.queue_id = queue;
  f.msg_id = "0123456789ABCDEF0123456789ABCDEF";
  const std::string props = EncodeProperties({{"TAGS", "TagA"}});
  f.properties = props;
  std::string probe;
  EncodeRecord(f, &probe);
  const std::string body(1024 - probe.size(), 'b');
  f.body = body;
  std::string out;
  EncodeRecord(f, &out);
  return out;  // exactly 1 KiB
}

StoreOptions BenchOptions(FlushDiskType type) {
  StoreOptions o;
  o.root_dir = BenchDir();
  o.flush_disk_type = type;
  o.commitlog_segment_size = 256LL << 20;
  o.retention_interval_ms = 3600 * 1000;
  o.disk_max_used_space_ratio = 100;
  return o;
}

struct StoreHolder {
  explicit StoreHolder(FlushDiskType type) {
    InitLogging("warn");
    auto r = DefaultMessageStore::OpenImpl(BenchOptions(type));
    if (!r.ok()) std::abort();
    store = std::move(*r);
    dir = store->options().root_dir;
  }
  ~StoreHolder() {
    store.reset();
    std::filesystem::remove_all(dir);
  }
  std::unique_ptr<DefaultMessageStore> store;
  std::string dir;
};

void AppendBench(benchmark::State& state, FlushDiskType type, int batch) {
  StoreHolder h(type);
  const std::string rec = Record1K(0);
  int64_t n = 0;
  for (auto _ : state) {
    AppendRequest req;
    req.records.assign(static_cast<size_t>(batch), rec);
    auto r = h.store->AppendAndWait(std::move(req));
    if (!r.ok()) state.SkipWithError(r.status().ToString().c_str());
    n += batch;
  }
  state.SetItemsProcessed(n);
  state.SetBytesProcessed(n * 1024);
}

void BM_Append_AsyncSingle(benchmark::State& s) { AppendBench(s, FlushDiskType::kAsync, 1); }
void BM_Append_AsyncBatch32(benchmark::State& s) { AppendBench(s, FlushDiskType::kAsync, 32); }
void BM_Append_SyncSingle(benchmark::State& s) { AppendBench(s, FlushDiskType::kSync, 1); }
void BM_Append_SyncBatch32(benchmark::State& s) { AppendBench(s, FlushDiskType::kSync, 32); }
BENCHMARK(BM_Append_AsyncSingle)->MinTime(2.0)->UseRealTime();
BENCHMARK(BM_Append_AsyncBatch32)->MinTime(2.0)->UseRealTime();
BENCHMARK(BM_Append_SyncSingle)->MinTime(2.0)->UseRealTime();
BENCHMARK(BM_Append_SyncBatch32)->MinTime(2.0)->UseRealTime();

// SYNC_FLUSH with N concurrent writers, each appending one 1 KiB record at a time.
void BM_GroupCommit_SyncWriters(benchmark::State& state) {
  const int writers = static_cast<int>(state.range(0));
  StoreHolder h(FlushDiskType::kSync);
  const std::string rec = Record1K(0);
  int64_t total = 0;
  for (auto _ : state) {
    std::atomic<int64_t> done{0};
    const int per_writer = 2000 / writers + 20;
    std::vector<std::thread> threads;
    for (int w = 0; w < writers; ++w) {
      threads.emplace_back([&] {
        for (int i = 0; i < per_writer; ++i) {
          AppendRequest req;
          req.records.push_back(rec);
          if (h.store->AppendAndWait(std::move(req)).ok()) done.fetch_add(1);
        }
      });
    }
    for (auto& t : threads) t.join();
    total += done.load();
  }
  state.SetItemsProcessed(total);
  state.SetBytesProcessed(total * 1024);
}
BENCHMARK(BM_GroupCommit_SyncWriters)->Arg(1)->Arg(16)->Arg(64)->UseRealTime()->Iterations(3);

// Sequential reads of one queue, 32 records per GetMessages.
void BM_QueueRead_Sequential(benchmark::State& state) {
  StoreHolder h(FlushDiskType::kAsync);
  const std::string rec = Record1K(0);
  constexpr int kRecords = 200000;
  for (int i = 0; i < kRecords; i += 32) {
    AppendRequest req;
    req.records.assign(32, rec);
    (void)h.store->AppendAndWait(std::move(req));
  }
  h.store->WaitForDispatch();
  QueueOffset offset;
  int64_t n = 0;
  for (auto _ : state) {
    auto r = h.store->GetMessages("BenchTopic", 0, offset, 32, 1 << 20, nullptr);
    if (r.outcome != GetOutcome::kFound) {
      offset = QueueOffset(0);
      continue;
    }
    benchmark::DoNotOptimize(r.records.data());
    n += static_cast<int64_t>(r.records.size());
    offset = r.next_begin_offset;
  }
  state.SetItemsProcessed(n);
  state.SetBytesProcessed(n * 1024);
}
BENCHMARK(BM_QueueRead_Sequential)->UseRealTime();

// A tag filter as the broker builds one: the tag hash on the queue entry decides before any record
// is read, then the exact tag.
class TagOnlyFilter : public MessageFilter {
 public:
  explicit TagOnlyFilter(std::string tag) : tag_(std::move(tag)), hash_(TagHash(tag_)) {}
  bool MatchesTagHash(int64_t tag_hash) const override { return tag_hash == hash_; }
  bool MatchesRecord(const RecordView& record) const override { return record.Tag() == tag_; }

 private:
  std::string tag_;
  int64_t hash_;
};

std::string Record1KTagged(const std::string& tag) {
  RecordFields f;
  f.topic = "BenchTopic";
  f.msg_id = "0123456789ABCDEF0123456789ABCDEF";
  const std::string props = EncodeProperties({{"TAGS", tag}});
  f.properties = props;
  const std::string body(900, 'b');
  f.body = body;
  std::string out;
  EncodeRecord(f, &out);
  return out;
}

// Issue 5's filtered pull: 1,000,000 messages in one queue, 1 % of them tagged for the consumer;
// one iteration drains the whole queue through GetMessages with the filter (32 per pull).
void BM_FilteredPull_Skip99Of1M(benchmark::State& state) {
  StoreHolder h(FlushDiskType::kAsync);
  const std::string hit = Record1KTagged("Gray"), miss = Record1KTagged("Prod");
  constexpr int kRecords = 1000000;
  for (int i = 0; i < kRecords; i += 100) {
    AppendRequest req;
    req.records.assign(99, miss);
    req.records.push_back(hit);
    (void)h.store->AppendAndWait(std::move(req));
  }
  h.store->WaitForDispatch();
  TagOnlyFilter filter("Gray");
  int64_t matched = 0;
  for (auto _ : state) {
    QueueOffset offset;
    matched = 0;
    for (;;) {
      auto r = h.store->GetMessages("BenchTopic", 0, offset, 32, 1 << 20, &filter);
      if (r.outcome == GetOutcome::kFound) {
        matched += static_cast<int64_t>(r.records.size());
      } else if (r.outcome != GetOutcome::kNoMatchedMessage) {
        break;
      }
      offset = r.next_begin_offset;
    }
  }
  if (matched != kRecords / 100) state.SkipWithError("filtered pull did not find every tagged message");
  state.counters["scanned_msgs_per_s"] =
      benchmark::Counter(static_cast<double>(kRecords) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}
BENCHMARK(BM_FilteredPull_Skip99Of1M)->UseRealTime()->Iterations(3)->Unit(benchmark::kMillisecond);

// Recovery after a crash: scan and verify every CRC of a 512 MiB log (page cache warm).
void BM_Recovery_Scan(benchmark::State& state) {
  InitLogging("warn");
  StoreOptions o = BenchOptions(FlushDiskType::kAsync);
  const std::string rec = Record1K(0);
  int64_t log_bytes = 0;
  {
    auto store = std::move(DefaultMessageStore::OpenImpl(o)).value();
    for (int i = 0; i < 512 * 1024; i += 32) {
      AppendRequest req;
      req.records.assign(32, rec);
      (void)store->AppendAndWait(std::move(req));
    }
    store->WaitForDispatch();
    log_bytes = store->stats().max_physical_offset.value();
  }
  for (auto _ : state) {
    // The commit-log scan alone: map every segment, verify every record's CRC, find the end.
    CommitLog log(*DefaultFileSystem(), o.root_dir + "/commitlog", o.commitlog_segment_size, 0, 0);
    Status st = log.Load();
    auto report = log.Recover(PhysicalOffset(0));
    if (!st.ok() || !report.ok() || report->end_offset != PhysicalOffset(log_bytes)) {
      state.SkipWithError("recovery failed");
    }
  }
  state.SetBytesProcessed(log_bytes * state.iterations());
  std::filesystem::remove_all(o.root_dir);
}
BENCHMARK(BM_Recovery_Scan)->UseRealTime()->Iterations(3)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace vela::store

BENCHMARK_MAIN();
