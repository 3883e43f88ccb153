#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "broker/system_queue_reader.h"
#include "broker/timer/timer_message.h"
#include "broker/topic_manager.h"
#include "broker/trace/trace_writer.h"
#include "common/histogram.h"
#include "common/recall_handle.h"
#include "metrics/broker_metrics.h"
#include "store/message_store.h"
#include "store/meta_store.h"
#include "vela/v1/vela.pb.h"

namespace vela::broker::timer {

// Figures for TIMER_STATUS and the metrics.
struct TimerStats {
  int64_t pending = 0;
  int64_t delivered = 0;
  int64_t recalled = 0;
  int64_t dropped = 0;      // due timers that could not be delivered (record lost, topic deleted)
  int64_t next_due_ms = 0;  // 0: nothing pending
  int64_t lateness_p50_us = 0;
  int64_t lateness_p99_us = 0;
  int64_t lateness_max_us = 0;
  std::map<std::string, int64_t> pending_by_topic;
};

// TimerService delivers timer messages when they fall due (DESIGN.md §7.1, §7.2).
//
// State is records plus saved offsets. A timer message is a record of the timer topic (put there
// by TimerAdmission); this service reads that topic's queue as an internal consumer, from an
// offset saved in RocksDB, into an index ordered by due time (the store's "state" column family:
// one key per pending timer, due time and commit-log offset, never bodies). In memory it keeps
// only a count of pending timers per commit-log segment (saved with the index). When a timer falls
// due the service re-puts the message into its real topic and queue with its unique id and an
// ORIGIN_OFFSET naming the timer record, then deletes the index entry.
//
// Guarantees:
// - Never early: a message is appended to its real topic no sooner than its due millisecond.
// - Exactly once across crashes: the index, the per-segment counts and the saved offset move
//   together in one RocksDB batch, so a crash re-reads exactly the records not yet indexed.
//   Before deliveries are appended, a saved marker names a log end they all lie after (written
//   synced under SYNC_FLUSH when none is saved; moved past each round's re-puts in the batch that
//   removes their entries; cleared after a second without deliveries). A restart (or a failed
//   append) looks in the log after that end for re-put records whose timer record (read from the
//   log, which gives its due time and so its index key) is still indexed, and removes them, so
//   what was published is not published again.
// - Overdue timers go out at once after a restart, in due order (the backlog is indexed before
//   the first delivery; afterwards indexing and delivery take turns, a batch each).
// - A recalled timer is never delivered: recalls run on the service's thread, between deliveries
//   (one whose timer is not found waits until everything sent before it was indexed); the recall
//   record is in the log before the recall is confirmed.
// - Pending timers survive retention: retention keeps every segment whose pending count is not
//   zero, and a timer stored longer ago than roll_after_ms is copied further on in the log
//   (rolled; found by walking the timer queue through the segments that hold pending timers), so
//   its old segment's count drops to zero.
//
// One thread does everything (ingest, delivery, recall, roll); the public methods are
// thread-safe.
class TimerService final {
 public:
  // `metrics`, when given, is fed the pending count per topic, deliveries, recalls and lateness.
  // `traces`, when given, records due and recall events of traced messages (those carrying
  // TRACE_ON=true); it must outlive the service.
  TimerService(store::MessageStore& store, TopicManager& topics, TimerOptions options, std::string broker_name,
               metrics::BrokerMetrics* metrics = nullptr, trace::TraceWriter* traces = nullptr);
  ~TimerService();
  TimerService(const TimerService&) = delete;
  TimerService& operator=(const TimerService&) = delete;

  // Registers with the store (dispatch wake-ups, retention floor), loads the saved state and
  // starts the thread. REQUIRES: before traffic starts.
  Status Start();
  // Stops the thread after its current step. Idempotent.
  void Stop();


  using RecallCallback = std::function<void(Result<v1::RecallResponse>)>;
  // Cancels the pending timer named by `handle` on `topic`. `done` runs once, on the service
  // thread or the store's flush thread: RECALL_DONE once the recall record is stored,
  // RECALL_ALREADY_DELIVERED / RECALL_ALREADY_RECALLED, or NotFound / InvalidArgument.
  void Recall(std::string topic, RecallHandle handle, RecallCallback done);

  TimerStats stats() const;
  const TimerOptions& options() const { return options_; }
  const std::string& broker_name() const { return broker_name_; }

  // The lowest commit-log offset a pending timer needs (INT64_MAX: none). Thread-safe.
  int64_t RetentionFloor() const;
  // Creates the timer topic if it does not exist yet; cheap once it does. Thread-safe.
  Status EnsureTimerTopic();

 private:
  struct PendingRecall {
    std::string topic;
    RecallHandle handle;
    RecallCallback done;
  };
  struct DueEntry {
    std::string key;
    int64_t due_ms = 0;
    int64_t offset = 0;
    std::string msg_id;
    std::string topic;
  };

