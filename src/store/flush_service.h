#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>

#include "common/service_thread.h"
#include "store/commit_log.h"
#include "store/message_store.h"

namespace vela::store {

// FlushService is the background thread that makes the commit log durable.
//  - ASYNC_FLUSH: syncs every flush_interval_ms, or sooner once flush_least_pages pages are dirty.
//    Append callbacks do not wait for it.
//  - SYNC_FLUSH (group commit): each append parks a waiter (end offset, callback). One round takes
//    everything written so far, does one sync, advances the flushed offset and completes every
//    waiter whose end is covered; waiters older than sync_flush_timeout_ms fail with
//    DeadlineExceeded. Callbacks run on this thread, never under the append lock.
//
// Owned by MessageStore; the CommitLog must outlive it. Thread-safe.
class FlushService final : public ServiceThread {
 public:
  // `observer` (may be empty) gets each successful flush's duration in µs, on this thread, while
  // the thread runs (not the final flush of Shutdown, which may run from a destructor after the
  // observer's owner is gone).
  FlushService(CommitLog& log, FlushDiskType type, int flush_interval_ms, int flush_least_pages,
               int sync_flush_timeout_ms, std::function<void(int64_t)> observer = {});
  ~FlushService() override;

  // SYNC_FLUSH: completes `on_done` with `result` once the log is durable up to
  // result.end_offset. Never blocks. After Shutdown or Abandon (an append that raced with them),
  // a record not durable yet fails at once (Aborted) instead of waiting for a flush that never comes.
  void AwaitDurable(AppendResult result, AppendCallback on_done);
  // Stops the thread, then flushes what remains and completes the waiters. Idempotent.
  void Shutdown();
  // Stops the thread without flushing; pending waiters fail with Aborted (crash simulation).
  void Abandon();
  // Last flush error, or OK.
  Status last_error() const;

 protected:
  void Run() override;

 private:
  struct Waiter {
    AppendResult result;
    AppendCallback on_done;
    int64_t deadline_us;
  };
  void FlushOnce(bool observe);
  void CompleteWaiters(bool final_round);

  CommitLog& log_;
  const FlushDiskType type_;
  const std::chrono::milliseconds interval_;
  const int64_t least_bytes_;
  const int64_t sync_timeout_us_;
  const std::function<void(int64_t)> observer_;
  mutable std::mutex mu_;
  std::deque<Waiter> waiters_;  // GUARDED_BY(mu_), in end-offset order
  Status last_error_;           // GUARDED_BY(mu_)
  int64_t last_flush_us_ = 0;   // only on the flush thread
  bool abandoned_ = false;      // only on the owner's thread
  bool closed_ = false;         // GUARDED_BY(mu_): Shutdown's last round or Abandon ran; no more waiters
};

}  // namespace vela::store
