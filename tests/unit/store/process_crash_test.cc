#include "store/message_store.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "common/coding.h"
#include "store_test_util.h"
#include "support/sanitizers.h"

namespace vela::store {
namespace {

using testing::MakeRecord;
using testing::OpenStore;
using testing::SmallOptions;

constexpr size_t kAckSize = 8 + 32;  // physical offset + 32-byte message id, one pipe write each

// The child: opens the store with SYNC_FLUSH and appends until killed, reporting every
// acknowledged record on the pipe.
[[noreturn]] void RunChild(const StoreOptions& options, int fd, int seed) {
  auto opened = MessageStore::Open(options);
  if (!opened.ok()) _exit(3);
  auto& store = **opened;
  std::mt19937 rng(seed);
  for (uint64_t i = 0;; ++i) {
    char id[33];
    std::snprintf(id, sizeof(id), "%08x%024llx", seed, static_cast<unsigned long long>(i));
    const std::string rec = MakeRecord("Crash", static_cast<uint32_t>(i % 4), std::string(100 + rng() % 4000, 'c'),
                                       "", "", std::string(id, 32));
    AppendRequest req;
    req.records.push_back(rec);
    auto r = store.AppendAndWait(std::move(req));
    if (!r.ok()) _exit(4);
    char ack[kAckSize];
    coding::PutFixed64(ack, static_cast<uint64_t>(r->records[0].physical_offset.value()));
    std::memcpy(ack + 8, id, 32);
    if (::write(fd, ack, kAckSize) != static_cast<ssize_t>(kAckSize)) _exit(5);
  }
}

TEST(ProcessCrashTest, KilledWriterNeverLosesAcknowledgedRecords) {
#if VELA_UNDER_ASAN
  // Known issue: under ASan this test does not finish (fork() of a process whose RocksDB and
  // sanitizer threads exist; not yet diagnosed). It runs in the normal build.
  GTEST_SKIP() << "hangs under AddressSanitizer (fork with live RocksDB threads), see store report";
#endif
  vela::testing::TempDir dir;
  StoreOptions options = SmallOptions(dir.str());
  options.flush_disk_type = FlushDiskType::kSync;
  std::map<int64_t, std::string> acked;  // physical offset -> msg id
  std::mt19937 rng(12345);
  for (int round = 0; round < 20; ++round) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      RunChild(options, fds[1], round + 1);
    }
    ::close(fds[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(120 + rng() % 200));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited early with " << WEXITSTATUS(status);
    char buf[kAckSize];
    int acks = 0;
    while (true) {
      ssize_t n = ::read(fds[0], buf, kAckSize);
      if (n <= 0) break;
      ASSERT_EQ(n, static_cast<ssize_t>(kAckSize));
      acked[static_cast<int64_t>(coding::GetFixed64(buf))] = std::string(buf + 8, 32);
      ++acks;
    }
    ::close(fds[0]);
    // Reopen: every acknowledged record is present and intact; nothing past the end is served.
    auto store = OpenStore(options);
    ASSERT_NE(store, nullptr);
    const int64_t end = store->stats().max_physical_offset.value();
    for (const auto& [offset, id] : acked) {
      auto raw = store->ReadRecordAt(PhysicalOffset(offset));
      ASSERT_TRUE(raw.ok()) << "round " << round << ": lost acknowledged record at " << offset;
      RecordView v;
      ASSERT_EQ(DecodeRecord(*raw, true, &v), DecodeOutcome::kRecord);
      ASSERT_EQ(v.msg_id, id);
      ASSERT_LT(offset, end);
    }
    EXPECT_FALSE(store->ReadRecordAt(PhysicalOffset(end)).ok());
    int64_t queued = 0;
    for (uint32_t q = 0; q < 4; ++q) {
      auto got = store->GetMessages("Crash", q, QueueOffset(0), 1000000, 1LL << 40, nullptr);
      for (auto raw : got.records) {
        RecordView v;
        ASSERT_EQ(DecodeRecord(raw, true, &v), DecodeOutcome::kRecord);
        ASSERT_LT(v.physical_offset, end);
      }
      queued += static_cast<int64_t>(got.records.size());
    }
    EXPECT_GE(queued, static_cast<int64_t>(acked.size()));
    store->Shutdown();
    (void)acks;
  }
  EXPECT_GT(acked.size(), 100u) << "the children acknowledged too little to prove anything";
}

}  // namespace
}  // namespace vela::store