  void Run();
  void Wake();
  Status LoadState();
  // Reads new timer-topic records into the index; true when it read any.
  bool Ingest();
  // Delivers what is due now; true when it delivered or dropped any. Sets `next_due_ms` to when
  // the next entry is due (0: none seen).
  bool DeliverDue(int64_t* next_due_ms);
  // Saves the in-flight marker: deliveries may be appended after the log's current end.
  Status WriteInFlightMarker();
  void ClearInFlightMarker();
  void ProcessRecalls();
  // Answers one recall; false when it must wait until indexing has caught up.
  bool RecallOne(PendingRecall& r);
  void RollOld();
  void ForgetOldRecallMarkers();
  // The base offset of the commit-log segment holding `offset`.
  int64_t SegmentOf(int64_t offset) const;
  // Changes the pending count of the segment holding `offset` (a timer record at queue offset
  // `queue_offset` of the timer queue); Write saves it with its batch and applies it in memory
  // once the batch is written.
  void AddSegmentPending(int64_t offset, int64_t queue_offset, int64_t delta);
  // Loads timer/seg/ (or builds it from an older broker's timer/o/ keys, which it then deletes).
  Status LoadSegmentCounts();
  // After a restart or a failed append: finds, from the in-flight marker, which deliveries reached
  // the log, and removes their entries.
  Status ResolveInFlight();
  // Finds the pending entry of (due, msg_id) on `topic`; false when none.
  bool FindEntry(int64_t due_ms, std::string_view msg_id, std::string_view topic, DueEntry* entry);
  // Deletes the entries' keys in `batch`, lowers the pending counts and adds them to the total
  // saved under counter_key (delivered, recalled or dropped).
  void RemoveEntries(const std::vector<DueEntry>& entries, store::MetaStore::StateBatch* batch,
                     std::string_view counter_key);
  // Changes a topic's pending count in memory; Write saves the changed counts with its batch.
  void AddPending(const std::string& topic, int64_t delta);
  // Writes `batch` plus the pending counts changed since the last write, and updates the gauges.
  Status Write(store::MetaStore::StateBatch* batch);
  Result<store::AppendResult> AppendAndWait(std::vector<std::string> records);

  store::MessageStore& store_;
  store::MetaStore& meta_;
  TopicManager& topics_;
  const TimerOptions options_;
  const std::string broker_name_;
  metrics::BrokerMetrics* const metrics_;
  trace::TraceWriter* const traces_;
  SystemQueueReader reader_;  // the timer queue, from ingest_offset_

  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;           // GUARDED_BY(mu_)
  bool signalled_ = false;      // GUARDED_BY(mu_)
  std::deque<PendingRecall> recalls_;  // GUARDED_BY(mu_)
  std::atomic<bool> topic_ready_{false};
  std::mutex topic_mu_;

  // Service-thread state.
  int64_t ingest_offset_ = 0;   // next queue offset of the timer topic to index
  int64_t scan_from_ms_ = 0;    // no pending entry is due before this
  int64_t next_scan_ms_ = 0;    // DeliverDue scans the index from this time on (INT64_MAX: nothing indexed)
  int64_t started_ms_ = 0;
  int64_t last_roll_ms_ = 0;
  int64_t last_marker_cleanup_ms_ = 0;
  int64_t last_delivery_ms_ = 0;
  int64_t marker_end_ = -1;      // the log end the saved in-flight marker names (-1: none saved)
  bool caught_up_once_ = false;  // the backlog found at start has been indexed
  bool ingest_behind_ = false;   // the last round left records of the timer queue unindexed
  std::set<std::string> recalling_;  // "due/msg_id" of recalls whose record is not indexed yet

  // Figures (stats() from any thread).
  mutable std::mutex stats_mu_;
  std::map<std::string, int64_t> pending_by_topic_;  // GUARDED_BY(stats_mu_)
  std::set<std::string> changed_topics_;             // GUARDED_BY(stats_mu_): counts not yet written
  int64_t pending_ = 0, delivered_ = 0, recalled_ = 0, dropped_ = 0;  // GUARDED_BY(stats_mu_)
  LatencyHistogram lateness_us_;  // GUARDED_BY(stats_mu_)
  std::atomic<int64_t> next_due_ms_{0};
  // Pending timers per commit-log segment (only segments with some), and the timer-queue offset
  // of the first timer record indexed in each (-1: unknown, from an older broker's state).
  // Written on the service thread after each successful batch.
  struct SegmentPending {
    int64_t count = 0;
    int64_t first_queue_offset = -1;
  };
  std::map<int64_t, SegmentPending> segments_;
  std::map<int64_t, SegmentPending> segment_changes_;  // deltas (count) not yet written
  // The base of the lowest segment holding a pending timer (INT64_MAX: none): the retention
  // floor, read from the retention thread.
  std::atomic<int64_t> offset_floor_{INT64_MAX};
  int64_t roll_cursor_ = -1;   // timer-queue offset the roll walk goes on from (-1: not started)
  bool roll_behind_ = false;   // the last roll round stopped at its budget
  int64_t recheck_below_ = -1; // queue offsets below this were indexed once before the log lost its tail
};

}  // namespace vela::broker::timer
