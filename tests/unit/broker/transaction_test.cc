// The transaction stage, END_TRANSACTION and the TransactionService over a real store: commit,
// rollback, every idempotency case, restarts and the crash windows of the service's class comment.
#include <chrono>
#include <future>
#include <map>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "broker/transaction/transaction_admission.h"
#include "broker/transaction/transaction_processor.h"
#include "broker/transaction/transaction_service.h"
#include "common/clock.h"
#include "common/coding.h"
#include "net/wire_status.h"
#include "store/message_store.h"
#include "support/test_support.h"
#include "unit/store/store_test_util.h"

namespace vela::broker::transaction {
namespace {

using namespace std::chrono_literals;

// One message of a queue as a consumer would read it.
struct Read {
  std::string msg_id;
  std::string properties;
  uint32_t flags = 0;
  uint32_t queue = 0;
};

class TransactionTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void TearDown() override { Close(); }

  void Open() {
    store_ = store::testing::OpenStore(store::testing::SmallOptions(dir_.str()));
    ASSERT_NE(store_, nullptr);
    topics_ = std::make_unique<TopicManager>(store_->meta());
    if (!topics_->GetTopic("orders")) {
      store::TopicConfig orders;
      orders.name = "orders";
      orders.read_queues = orders.write_queues = 4;
      ASSERT_OK(topics_->UpsertTopic(orders));
    }
    service_ = std::make_unique<TransactionService>(*store_, *topics_, options_, &metrics_);
    service_->SetCheckSender([this](const v1::CheckTransactionRequest& req, std::string body) {
      std::lock_guard lock(checks_mu_);
      if (!producer_connected_) return false;
      checks_.push_back({req, std::move(body)});
      return true;
    });
    admission_ = std::make_unique<TransactionAdmission>(*service_);
    processor_ = std::make_unique<TransactionProcessor>(*service_);
    ASSERT_OK(service_->Start());
  }

  // Stops everything. What a kill -9 leaves differs only in the checkpoint, which the store's own
  // recovery tests cover; the service writes nothing at Stop (what it has not saved yet it reads
  // again at the next start), so its state is as a crash leaves it.
  void Close() {
    if (service_) service_->Stop();
    if (store_) store_->Shutdown();
    processor_.reset();
    admission_.reset();
    service_.reset();
    topics_.reset();
    store_.reset();
  }

  static std::string Record(const std::string& id, const Properties& props, uint32_t queue = 1) {
    const std::string encoded = EncodeProperties(props);
    RecordFields f;
    f.topic = "orders";
    f.queue_id = queue;
    f.msg_id = id;
    f.properties = encoded;
    const std::string body = "body of " + id;
    f.body = body;
    std::string raw;
    EncodeRecord(f, &raw);
    return raw;
  }

  // Runs a record through the stage as the send processor does.
  Status Admit(const std::string& raw, uint32_t queue, Admission* a) {
    RecordView view;
    EXPECT_EQ(DecodeRecord(raw, true, &view), DecodeOutcome::kRecord);
    return admission_->Admit(view, queue, NowEpochMs(), a);
  }

  // Sends a transactional message of `group`; returns the half record's commit-log offset.
  int64_t SendHalf(const std::string& id, const std::string& group = "pg", uint32_t queue = 1) {
    const std::string raw = Record(id, {{"TRAN_MSG", "true"}, {"PGROUP", group}, {"KEYS", "k-" + id}}, queue);
    Admission a;
    EXPECT_OK(Admit(raw, queue, &a));
    EXPECT_FALSE(a.rewritten.empty());
    auto appended = store::testing::AppendOne(*store_, a.rewritten);
    EXPECT_TRUE(appended.ok());
    return appended.ok() ? appended->records[0].physical_offset.value() : -1;
  }

  // Sends message `id` of transaction `txn` (group pg).
  int64_t SendMember(const std::string& txn, const std::string& id, uint32_t queue = 0,
                     const Properties& extra = {}) {
    Properties props = {{"TRAN_MSG", "true"}, {"PGROUP", "pg"}, {"__transactionId__", txn}};
    props.insert(props.end(), extra.begin(), extra.end());
    Admission a;
    EXPECT_OK(Admit(Record(id, props, queue), queue, &a));
    auto appended = store::testing::AppendOne(*store_, a.rewritten);
    EXPECT_TRUE(appended.ok());
    return appended.ok() ? appended->records[0].physical_offset.value() : -1;
  }

  Result<v1::EndTransactionResponse> End(const std::string& group, const std::string& id, int64_t offset,
                                         v1::TransactionResolution resolution) {
    return EndMany(group, id, {offset}, resolution);
  }
  Result<v1::EndTransactionResponse> EndMany(const std::string& group, const std::string& id,
                                             std::vector<int64_t> offsets, v1::TransactionResolution resolution,
                                             bool by_operator = false) {
    std::promise<Result<v1::EndTransactionResponse>> p;
    auto f = p.get_future();
    EndTransactionRequest r;
    r.producer_group = group;
    r.transaction_id = id;
    r.half_offsets = std::move(offsets);
    r.resolution = resolution;
    r.by_operator = by_operator;
    service_->EndTransaction(std::move(r), [&p](Result<v1::EndTransactionResponse> result) {
      p.set_value(std::move(result));
    });
    EXPECT_EQ(f.wait_for(20s), std::future_status::ready);
    return f.get();
  }

  // Waits until the service has saved its reading of the half queue up to `queue_offset`
  // (SaveHalves, a second or two after the last read).
  void WaitHalvesSaved(int64_t queue_offset) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    for (;;) {
      auto saved = store_->meta().GetState("txn/half_ingest");
      if (saved && saved->size() == 8 && static_cast<int64_t>(coding::GetFixed64(saved->data())) >= queue_offset) {
        return;
      }
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the half queue's reading was not saved";
      std::this_thread::sleep_for(50ms);
    }
  }

  // Hands `h` (as a `code` request) to the processor and waits for its reply: status and header.
  std::pair<Status, v1::Header> CallProcessor(v1::RequestCode code, v1::Header h) {
    std::promise<std::pair<Status, v1::Header>> p;
    auto f = p.get_future();
    h.set_code(code);
    net::RequestContext rc(
        [&p](Status s, v1::Header resp, net::OutBody) { p.set_value({std::move(s), std::move(resp)}); }, h);
    net::Frame frame;
    frame.header = h;
    if (code == v1::END_TRANSACTION_BATCH) {
      processor_->EndTransactionBatch(rc, frame);
    } else {
      processor_->EndTransaction(rc, frame);
    }
    EXPECT_EQ(f.wait_for(20s), std::future_status::ready);
    return f.get();
  }

