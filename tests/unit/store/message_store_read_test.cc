#include "store/message_store.h"

#include <thread>

#include <gtest/gtest.h>

#include "common/clock.h"
#include "store/meta_store.h"
#include "store_test_util.h"

namespace vela::store {
namespace {

using testing::AppendOne;
using testing::MakeRecord;
using testing::OpenStore;
using testing::SmallOptions;

class TagFilter final : public MessageFilter {
 public:
  explicit TagFilter(std::string tag) : tag_(std::move(tag)), hash_(TagHash(tag_)) {}
  bool MatchesTagHash(int64_t h) const override { return h == hash_; }
  bool MatchesRecord(const RecordView& r) const override { return r.Tag() == tag_; }

 private:
  std::string tag_;
  int64_t hash_;
};

class MessageStoreReadTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = OpenStore(SmallOptions(dir_.str())); }
  vela::testing::TempDir dir_;
  std::unique_ptr<DefaultMessageStore> store_;
};

TEST_F(MessageStoreReadTest, OutcomesForEmptyAndOutOfRangeOffsets) {
  EXPECT_EQ(store_->GetMessages("T", 0, QueueOffset(0), 10, 1 << 20, nullptr).outcome, GetOutcome::kNoMatchedQueue);
  ASSERT_OK(store_->meta().PutTopic(TopicConfig{"T", 4, 4, 6, 0}));
  EXPECT_EQ(store_->GetMessages("T", 0, QueueOffset(0), 10, 1 << 20, nullptr).outcome, GetOutcome::kNoMessageInQueue);
  for (int i = 0; i < 5; ++i) ASSERT_OK(AppendOne(*store_, MakeRecord("T", 0, "m")).status());
  store_->WaitForDispatch();
  auto r = store_->GetMessages("T", 0, QueueOffset(5), 10, 1 << 20, nullptr);
  EXPECT_EQ(r.outcome, GetOutcome::kOffsetOverflowOne);
  EXPECT_EQ(r.next_begin_offset, QueueOffset(5));
  EXPECT_EQ(store_->GetMessages("T", 0, QueueOffset(9), 10, 1 << 20, nullptr).outcome,
            GetOutcome::kOffsetOverflowBadly);
  auto found = store_->GetMessages("T", 0, QueueOffset(2), 10, 1 << 20, nullptr);
  EXPECT_EQ(found.outcome, GetOutcome::kFound);
  EXPECT_EQ(found.records.size(), 3u);
  EXPECT_EQ(found.next_begin_offset, QueueOffset(5));
  EXPECT_NE(found.pins, nullptr);
  EXPECT_EQ(GetOutcomeName(GetOutcome::kOffsetTooSmall), "OFFSET_TOO_SMALL");
}

TEST_F(MessageStoreReadTest, RespectsMaxCountAndMaxBytesButReturnsAtLeastOne) {
  for (int i = 0; i < 10; ++i) ASSERT_OK(AppendOne(*store_, MakeRecord("T", 0, std::string(1000, 'x'))).status());
  store_->WaitForDispatch();
  auto r = store_->GetMessages("T", 0, QueueOffset(0), 3, 1 << 20, nullptr);
  EXPECT_EQ(r.records.size(), 3u);
  EXPECT_EQ(r.next_begin_offset, QueueOffset(3));
  auto small = store_->GetMessages("T", 0, QueueOffset(0), 10, 10, nullptr);
  EXPECT_EQ(small.records.size(), 1u);
  auto bytes = store_->GetMessages("T", 0, QueueOffset(0), 10, 2500, nullptr);
  EXPECT_EQ(bytes.records.size(), 2u);
}

