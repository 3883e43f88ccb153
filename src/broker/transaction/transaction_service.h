#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "broker/system_queue_reader.h"
#include "broker/topic_manager.h"
#include "broker/trace/trace_writer.h"
#include "broker/transaction/transaction_message.h"
#include "metrics/broker_metrics.h"
#include "store/message_store.h"
#include "store/meta_store.h"
#include "vela/v1/vela.pb.h"

namespace vela::broker::transaction {

// Figures for status and metrics.
struct TransactionStats {
  int64_t pending = 0;                  // half messages neither committed, rolled back nor discarded
  int64_t oldest_pending_store_ms = 0;  // store time of the oldest pending one (0: none)
  int64_t committed = 0;                // transactions, since the broker started
  int64_t rolled_back = 0;              // transactions, since the broker started
  int64_t checks_sent = 0;              // CHECK_TRANSACTION_STATE sent, since the broker started
  int64_t checks_without_producer = 0;  // due checks that found no producer of the group (once per due check)
  int64_t discarded = 0;                // transactions discarded and not yet resolved by an operator
};

// A transaction as TRANSACTION_LIST shows it.
struct TransactionSummary {
  std::string transaction_id;
  std::string producer_group;
  std::vector<std::string> topics;
  int32_t message_count = 0;
  int64_t first_store_ms = 0;
  int32_t check_times = 0;
  bool discarded = false;
};

// One END_TRANSACTION, as the processor hands it over.
struct EndTransactionRequest {
  std::string producer_group;
  std::string transaction_id;
  std::vector<int64_t> half_offsets;  // the receipts the producer holds (may be empty)
  v1::TransactionResolution resolution = v1::TX_UNKNOWN;
  bool from_check = false;
  bool by_operator = false;
};

// Sends one CHECK_TRANSACTION_STATE (body: the first half record) to a live producer of the
// request's group; false when none is connected. Called on the service thread; must not block.
using CheckSender = std::function<bool(const v1::CheckTransactionRequest& request, std::string body)>;

// TransactionService resolves transactions (DESIGN.md §7.1, §7.2; docs/transactions.md): a commit
// re-puts every half message of a transaction into its real topic and queue, a rollback drops
// them, each durably and exactly once; a transaction left pending is checked back with a live
// producer of its group, and discarded after transactionCheckMax checks without a decision.
//
// State is records plus saved offsets. A half message is a record of RMQ_SYS_TRANS_HALF_TOPIC
// (put there by TransactionAdmission); a resolution is one op record per half message in
// RMQ_SYS_TRANS_OP_HALF_TOPIC naming the half record's commit-log offset. The service reads both
// queues as an internal consumer, from offsets saved in the store's state column family, into
//   txn/p/<offset>  pending (and discarded) half messages, by offset, so by age,
//   txn/c/<id>      a transaction's check-back state (next check, checks sent, discarded),
//   txn/r/<offset>  resolved half messages (which resolution, the group and transaction: idempotent
//                   answers),
// each batch written together with the queue offset it reached. txn/p is written behind: only for
// half messages still pending a second after they were read (SaveHalves), so that a transaction
// resolved promptly costs the state column family its txn/r entry alone; until then a restart
// reads the half queue again. Pending transactions are also held in memory (by id and by half
// offset; with the record itself while it is unsaved). Every resolution runs on the service's one thread,
// so two requests for one transaction can never both take effect: the first decides, every later
// one is answered from what it decided (already committed / already rolled back, or
// FailedPrecondition when it asks for the other outcome).
//
// A commit appends, in ONE append, the committed messages (same unique ids, ORIGIN_OFFSET = the
// half record's offset) followed by their op records; a rollback appends the op records only.
// Crash windows (kill -9 anywhere):
//  1. before the append: nothing is in the log; the transaction is still pending after a restart.
//  2. part of the append reached the log (a torn append): before it, a saved in-flight marker
//     (txn/inflight, synced under SYNC_FLUSH) names a log end the append lies after. At start,
//     after both queues are read, the log from the marker on is scanned: a transaction with a
//     committed message but a missing op record gets its missing messages published and its op
//     records written, so it is published whole, each message once.
//  3. everything reached the log, the state batch did not: reading the op queue from its saved
//     offset resolves the half messages again; nothing is re-put.
// Pending half messages hold back retention (RetentionFloor), discarded ones do not (their copies
// in TRANS_CHECK_MAX_TIME_TOPIC age out with the log); resolutions of half records that retention
// deleted are forgotten.
//
// One thread does everything; the public methods are thread-safe.
class TransactionService final {
 public:
  // `metrics`, when given, is fed pending half messages per topic, the oldest one's age, messages
  // committed, rolled back and discarded per topic, and check-backs.
  // `traces`, when given, records commit, rollback and check events of traced messages (those
  // carrying TRACE_ON=true); it must outlive the service.
  TransactionService(store::MessageStore& store, TopicManager& topics, TransactionOptions options,
                     metrics::BrokerMetrics* metrics = nullptr, trace::TraceWriter* traces = nullptr);
  ~TransactionService();
  TransactionService(const TransactionService&) = delete;
  TransactionService& operator=(const TransactionService&) = delete;

