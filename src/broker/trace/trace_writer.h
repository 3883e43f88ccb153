#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "broker/topic_manager.h"
#include "common/status.h"
#include "common/trace_record.h"
#include "store/message_store.h"

namespace vela::broker::trace {

// TraceWriter is the one way trace records reach the reserved topic RMQ_SYS_TRACE_TOPIC
// (common/trace_record.h): the SEND_TRACE processor appends the SDK's batches through it, and the
// timer and transaction services record their own events for traced messages (those carrying the
// TRACE_ON property). It creates the topic on first use (one queue, through
// TopicManager::UpsertSystemTopic). Never blocks on disk I/O: appends complete through the store's
// callback. Thread-safe; `store` and `topics` must outlive it.
class TraceWriter {
 public:
  TraceWriter(store::MessageStore& store, TopicManager& topics, std::string broker_addr, uint64_t store_host);

  // Appends records already checked by ValidateTraceRecord (queue 0 each), holding `events` events
  // in all; `done` gets the outcome (called as the store's AppendCallback is: cheap, from the flush
  // thread under SYNC_FLUSH). The records must stay valid until this returns.
  void AppendRecords(std::vector<std::string_view> records, uint64_t events, std::function<void(Status)> done);

  // A broker event about a traced message: filled with this broker's address, encoded and
  // appended. Failures are counted and logged (at most a line every 10 s), never returned: a
  // trace must not fail the operation it describes.
  void Record(vela::trace::TraceEvent event);

  // True when a message's encoded properties carry the trace flag (TRACE_ON=true).
  static bool IsTraced(std::string_view properties);

  uint64_t events_recorded() const { return recorded_.load(std::memory_order_relaxed); }
  uint64_t events_failed() const { return failed_.load(std::memory_order_relaxed); }

 private:
  Status EnsureTopic();
  void CountFailure(const Status& status);

  store::MessageStore& store_;
  TopicManager& topics_;
  const std::string broker_addr_;
  const uint64_t store_host_;
  std::mutex create_mu_;  // serializes the topic's creation
  std::atomic<bool> topic_ready_{false};
  std::atomic<uint64_t> recorded_{0};
  std::atomic<uint64_t> failed_{0};
  std::atomic<int64_t> last_failure_log_ms_{0};
};

}  // namespace vela::broker::trace
