#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "client/client_instance.h"
#include "client/queue_allocation.h"
#include "client/trace_dispatcher.h"
#include "common/result.h"
#include "vela/producer.h"

namespace vela::client {

// Settings of a producer (ProducerBuilder fills them).
struct ProducerSettings {
  ClientConfig config;
  std::string group;
  int64_t send_timeout_ms = 3000;
  int max_retries = 2;
  size_t max_message_bytes = 4 * 1024 * 1024;
  std::vector<std::string> topics;  // routes fetched, and brokers connected, at Start
  // Processors for requests brokers send this client (TransactionProducer: CHECK_TRANSACTION_STATE).
  ClientInstance::RegisterFn register_fn;
  // Heartbeat every broker of the cluster, not only those of known routes (a TransactionProducer
  // must be known to every broker that may hold a transaction of its group).
  bool heartbeat_every_broker = false;
  // Message trace (ProducerBuilder::EnableTrace): one send event, carrying its store, per traced send.
  bool trace = false;
};

// ProducerImpl is the producer behind the public Producer: it encodes messages once (their ids
// stay the same across retries), picks queues, sends and retries on another broker. Thread-safe.
// Owns its ClientInstance. Async sends run their network part on io threads and their callbacks
// and retries on the callback pool; a route that is not cached is fetched on the internal pool.
class ProducerImpl {
 public:
  explicit ProducerImpl(ProducerSettings settings);
  ~ProducerImpl();

  // Creates the client instance and starts the heartbeat. Fails when no name server is set.
  vela::Status Start();

  Result<std::vector<SendReceipt>> Send(const std::vector<Message>& messages, bool batch);
  void SendAsync(Message message, SendCallback callback);
  vela::Status SendOneway(const Message& message);
  Result<RecallOutcome> Recall(const std::string& topic, const std::string& recall_handle);
  void Shutdown();

  const std::string& client_id() const { return instance_->client_id(); }
  const ProducerSettings& settings() const { return settings_; }
  // Trace events dropped or lost (0 without tracing).
  uint64_t trace_dropped() const { return tracer_ ? tracer_->dropped() + tracer_->failed() : 0; }
  // REQUIRES: Start() succeeded.
  ClientInstance& instance() { return *instance_; }
  bool shut_down() const { return shut_down_.load(std::memory_order_acquire); }

  // Where a transactional message went: the broker (name and the address it was sent to) and the
  // commit-log offset of its half message.
  struct Placement {
    std::string broker_name;
    std::string addr;
    int64_t physical_offset = -1;
  };
  // Sends one message already stamped with its transaction's properties (validated by the caller
  // before stamping), with unique id `msg_id`, and waits. With `pin` null the queue is picked as
  // for Send, retries on another broker included; otherwise a queue of the topic on broker
  // pin->broker_name (the broker picks the queue when the topic has no route yet), without
  // retry: FailedPrecondition when the route has no writable queue on that broker. Fills *placed.
  Result<SendReceipt> SendTransactional(const Message& message, const std::string& msg_id, const Placement* pin,
                                        Placement* placed);
  // What an asynchronous transactional send calls once it is done (on the callback pool): the
  // outcome, the receipt, the message as it was sent, and where it went.
  using PlacedCallback =
      std::function<void(const vela::Status& status, const SendReceipt& receipt, const Message& sent,
                         const Placement& placed)>;
  // SendTransactional's first-message form (no pin: retried on another broker), asynchronous: the
  // message travels on the send lanes with other sends to its queue.
  void SendTransactionalAsync(Message message, const std::string& msg_id, PlacedCallback callback);

  // True for the errors worth another attempt on another broker: the broker is unreachable,
  // timed out, or its disk is full.
  static bool IsRetryable(const vela::Status& status);

 private:
  // One send request (one message or a batch) across its attempts.
  struct SendJob {
    std::string topic;
    std::string sharding_key;
    std::vector<Message> messages;
    std::vector<std::string> msg_ids;  // given once, kept across attempts
    int64_t born_ms = 0;
    int64_t born_ns = 0;               // monotonic, for the trace's send cost
    std::string records;               // sync sends: the encoded body (EncodeFor), reused by every attempt
    int64_t encoded_queue = -1;        // the queue id written into `records`, -1 before encoding
    uint32_t count = 0;
    bool batch = false;
    int64_t deadline_ms = 0;
    int attempts_left = 0;
    std::string avoid_broker;
    vela::Status last_error;
    SendCallback callback;  // async only
    PlacedCallback placed_callback;  // async transactional sends (instead of `callback`)
  };
  // Where one attempt goes.
  struct Target {
    std::string broker_name;
    std::string addr;
    int32_t queue_id = -1;
  };

