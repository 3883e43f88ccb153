#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "common/service_thread.h"
#include "store/commit_log.h"
#include "store/consume_queue_table.h"
#include "store/message_store.h"
#include "store/rocks_meta_store.h"

namespace vela::store {

// Dispatcher (RocketMQ's "reput" service) follows the commit log in two cursors:
//  - queued_offset(): every record below it has its consume-queue entry written. The appending
//    thread advances it right after its append (DispatchQueues), so a record is readable by
//    consumers without a thread hand-off; the same thread then tells the DispatchListeners (held
//    pulls wake), after releasing the queue lock. Listeners may therefore be called by several
//    threads at once, each for records already readable, in log order within one call.
//  - indexed_offset(): every record below it is in the RocksDB message-id and key indexes. The
//    dispatcher thread advances it in batches, every few milliseconds, off the append path.
// dispatched_offset() is the lower of the two: what a checkpoint may claim.
//
// If writing a queue entry fails (a full disk), the appending threads stop trying and the
// dispatcher thread retries every second until it succeeds, then appends dispatch inline again.
//
// Owned by MessageStore; the log, queue table and meta store must outlive it. Listeners are added
// before Start. Thread-safe: DispatchQueues, WaitForIndex and the offsets from any thread;
// DispatchAvailable only before Start or after Stop.
class Dispatcher final : public ServiceThread {
 public:
  Dispatcher(CommitLog& log, ConsumeQueueTable& queues, RocksMetaStore& meta);
  ~Dispatcher() override;

  void AddListener(DispatchListener* listener) { listeners_.push_back(listener); }
  // REQUIRES: not running. The first offset to dispatch (a record boundary).
  void SetStart(int64_t offset);
  // Dispatches every record below the log's write offset to the queues and the indexes.
  // Returns the first error. REQUIRES: the thread is not running.
  Status DispatchAvailable();
  // Writes the queue entries of every record below the log's write offset and tells the
  // listeners. Called after each append; a no-op (OK) while the thread owns a failed dispatch.
  Status DispatchQueues() { return DispatchQueuesUpTo(/*from_thread=*/false); }
  // Blocks until every record queued before the call is indexed, or `timeout` passes.
  // Returns whether it was.
  bool WaitForIndex(std::chrono::milliseconds timeout);

  int64_t queued_offset() const { return queued_.load(std::memory_order_acquire); }
  int64_t indexed_offset() const { return indexed_.load(std::memory_order_acquire); }
  int64_t dispatched_offset() const { return std::min(queued_offset(), indexed_offset()); }

 protected:
  void Run() override;

 private:
  Status DispatchQueuesUpTo(bool from_thread);
  Status DispatchIndex();

  CommitLog& log_;
  ConsumeQueueTable& queues_;
  RocksMetaStore& meta_;
  std::vector<DispatchListener*> listeners_;
  std::mutex queue_mu_;  // one queue writer at a time, in log order
  std::atomic<bool> queue_failed_{false};  // the thread retries; appenders skip
  std::atomic<int64_t> queued_{0};
  std::atomic<int64_t> indexed_{0};  // written by the dispatcher thread (or before Start)
  std::mutex index_wait_mu_;
  std::condition_variable index_cv_;  // signalled when indexed_ moves
};

}  // namespace vela::store