// Pulls copy their records out of the log a run at a time (records of the queue lying close
// together are read with one pread, the bytes of other queues between them skipped): whatever the
// interleaving, sizes and limits, each pull returns exactly its queue's records in order, and the
// records stay readable after later appends and pulls.
TEST_F(MessageStoreReadTest, PullsReturnExactlyTheirQueuesRecordsWhateverTheInterleaving) {
  std::vector<std::string> expected[3];
  for (int i = 0; i < 300; ++i) {
    const uint32_t queue = static_cast<uint32_t>(i % 7 == 0 ? 2 : i % 3 == 0 ? 1 : 0);
    // Sizes from tiny to past kMaxReadGap, so runs break on gaps and on sizes.
    std::string body = std::to_string(i) + ":" + std::string(static_cast<size_t>((i * 37) % 6000), 'a' + i % 26);
    ASSERT_OK(AppendOne(*store_, MakeRecord("T", queue, body)).status());
    expected[queue].push_back(std::move(body));
  }
  store_->WaitForDispatch();
  std::vector<GetResult> held;  // earlier results stay valid while their pins are held
  for (uint32_t queue = 0; queue < 3; ++queue) {
    for (int32_t batch : {1, 7, 32}) {
      std::vector<std::string> got;
      QueueOffset next(0);
      while (next.value() < static_cast<int64_t>(expected[queue].size())) {
        GetResult r = store_->GetMessages("T", queue, next, batch, 64 * 1024, nullptr);
        ASSERT_EQ(r.outcome, GetOutcome::kFound) << "queue " << queue << " batch " << batch << " at " << next;
        EXPECT_TRUE(r.corrupt_offsets.empty());
        for (std::string_view raw : r.records) {
          RecordView v;
          ASSERT_EQ(DecodeRecord(raw, /*verify_crc=*/true, &v), DecodeOutcome::kRecord);
          got.emplace_back(v.body);
        }
        next = r.next_begin_offset;
        held.push_back(std::move(r));
      }
      EXPECT_EQ(got, expected[queue]) << "queue " << queue << " batch " << batch;
    }
  }
  ASSERT_OK(AppendOne(*store_, MakeRecord("T", 0, "later")).status());
  for (const GetResult& r : held) {
    for (std::string_view raw : r.records) {
      RecordView v;
      ASSERT_EQ(DecodeRecord(raw, /*verify_crc=*/true, &v), DecodeOutcome::kRecord);
    }
  }
}

// Copies held by results are bounded over all of them: past max_read_copy_bytes, records view the
// mapped log instead (the same bytes); each result gives its copies back when dropped.
TEST_F(MessageStoreReadTest, CopiesHeldByResultsAreBoundedAndGivenBack) {
  store_.reset();
  auto o = SmallOptions(dir_.str());
  o.max_read_copy_bytes = 8 * 1024;
  store_ = OpenStore(o);
  for (int i = 0; i < 20; ++i) ASSERT_OK(AppendOne(*store_, MakeRecord("T", 0, std::string(1000, 'a' + i))).status());
  store_->WaitForDispatch();
  std::vector<GetResult> held;
  for (int i = 0; i < 20; i += 4) {
    held.push_back(store_->GetMessages("T", 0, QueueOffset(i), 4, 1 << 20, nullptr));
    EXPECT_LE(store_->stats().read_copy_bytes, 8 * 1024);
  }
  EXPECT_GT(store_->stats().read_copy_bytes, 0);
  for (size_t k = 0; k < held.size(); ++k) {
    ASSERT_EQ(held[k].records.size(), 4u);
    for (size_t j = 0; j < 4; ++j) {
      RecordView v;
      ASSERT_EQ(DecodeRecord(held[k].records[j], /*verify_crc=*/true, &v), DecodeOutcome::kRecord);
      EXPECT_EQ(v.body, std::string(1000, static_cast<char>('a' + 4 * k + j)));
    }
  }
  held.clear();
  EXPECT_EQ(store_->stats().read_copy_bytes, 0);
  // A caller that may hold the result long (a slow reader's response) asks for views, not copies.
  GetResult viewed = store_->GetMessages("T", 0, QueueOffset(0), 4, 1 << 20, nullptr, /*may_copy=*/false);
  ASSERT_EQ(viewed.records.size(), 4u);
  EXPECT_EQ(store_->stats().read_copy_bytes, 0);
  RecordView v;
  ASSERT_EQ(DecodeRecord(viewed.records[3], /*verify_crc=*/true, &v), DecodeOutcome::kRecord);
  EXPECT_EQ(v.body, std::string(1000, 'd'));
}

