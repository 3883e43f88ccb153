// LocalFileOffsetStore (broadcast offsets): written atomically (temporary file + rename), resumed
// by the next store of the same group and instance, a corrupt file refused with the file and line
// named, a second live store of the same file refused.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "client/offset_store.h"
#include <unistd.h>

namespace vela::client {
namespace {

namespace fs = std::filesystem;

class LocalOffsetStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("vela-offsets-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string ReadAll(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  fs::path dir_;
};

const MessageQueue kQ0{"Prices", "broker-a", 0};
const MessageQueue kQ1{"Prices", "broker-a", 1};
const MessageQueue kQ2{"Cache", "broker-b", 3};

TEST_F(LocalOffsetStoreTest, FirstRunHasNoOffsetsAndCreatesTheDirectory) {
  LocalFileOffsetStore store(dir_.string(), "g1", "inst");
  ASSERT_TRUE(store.Load().ok());
  EXPECT_EQ(store.path(), (dir_ / "g1" / "inst.offsets").string());
  EXPECT_TRUE(fs::is_directory(dir_ / "g1"));
  auto read = store.Read(kQ0, "");
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, -1);
}

TEST_F(LocalOffsetStoreTest, FlushWritesAtomicallyAndTheNextRunResumes) {
  std::string path;
  {
    LocalFileOffsetStore store(dir_.string(), "g1", "inst");
    ASSERT_TRUE(store.Load().ok());
    path = store.path();
    store.Put(kQ0, 42);
    store.Put(kQ1, 7);
    ASSERT_TRUE(store.Flush().ok());
    EXPECT_FALSE(fs::exists(path + ".tmp"));  // renamed over the file, not left behind
    EXPECT_EQ(ReadAll(path), "vela-offsets 1\nPrices broker-a 0 42\nPrices broker-a 1 7\n");
    // A process queue's committable offset (its tracker's) is what Commit records.
    auto pq = std::make_shared<ProcessQueue>(kQ2, 90);  // started at 90, consumed up to 100
    {
      std::lock_guard lock(pq->mu);
      pq->tracker.Add(100, 10);
      pq->tracker.Add(101, 10);
      pq->tracker.Remove(101);  // 100 still in flight: the offset stays at 100
      pq->tracker.AdvanceTo(102);
    }
    store.Commit(pq, /*sync=*/true);
    {
      std::lock_guard lock(pq->mu);
      pq->tracker.Remove(100);
    }
    store.Commit(pq, /*sync=*/false);  // recorded, written at the next flush
    EXPECT_EQ(ReadAll(path), "vela-offsets 1\nCache broker-b 3 100\nPrices broker-a 0 42\nPrices broker-a 1 7\n");
    ASSERT_TRUE(store.Flush().ok());
  }
  LocalFileOffsetStore resumed(dir_.string(), "g1", "inst");
  ASSERT_TRUE(resumed.Load().ok());
  EXPECT_EQ(*resumed.Read(kQ0, ""), 42);
  EXPECT_EQ(*resumed.Read(kQ1, ""), 7);
  EXPECT_EQ(*resumed.Read(kQ2, ""), 102);
  // Another instance name (or group) has its own file.
  LocalFileOffsetStore other(dir_.string(), "g1", "other");
  ASSERT_TRUE(other.Load().ok());
  EXPECT_EQ(*other.Read(kQ0, ""), -1);
}

TEST_F(LocalOffsetStoreTest, CorruptFileIsRefusedNamingFileAndLine) {
  fs::create_directories(dir_ / "g1");
  const std::string path = (dir_ / "g1" / "inst.offsets").string();
  auto load_with = [&](const std::string& text) {
    {
      std::ofstream out(path, std::ios::trunc);
      out << text;
    }
    LocalFileOffsetStore store(dir_.string(), "g1", "inst");
    return store.Load();
  };
  auto bad_line = load_with("vela-offsets 1\nPrices broker-a 0 42\nPrices broker-a zero 7\n");
  ASSERT_FALSE(bad_line.ok());
  EXPECT_EQ(bad_line.code(), vela::StatusCode::kCorruption);
  EXPECT_NE(bad_line.message().find(path), std::string::npos) << bad_line.ToString();
  EXPECT_NE(bad_line.message().find("line 3"), std::string::npos) << bad_line.ToString();

  auto bad_header = load_with("{\"offsets\": {}}\n");
  ASSERT_FALSE(bad_header.ok());
  EXPECT_NE(bad_header.message().find("header"), std::string::npos) << bad_header.ToString();

  auto negative = load_with("vela-offsets 1\nPrices broker-a 0 -5\n");
  EXPECT_FALSE(negative.ok());
  auto trailing = load_with("vela-offsets 1\nPrices broker-a 0 5 extra\n");
  EXPECT_FALSE(trailing.ok());
  auto empty = load_with("");
  EXPECT_FALSE(empty.ok());
  // The file is left alone for an operator to look at.
  EXPECT_TRUE(fs::exists(path));
}

TEST_F(LocalOffsetStoreTest, SecondLiveStoreOfTheSameFileIsRefused) {
  LocalFileOffsetStore first(dir_.string(), "g1", "inst");
  ASSERT_TRUE(first.Load().ok());
  LocalFileOffsetStore second(dir_.string(), "g1", "inst");
  auto refused = second.Load();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.code(), vela::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.message().find("in use"), std::string::npos) << refused.ToString();
  LocalFileOffsetStore reader(dir_.string(), "g1", "inst", /*read_only=*/true);
  EXPECT_TRUE(reader.Load().ok());  // a peeking consumer writes nothing, so it does not lock
}

TEST_F(LocalOffsetStoreTest, ReadOnlyStoreNeverWrites) {
  LocalFileOffsetStore store(dir_.string(), "g1", "inst", /*read_only=*/true);
  ASSERT_TRUE(store.Load().ok());
  auto pq = std::make_shared<ProcessQueue>(kQ0, 5);
  {
    std::lock_guard lock(pq->mu);
    pq->tracker.AdvanceTo(9);
  }
  store.Commit(pq, /*sync=*/true);
  EXPECT_FALSE(fs::exists(store.path()));
}

}  // namespace
}  // namespace vela::client
