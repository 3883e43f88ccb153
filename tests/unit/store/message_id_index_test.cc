#include "store/message_id_index.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "store/file_system.h"
#include "support/test_support.h"

namespace vela::store {
namespace {

// Ids and offsets of the kind the store inserts: distinct ids at increasing offsets.
std::string IdOf(int i) { return "7F0000010000" + std::to_string(100000 + i) + "ABCDEF0123"; }
PhysicalOffset OffsetOf(int i) { return PhysicalOffset(1000 + 128LL * i); }

class MessageIdIndexTest : public ::testing::Test {
 protected:
  std::unique_ptr<MessageIdIndex> Open(std::optional<PhysicalOffset> relink_from = std::nullopt) {
    auto r = MessageIdIndex::Open(fs_, dir(), geometry_, relink_from);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(*r) : nullptr;
  }
  std::string dir() const { return tmp_.str() + "/index"; }
  std::vector<std::filesystem::path> Files() const {
    std::vector<std::filesystem::path> out;
    for (const auto& e : std::filesystem::directory_iterator(dir())) out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
  }
  static std::vector<PhysicalOffset> Candidates(const MessageIdIndex& index, std::string_view id) {
    std::vector<PhysicalOffset> out;
    index.Find(id, [&](PhysicalOffset off) {
      out.push_back(off);
      return true;
    });
    return out;
  }
  // Every id in [from, to) has its own offset among its candidates.
  static void ExpectFindsAll(const MessageIdIndex& index, int from, int to) {
    for (int i = from; i < to; ++i) {
      auto c = Candidates(index, IdOf(i));
      EXPECT_NE(std::find(c.begin(), c.end(), OffsetOf(i)), c.end()) << "id " << i;
    }
  }