TEST_F(MessageStoreReadTest, FiltersByTagHashThenRecord) {
  for (int i = 0; i < 30; ++i) {
    ASSERT_OK(AppendOne(*store_, MakeRecord("T", 0, std::to_string(i), i % 3 == 0 ? "A" : "B")).status());
  }
  store_->WaitForDispatch();
  TagFilter a("A");
  auto r = store_->GetMessages("T", 0, QueueOffset(0), 100, 1 << 20, &a);
  ASSERT_EQ(r.outcome, GetOutcome::kFound);
  ASSERT_EQ(r.records.size(), 10u);
  for (auto raw : r.records) {
    RecordView v;
    ASSERT_EQ(DecodeRecord(raw, true, &v), DecodeOutcome::kRecord);
    EXPECT_EQ(v.Tag(), "A");
  }
  TagFilter none("C");
  auto n = store_->GetMessages("T", 0, QueueOffset(0), 100, 1 << 20, &none);
  EXPECT_EQ(n.outcome, GetOutcome::kNoMatchedMessage);
  EXPECT_EQ(n.next_begin_offset, QueueOffset(30));
}

TEST_F(MessageStoreReadTest, OffsetAndTimestampLookups) {
  std::vector<int64_t> times;
  for (int i = 0; i < 6; ++i) {
    ASSERT_OK_AND_ASSIGN(auto r, AppendOne(*store_, MakeRecord("T", 1, "m")));
    times.push_back(r.records[0].store_timestamp_ms);
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
  }
  store_->WaitForDispatch();
  EXPECT_EQ(store_->MinQueueOffset("T", 1), QueueOffset(0));
  EXPECT_EQ(store_->MaxQueueOffset("T", 1), QueueOffset(6));
  EXPECT_EQ(store_->LastStoreTimestamp("T", 1), times.back());
  EXPECT_EQ(store_->QueueOffsetForTimestamp("T", 1, times[3]), QueueOffset(3));
  EXPECT_EQ(store_->QueueOffsetForTimestamp("T", 1, 0), QueueOffset(0));
  EXPECT_EQ(store_->QueueOffsetForTimestamp("T", 1, times.back() + 1000), QueueOffset(6));
  EXPECT_EQ(store_->LastStoreTimestamp("T", 7), 0);
}

TEST_F(MessageStoreReadTest, LooksUpByMessageIdAndByKey) {
  ASSERT_OK(AppendOne(*store_, MakeRecord("T", 0, "one", "", "order-1 user-9", "ID-A")).status());
  ASSERT_OK(AppendOne(*store_, MakeRecord("T", 1, "two", "", "order-1", "ID-B")).status());
  ASSERT_OK(AppendOne(*store_, MakeRecord("U", 0, "three", "", "order-1", "ID-C")).status());
  store_->WaitForDispatch();
  ASSERT_OK_AND_ASSIGN(std::string raw, store_->LookupByMessageId("ID-B"));
  RecordView v;
  ASSERT_EQ(DecodeRecord(raw, true, &v), DecodeOutcome::kRecord);
  EXPECT_EQ(v.body, "two");
  EXPECT_EQ(store_->LookupByMessageId("nope").status().code(), StatusCode::kNotFound);
  auto by_key = store_->QueryByKey("T", "order-1", 10);
  ASSERT_EQ(by_key.size(), 2u);
  ASSERT_EQ(DecodeRecord(by_key[0], true, &v), DecodeOutcome::kRecord);
  EXPECT_EQ(v.body, "two");  // newest first
  EXPECT_EQ(store_->QueryByKey("T", "user-9", 10).size(), 1u);
  EXPECT_EQ(store_->QueryByKey("U", "order-1", 10).size(), 1u);
}