  // Every record of a queue from offset 0.
  std::vector<Read> ReadQueue(std::string_view topic, uint32_t queue) {
    std::vector<Read> out;
    store_->WaitForDispatch();
    store::QueueOffset from(0);
    for (;;) {
      auto got = store_->GetMessages(topic, queue, from, 256, 1 << 20, nullptr);
      for (std::string_view raw : got.records) {
        RecordView v;
        EXPECT_EQ(DecodeRecord(raw, true, &v), DecodeOutcome::kRecord);
        out.push_back({std::string(v.msg_id), std::string(v.properties), v.flags, v.queue_id});
      }
      if (got.outcome != store::GetOutcome::kFound || got.next_begin_offset <= from) break;
      from = got.next_begin_offset;
    }
    return out;
  }
  std::vector<Read> ReadOrders() {
    std::vector<Read> all;
    store_->WaitForDispatch();  // the dispatcher indexes asynchronously
    for (uint32_t q = 0; q < 4; ++q) {
      for (auto& r : ReadQueue("orders", q)) all.push_back(std::move(r));
    }
    return all;
  }
  size_t CountOf(const std::string& id) {
    size_t n = 0;
    for (const Read& r : ReadOrders()) n += r.msg_id == id;
    return n;
  }

  // Expects the retention floor to clear: nothing pending holds the log back. The service thread
  // recomputes it at the end of the round that resolved or discarded the last transaction, a
  // moment after the counters moved, so this waits (up to 10 s) for it.
  void ExpectFloorCleared() {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (service_->RetentionFloor() != INT64_MAX && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(2ms);
    }
    EXPECT_EQ(service_->RetentionFloor(), INT64_MAX);
  }

  void WaitPending(int64_t n) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (service_->stats().pending != n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(2ms);
    }
    ASSERT_EQ(service_->stats().pending, n);
  }

  // Plays a crash by hand on a store opened without the service: `fn` gets the store and the
  // half record at `offset`.
  void Offline(int64_t offset, const std::function<void(store::MessageStore&, const RecordView&, std::string&)>& fn) {
    Close();
    auto opened = store::testing::OpenStore(store::testing::SmallOptions(dir_.str()));
    ASSERT_NE(opened, nullptr);
    auto raw = opened->ReadRecordAt(store::PhysicalOffset(offset));
    ASSERT_TRUE(raw.ok());
    RecordView view;
    ASSERT_EQ(DecodeRecord(*raw, true, &view), DecodeOutcome::kRecord);
    std::string copy = *raw;
    fn(*opened, view, copy);
    opened->Shutdown();
    opened.reset();
    Open();
  }
  static void PutMarker(store::MessageStore& s) {
    std::string marker;
    coding::AppendFixed64(&marker, static_cast<uint64_t>(s.stats().max_physical_offset.value()));
    ASSERT_OK(s.meta().PutState("txn/inflight", marker));
  }
  static std::string Committed(const RecordView& half_view) {
    auto half = ParseHalfRecord(half_view);
    EXPECT_TRUE(half.ok());
    return EncodeCommittedRecord(half_view, *half, half->real_queue);
  }

  // Waits until at least n check-backs were sent; returns them.
  std::vector<std::pair<v1::CheckTransactionRequest, std::string>> WaitChecks(size_t n) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    for (;;) {
      {
        std::lock_guard lock(checks_mu_);
        if (checks_.size() >= n || std::chrono::steady_clock::now() > deadline) return checks_;
      }
      service_->CheckNowForTesting();
      std::this_thread::sleep_for(5ms);
    }
  }

  vela::testing::TempDir dir_;
  metrics::MetricsRegistry registry_;
  metrics::BrokerMetrics metrics_{registry_};
  std::mutex checks_mu_;
  bool producer_connected_ = true;  // GUARDED_BY(checks_mu_)
  std::vector<std::pair<v1::CheckTransactionRequest, std::string>> checks_;  // GUARDED_BY(checks_mu_)
  TransactionOptions options_;
  std::unique_ptr<store::DefaultMessageStore> store_;
  std::unique_ptr<TopicManager> topics_;
  std::unique_ptr<TransactionService> service_;
  std::unique_ptr<TransactionAdmission> admission_;
  std::unique_ptr<TransactionProcessor> processor_;
};

bool Has(std::string_view properties, std::string_view key, std::string_view want) {
  std::string_view v;
  return FindProperty(properties, key, &v) && v == want;
}

TEST_F(TransactionTest, StageRewritesTransactionalMessagesIntoTheHalfTopic) {
  Admission a;
  ASSERT_OK(Admit(Record("A", {{"TRAN_MSG", "true"}, {"PGROUP", "pg"}}), 3, &a));
  ASSERT_FALSE(a.rewritten.empty());
  RecordView half;
  ASSERT_EQ(DecodeRecord(a.rewritten, true, &half), DecodeOutcome::kRecord);
  EXPECT_EQ(half.topic, kHalfTopic);
  EXPECT_EQ(half.queue_id, 0u);
  EXPECT_EQ(half.msg_id, "A");
  EXPECT_EQ(half.body, "body of A");
  EXPECT_EQ(half.flags, record::kFlagTransactionPrepared);
  EXPECT_TRUE(Has(half.properties, "REAL_TOPIC", "orders"));
  EXPECT_TRUE(Has(half.properties, "REAL_QID", "3"));
  EXPECT_TRUE(Has(half.properties, "PGROUP", "pg"));
  // Created on demand, write-only: no client can pull them.
  auto topic = topics_->GetTopic(std::string(kHalfTopic));
  ASSERT_TRUE(topic.has_value());
  EXPECT_EQ(topic->perm, 2);
  ASSERT_TRUE(topics_->GetTopic(std::string(kOpTopic)).has_value());

  // Plain messages, and TRAN_MSG=false, are left alone.
  Admission plain;
  ASSERT_OK(Admit(Record("B", {{"KEYS", "x"}}), 1, &plain));
  EXPECT_TRUE(plain.rewritten.empty());
  ASSERT_OK(Admit(Record("C", {{"TRAN_MSG", "false"}}), 1, &plain));
  EXPECT_TRUE(plain.rewritten.empty());
}

