#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/service_thread.h"
#include "store/commit_log.h"
#include "store/consume_queue_table.h"
#include "store/message_id_index.h"
#include "store/message_store.h"
#include "store/rocks_meta_store.h"

namespace vela::store {

// Records just appended, as CommitLog::Append wrote them: `bytes` starts at log offset `start`.
struct AppendedBytes {
  int64_t start = -1;
  std::string_view bytes;
};

// Dispatcher (RocketMQ's "reput" service) follows the commit log in two cursors:
//  - queued_offset(): every record below it has its consume-queue entry and its message-id index
//    entry written. The appending thread advances it right after its append (DispatchQueues), so
//    a record is readable by consumers, and findable by id, without a thread hand-off; the same
//    thread then tells the DispatchListeners (held pulls wake), after releasing the queue lock.
//    Listeners may therefore be called by several threads at once, each for records already
//    readable, in log order within one call. Records with keys are set aside for the key index.
//  - indexed_offset(): every record below it is in the RocksDB key index. The dispatcher thread
//    writes the records set aside in batches, every few milliseconds, off the append path.
// dispatched_offset() is the lower of the two: what a checkpoint may claim.
//
// If writing a queue entry fails (a full disk), the appending threads stop trying and the
// dispatcher thread retries every second until it succeeds, then appends dispatch inline again.
//
// Owned by MessageStore; the log, queue table, id index and meta store must outlive it. Listeners are added
// before Start. Thread-safe: DispatchQueues, WaitForIndex and the offsets from any thread;
// DispatchAvailable only before Start or after Stop.
class Dispatcher final : public ServiceThread {
 public:
  // The KEYS of records of `hash_keyed_topics` go to the id index (one entry per key, on the
  // append path) instead of the RocksDB key index (StoreOptions::hash_keyed_topics).
  Dispatcher(CommitLog& log, ConsumeQueueTable& queues, MessageIdIndex& ids, RocksMetaStore& meta,
             std::vector<std::string> hash_keyed_topics = {});
  ~Dispatcher() override;

  void AddListener(DispatchListener* listener) { listeners_.push_back(listener); }
  // REQUIRES: not running. The first offset to dispatch (a record boundary).
  void SetStart(PhysicalOffset offset);
  // Dispatches every record below the log's write offset to the queues and the indexes.
  // Returns the first error. REQUIRES: the thread is not running.
  Status DispatchAvailable();
  // Adds the ids of the records in [from, to) to the id index (a rebuild of a lost index), with
  // the keys of hash-keyed topics; like
  // the dispatch, an insert that fails is logged and its record left unindexed. Fails only on a
  // record that does not decode. REQUIRES: the thread is not running.
  Status IndexIds(PhysicalOffset from, PhysicalOffset to);
  // Writes the queue entries of every record below the log's write offset and tells the
  // listeners. Called after each append; a no-op (OK) while the thread owns a failed dispatch.
  // `appended`: the caller's own records as CommitLog::Append stamped them (`stamped`), which
  // are read from there instead of the mapping (a first touch of a mapped page is a page fault;
  // on this machine's virtual CPUs that was a sixth of the broker's time on the send path).
  // Records of other appends in the range are read from the mapping.
  Status DispatchQueues(AppendedBytes appended = {}) {
    return DispatchQueuesUpTo(/*from_thread=*/false, /*verify_crc=*/false, appended);
  }
  // Blocks until every record queued before the call is in the key index, or `timeout` passes.
  // Returns whether it was.
  bool WaitForIndex(std::chrono::milliseconds timeout);

  PhysicalOffset queued_offset() const { return PhysicalOffset(queued_.load(std::memory_order_acquire)); }
  PhysicalOffset indexed_offset() const { return PhysicalOffset(indexed_.load(std::memory_order_acquire)); }
  PhysicalOffset dispatched_offset() const { return std::min(queued_offset(), indexed_offset()); }
  // False while queue entries cannot be written (a full disk, an I/O error): the thread retries.
  bool healthy() const { return !queue_failed_.load(std::memory_order_acquire); }
  // Damaged stretches of the log the walks skipped (since the store opened).
  int64_t damaged_records() const { return damaged_records_.load(std::memory_order_relaxed); }

 protected:
  void Run() override;

 private:
  // With verify_crc (the walk at open, over records no one has verified since the crash), a
  // record whose CRC fails is damage: it is skipped, or placed for pulls to report.
  Status DispatchQueuesUpTo(bool from_thread, bool verify_crc = false, AppendedBytes appended = {});
  // Logs and counts a damaged stretch [at, next) and writes its record's queue entry when the
  // header still names its queue and offset. REQUIRES: queue_mu_ held, or the thread not running.
  void PlaceDamagedRecord(int64_t at, int64_t next, const std::string& why);
  Status DispatchKeys();
  // Adds one id to the index; a failure (a full disk) is logged and the record stays unindexed.
  // REQUIRES: queue_mu_ held, or the thread not running.
  void IndexId(std::string_view msg_id, PhysicalOffset physical_offset);
  // What the id index holds of one record: its id and, for a hash-keyed topic, each of its KEYS;
  // true when the record's keys are for the id index (not the key index). Same REQUIRES.
  bool IndexIdsOf(const RecordView& view, PhysicalOffset physical_offset);

  CommitLog& log_;
  ConsumeQueueTable& queues_;
  MessageIdIndex& ids_;
  RocksMetaStore& meta_;
  const std::vector<std::string> hash_keyed_topics_;
  std::vector<DispatchListener*> listeners_;
  std::mutex queue_mu_;  // one queue writer at a time, in log order
  std::atomic<bool> queue_failed_{false};  // the thread retries; appenders skip
  std::atomic<int64_t> damaged_records_{0};
  std::atomic<int64_t> queued_{0};
  // Records queued but not yet in the key index, with their segments pinned. GUARDED_BY(queue_mu_).
  std::vector<KeyIndexEntry> pending_keys_;
  std::vector<std::shared_ptr<MappedSegment>> pending_key_pins_;
  // Copies of the topic and keys of pending entries read from an append's own bytes (which the
  // appender reuses): a deque never moves its strings, so the entries' views stay valid.
  std::deque<std::string> pending_key_copies_;
  int64_t unindexed_ids_ = 0;  // GUARDED_BY(queue_mu_): records skipped since the index last worked
  std::atomic<int64_t> indexed_{0};  // written by the dispatcher thread (or before Start)
  std::mutex index_wait_mu_;
  std::condition_variable index_cv_;  // signalled when indexed_ moves
};

}  // namespace vela::store