  // How check-backs reach producers. REQUIRES: before Start (without one, no check is sent).
  void SetCheckSender(CheckSender sender) { check_sender_ = std::move(sender); }
  // Registers with the store, reads both queues up to their ends, settles what a crash left in
  // flight (window 2 above), then starts the thread. REQUIRES: before traffic starts.
  Status Start();
  // Stops the thread after its current step; resolutions not begun are answered Unavailable.
  // Idempotent.
  void Stop();

  // Counts one more half message for `transaction_id` at admission: InvalidArgument past
  // transactionMaxMessages. A send refused or failed after admission still counts (the limit errs
  // strict). Thread-safe, cheap.
  Status AdmitHalf(std::string_view transaction_id);

  using EndCallback = std::function<void(Result<v1::EndTransactionResponse>)>;
  // Commits, rolls back (or, for TX_UNKNOWN, leaves pending) the transaction. `done` runs once, on
  // the service thread, after the resolution is in the log: an outcome, or NotFound (no such
  // transaction), PermissionDenied (another producer group's), FailedPrecondition (already resolved
  // the other way; a real topic is gone; discarded), InvalidArgument, Unavailable (stopping), or the
  // store's error.
  void EndTransaction(EndTransactionRequest request, EndCallback done);
  using EndBatchCallback = std::function<void(std::vector<Result<v1::EndTransactionResponse>>)>;
  // EndTransaction for each of `requests`, decided in order as if each came alone; `done` runs
  // once, when every one of them has its answer (results in the order of the requests).
  void EndTransactions(std::vector<EndTransactionRequest> requests, EndBatchCallback done);

  // Pending and discarded transactions, oldest first, at most `max`; *truncated when there are more.
  std::vector<TransactionSummary> List(size_t max, bool* truncated) const;
  TransactionStats stats() const;
  const TransactionOptions& options() const { return options_; }

  // The lowest commit-log offset a pending half message needs (INT64_MAX: none).
  int64_t RetentionFloor() const { return offset_floor_.load(std::memory_order_relaxed); }
  // Creates the half, op and discard topics if they do not exist yet; cheap once they do.
  Status EnsureTopics();
  // Forgets the resolutions of half records below `log_start` (retention deleted them: an
  // END_TRANSACTION naming one is answered NotFound from then on). Called by the service thread
  // once a minute with the log's first offset; public for tests. Returns how many it forgot.
  int64_t ForgetResolvedBefore(int64_t log_start);
  // Forgets discarded transactions whose messages and copies retention deleted (an operator can no
  // longer resolve them). Called with ForgetResolvedBefore; returns how many it forgot.
  int64_t ForgetDiscardedBefore(int64_t log_start);
  // Runs one check-back round now (the service thread does it every min(interval, 1 s)); for tests.
  void CheckNowForTesting();

 private:
  struct Pending {
    EndTransactionRequest request;
    EndCallback done;
  };
  // A half message of a pending or discarded transaction.
  struct Half {
    int64_t store_ms = 0;
    std::string msg_id;
    std::string real_topic;
    int64_t discard_copy = -1;  // offset of its copy in the discard topic (discarded only)
    bool saved = false;         // its txn/p entry is written
    std::string raw;            // the record while it is unsaved (and the cache has room), else empty
  };
  // A pending or discarded transaction.
  struct Txn {
    std::string id;
    std::string group;
    std::map<int64_t, Half> halves;  // by half offset
    int64_t immunity_ms = 0;
    int64_t next_check_ms = 0;
    int32_t checks = 0;
    bool discarded = false;
    bool waiting_for_producer = false;  // due, and no producer of the group was connected
    bool check_saved = false;           // its txn/c entry is written
  };
  // What is known of a resolved half message (txn/r).
  struct Resolved {
    Resolution resolution = Resolution::kRollback;
    std::string producer_group;
    std::string transaction_id;
  };
  // A half message a resolution reads: its record (the original, or its discard copy) and what it says.
  struct HalfRead {
    int64_t offset = 0;
    std::string raw;
    HalfRecord half;
  };

