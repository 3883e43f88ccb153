#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <utility>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "vela/consumer.h"
#include "vela/producer.h"
#include "vela/status.h"
#include "vela/transaction.h"

// The thin layer between the workload driver and Vela's SDK. It plays the role of a peerbench
// adapter (../shared/peers/src/broker.h): it only moves bytes and acknowledgements; the driver
// owns windows, timestamps, caps and statistics.
namespace vela::bench {

// Settings shared by every client a run creates.
struct ClientSettings {
  std::string namesrv;  // "host:port;..." (may be empty: the SDK then reads VELA_NAMESRV)
  std::string topic;
  std::string group;             // consumer group (consume / e2e)
  size_t consume_threads = 0;    // push consumer listener threads (0: the SDK's network thread)
  int pull_batch_size = 32;      // push consumer pull batch
  bool orderly = false;          // consume --orderly: broker queue locks, one key at a time per queue
  // consume --broadcast: the broadcasting model, offsets in a local file under this directory
  // (empty: clustering).
  std::string broadcast_offset_dir;
  int64_t send_timeout_ms = 3000;
  // SDK send-callback threads; 0 runs the acknowledgement callback on the SDK's network thread.
  size_t callback_threads = 0;
  // produce --transaction: each message is a one-message transaction (half message, then commit)
  // sent with TransactionProducer::SendInTransactionAsync; acknowledged once the commit is.
  bool transaction = false;
  // --trace: producers and consumers with EnableTrace (events to RMQ_SYS_TRACE_TOPIC).
  bool trace = false;
  // --sharding-keys N: message with token i carries the sharding key "key-<i mod N>" (the SDK
  // picks its queue from the key; an orderly consumer keeps order per key); 0: no key.
  int64_t sharding_keys = 0;
};

// BenchProducer publishes through one vela::client::Producer (one connection per broker) and
// hands acknowledgements back as tokens. Publish never waits for the broker: it calls SendAsync,
// whose callback (on the SDK's network thread, or a callback thread with --callback-threads N)
// either calls the AckHandler given to Create, or, without one, queues the token under a mutex
// for PollAcks, which waits on a condition variable. Thread-safe: Publish from any thread,
// PollAcks from one driver thread, callbacks from any SDK thread.
class BenchProducer {
 public:
  // Called with each send's token and outcome, on the thread that completed it.
  using AckHandler = std::function<void(uint64_t token, bool ok)>;
  // Builds and starts the producer; fails with the SDK's status.
  static client::StatusOr<std::unique_ptr<BenchProducer>> Create(const ClientSettings& settings,
                                                                 AckHandler on_ack = nullptr);
  ~BenchProducer();
  BenchProducer(const BenchProducer&) = delete;
  BenchProducer& operator=(const BenchProducer&) = delete;

  // Sends `len` bytes asynchronously; the token comes back from PollAcks once acknowledged.
  void Publish(const char* data, size_t len, uint64_t token) { Publish(std::string(data, len), token); }
  // The same with a body the message takes over; a timer message when deliver_at_ms > 0.
  void Publish(std::string body, uint64_t token, int64_t deliver_at_ms = 0);
  // Diagnostic variant: sends with the blocking Producer::Send on the calling thread and queues the
  // token before returning (no SDK callback-thread hop). Only meaningful with window 1.
  void PublishSync(const char* data, size_t len, uint64_t token);
  // Appends acknowledged tokens to `acked` and failed ones to `failed`, waiting up to
  // `timeout_us` for at least one. Returns how many were appended in total.
  size_t PollAcks(std::vector<uint64_t>& acked, std::vector<uint64_t>& failed, int64_t timeout_us);
  // The address of a broker that acknowledged a message ("" before the first acknowledgement).
  std::string broker_addr();
  // The first send error seen ("" if none).
  std::string first_error();
  // With --trace: trace events the SDK dropped because its trace queue was full (plain producers;
  // the transaction producer does not count them: 0).
  uint64_t trace_dropped() const;
  // Waits for in-flight sends and stops the SDK threads.
  void Shutdown();

 private:
  BenchProducer(std::string topic, std::unique_ptr<client::Producer> producer, AckHandler on_ack,
                int64_t sharding_keys);
  // Queues the outcome of one send (any thread).
  void Complete(uint64_t token, const client::Status& status, const client::SendReceipt& receipt);
  // Transaction mode only: every message is a one-message transaction, committed by its executor.
  std::unique_ptr<client::TransactionProducer> tx_producer_;

  const std::string topic_;
  const int64_t sharding_keys_;  // ClientSettings::sharding_keys
  std::unique_ptr<client::Producer> producer_;
  const AckHandler on_ack_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<uint64_t> acked_;   // GUARDED_BY(mu_)
  std::vector<uint64_t> failed_;  // GUARDED_BY(mu_)
  std::string broker_addr_;       // GUARDED_BY(mu_)
  std::string first_error_;       // GUARDED_BY(mu_)
};

// Called for each received message with its body; runs on SDK listener threads concurrently.
using BodyHandler = std::function<void(const std::string& body)>;

// BenchConsumer subscribes a push consumer (clustering, or orderly or broadcasting as `settings`
// say; from the first offset, tag "*") to the topic and hands each message body to the handler on the SDK's listener threads. Every message
// is reported consumed (kSuccess), so offsets are committed every 5 s and at Shutdown.
// Thread-safe; the handler must be.
class BenchConsumer {
 public:
  static client::StatusOr<std::unique_ptr<BenchConsumer>> Create(const ClientSettings& settings,
                                                                 BodyHandler handler);
  ~BenchConsumer();
  BenchConsumer(const BenchConsumer&) = delete;
  BenchConsumer& operator=(const BenchConsumer&) = delete;

  // Stops pulling, waits for listeners and commits the consumed offsets (peerbench's close()).
  void Shutdown();

 private:
  explicit BenchConsumer(std::unique_ptr<client::PushConsumer> consumer);
  std::unique_ptr<client::PushConsumer> consumer_;
};

// The SDK producer every workload uses: `settings`' name servers, send timeout and callback
// threads, the topic's route and connection ready before the first send.
client::StatusOr<std::unique_ptr<client::Producer>> BuildBenchSdkProducer(const ClientSettings& settings);

// Asks the broker at `broker_addr` for BROKER_STATUS and returns its flushDiskType
// ("ASYNC_FLUSH" / "SYNC_FLUSH"), or "unknown (<reason>)".
std::string QueryFlushDiskType(const std::string& broker_addr);

}  // namespace vela::bench
