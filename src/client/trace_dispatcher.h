#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "common/trace_record.h"
#include "net/rpc_client.h"
#include "vela/consumer.h"

namespace vela::client {

// Trace events taken from a TraceQueue together: each checked and encoded (EncodeTraceEvent), with
// the broker it goes to (the broker that stored the traced message: its trace records sit beside
// it), packed into one buffer that is handed back and forth, so that queueing an event allocates
// nothing once the buffers have grown.
class TraceBatch {
 public:
  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  void clear() {
    bytes_.clear();
    count_ = 0;
  }
  // Calls fn(broker_addr, msg_id, encoded) for each event, oldest first; the views live as long
  // as the batch is not changed.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    std::string_view rest = bytes_;
    for (size_t i = 0; i < count_; ++i) {
      uint32_t header[kHeaderWords];
      std::memcpy(header, rest.data(), sizeof header);
      rest.remove_prefix(sizeof header);
      const std::string_view broker = rest.substr(0, header[0]);
      const std::string_view encoded = rest.substr(header[0], header[1]);
      rest.remove_prefix(header[0] + header[1]);
      fn(broker, encoded.substr(header[2], header[3]), encoded);
    }
  }

 private:
  friend class TraceQueue;
  // Per event: broker size, encoded size, where the id starts in the encoding, the id's size;
  // then the broker's address and the encoding.
  static constexpr size_t kHeaderWords = 4;
  void Append(std::string_view broker_addr, std::string_view encoded, size_t id_at, size_t id_size);

  std::string bytes_;
  size_t count_ = 0;
};

// TraceQueue is the bounded hand-off between the threads that trace (senders, listeners) and the
// trace dispatcher's thread. Offer never blocks: when `capacity` events wait, the event is dropped
// and counted. Thread-safe.
class TraceQueue {
 public:
  explicit TraceQueue(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  // Queues a copy of one encoded event (id_at, id_size: where the traced message's id lies in
  // it), or drops it (counted in dropped()) when the queue is full or closed. Returns whether it
  // was queued. Never blocks on anything but the queue's own short lock.
  bool Offer(std::string_view broker_addr, std::string_view encoded, size_t id_at, size_t id_size);
  // Waits until `wake_at` events wait, the queue is closed, or `linger` passed since the call
  // with at least one event waiting (or `idle` with none); then replaces *batch with every event
  // waiting (at most the capacity), oldest first; the queue keeps the batch's old buffer. Leaves
  // *batch empty only when the queue is closed and empty, or `idle` passed with nothing.
  void TakeBatch(size_t wake_at, std::chrono::milliseconds linger, std::chrono::milliseconds idle,
                 TraceBatch* batch);
  // Refuses further offers (counted as dropped) and wakes a waiting TakeBatch. Idempotent.
  void Close();

  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  size_t size() const;
  bool closed() const;

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  TraceBatch items_;     // GUARDED_BY(mu_)
  bool closed_ = false;  // GUARDED_BY(mu_)
  std::atomic<uint64_t> dropped_{0};
};

// Settings of a TraceDispatcher.
struct TraceDispatcherOptions {
  size_t queue_capacity = 20000;   // events waiting at most; more are dropped and counted
  size_t max_batch = 1024;         // events per SEND_TRACE request at most (one request in flight);
                                   // the thread wakes when this many wait
  int64_t linger_ms = 50;          // how long a partial batch waits for company
  int64_t request_timeout_ms = 3000;
  int64_t flush_on_stop_ms = 3000;  // Stop's bound for writing what is still queued
};

// TraceDispatcher writes a client's trace events (EnableTrace on a producer or push consumer) to
// the brokers, asynchronously and in batches: tracing threads only Offer to a bounded TraceQueue
// (full: dropped and counted, never waiting), and one background thread takes batches, groups
// them by broker and sends one SEND_TRACE request per broker and batch over its own connection
// (its own RpcClient: trace traffic never queues behind messages on the owner's connections).
// A batch a broker refuses or that times out is dropped, counted in failed(), and logged (at most
// a line every 10 s). Thread-safe. Lifecycle: Start, any number of Record calls, Stop (writes
// what is queued, bounded by flush_on_stop_ms); Record after Stop drops.
class TraceDispatcher {
 public:
  explicit TraceDispatcher(TraceDispatcherOptions options = {});
  ~TraceDispatcher();
  TraceDispatcher(const TraceDispatcher&) = delete;
  TraceDispatcher& operator=(const TraceDispatcher&) = delete;

  void Start();
  // The client id written into send and consume events that name none (set once the owner's
  // client exists). REQUIRES: before Start.
  void SetClientId(std::string client_id) { client_id_ = std::move(client_id); }
  // Checks and encodes one event and hands it over (a send or consume event that names no client
  // gets this client's id); `broker_addr` empty: the broker of the last event that named one (the
  // event is dropped when there is none yet). An event ValidateTraceEvent refuses is counted in
  // failed(). Never blocks; copies only the encoded event, so callers may reuse `event`.
  void Record(const vela::trace::TraceEvent& event, std::string_view broker_addr);
  // The client id given to SetClientId.
  const std::string& client_id() const { return client_id_; }
  // Writes what is queued (bounded by flush_on_stop_ms), then stops the thread and the
  // connections. Idempotent. REQUIRES: not called from a listener or send callback.
  void Stop();

  // Events dropped because the queue was full (or the dispatcher stopped).
  uint64_t dropped() const { return queue_.dropped() + unroutable_.load(std::memory_order_relaxed); }
  // Events lost because their batch failed (a broker refused it, or it timed out).
  uint64_t failed() const { return failed_.load(std::memory_order_relaxed); }
  // Events written (acknowledged by a broker).
  uint64_t written() const { return written_.load(std::memory_order_relaxed); }

 private:
  void Run();
  void SendBatch(const TraceBatch& batch, int64_t timeout_ms);
  void LogFailure(const std::string& what);

  const TraceDispatcherOptions options_;
  TraceQueue queue_;
  std::unique_ptr<net::RpcClient> rpc_;
  std::thread thread_;
  std::string client_id_;  // set before Start
  std::mutex mu_;
  std::string last_broker_addr_;  // GUARDED_BY(mu_)
  uint64_t born_host_ = 0;
  const uint64_t instance_id_;  // unique per process: keys Record's per-thread cache
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};
  std::atomic<int64_t> stop_deadline_ms_{0};  // set by Stop: the last batches' timeout bound
  std::atomic<uint64_t> unroutable_{0};
  std::atomic<uint64_t> failed_{0};
  std::atomic<uint64_t> written_{0};
  std::atomic<int64_t> last_failure_log_ms_{0};
};

// A listener that runs `inner` and records one consume event per delivery it decides (kSuccess:
// "ok"; kFailure or an exception: "failed"; kLeave: nothing) with `group`, the attempt
// (reconsume_times + 1), the start time and the listener's cost, to the broker the message came
// from. Exceptions are rethrown. `tracer` is shared with the consumer, which stops it after its
// listeners finished.
MessageListener TracingListener(std::shared_ptr<TraceDispatcher> tracer, std::string group, MessageListener inner);

}  // namespace vela::client