  void Run();
  void Wake();
  // The half queue has new records: read at once, or (ResolutionsStreaming) a little later.
  void WakeForHalves();
  // END_TRANSACTIONs keep coming and the half queue was read less than kHalfReadDelayMs ago.
  bool ResolutionsStreaming(int64_t now_ms) const;
  Status LoadState();
  // Reads new half records into txn/p; true when it read any.
  bool IngestHalf();
  // Reads new op records into txn/r; true when it read any.
  bool IngestOps();
  // Decides the END_TRANSACTIONs waiting (one round); false when none was waiting.
  bool ProcessResolutions();
  // A resolution taken in the current round.
  struct Decided {
    Resolution resolution = Resolution::kRollback;
    std::string group;
  };
  Result<v1::EndTransactionResponse> Decide(const EndTransactionRequest& r, std::map<std::string, Decided>& decided,
                                            std::vector<std::string>& records, store::MetaStore::StateBatch& state,
                                            std::vector<std::string>& resolved_ids, int64_t* commits,
                                            int64_t* rollbacks, bool* needs_append);
  // Appends to `records` the committed copies of `reads` (real topics must exist) and, for all of
  // them, op records; FailedPrecondition (nothing added) when a real topic is gone.
  Status BuildResolution(Resolution resolution, const std::string& group, const std::string& txn_id,
                         const std::vector<HalfRead>& reads, const std::set<int64_t>& already_published,
                         std::vector<std::string>* records, store::MetaStore::StateBatch* state);
  // At start: settles what the saved in-flight marker covers (SettleFrom), then drops the marker.
  Status ResolveInFlight();
  // Applies every op record the log holds from `from` on (as reading the op queue would) and
  // finishes every torn commit there (publishes the missing messages, writes the op records).
  // An error leaves what could not be finished for a later call.
  Status SettleFrom(int64_t from);
  // After an append of resolutions failed: SettleFrom where it began, until that succeeds.
  void SettleFailedAppend();
  Status WriteInFlightMarker();
  void CheckRound(int64_t now_ms);
  void PruneAdmitted(int64_t now_ms);
  void CountWaitingForProducer(Txn& txn);
  void Discard(Txn& txn, int64_t now_ms, store::MetaStore::StateBatch* state);
  // The half record at `offset` (or, when retention took it, the discard copy named), CRC checked.
  bool ReadHalf(int64_t offset, int64_t discard_copy, HalfRead* out);
  // The half record kept since it was read from the half queue, taken out of `half` (false: none
  // kept); the cache's bytes are counted in cached_bytes_. REQUIRES: the service thread.
  bool TakeCached(int64_t offset, Half& half, HalfRead* out);
  void DropCached(Half& half);
  std::optional<Resolved> GetResolved(int64_t offset);
  // How the half record at `offset` was resolved, if it was: from memory for a half record this
  // process has not read from the half queue yet, else from txn/r.
  std::optional<Resolved> ResolvedHalf(int64_t offset);
  // Writes txn/p for the half messages read since the last save that are still pending, with the
  // half queue's offset (write-behind: most transactions end before they are saved, and never
  // touch the state column family but for their txn/r). `force`: now, else once the oldest is
  // kSaveDelayMs old.
  void SaveHalves(int64_t now_ms, bool force);
  // In-memory index changes; REQUIRES: the service thread.
  // Returns the transaction the half message joined.
  Txn& AddHalf(const HalfRecord& half, int64_t offset, int64_t store_ms, int64_t discard_copy);
  void RemoveTxn(const std::string& id);
  void RemoveHalf(int64_t offset);
  std::string PendingValue(const Txn& txn, const Half& half) const;
  std::string CheckStateValue(const Txn& txn) const;
  void RecomputeFloor();
  // Sets the pending gauges from the index (once per check round).
  void PublishGauges(int64_t now_ms);
  // Counts the messages of resolutions once they are in the log (BuildResolution collects them).
  void CountResolved();
  Result<store::AppendResult> AppendAndWait(const std::vector<std::string>& records);

