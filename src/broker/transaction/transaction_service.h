#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "broker/system_queue_reader.h"
#include "broker/topic_manager.h"
#include "broker/transaction/transaction_message.h"
#include "store/message_store.h"
#include "store/meta_store.h"
#include "vela/v1/vela.pb.h"

namespace vela::broker::transaction {

// Figures for status and metrics.
struct TransactionStats {
  int64_t pending = 0;                  // half messages neither committed nor rolled back
  int64_t oldest_pending_store_ms = 0;  // store time of the oldest pending one (0: none)
  int64_t committed = 0;                // since the broker started
  int64_t rolled_back = 0;              // since the broker started
};

// A pending half message, as the check-back will see it.
struct PendingHalf {
  int64_t half_offset = 0;  // commit-log offset of the half record
  int64_t store_ms = 0;
  std::string msg_id;
  std::string producer_group;
  std::string real_topic;
};

// One END_TRANSACTION, as the processor hands it over.
struct EndTransactionRequest {
  std::string producer_group;
  std::string msg_id;
  int64_t half_offset = -1;
  v1::TransactionResolution resolution = v1::TX_UNKNOWN;
};

// TransactionService resolves half messages (DESIGN.md §7.1, §7.2): a commit re-puts the message
// into its real topic and queue, a rollback drops it, each durably and exactly once.
//
// State is records plus saved offsets. A half message is a record of RMQ_SYS_TRANS_HALF_TOPIC
// (put there by TransactionAdmission); a resolution is an op record of RMQ_SYS_TRANS_OP_HALF_TOPIC
// naming the half record's commit-log offset. The service reads both queues as an internal
// consumer, from offsets saved in the store's state column family, into
//   txn/p/<offset>  pending half messages (ordered by offset, so by age), and
//   txn/r/<offset>  resolved ones (which resolution, the group and id: idempotent answers),
// each batch written together with the queue offset it reached. Every resolution runs on the
// service's one thread, so two requests for one half message can never both take effect: the
// first decides, every later one is answered from txn/r (already committed / already rolled back,
// or FailedPrecondition when it asks for the other outcome).
//
// A commit appends, in ONE append, the committed message (same unique id, ORIGIN_OFFSET = the
// half record's offset) followed by its op record; a rollback appends the op record only. Then
// one state batch moves the half message from txn/p to txn/r. Crash windows (kill -9 anywhere):
//  1. before the append: nothing is in the log; the message is still pending after a restart and
//     a retried END_TRANSACTION (or later a check-back) commits it exactly once.
//  2. the committed message reached the log but its op record did not (a torn append): before the
//     append, a saved in-flight marker (txn/inflight, synced under SYNC_FLUSH) names a log end the
//     append lies after. At start, after both queues are read, the log from the marker on is
//     scanned: a committed message (ORIGIN_OFFSET naming a half record still unresolved) without
//     its op record gets that op record written then, so it is neither published again nor left
//     pending.
//  3. both records reached the log, the state batch did not: reading the op queue from its saved
//     offset resolves the half message (txn/p -> txn/r) again; nothing is re-put.
// The marker moves past each round's appends in the round's state batch and is cleared after a
// second without commits. A half message resolved before it was read from the half queue (the
// dispatcher lags) is found by reading its record at the offset, and skipped when read later.
// Pending half messages hold back retention (RetentionFloor); resolutions of half records that
// retention deleted are forgotten.
//
// One thread does everything; the public methods are thread-safe.
class TransactionService final {
 public:
  TransactionService(store::MessageStore& store, TopicManager& topics, TransactionOptions options);
  ~TransactionService();
  TransactionService(const TransactionService&) = delete;
  TransactionService& operator=(const TransactionService&) = delete;

  // Registers with the store, reads both queues up to their ends, settles what a crash left in
  // flight (window 2 above), then starts the thread. REQUIRES: before traffic starts.
  Status Start();
  // Stops the thread after its current step; resolutions not begun are answered Unavailable.
  // Idempotent.
  void Stop();

  using EndCallback = std::function<void(Result<v1::EndTransactionResponse>)>;
  // Commits, rolls back (or, for TX_UNKNOWN, leaves pending) the half message at
  // request.half_offset. `done` runs once, on the service thread, after the resolution is in the
  // log: an outcome, or NotFound (no such half message), PermissionDenied (another producer
  // group's), FailedPrecondition (already resolved the other way; the real topic is gone),
  // InvalidArgument, Unavailable (stopping), or the store's error.
  void EndTransaction(EndTransactionRequest request, EndCallback done);

  // Up to `max` pending half messages stored at or before now_ms - transactionTimeOut, oldest
  // first: what a check-back asks producers about.
  std::vector<PendingHalf> PendingOlderThanTimeout(int64_t now_ms, size_t max) const;
  TransactionStats stats() const;
  const TransactionOptions& options() const { return options_; }

  // The lowest commit-log offset a pending half message needs (INT64_MAX: none).
  int64_t RetentionFloor() const { return offset_floor_.load(std::memory_order_relaxed); }
  // Creates the half and op topics if they do not exist yet; cheap once they do.
  Status EnsureTopics();
  // Forgets the resolutions of half records below `log_start` (retention deleted them: an
  // END_TRANSACTION naming one is answered NotFound from then on). Called by the service thread
  // once a minute with the log's first offset; public for tests. Returns how many it forgot.
  int64_t ForgetResolvedBefore(int64_t log_start);

 private:
  struct Pending {
    EndTransactionRequest request;
    EndCallback done;
  };
  // What is known of a resolved half message (txn/r).
  struct Resolved {
    Resolution resolution = Resolution::kRollback;
    std::string producer_group;
    std::string msg_id;
  };

  void Run();
  void Wake();
  Status LoadState();
  // Reads new half records into txn/p; true when it read any.
  bool IngestHalf();
  // Reads new op records into txn/r; true when it read any.
  bool IngestOps();
  void ProcessResolutions();
  Status ResolveInFlight();
  Status WriteInFlightMarker();
  // The half record at `offset`, when there is one (CRC checked).
  bool ReadHalf(int64_t offset, std::string* raw, HalfRecord* half);
  std::optional<Resolved> GetResolved(int64_t offset);
  void RecomputeFloor();
  void LowerFloor(int64_t offset);
  Result<store::AppendResult> AppendAndWait(const std::vector<std::string>& records);

  store::MessageStore& store_;
  store::MetaStore& meta_;
  TopicManager& topics_;
  const TransactionOptions options_;
  SystemQueueReader half_reader_;
  SystemQueueReader op_reader_;

  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;            // GUARDED_BY(mu_)
  bool signalled_ = false;       // GUARDED_BY(mu_)
  std::deque<Pending> requests_;  // GUARDED_BY(mu_)
  std::atomic<bool> topics_ready_{false};
  std::mutex topic_mu_;

  // Service-thread state.
  int64_t half_ingest_ = 0;      // next queue offset of the half queue to read
  int64_t op_ingest_ = 0;        // next queue offset of the op queue to read
  int64_t marker_end_ = -1;      // the log end the saved in-flight marker names (-1: none saved)
  int64_t last_commit_ms_ = 0;
  int64_t last_prune_ms_ = 0;

  std::atomic<int64_t> pending_{0};
  std::atomic<int64_t> committed_{0};
  std::atomic<int64_t> rolled_back_{0};
  std::atomic<int64_t> offset_floor_{INT64_MAX};
};

}  // namespace vela::broker::transaction
