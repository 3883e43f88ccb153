#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "common/service_thread.h"
#include "store/commit_log.h"
#include "store/consume_queue_table.h"
#include "store/message_store.h"
#include "store/rocks_meta_store.h"

namespace vela::store {

// Dispatcher (RocketMQ's "reput" service) follows the commit log: for each new record, in log
// order, it writes the consume-queue entry, calls the DispatchListeners, and (per batch, off the
// append path) writes the message-id and key indexes to RocksDB. dispatched_offset() is the log
// offset up to which all of that is done.
//
// Owned by MessageStore; the log, queue table and meta store must outlive it. Listeners are added
// before Start. Thread-safe: NotifyAppended from any thread; DispatchAvailable only from the
// dispatcher thread, or before Start / after Stop.
class Dispatcher final : public ServiceThread {
 public:
  Dispatcher(CommitLog& log, ConsumeQueueTable& queues, RocksMetaStore& meta);
  ~Dispatcher() override;

  void AddListener(DispatchListener* listener) { listeners_.push_back(listener); }
  // REQUIRES: not running. The first offset to dispatch (a record boundary).
  void SetStart(int64_t offset) { dispatched_.store(offset, std::memory_order_release); }
  // Dispatches every record below the log's write offset. Returns the first error.
  Status DispatchAvailable();
  int64_t dispatched_offset() const { return dispatched_.load(std::memory_order_acquire); }
  // Cheap: wakes the thread only when it is idle.
  void NotifyAppended() {
    if (idle_.load(std::memory_order_seq_cst) && idle_.exchange(false)) Wakeup();
  }

 protected:
  void Run() override;

 private:
  CommitLog& log_;
  ConsumeQueueTable& queues_;
  RocksMetaStore& meta_;
  std::vector<DispatchListener*> listeners_;
  std::atomic<int64_t> dispatched_{0};
  std::atomic<bool> idle_{false};
};

}  // namespace vela::store