  store::MessageStore& store_;
  store::MetaStore& meta_;
  TopicManager& topics_;
  const TransactionOptions options_;
  metrics::BrokerMetrics* const metrics_;
  trace::TraceWriter* const traces_;
  // Trace events of the resolutions being built (service thread only): recorded once the round's
  // records are in the log, forgotten when its append fails.
  std::vector<vela::trace::TraceEvent> trace_pending_;
  SystemQueueReader half_reader_;
  SystemQueueReader op_reader_;
  CheckSender check_sender_;
  // The half records resolved in the current round (own_ops_, resolved_early_ once it is stored).
  std::vector<std::pair<int64_t, Resolved>> round_resolved_;
  std::vector<size_t> round_ops_;  // indexes of the current round's op records among its records
  // Real topics of the messages resolved in the current round, not yet counted.
  std::vector<std::pair<std::string, Resolution>> uncounted_;
  std::set<std::string> gauge_topics_;  // topics whose pending gauge was set

  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;            // GUARDED_BY(mu_)
  bool signalled_ = false;       // GUARDED_BY(mu_)
  bool halves_signalled_ = false;  // GUARDED_BY(mu_): the half queue has records not read yet
  bool check_now_ = false;       // GUARDED_BY(mu_)
  std::deque<Pending> requests_;  // GUARDED_BY(mu_)
  std::atomic<bool> topics_ready_{false};
  std::mutex topic_mu_;

  // The pending and discarded transactions: written by the service thread under index_mu_, read
  // by it freely and by List / stats under index_mu_.
  mutable std::mutex index_mu_;
  std::unordered_map<std::string, Txn> txns_;   // by transaction id
  std::map<int64_t, std::string> by_offset_;    // half offset -> transaction id

  // Half messages admitted per transaction (AdmitHalf), until it is resolved or discarded (or,
  // never indexed, quiet for ten minutes: PruneAdmitted).
  struct Admitted {
    int64_t count = 0;
    int64_t last_ms = 0;
  };
  std::mutex admit_mu_;
  std::unordered_map<std::string, Admitted> admitted_;  // GUARDED_BY(admit_mu_)

  // Service-thread state.
  int64_t half_ingest_ = 0;      // next queue offset of the half queue to read
  int64_t half_saved_ = 0;       // the half queue offset saved (txn/half_ingest)
  bool started_ = false;         // the queues were read to their ends at start
  // Read from the half queue but not saved (SaveHalves): their offsets, in order, and when the
  // first of them was read.
  std::vector<int64_t> unsaved_;
  int64_t unsaved_since_ms_ = 0;
  // Commit-log offset of the last half record read from the queue, at least the log's end at
  // start less one: every half record at or before it was written before, or read.
  int64_t last_half_offset_ = -1;
  size_t cached_bytes_ = 0;        // bytes of Half::raw, at most kMaxCachedBytes
  // Half records resolved (after start) before they were read from the half queue, until read.
  std::unordered_map<int64_t, Resolved> resolved_early_;
  // Half records whose op records this process wrote (and whose txn/r is written), until the op
  // queue reads them: the reading then skips the txn/r lookup.
  std::unordered_set<int64_t> own_ops_;
  int64_t op_ingest_ = 0;        // next queue offset of the op queue to read
  int64_t marker_end_ = -1;      // the log end the saved in-flight marker names (-1: none saved)
  int64_t unsettled_from_ = -1;  // a failed append of resolutions began here; settled first (-1: none)
  int64_t last_commit_ms_ = 0;
  int64_t last_round_ms_ = 0;      // the last round of resolutions
  int64_t last_half_read_ms_ = 0;  // the last reading of the half queue
  int64_t last_prune_ms_ = 0;
  int64_t last_check_round_ms_ = 0;
  std::map<std::string, int64_t> no_producer_logged_ms_;  // by group: when it was last logged

  std::atomic<int64_t> pending_{0};
  std::atomic<int64_t> discarded_{0};
  std::atomic<int64_t> committed_{0};
  std::atomic<int64_t> rolled_back_{0};
  std::atomic<int64_t> checks_sent_{0};
  std::atomic<int64_t> checks_without_producer_{0};
  std::atomic<int64_t> offset_floor_{INT64_MAX};
};

}  // namespace vela::broker::transaction