// Queue entries are written by the appending thread, so a record is readable as soon as its
// append is acknowledged; the id and key indexes follow in batches, and a lookup waits for them.
TEST_F(MessageStoreReadTest, RecordIsReadableAndFindableRightAfterItsAppend) {
  for (int i = 0; i < 20; ++i) {
    const std::string id = "ID-NOW-" + std::to_string(i);
    ASSERT_OK(AppendOne(*store_, MakeRecord("T", 3, std::to_string(i), "", "key-" + std::to_string(i), id)).status());
    auto r = store_->GetMessages("T", 3, QueueOffset(i), 1, 1 << 20, nullptr);
    ASSERT_EQ(r.outcome, GetOutcome::kFound) << i;
    RecordView v;
    ASSERT_EQ(DecodeRecord(r.records.at(0), true, &v), DecodeOutcome::kRecord);
    EXPECT_EQ(v.body, std::to_string(i));
    EXPECT_TRUE(store_->LookupByMessageId(id).ok()) << id;
    EXPECT_EQ(store_->QueryByKey("T", "key-" + std::to_string(i), 10).size(), 1u);
  }
  EXPECT_EQ(store_->stats().dispatched_offset, store_->stats().max_physical_offset);
}

// Each appender dispatches its own records from the bytes it just wrote (not the mapping), and
// whatever other appenders left in between from the mapping; the key index keeps copies of keys
// read from an appender's bytes, which the appender reuses at once. Every record must still be
// readable in its queue, findable by id and by key.
TEST_F(MessageStoreReadTest, ConcurrentAppendersDispatchTheirOwnAndEachOthersRecords) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 150;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string n = std::to_string(t) + "-" + std::to_string(i);
        ASSERT_OK(AppendOne(*store_, MakeRecord("T", static_cast<uint32_t>(t), "body-" + n, "", "key-" + n, "ID-" + n))
                      .status());
      }
    });
  }
  for (auto& th : threads) th.join();
  store_->WaitForDispatch();
  for (int t = 0; t < kThreads; ++t) {
    auto r = store_->GetMessages("T", static_cast<uint32_t>(t), QueueOffset(0), kPerThread, 64 << 20, nullptr);
    ASSERT_EQ(r.outcome, GetOutcome::kFound);
    ASSERT_EQ(r.records.size(), static_cast<size_t>(kPerThread));
    for (int i = 0; i < kPerThread; ++i) {
      const std::string n = std::to_string(t) + "-" + std::to_string(i);
      RecordView v;
      ASSERT_EQ(DecodeRecord(r.records[static_cast<size_t>(i)], true, &v), DecodeOutcome::kRecord);
      EXPECT_EQ(v.body, "body-" + n);
      EXPECT_TRUE(store_->LookupByMessageId("ID-" + n).ok()) << n;
      auto by_key = store_->QueryByKey("T", "key-" + n, 10);
      ASSERT_EQ(by_key.size(), 1u) << n;
      ASSERT_EQ(DecodeRecord(by_key[0], true, &v), DecodeOutcome::kRecord);
      EXPECT_EQ(v.body, "body-" + n);
    }
  }
}

TEST_F(MessageStoreReadTest, KeyIndexIsBoundedPerKey) {
  store_.reset();
  auto o = SmallOptions(dir_.str());
  o.key_index_max_per_key = 5;
  store_ = OpenStore(o);
  for (int i = 0; i < 12; ++i) ASSERT_OK(AppendOne(*store_, MakeRecord("T", 0, std::to_string(i), "", "k")).status());
  store_->WaitForDispatch();
  auto got = store_->QueryByKey("T", "k", 100);
  ASSERT_EQ(got.size(), 5u);
  RecordView v;
  ASSERT_EQ(DecodeRecord(got[0], true, &v), DecodeOutcome::kRecord);
  EXPECT_EQ(v.body, "11");
}