  vela::testing::TempDir tmp_;
  std::shared_ptr<FileSystem> fs_holder_ = DefaultFileSystem();
  FileSystem& fs_ = *fs_holder_;
  MessageIdIndex::Geometry geometry_{/*slots=*/8, /*entries=*/64};
};

TEST_F(MessageIdIndexTest, FindsEveryIdThroughLongChainsAndNothingElse) {
  auto index = Open();
  EXPECT_TRUE(index->empty());
  for (int i = 0; i < 50; ++i) ASSERT_OK(index->Insert(IdOf(i), OffsetOf(i)));
  EXPECT_FALSE(index->empty());
  ExpectFindsAll(*index, 0, 50);
  EXPECT_TRUE(Candidates(*index, "no-such-id").empty());
  // Newest first: an id inserted again (a producer's retry) answers with the later record first.
  ASSERT_OK(index->Insert(IdOf(3), PhysicalOffset(999999)));
  EXPECT_EQ(Candidates(*index, IdOf(3)).front(), PhysicalOffset(999999));
  // The callback stops the walk.
  int calls = 0;
  index->Find(IdOf(3), [&](PhysicalOffset) { return ++calls < 1; });
  EXPECT_EQ(calls, 1);
}

TEST_F(MessageIdIndexTest, RollsFullFilesSurvivesReopenAndDeletesFilesBelowTheLog) {
  {
    auto index = Open();
    for (int i = 0; i < 200; ++i) ASSERT_OK(index->Insert(IdOf(i), OffsetOf(i)));
    index->Close();  // a clean stop: the newest file's slots reach the disk
    ASSERT_OK(index->Sync());
  }
  ASSERT_EQ(Files().size(), 4u);  // 64 entries a file
  EXPECT_EQ(Files()[1].filename().string(), MappedSegment::FileName(OffsetOf(64).value()));
  auto index = Open();
  ExpectFindsAll(*index, 0, 200);
  ASSERT_OK(index->Insert(IdOf(200), OffsetOf(200)));  // appends to the newest file
  EXPECT_EQ(Files().size(), 4u);
  // Records below offset(130) are gone: the files holding only those go; the rest still answer.
  ASSERT_OK(index->DeleteBelow(OffsetOf(130)));
  EXPECT_EQ(Files().size(), 2u);
  ExpectFindsAll(*index, 128, 201);
  EXPECT_TRUE(Candidates(*index, IdOf(5)).empty());
  // The newest file is never deleted.
  ASSERT_OK(index->DeleteBelow(OffsetOf(100000)));
  EXPECT_EQ(Files().size(), 1u);
}

TEST_F(MessageIdIndexTest, RelinkAfterACrashRecoversChainsFromTheEntries) {
  {
    auto index = Open();
    for (int i = 0; i < 100; ++i) ASSERT_OK(index->Insert(IdOf(i), OffsetOf(i)));
    ASSERT_OK(index->Sync());
  }
  // A crash: the newest file's slots stay in memory (no Close). Make it worse: a torn write-back
  // left its on-disk slots zero and its header count stale.
  const auto newest = Files().back();
  {
    std::fstream f(newest, std::ios::in | std::ios::out | std::ios::binary);
    const std::string zeros(4 * 8, '\0');
    f.seekp(64);
    f.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
    const char stale_count[4] = {5, 0, 0, 0};
    f.seekp(16);
    f.write(stale_count, 4);
  }
  {
    auto index = Open();  // no relink: the damage shows
    EXPECT_TRUE(Candidates(*index, IdOf(99)).empty());
  }
  auto index = Open(/*relink_from=*/OffsetOf(90));
  ExpectFindsAll(*index, 0, 100);
  ASSERT_OK(index->Insert(IdOf(100), OffsetOf(100)));  // continues after the last entry found
  ExpectFindsAll(*index, 0, 101);
}

// A full file is retired by the writer and sealed (its slots copied into the mapping) by the next
// Sync, off the writer's thread: until then readers use its slots in memory, and a crash before
// that Sync is covered by the relink from the checkpoint, which is older than the switch.
TEST_F(MessageIdIndexTest, AFullFileIsSealedByTheNextSyncNotByTheWriter) {
  {
    auto index = Open();
    for (int i = 0; i < 70; ++i) ASSERT_OK(index->Insert(IdOf(i), OffsetOf(i)));  // 64 a file
    ExpectFindsAll(*index, 0, 70);  // the retired file answers from memory
    // A crash now: neither Sync nor Close ran since the switch.
  }
  {
    auto index = Open();  // no relink: the retired file's slots never reached its mapping
    EXPECT_TRUE(Candidates(*index, IdOf(5)).empty());
  }
  {
    auto index = Open(/*relink_from=*/OffsetOf(60));  // the last checkpoint came before the switch
    ExpectFindsAll(*index, 0, 70);
    for (int i = 70; i < 140; ++i) ASSERT_OK(index->Insert(IdOf(i), OffsetOf(i)));
    ASSERT_OK(index->Sync());  // seals the file retired at 128
    ExpectFindsAll(*index, 0, 140);
    // A crash after that Sync: the sealed files need no relink.
  }
  auto index = Open();
  ExpectFindsAll(*index, 0, 128);
}

TEST_F(MessageIdIndexTest, DamagedFileDropsTheIndexAndBlankFileIsRemoved) {
  {
    auto index = Open();
    for (int i = 0; i < 100; ++i) ASSERT_OK(index->Insert(IdOf(i), OffsetOf(i)));
    ASSERT_OK(index->Sync());
  }
  const auto files = Files();
  ASSERT_EQ(files.size(), 2u);
  {
    // The newest file's header never reached the disk: it goes, the older one stays.
    std::fstream f(files.back(), std::ios::in | std::ios::out | std::ios::binary);
    const std::string zeros(64, '\0');
    f.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
  }
  {
    auto index = Open();
    EXPECT_EQ(Files().size(), 1u);
    ExpectFindsAll(*index, 0, 64);
  }
  {
    std::fstream f(files.front(), std::ios::in | std::ios::out | std::ios::binary);
    f.write("junk", 4);
  }
  auto index = Open();
  EXPECT_TRUE(index->empty());  // the store rebuilds it from the commit log
  EXPECT_TRUE(Files().empty());
}

}  // namespace
}  // namespace vela::store