TEST_F(TransactionTest, StageRefusesTimersOnTransactionalMessagesAndBadProperties) {
  for (const char* timer : {"TIMER_DELAY_MS", "TIMER_DELIVER_MS", "TIMER_DELAY_SEC", "DELAY"}) {
    Admission a;
    Status s = Admit(Record("A", {{"TRAN_MSG", "true"}, {"PGROUP", "pg"}, {timer, "5"}}), 1, &a);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << timer;
    EXPECT_NE(s.message().find("cannot also be a timer message"), std::string_view::npos) << s.ToString();
    EXPECT_NE(s.message().find(timer), std::string_view::npos) << s.ToString();
  }
  Admission a;
  Status no_group = Admit(Record("A", {{"TRAN_MSG", "true"}}), 1, &a);
  EXPECT_EQ(no_group.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(no_group.message().find("PGROUP"), std::string_view::npos) << no_group.ToString();
  Status bad_value = Admit(Record("A", {{"TRAN_MSG", "yes"}, {"PGROUP", "pg"}}), 1, &a);
  EXPECT_EQ(bad_value.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_value.message().find("'yes'"), std::string_view::npos) << bad_value.ToString();
  EXPECT_TRUE(a.rewritten.empty());
}

TEST_F(TransactionTest, CommitPublishesOnceWithTheSameIdAndWritesAnOpRecord) {
  const int64_t offset = SendHalf("A", "pg", 2);
  WaitPending(1);
  EXPECT_TRUE(ReadOrders().empty());  // invisible until committed
  auto r = End("pg", "A", offset, v1::TX_COMMIT);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->outcome(), v1::TX_END_COMMITTED);
  EXPECT_EQ(r->transaction_id(), "A");
  auto got = ReadOrders();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].msg_id, "A");
  EXPECT_EQ(got[0].queue, 2u);
  EXPECT_EQ(got[0].flags, record::kFlagTransactionCommit);
  EXPECT_TRUE(Has(got[0].properties, "ORIGIN_OFFSET", std::to_string(offset)));
  EXPECT_TRUE(Has(got[0].properties, "KEYS", "k-A"));
  std::string_view ignored;
  EXPECT_FALSE(FindProperty(got[0].properties, "REAL_TOPIC", &ignored));
  EXPECT_FALSE(FindProperty(got[0].properties, "REAL_QID", &ignored));
  EXPECT_FALSE(FindProperty(got[0].properties, "TRAN_MSG", &ignored));  // a plain message to its consumers
  EXPECT_TRUE(Has(got[0].properties, "PGROUP", "pg"));
  auto ops = ReadQueue(kOpTopic, 0);
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_TRUE(Has(ops[0].properties, "TRAN_OP_RESOLUTION", "commit"));
  EXPECT_TRUE(Has(ops[0].properties, "TRAN_HALF_OFFSET", std::to_string(offset)));
  const auto stats = service_->stats();
  EXPECT_EQ(stats.pending, 0);
  EXPECT_EQ(stats.committed, 1);
  ExpectFloorCleared();
}

TEST_F(TransactionTest, RollbackWritesAnOpRecordOnly) {
  const int64_t offset = SendHalf("A");
  WaitPending(1);
  auto r = End("pg", "A", offset, v1::TX_ROLLBACK);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->outcome(), v1::TX_END_ROLLED_BACK);
  EXPECT_TRUE(ReadOrders().empty());
  auto ops = ReadQueue(kOpTopic, 0);
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_TRUE(Has(ops[0].properties, "TRAN_OP_RESOLUTION", "rollback"));
  EXPECT_EQ(service_->stats().pending, 0);
  EXPECT_EQ(service_->stats().rolled_back, 1);
}

TEST_F(TransactionTest, EveryLaterResolutionGetsAClearAnswerAndChangesNothing) {
  const int64_t a = SendHalf("A");
  const int64_t b = SendHalf("B");
  WaitPending(2);
  ASSERT_EQ(End("pg", "A", a, v1::TX_COMMIT)->outcome(), v1::TX_END_COMMITTED);
  ASSERT_EQ(End("pg", "B", b, v1::TX_ROLLBACK)->outcome(), v1::TX_END_ROLLED_BACK);

  // Commit twice; rollback twice: the first outcome, reported as already taken.
  auto again = End("pg", "A", a, v1::TX_COMMIT);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->outcome(), v1::TX_END_ALREADY_COMMITTED);
  auto again_b = End("pg", "B", b, v1::TX_ROLLBACK);
  ASSERT_TRUE(again_b.ok());
  EXPECT_EQ(again_b->outcome(), v1::TX_END_ALREADY_ROLLED_BACK);
  // The other way: refused, saying what happened.
  auto rollback_after_commit = End("pg", "A", a, v1::TX_ROLLBACK);
  EXPECT_EQ(rollback_after_commit.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(rollback_after_commit.status().message().find("already committed"), std::string_view::npos);
  auto commit_after_rollback = End("pg", "B", b, v1::TX_COMMIT);
  EXPECT_EQ(commit_after_rollback.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(commit_after_rollback.status().message().find("already rolled back"), std::string_view::npos);
  // Unknown after a resolution: what was decided.
  EXPECT_EQ(End("pg", "A", a, v1::TX_UNKNOWN)->outcome(), v1::TX_END_ALREADY_COMMITTED);
  // Another group's message, resolved or not.
  const int64_t c = SendHalf("C");
  auto other = End("other", "A", a, v1::TX_COMMIT);
  EXPECT_EQ(other.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(other.status().message().find("belongs to producer group pg"), std::string_view::npos);
  auto other_pending = End("other", "C", c, v1::TX_ROLLBACK);
  EXPECT_EQ(other_pending.status().code(), StatusCode::kPermissionDenied);
  // Unknown half messages: a wrong offset, a wrong id, an offset past the log.
  EXPECT_EQ(End("pg", "C", c + 1, v1::TX_COMMIT).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(End("pg", "X", c, v1::TX_COMMIT).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(End("pg", "X", a, v1::TX_COMMIT).status().code(), StatusCode::kNotFound);
  auto far = End("pg", "C", 1LL << 40, v1::TX_COMMIT);
  EXPECT_EQ(far.status().code(), StatusCode::kNotFound);
  EXPECT_NE(far.status().message().find("transaction C"), std::string_view::npos) << far.status().ToString();
  // TX_UNKNOWN leaves a pending one pending.
  EXPECT_EQ(End("pg", "C", c, v1::TX_UNKNOWN)->outcome(), v1::TX_END_LEFT_PENDING);
  WaitPending(1);

  auto got = ReadOrders();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].msg_id, "A");
  EXPECT_EQ(ReadQueue(kOpTopic, 0).size(), 2u);
  EXPECT_EQ(service_->stats().committed, 1);
  EXPECT_EQ(service_->stats().rolled_back, 1);
}

TEST_F(TransactionTest, RacingResolutionsTakeEffectExactlyOnce) {
  const int64_t offset = SendHalf("A");
  // Half commit, half rollback, from many threads at once, before or after the half record was read.
  std::vector<std::future<Result<v1::EndTransactionResponse>>> answers;
  for (int i = 0; i < 16; ++i) {
    answers.push_back(std::async(std::launch::async, [&, i] {
      return End("pg", "A", offset, i % 2 == 0 ? v1::TX_COMMIT : v1::TX_ROLLBACK);
    }));
  }
  int took_effect = 0, already = 0, refused = 0;
  bool committed = false;
  for (auto& f : answers) {
    auto r = f.get();
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status().ToString();
      ++refused;
    } else if (r->outcome() == v1::TX_END_COMMITTED || r->outcome() == v1::TX_END_ROLLED_BACK) {
      committed = r->outcome() == v1::TX_END_COMMITTED;
      ++took_effect;
    } else {
      ++already;
    }
  }
  EXPECT_EQ(took_effect, 1);
  EXPECT_EQ(already + refused, 15);
  EXPECT_EQ(CountOf("A"), committed ? 1u : 0u);
  EXPECT_EQ(ReadQueue(kOpTopic, 0).size(), 1u);
  WaitPending(0);
}

TEST_F(TransactionTest, PendingHalfMessagesSurviveARestartAndResolveOnce) {
  const int64_t a = SendHalf("A");
  const int64_t b = SendHalf("B");
  const int64_t c = SendHalf("C");
  WaitPending(3);
  ASSERT_EQ(End("pg", "B", b, v1::TX_COMMIT)->outcome(), v1::TX_END_COMMITTED);
  Close();
  options_.timeout_ms = 1;
  Open();
  EXPECT_EQ(service_->stats().pending, 2);
  EXPECT_NE(service_->RetentionFloor(), INT64_MAX);
  EXPECT_LE(service_->RetentionFloor(), a);
  // Oldest first, as TRANSACTION_LIST shows them.
  bool truncated = true;
  auto listed = service_->List(10, &truncated);
  EXPECT_FALSE(truncated);
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].transaction_id, "A");
  EXPECT_EQ(listed[0].producer_group, "pg");
  EXPECT_EQ(listed[0].topics, std::vector<std::string>{"orders"});
  EXPECT_EQ(listed[0].message_count, 1);
  EXPECT_FALSE(listed[0].discarded);
  EXPECT_EQ(listed[1].transaction_id, "C");
  EXPECT_EQ(service_->List(1, &truncated).size(), 1u);
  EXPECT_TRUE(truncated);
  EXPECT_EQ(End("pg", "B", b, v1::TX_COMMIT)->outcome(), v1::TX_END_ALREADY_COMMITTED);
  EXPECT_EQ(End("pg", "A", a, v1::TX_COMMIT)->outcome(), v1::TX_END_COMMITTED);
  EXPECT_EQ(End("pg", "C", c, v1::TX_ROLLBACK)->outcome(), v1::TX_END_ROLLED_BACK);
  EXPECT_EQ(CountOf("A"), 1u);
  EXPECT_EQ(CountOf("B"), 1u);
  EXPECT_EQ(CountOf("C"), 0u);
  WaitPending(0);
  ExpectFloorCleared();
}