  // `validate` false: the caller validated the messages (transactional sends).
  Result<std::shared_ptr<SendJob>> MakeJob(std::vector<Message> messages, bool batch, bool validate = true);
  // The job's records addressed to queue_id: encoded on the first attempt, re-addressed (queue id
  // and CRC) only when a retry goes to another queue. Not thread-safe: one attempt at a time.
  static const std::string& EncodeFor(SendJob& job, int32_t queue_id, uint64_t born_host);
  // Appends the job's records, addressed to `queue`, to *out (async lanes encode into the frame).
  static void AppendRecords(const SendJob& job, uint32_t queue, uint64_t born_host, std::string* out);

  // Async sends to one (broker, topic, queue) share a lane: one request in flight, and the jobs
  // that arrive meanwhile leave together as one batch when it returns. A lone send leaves at
  // once (no added latency); under load the per-request cost is paid once per batch.
  struct Lane {
    bool busy = false;
    std::vector<std::shared_ptr<SendJob>> waiting;
  };
  void EnqueueOnLane(std::shared_ptr<SendJob> job, const Target& target);
  void DispatchLane(const std::string& key, const Target& target, std::vector<std::shared_ptr<SendJob>> jobs);
  void CompleteLaneJobs(std::vector<std::shared_ptr<SendJob>> jobs, const std::string& addr,
                        const std::string& broker_name, Result<net::Frame> response);
  // Picks the target of the next attempt. With `may_block` false, fails with kUnavailable
  // (message "no cached route") instead of asking the name servers.
  Result<Target> PickTarget(SendJob& job, bool may_block);
  // When no broker has the topic yet: any broker of the cluster, queue chosen by the broker (so
  // brokers with auto-creation enabled create it).
  Result<Target> PickAnyBroker(SendJob& job);
  v1::Header MakeHeader(const SendJob& job, int32_t queue_id) const;
  // The receipts of one response, in order, for the messages of `jobs` (one request).
  // `broker_name` names the broker in the recall handles of timer messages.
  // With `physical_offsets`, also the commit-log offset of each record.
  Result<std::vector<SendReceipt>> ParseResponse(const std::vector<const SendJob*>& jobs, const std::string& addr,
                                                 const std::string& broker_name, Result<net::Frame> response,
                                                 std::vector<int64_t>* physical_offsets = nullptr) const;
  // The target of a transactional send pinned to one broker (SendTransactional).
  Result<Target> PickPinnedTarget(const SendJob& job, const Placement& pin);
  // The brokers heartbeats go to: those of known routes, and with heartbeat_every_broker every
  // master of the cluster (the list refreshed at each heartbeat).
  std::vector<std::string> HeartbeatAddrs();
  void AttemptAsync(std::shared_ptr<SendJob> job, bool may_block);
  // Starts an async job, or reports MakeJob's error through `fail` on the callback pool.
  void StartAsync(Result<std::shared_ptr<SendJob>> job, std::function<void(const vela::Status&)> fail);
  // `placed`: where an acknowledged job went (for placed_callback; empty on failure).
  void FinishAsync(const std::shared_ptr<SendJob>& job, const vela::Status& status, const SendReceipt& receipt,
                   const Placement& placed);
  v1::Header MakeHeartbeat() const;
  void SendHeartbeat();
  // SendTransactional without its trace events.
  Result<SendReceipt> SendTransactionalUntraced(const Message& message, const std::string& msg_id, const Placement* pin,
                                                Placement* placed);
  // The sync attempts of a job (Send).
  Result<std::vector<SendReceipt>> SendJobSync(SendJob& job);
  // With tracing on: the send event of one message, carrying its store when `receipt`.
  // `start_ms`: when the send began; `cost_us`: until its outcome; `error`: empty when it was
  // acknowledged, else the failure's text. Never blocks.
  void TraceSend(const Message& message, const std::string& msg_id, int64_t start_ms, int64_t cost_us,
                 const std::string& error, const SendReceipt* receipt);

  ProducerSettings settings_;
  std::unique_ptr<ClientInstance> instance_;
  std::unique_ptr<TraceDispatcher> tracer_;  // with settings_.trace; stopped before instance_
  QueueSelector selector_;
  std::atomic<bool> shut_down_{false};
  std::mutex mu_;
  std::condition_variable idle_cv_;
  int64_t in_flight_ = 0;  // GUARDED_BY(mu_): async sends not finished
  std::mutex lanes_mu_;
  std::unordered_map<std::string, Lane> lanes_;  // GUARDED_BY(lanes_mu_), by "addr/topic/queue"
};

}  // namespace vela::client