// The keys of a hash-keyed topic go to the id index on the append path: found at once, by key,
// only in that topic, newest first, across a restart; they never make an id lookup find the
// wrong record.
TEST_F(MessageStoreReadTest, KeysOfHashKeyedTopicsAreFoundThroughTheIdIndex) {
  store_.reset();
  auto o = SmallOptions(dir_.str());
  o.hash_keyed_topics = {"H"};
  store_ = OpenStore(o);
  ASSERT_OK(AppendOne(*store_, MakeRecord("H", 0, "h1", "", "a b", "ID-H1")).status());
  ASSERT_OK(AppendOne(*store_, MakeRecord("T", 0, "t1", "", "a", "ID-T1")).status());
  ASSERT_OK(AppendOne(*store_, MakeRecord("H", 0, "h2", "", "b", "ID-H2")).status());
  ASSERT_OK(AppendOne(*store_, MakeRecord("H", 0, "h3", "", "a", "ID-H3")).status());
  auto bodies = [&](std::string_view topic, std::string_view key, int max) {
    std::vector<std::string> out;
    for (const std::string& raw : store_->QueryByKey(topic, key, max)) {
      RecordView v;
      EXPECT_EQ(DecodeRecord(raw, true, &v), DecodeOutcome::kRecord);
      out.emplace_back(v.body);
    }
    return out;
  };
  for (int pass = 0; pass < 2; ++pass) {
    SCOPED_TRACE(pass == 0 ? "before the restart" : "after the restart");
    EXPECT_EQ(bodies("H", "a", 10), (std::vector<std::string>{"h3", "h1"}));
    EXPECT_EQ(bodies("H", "b", 10), (std::vector<std::string>{"h2", "h1"}));
    EXPECT_EQ(bodies("H", "a", 1), (std::vector<std::string>{"h3"}));
    EXPECT_TRUE(bodies("H", "c", 10).empty());
    EXPECT_TRUE(bodies("H", "ID-H", 10).empty());
    EXPECT_EQ(bodies("T", "a", 10), (std::vector<std::string>{"t1"}));  // the key index, as before
    // An id lookup compares ids: the key "a" is no message's id.
    EXPECT_EQ(store_->LookupByMessageId("a").status().code(), StatusCode::kNotFound);
    ASSERT_OK_AND_ASSIGN(std::string raw, store_->LookupByMessageId("ID-H2"));
    RecordView v;
    ASSERT_EQ(DecodeRecord(raw, true, &v), DecodeOutcome::kRecord);
    EXPECT_EQ(v.body, "h2");
    store_.reset();
    store_ = OpenStore(o);
  }
}

TEST_F(MessageStoreReadTest, DispatchListenersSeeRecordsInOrder) {
  store_.reset();
  struct Listener : DispatchListener {
    std::vector<PhysicalOffset> offsets;
    std::mutex mu;
    void OnDispatch(const DispatchedRecord& r) override {
      std::lock_guard lock(mu);
      offsets.push_back(r.physical_offset);
    }
  } listener;
  auto opened = DefaultMessageStore::OpenImpl(SmallOptions(dir_.str()));
  ASSERT_TRUE(opened.ok());
  auto store = std::move(*opened);
  store->AddDispatchListener(&listener);
  std::vector<PhysicalOffset> expected;
  for (int i = 0; i < 50; ++i) {
    ASSERT_OK_AND_ASSIGN(auto r, AppendOne(*store, MakeRecord("T", i % 3, "m")));
    expected.push_back(r.records[0].physical_offset);
  }
  store->WaitForDispatch();
  store->Shutdown();
  EXPECT_EQ(listener.offsets, expected);
}

TEST_F(MessageStoreReadTest, DeleteTopicQueuesDropsTheQueues) {
  ASSERT_OK(AppendOne(*store_, MakeRecord("T", 0, "m")).status());
  store_->WaitForDispatch();
  store_->DeleteTopicQueues("T");
  EXPECT_EQ(store_->MaxQueueOffset("T", 0), QueueOffset(0));
  EXPECT_NE(store_->GetMessages("T", 0, QueueOffset(0), 10, 1 << 20, nullptr).outcome, GetOutcome::kFound);
}