// Crash window 2: the committed message reached the log, its op record did not.
TEST_F(TransactionTest, ACrashBetweenTheReputAndTheOpRecordPublishesNothingTwice) {
  const int64_t offset = SendHalf("A");
  WaitPending(1);
  Offline(offset, [](store::MessageStore& s, const RecordView& half, std::string&) {
    PutMarker(s);
    ASSERT_TRUE(store::testing::AppendOne(s, Committed(half)).ok());
  });
  EXPECT_EQ(service_->stats().pending, 0);  // settled at start
  EXPECT_EQ(CountOf("A"), 1u);
  auto ops = ReadQueue(kOpTopic, 0);
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_TRUE(Has(ops[0].properties, "TRAN_OP_RESOLUTION", "commit"));
  // The producer, which never got its answer, asks again.
  EXPECT_EQ(End("pg", "A", offset, v1::TX_COMMIT)->outcome(), v1::TX_END_ALREADY_COMMITTED);
  EXPECT_EQ(End("pg", "A", offset, v1::TX_ROLLBACK).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(CountOf("A"), 1u);
  // And again after one more restart: still settled, nothing added.
  Close();
  Open();
  EXPECT_EQ(service_->stats().pending, 0);
  EXPECT_EQ(CountOf("A"), 1u);
  EXPECT_EQ(ReadQueue(kOpTopic, 0).size(), 1u);
}

// Crash window 1: the marker was saved, nothing was appended.
TEST_F(TransactionTest, ACrashBeforeTheReputLeavesItPendingAndItCommitsOnce) {
  const int64_t offset = SendHalf("A");
  WaitPending(1);
  Offline(offset, [](store::MessageStore& s, const RecordView&, std::string&) { PutMarker(s); });
  EXPECT_EQ(service_->stats().pending, 1);
  EXPECT_EQ(CountOf("A"), 0u);
  EXPECT_EQ(End("pg", "A", offset, v1::TX_COMMIT)->outcome(), v1::TX_END_COMMITTED);
  EXPECT_EQ(End("pg", "A", offset, v1::TX_COMMIT)->outcome(), v1::TX_END_ALREADY_COMMITTED);
  EXPECT_EQ(CountOf("A"), 1u);
  Close();
  Open();
  EXPECT_EQ(service_->stats().pending, 0);
  EXPECT_EQ(CountOf("A"), 1u);
}

// Crash window 3: both records reached the log, the state batch did not (nor the op queue offset).
TEST_F(TransactionTest, ACrashAfterBothRecordsResolvesFromTheOpQueue) {
  const int64_t offset = SendHalf("A");
  WaitPending(1);
  Offline(offset, [offset](store::MessageStore& s, const RecordView& half, std::string&) {
    store::AppendRequest req;
    const std::string committed = Committed(half);
    OpRecord commit;
    commit.resolution = Resolution::kCommit;
    commit.half_offset = offset;
    commit.msg_id = commit.transaction_id = "A";
    commit.producer_group = "pg";
    const std::string op = EncodeOpRecord(commit, NowEpochMs());
    req.records = {committed, op};
    ASSERT_TRUE(s.AppendAndWait(std::move(req)).ok());
  });
  EXPECT_EQ(service_->stats().pending, 0);
  EXPECT_EQ(End("pg", "A", offset, v1::TX_COMMIT)->outcome(), v1::TX_END_ALREADY_COMMITTED);
  EXPECT_EQ(CountOf("A"), 1u);
  EXPECT_EQ(ReadQueue(kOpTopic, 0).size(), 1u);
}

// A resolution that arrives before the half record was read from the half queue (or a restart
// that finds a half record resolved but not yet indexed) never makes it pending again.
TEST_F(TransactionTest, AHalfMessageResolvedBeforeItWasIndexedStaysResolved) {
  const int64_t offset = SendHalf("A");
  ASSERT_EQ(End("pg", "A", offset, v1::TX_ROLLBACK)->outcome(), v1::TX_END_ROLLED_BACK);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(service_->stats().pending, 0);
  Close();
  Open();
  EXPECT_EQ(service_->stats().pending, 0);
  EXPECT_EQ(End("pg", "A", offset, v1::TX_ROLLBACK)->outcome(), v1::TX_END_ALREADY_ROLLED_BACK);
}

// Thousands of transactions, resolved in rounds of many requests at once (duplicates among
// them), across a restart: each committed message is published exactly once, nothing rolled back
// is, and the unresolved ones are still pending afterwards.
TEST_F(TransactionTest, ManyTransactionsAcrossARestartResolveExactlyOnce) {
  constexpr int kCount = 3000;
  std::vector<int64_t> offsets(kCount);
  for (int i = 0; i < kCount; ++i) offsets[i] = SendHalf(fmt::format("M{}", i), "pg", static_cast<uint32_t>(i % 4));
  auto resolve_all = [&](int from, int step, v1::TransactionResolution resolution, int copies) {
    std::vector<std::future<Result<v1::EndTransactionResponse>>> answers;
    for (int i = from; i < kCount; i += step) {
      for (int c = 0; c < copies; ++c) {
        auto p = std::make_shared<std::promise<Result<v1::EndTransactionResponse>>>();
        answers.push_back(p->get_future());
        EndTransactionRequest r{"pg", fmt::format("M{}", i), {offsets[i]}, resolution};
        service_->EndTransaction(std::move(r), [p](Result<v1::EndTransactionResponse> a) { p->set_value(std::move(a)); });
      }
    }
    int took_effect = 0;
    for (auto& f : answers) {
      auto a = f.get();
      EXPECT_TRUE(a.ok()) << a.status().ToString();
      if (a.ok() && (a->outcome() == v1::TX_END_COMMITTED || a->outcome() == v1::TX_END_ROLLED_BACK)) ++took_effect;
    }
    return took_effect;
  };
  EXPECT_EQ(resolve_all(0, 3, v1::TX_COMMIT, 2), kCount / 3);
  EXPECT_EQ(resolve_all(1, 3, v1::TX_ROLLBACK, 1), kCount / 3);
  WaitPending(kCount / 3);
  WaitHalvesSaved(kCount);  // so the restart reads none of them again: resolutions must come from txn/r
  Close();
  Open();
  EXPECT_EQ(service_->stats().pending, kCount / 3);
  EXPECT_EQ(resolve_all(2, 3, v1::TX_COMMIT, 1), kCount / 3);
  EXPECT_EQ(resolve_all(0, 3, v1::TX_COMMIT, 1), 0);  // already committed before the restart
  WaitPending(0);
  std::map<std::string, int> seen;
  for (const Read& r : ReadOrders()) ++seen[r.msg_id];
  EXPECT_EQ(seen.size(), static_cast<size_t>(2 * kCount / 3));
  for (int i = 0; i < kCount; ++i) {
    const auto it = seen.find(fmt::format("M{}", i));
    if (i % 3 == 1) {
      EXPECT_TRUE(it == seen.end()) << i;
    } else {
      ASSERT_TRUE(it != seen.end()) << i;
      EXPECT_EQ(it->second, 1) << i;
    }
  }
  EXPECT_EQ(ReadQueue(kOpTopic, 0).size(), static_cast<size_t>(kCount));
}

TEST_F(TransactionTest, ResolutionsOfHalfRecordsRetentionDeletedAreForgotten) {
  const int64_t a = SendHalf("A");
  const int64_t b = SendHalf("B");
  ASSERT_EQ(End("pg", "A", a, v1::TX_ROLLBACK)->outcome(), v1::TX_END_ROLLED_BACK);
  ASSERT_EQ(End("pg", "B", b, v1::TX_COMMIT)->outcome(), v1::TX_END_COMMITTED);
  EXPECT_EQ(service_->ForgetResolvedBefore(a), 0);
  EXPECT_EQ(service_->ForgetResolvedBefore(b), 1);  // as if retention had deleted A's half record
  EXPECT_EQ(End("pg", "B", b, v1::TX_COMMIT)->outcome(), v1::TX_END_ALREADY_COMMITTED);
  EXPECT_EQ(service_->stats().pending, 0);
}

TEST_F(TransactionTest, ProcessorAnswersEndTransactionIncludingCheckAnswers) {
  const int64_t offset = SendHalf("A");
  auto call = [&](v1::Header h) { return CallProcessor(v1::END_TRANSACTION, std::move(h)); };
  v1::Header empty;
  EXPECT_EQ(call(empty).first.code(), StatusCode::kInvalidArgument);
  v1::Header h;
  auto* req = h.mutable_end_transaction_request();
  req->set_producer_group("pg");
  req->set_transaction_id("A");
  req->add_half_physical_offsets(offset);
  req->set_resolution(v1::TX_COMMIT);
  req->set_from_check(true);
  auto done = call(h);
  ASSERT_TRUE(done.first.ok()) << done.first.ToString();
  EXPECT_EQ(done.second.end_transaction_response().outcome(), v1::TX_END_COMMITTED);
  EXPECT_EQ(done.second.end_transaction_response().transaction_id(), "A");
  auto dup = call(h);
  ASSERT_TRUE(dup.first.ok());
  EXPECT_EQ(dup.second.end_transaction_response().outcome(), v1::TX_END_ALREADY_COMMITTED);
  req->set_producer_group("");
  EXPECT_EQ(call(h).first.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CountOf("A"), 1u);
}

TEST_F(TransactionTest, ProcessorAnswersABatchOfEndTransactionsEachAsIfAlone) {
  const int64_t a = SendHalf("A");
  const int64_t b = SendHalf("B");
  auto call = [&](v1::Header h) { return CallProcessor(v1::END_TRANSACTION_BATCH, std::move(h)); };
  v1::Header empty;
  EXPECT_EQ(call(empty).first.code(), StatusCode::kInvalidArgument);  // no batch at all
  empty.mutable_end_transaction_batch_request();
  EXPECT_EQ(call(empty).first.code(), StatusCode::kInvalidArgument);  // an empty one
  v1::Header h;
  auto add = [&](const std::string& group, const std::string& id, int64_t offset, v1::TransactionResolution r) {
    auto* req = h.mutable_end_transaction_batch_request()->add_requests();
    req->set_producer_group(group);
    req->set_transaction_id(id);
    req->add_half_physical_offsets(offset);
    req->set_resolution(r);
  };
  add("pg", "A", a, v1::TX_COMMIT);
  add("pg", "A", a, v1::TX_COMMIT);     // the same again: already committed
  add("pg", "A", a, v1::TX_ROLLBACK);   // the other way: refused
  add("pg", "X", a, v1::TX_COMMIT);     // not a half message of X
  add("other", "B", b, v1::TX_COMMIT);  // another group's
  add("pg", "B", b, v1::TX_ROLLBACK);
  auto done = call(h);
  ASSERT_TRUE(done.first.ok()) << done.first.ToString();
  const auto& results = done.second.end_transaction_batch_response().results();
  ASSERT_EQ(results.size(), 6);
  auto code = [&](int i) { return net::FromWireStatus(results[i].status()).code(); };
  EXPECT_EQ(code(0), StatusCode::kOk);
  EXPECT_EQ(results[0].response().outcome(), v1::TX_END_COMMITTED);
  EXPECT_EQ(results[0].response().transaction_id(), "A");
  EXPECT_EQ(code(1), StatusCode::kOk);
  EXPECT_EQ(results[1].response().outcome(), v1::TX_END_ALREADY_COMMITTED);
  EXPECT_EQ(code(2), StatusCode::kFailedPrecondition);
  EXPECT_EQ(code(3), StatusCode::kNotFound);
  EXPECT_EQ(code(4), StatusCode::kPermissionDenied);
  EXPECT_EQ(code(5), StatusCode::kOk);
  EXPECT_EQ(results[5].response().outcome(), v1::TX_END_ROLLED_BACK);
  EXPECT_EQ(CountOf("A"), 1u);
  EXPECT_EQ(CountOf("B"), 0u);
  WaitPending(0);
}

// Half messages are indexed in the state column family late (write-behind): a transaction that
// ends before that never gets a txn/p entry, one that is still pending gets it, every entry goes
// when its transaction ends, and a crash before the save only means the half queue is read again.
TEST_F(TransactionTest, PendingEntriesAreWrittenLateAndOnlyForWhatStaysPending) {
  auto entries = [&](std::string_view prefix) {
    size_t n = 0;
    store_->meta().ScanState(prefix, [&](std::string_view, std::string_view) {
      ++n;
      return true;
    });
    return n;
  };
  const int64_t a = SendHalf("A");
  const int64_t b = SendHalf("B");
  const int64_t c = SendHalf("C");
  WaitPending(3);
  ASSERT_EQ(End("pg", "A", a, v1::TX_COMMIT)->outcome(), v1::TX_END_COMMITTED);
  EXPECT_LE(entries("txn/p/"), 2u);  // A's never (saved a second after the first read, if at all)
  Close();                            // as a crash before the save
  Open();                             // reads B and C again, and saves them
  EXPECT_EQ(service_->stats().pending, 2);
  EXPECT_EQ(entries("txn/p/"), 2u);
  EXPECT_EQ(End("pg", "A", a, v1::TX_COMMIT)->outcome(), v1::TX_END_ALREADY_COMMITTED);
  const int64_t d = SendHalf("D");
  ASSERT_EQ(End("pg", "D", d, v1::TX_ROLLBACK)->outcome(), v1::TX_END_ROLLED_BACK);  // maybe before it was read
  ASSERT_EQ(End("pg", "B", b, v1::TX_COMMIT)->outcome(), v1::TX_END_COMMITTED);
  ASSERT_EQ(End("pg", "C", c, v1::TX_ROLLBACK)->outcome(), v1::TX_END_ROLLED_BACK);
  WaitPending(0);
  EXPECT_EQ(entries("txn/p/"), 0u);
  EXPECT_EQ(entries("txn/c/"), 0u);
  EXPECT_EQ(entries("txn/r/"), 4u);
  Close();
  Open();
  EXPECT_EQ(service_->stats().pending, 0);
  EXPECT_EQ(End("pg", "D", d, v1::TX_ROLLBACK)->outcome(), v1::TX_END_ALREADY_ROLLED_BACK);
  EXPECT_EQ(End("pg", "B", b, v1::TX_ROLLBACK).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(CountOf("A"), 1u);
  EXPECT_EQ(CountOf("B"), 1u);
  EXPECT_EQ(CountOf("C"), 0u);
  EXPECT_EQ(CountOf("D"), 0u);
}

TEST_F(TransactionTest, AMultiMessageTransactionPublishesAllOrNothing) {
  const int64_t a1 = SendMember("T1", "T1");
  const int64_t a2 = SendMember("T1", "T1-b", 1);
  const int64_t a3 = SendMember("T1", "T1-c", 2);
  const int64_t b1 = SendMember("T2", "T2");
  const int64_t b2 = SendMember("T2", "T2-b", 3);
  WaitPending(5);
  bool truncated = false;
  auto listed = service_->List(10, &truncated);
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].transaction_id, "T1");
  EXPECT_EQ(listed[0].message_count, 3);
  // The producer names the offsets it holds; the broker adds what it has (here: all of them).
  auto committed = EndMany("pg", "T1", {a1, a3}, v1::TX_COMMIT);
  ASSERT_TRUE(committed.ok()) << committed.status().ToString();
  EXPECT_EQ(committed->outcome(), v1::TX_END_COMMITTED);
  EXPECT_EQ(committed->message_count(), 3);
  auto rolled = EndMany("pg", "T2", {b1, b2}, v1::TX_ROLLBACK);
  ASSERT_TRUE(rolled.ok());
  EXPECT_EQ(rolled->outcome(), v1::TX_END_ROLLED_BACK);
  EXPECT_EQ(CountOf("T1"), 1u);
  EXPECT_EQ(CountOf("T1-b"), 1u);
  EXPECT_EQ(CountOf("T1-c"), 1u);
  EXPECT_EQ(CountOf("T2"), 0u);
  EXPECT_EQ(CountOf("T2-b"), 0u);
  EXPECT_EQ(ReadQueue(kOpTopic, 0).size(), 5u);
  EXPECT_EQ(EndMany("pg", "T1", {a2}, v1::TX_COMMIT)->outcome(), v1::TX_END_ALREADY_COMMITTED);
  EXPECT_EQ(EndMany("pg", "T2", {b2}, v1::TX_COMMIT).status().code(), StatusCode::kFailedPrecondition);
  // An offset of another transaction is not this one's.
  EXPECT_EQ(EndMany("pg", "T3", {a1}, v1::TX_COMMIT).status().code(), StatusCode::kNotFound);
  WaitPending(0);
  EXPECT_EQ(service_->stats().committed, 1);
  EXPECT_EQ(service_->stats().rolled_back, 1);
  EXPECT_EQ(registry_.Total("vela_transaction_committed_total"), 3);
  EXPECT_EQ(registry_.Total("vela_transaction_rolled_back_total"), 2);
}

TEST_F(TransactionTest, ATransactionPastTransactionMaxMessagesIsRefusedAtSend) {
  Close();
  options_.max_messages = 3;
  Open();
  std::vector<int64_t> offsets;
  for (int i = 0; i < 3; ++i) offsets.push_back(SendMember("T", fmt::format("T-{}", i)));
  Admission a;
  Status over = Admit(Record("T-3", {{"TRAN_MSG", "true"}, {"PGROUP", "pg"}, {"__transactionId__", "T"}}), 0, &a);
  EXPECT_EQ(over.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(over.message().find("transactionMaxMessages is 3"), std::string_view::npos) << over.ToString();
  // Other transactions are not affected; an END_TRANSACTION naming too many offsets is refused.
  SendMember("U", "U");
  auto too_many = EndMany("pg", "T", {offsets[0], offsets[1], offsets[2], offsets[2]}, v1::TX_COMMIT);
  EXPECT_EQ(too_many.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(EndMany("pg", "T", offsets, v1::TX_COMMIT)->message_count(), 3);
  // Resolved: its count is forgotten. After a restart the counts of pending ones hold.
  Close();
  Open();
  SendMember("U", "U-1");
  SendMember("U", "U-2");
  EXPECT_EQ(Admit(Record("U-3", {{"TRAN_MSG", "true"}, {"PGROUP", "pg"}, {"__transactionId__", "U"}}), 0, &a).code(),
            StatusCode::kInvalidArgument);
  Admission bad;
  EXPECT_EQ(Admit(Record("V", {{"TRAN_MSG", "true"}, {"PGROUP", "pg"}, {"CHECK_IMMUNITY_TIME_IN_SECONDS", "soon"}}),
                  0, &bad)
                .code(),
            StatusCode::kInvalidArgument);
  // A transaction id follows a message id's rules (the broker keeps and returns it).
  Status bad_id = Admit(Record("W", {{"TRAN_MSG", "true"}, {"PGROUP", "pg"}, {"__transactionId__", "has space"}}), 0, &bad);
  EXPECT_EQ(bad_id.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_id.message().find("__transactionId__"), std::string_view::npos) << bad_id.ToString();
}

TEST_F(TransactionTest, CheckBacksAskALiveProducerAndItsAnswerResolves) {
  Close();
  options_.timeout_ms = 1;
  options_.check_interval_ms = 50;
  Open();
  // No producer until both members are in: a round between the two sends would otherwise check
  // a transaction of one message (a check without a producer is neither sent nor counted).
  {
    std::lock_guard lock(checks_mu_);
    producer_connected_ = false;
  }
  const int64_t a1 = SendMember("T", "T");
  const int64_t a2 = SendMember("T", "T-b", 2);
  const int64_t later = SendMember("L", "L", 0, {{"CHECK_IMMUNITY_TIME_IN_SECONDS", "3600"}});
  WaitPending(3);
  {
    std::lock_guard lock(checks_mu_);
    producer_connected_ = true;
  }
  auto checks = WaitChecks(1);
  ASSERT_GE(checks.size(), 1u);
  const auto& [req, body] = checks[0];
  EXPECT_EQ(req.producer_group(), "pg");
  EXPECT_EQ(req.transaction_id(), "T");
  EXPECT_EQ(std::vector<int64_t>(req.half_physical_offsets().begin(), req.half_physical_offsets().end()),
            (std::vector<int64_t>{a1, a2}));
  EXPECT_EQ(req.topic(), "orders");
  EXPECT_EQ(req.check_times(), 1);
  RecordView first;
  ASSERT_EQ(DecodeRecord(body, true, &first), DecodeOutcome::kRecord);
  EXPECT_EQ(first.msg_id, "T");
  EXPECT_TRUE(Has(first.properties, "REAL_TOPIC", "orders"));
  // Checked again after the interval, never the one with immunity.
  checks = WaitChecks(2);
  ASSERT_GE(checks.size(), 2u);
  EXPECT_EQ(checks[1].first.transaction_id(), "T");
  EXPECT_EQ(checks[1].first.check_times(), 2);
  EXPECT_GE(service_->stats().checks_sent, 2);
  // The checker's answer.
  EndTransactionRequest answer;
  answer.producer_group = "pg";
  answer.transaction_id = "T";
  answer.half_offsets = {a1, a2};
  answer.resolution = v1::TX_COMMIT;
  answer.from_check = true;
  std::promise<Result<v1::EndTransactionResponse>> p;
  service_->EndTransaction(answer, [&p](Result<v1::EndTransactionResponse> r) { p.set_value(std::move(r)); });
  auto r = p.get_future().get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->outcome(), v1::TX_END_COMMITTED);
  EXPECT_EQ(CountOf("T"), 1u);
  EXPECT_EQ(CountOf("T-b"), 1u);
  {
    std::lock_guard lock(checks_mu_);
    for (const auto& c : checks_) EXPECT_NE(c.first.transaction_id(), "L");
  }
  EXPECT_EQ(End("pg", "L", later, v1::TX_ROLLBACK)->outcome(), v1::TX_END_ROLLED_BACK);
}

TEST_F(TransactionTest, WithoutAProducerNothingIsCountedAndAfterCheckMaxItIsDiscardedForAnOperator) {
  Close();
  options_.timeout_ms = 1;
  options_.check_interval_ms = 20;
  options_.check_max = 2;
  Open();
  {
    std::lock_guard lock(checks_mu_);
    producer_connected_ = false;
  }
  const int64_t a1 = SendMember("T", "T");
  const int64_t a2 = SendMember("T", "T-b", 3);
  WaitPending(2);
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (service_->stats().checks_without_producer < 1 && std::chrono::steady_clock::now() < deadline) {
    service_->CheckNowForTesting();
    std::this_thread::sleep_for(5ms);
  }
  // Tried every round, counted once while it waits.
  for (int round = 0; round < 20; ++round) {
    service_->CheckNowForTesting();
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(service_->stats().checks_without_producer, 1);
  EXPECT_EQ(service_->stats().checks_sent, 0);
  EXPECT_EQ(service_->stats().discarded, 0);  // no producer: never discarded for it
  {
    std::lock_guard lock(checks_mu_);
    producer_connected_ = true;
  }
  // Two checks (the checker never answers), then the discard.
  WaitChecks(2);
  while (service_->stats().discarded < 1 && std::chrono::steady_clock::now() < deadline) {
    service_->CheckNowForTesting();
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_EQ(service_->stats().discarded, 1);
  EXPECT_EQ(service_->stats().pending, 0);
  EXPECT_EQ(registry_.Total("vela_transaction_discarded_total"), 2);
  EXPECT_GE(registry_.Total("vela_transaction_checks_total"), 2);
  EXPECT_EQ(registry_.Total("vela_transaction_checks_without_producer_total"), 1);
  ExpectFloorCleared();  // a discarded transaction holds nothing back
  auto copies = ReadQueue(kDiscardTopic, 0);
  ASSERT_EQ(copies.size(), 2u);
  EXPECT_EQ(copies[0].msg_id, "T");
  EXPECT_EQ(copies[1].msg_id, "T-b");
  bool truncated = false;
  auto listed = service_->List(10, &truncated);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_TRUE(listed[0].discarded);
  EXPECT_EQ(listed[0].check_times, 2);
  // A producer can no longer resolve it; an operator can, once.
  auto late = EndMany("pg", "T", {a1, a2}, v1::TX_COMMIT);
  EXPECT_EQ(late.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(late.status().message().find("vela-admin transaction resolve"), std::string_view::npos);
  // Still discarded after a restart.
  Close();
  Open();
  EXPECT_EQ(service_->stats().discarded, 1);
  auto by_hand = EndMany("", "T", {}, v1::TX_COMMIT, /*by_operator=*/true);
  ASSERT_TRUE(by_hand.ok()) << by_hand.status().ToString();
  EXPECT_EQ(by_hand->outcome(), v1::TX_END_COMMITTED);
  EXPECT_EQ(by_hand->message_count(), 2);
  EXPECT_EQ(CountOf("T"), 1u);
  EXPECT_EQ(CountOf("T-b"), 1u);
  EXPECT_EQ(service_->stats().discarded, 0);
  EXPECT_EQ(EndMany("", "T", {}, v1::TX_COMMIT, true).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(EndMany("pg", "T", {a1}, v1::TX_COMMIT)->outcome(), v1::TX_END_ALREADY_COMMITTED);
}

// Crash window 2 for a transaction of three messages: one published message reached the log,
// the other two and every op record did not.
TEST_F(TransactionTest, ATornMultiMessageCommitIsFinishedWholeAtStart) {
  const int64_t a1 = SendMember("T", "T");
  SendMember("T", "T-b", 1);
  SendMember("T", "T-c", 2);
  WaitPending(3);
  Offline(a1, [](store::MessageStore& s, const RecordView& half, std::string&) {
    PutMarker(s);
    ASSERT_TRUE(store::testing::AppendOne(s, Committed(half)).ok());
  });
  EXPECT_EQ(service_->stats().pending, 0);
  EXPECT_EQ(CountOf("T"), 1u);
  EXPECT_EQ(CountOf("T-b"), 1u);
  EXPECT_EQ(CountOf("T-c"), 1u);
  EXPECT_EQ(ReadQueue(kOpTopic, 0).size(), 3u);
  EXPECT_EQ(EndMany("pg", "T", {a1}, v1::TX_ROLLBACK).status().code(), StatusCode::kFailedPrecondition);
  Close();
  Open();
  EXPECT_EQ(CountOf("T-b"), 1u);
  EXPECT_EQ(ReadQueue(kOpTopic, 0).size(), 3u);
}

// An ASYNC_FLUSH crash can lose the log's tail but keep index entries naming it: they go at start,
// so neither a lost half message nor a lost resolution shadows a new record at the same offset.
TEST_F(TransactionTest, IndexEntriesPastTheLogEndAreDroppedAtStart) {
  const int64_t a = SendHalf("A");
  WaitPending(1);
  Offline(a, [](store::MessageStore& s, const RecordView&, std::string&) {
    const int64_t past = s.stats().max_physical_offset.value() + 4096;
    std::string key = "txn/p/";
    coding::AppendBigEndian64(&key, static_cast<uint64_t>(past));
    std::string value;
    coding::AppendFixed64(&value, static_cast<uint64_t>(NowEpochMs()));
    coding::AppendFixed64(&value, 0);
    value.append("pg").append(1, '\0').append("LOST").append(1, '\0').append("orders").append(1, '\0');
    value.append("LOST").append(1, '\0').append("0");
    ASSERT_OK(s.meta().PutState(key, value));
    std::string resolved = "txn/r/";
    coding::AppendBigEndian64(&resolved, static_cast<uint64_t>(past + 100));
    ASSERT_OK(s.meta().PutState(resolved, std::string("cpg") + '\0' + "GONE"));
  });
  EXPECT_EQ(service_->stats().pending, 1);  // A only
  bool truncated = false;
  auto listed = service_->List(10, &truncated);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].transaction_id, "A");
  EXPECT_LE(service_->RetentionFloor(), a);
  EXPECT_EQ(End("pg", "A", a, v1::TX_COMMIT)->outcome(), v1::TX_END_COMMITTED);
  WaitPending(0);
  ExpectFloorCleared();
}

TEST(TransactionOptionsTest, DefaultsSettingsAndRangesAreChecked) {
  Config defaults;
  auto o = TransactionOptions::FromConfig(defaults);
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->timeout_ms, 6000);
  EXPECT_EQ(o->check_interval_ms, 60000);
  EXPECT_EQ(o->check_max, 15);
  EXPECT_EQ(o->max_messages, 64);
  Config set;
  set.Set("transactionTimeOut", "3000");
  set.Set("transactionCheckInterval", "1000");
  set.Set("transactionCheckMax", "3");
  set.Set("transactionMaxMessages", "5");
  auto s = TransactionOptions::FromConfig(set);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->timeout_ms, 3000);
  EXPECT_EQ(s->check_interval_ms, 1000);
  EXPECT_EQ(s->check_max, 3);
  EXPECT_EQ(s->max_messages, 5);
  for (auto [key, value] : std::vector<std::pair<std::string, std::string>>{{"transactionTimeOut", "0"},
                                                                            {"transactionCheckInterval", "-1"},
                                                                            {"transactionCheckMax", "0"},
                                                                            {"transactionMaxMessages", "1025"}}) {
    Config c;
    c.Set(key, value);
    auto refused = TransactionOptions::FromConfig(c);
    ASSERT_FALSE(refused.ok()) << key;
    EXPECT_NE(refused.status().message().find(key), std::string_view::npos) << refused.status().ToString();
  }
}

}  // namespace
}  // namespace vela::broker::transaction