TEST_F(MessageStoreReadTest, MetaStoreKeepsTopicsGroupsOffsetsAndState) {
  MetaStore& meta = store_->meta();
  ASSERT_OK(meta.PutTopic(TopicConfig{"T", 8, 4, 6, 3}));
  auto t = meta.GetTopic("T");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->write_queues, 4);
  EXPECT_EQ(t->message_type, 3);
  ASSERT_OK(meta.PutGroup(GroupConfig{"G", true, 5, false}));
  auto g = meta.GetGroup("G");
  ASSERT_TRUE(g.has_value());
  EXPECT_TRUE(g->broadcast);
  EXPECT_EQ(g->max_retries, 5);
  EXPECT_FALSE(g->consume_enable);
  ASSERT_OK(meta.CommitOffset("G", "T", 3, QueueOffset(42)));
  ASSERT_OK(meta.CommitOffset("G", "T", 1, QueueOffset(7)));
  EXPECT_EQ(meta.QueryOffset("G", "T", 3).value_or(QueueOffset(-1)), QueueOffset(42));
  EXPECT_FALSE(meta.QueryOffset("G", "T", 2).has_value());
  auto all = meta.GroupOffsets("G");
  EXPECT_EQ(all.size(), 2u);
  EXPECT_EQ((all[{"T", 1}]), QueueOffset(7));
  ASSERT_OK(meta.PutState("tx/1", "a"));
  ASSERT_OK(meta.PutState("tx/2", "b"));
  ASSERT_OK(meta.PutState("ty/1", "c"));
  std::vector<std::string> seen;
  meta.ScanState("tx/", [&](std::string_view k, std::string_view) {
    seen.emplace_back(k);
    return true;
  });
  EXPECT_EQ(seen, (std::vector<std::string>{"tx/1", "tx/2"}));
  ASSERT_OK(meta.DeleteState("tx/1"));
  EXPECT_FALSE(meta.GetState("tx/1").has_value());
  store_.reset();
  store_ = OpenStore(SmallOptions(dir_.str()));
  EXPECT_EQ(store_->meta().ListTopics().size(), 1u);
  EXPECT_EQ(store_->meta().ListGroups().size(), 1u);
  EXPECT_EQ(store_->meta().QueryOffset("G", "T", 3).value_or(QueueOffset(-1)), QueueOffset(42));
  ASSERT_OK(store_->meta().DeleteTopic("T"));
  EXPECT_FALSE(store_->meta().GetTopic("T").has_value());
}

TEST(StoreOptionsTest, ReadsRocketMqKeys) {
  ASSERT_OK_AND_ASSIGN(Config c, Config::Parse("flushDiskType=SYNC_FLUSH\nmappedFileSizeCommitLog=4m\n"
                                               "mappedFileSizeConsumeQueue=6000\nflushIntervalCommitLog=200\n"
                                               "flushCommitLogLeastPages=8\nsyncFlushTimeout=3000\n"
                                               "fileReservedTime=24\ndiskMaxUsedSpaceRatio=80\n"
                                               "storeSizeLimit=1g\nmaxMessageSize=1m\nstorePathRootDir=/x\n",
                                               "test"));
  ASSERT_OK_AND_ASSIGN(StoreOptions o, StoreOptions::FromConfig(c));
  EXPECT_EQ(o.flush_disk_type, FlushDiskType::kSync);
  EXPECT_EQ(o.commitlog_segment_size, 4 << 20);
  EXPECT_EQ(o.consume_queue_segment_size, 6000);
  EXPECT_EQ(o.flush_interval_ms, 200);
  EXPECT_EQ(o.flush_least_pages, 8);
  EXPECT_EQ(o.sync_flush_timeout_ms, 3000);
  EXPECT_EQ(o.file_reserved_hours, 24);
  EXPECT_EQ(o.disk_max_used_space_ratio, 80);
  EXPECT_EQ(o.store_size_limit, 1LL << 30);
  EXPECT_EQ(o.max_message_size, 1 << 20);
  EXPECT_EQ(o.root_dir, "/x");
  ASSERT_OK_AND_ASSIGN(Config bad, Config::Parse("flushDiskType=SOMETIMES\n", "test"));
  EXPECT_FALSE(StoreOptions::FromConfig(bad).ok());
}

}  // namespace
}  // namespace vela::store
