#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "vela/client_config.h"
#include "vela/message.h"
#include "vela/status.h"

namespace vela::client {

class ProducerImpl;

// Called once per SendAsync with the outcome; `receipt` is meaningful only when status.ok().
// Runs on one of the producer's callback threads, never on a network thread; it may block
// briefly but long work delays other callbacks.
using SendCallback = std::function<void(const Status& status, const SendReceipt& receipt)>;

// Producer sends messages to the brokers that serve their topics, found through the name
// servers. Routes are cached and refreshed every 30 s and after errors. Queues are chosen
// round-robin over the writable queues of every broker, or by a hash of the sharding key. A send
// that fails with a retryable error (broker unavailable, timed out, disk full) is retried on
// another broker up to max_retries times within the send timeout.
//
// Built by ProducerBuilder, started on Build. Thread-safe: any number of threads may send at once.
// Owns its network and callback threads; Shutdown (or the destructor) waits for pending async
// sends to complete or fail.
class Producer {
 public:
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Sends one message and waits for the broker's acknowledgement. Fails with InvalidArgument for
  // a bad topic, property or empty body, NotFound (kTopicNotFound) when no broker serves the
  // topic, DeadlineExceeded after the send timeout, or the last broker error. Blocks.
  StatusOr<SendReceipt> Send(const Message& message);

  // Sends one message without blocking on the network; `callback` gets the outcome. Never
  // blocks the caller on I/O (a missing route is fetched on an SDK thread).
  void SendAsync(Message message, SendCallback callback);

  // Sends without waiting for or learning the outcome (no retry). Returns an error only for an
  // invalid message or when no route is known. May block to fetch a missing route.
  Status SendOneway(const Message& message);

  // Sends messages of one topic in one request, stored together on one queue (the first
  // message's sharding key decides it, when set). Returns one receipt per message, in order.
  StatusOr<std::vector<SendReceipt>> SendBatch(const std::vector<Message>& messages);

  // Cancels a pending timer message by the recall handle of its receipt. kRecalled once the
  // broker stored the recall; kAlreadyDelivered when it came too late. Fails with InvalidArgument
  // for a handle no broker issued, NotFound when the broker holds no such timer for `topic`.
  // Blocks.
  StatusOr<RecallOutcome> Recall(const std::string& topic, const std::string& recall_handle);

  // Waits for in-flight async sends, then stops the threads. Idempotent. Sends after Shutdown
  // fail with FailedPrecondition.
  void Shutdown();

  // The client id this producer reports to brokers.
  const std::string& client_id() const;

  // With EnableTrace: trace events dropped because the trace queue was full (tracing never slows
  // or blocks a send; under overload events are dropped and counted here), plus those lost
  // because their batch failed. 0 without tracing.
  uint64_t trace_dropped() const;

 private:
  friend class ProducerBuilder;
  explicit Producer(std::unique_ptr<ProducerImpl> impl);
  std::unique_ptr<ProducerImpl> impl_;
};

// Builds and starts a Producer. Thread-compatible (configure from one thread).
class ProducerBuilder {
 public:
  ProducerBuilder& SetClientConfig(ClientConfig config);
  // "host:port;host:port"; overrides the ClientConfig's (default: VELA_NAMESRV).
  ProducerBuilder& SetNamesrvAddr(std::string addrs);
  ProducerBuilder& SetGroup(std::string producer_group);
  // Total time a Send may take, retries included (default 3000 ms).
  ProducerBuilder& SetSendTimeoutMs(int64_t timeout_ms);
  // Extra attempts on another broker after a retryable failure (default 2).
  ProducerBuilder& SetMaxRetries(int retries);
  // Largest body accepted before sending (default 4 MiB).
  ProducerBuilder& SetMaxMessageBytes(size_t bytes);
  // Topics this producer will send to: Build fetches their routes and connects to their brokers,
  // so the first send does not wait for either. Optional; other topics can still be sent to.
  ProducerBuilder& SetTopics(std::vector<std::string> topics);
  // The SDK's log level and file (see ClientConfig::log_level, log_file; process-wide). Build
  // fails with InvalidArgument on an unknown level or a file that cannot be opened.
  ProducerBuilder& SetLogLevel(std::string level);
  ProducerBuilder& SetLogFile(std::string path);
  // Message trace (docs/operations.md "Message trace"): every Send, SendAsync and SendBatch records
  // a send event (client id, time, cost, status, topic, keys, tag) and, once acknowledged, a store
  // event (broker, queue, offset, store time) into RMQ_SYS_TRACE_TOPIC, written asynchronously and
  // in batches by a background thread; `vela-admin message trace ID` prints them. Messages get the
  // property TRACE_ON=true, so the broker's timer and transaction services add their events.
  // SendOneway is not traced. Off by default.
  ProducerBuilder& EnableTrace();

  // Validates the settings and starts the producer. Fails with InvalidArgument when no name
  // server address is given.
  StatusOr<std::unique_ptr<Producer>> Build();

 private:
  ClientConfig config_;
  std::string group_ = "DEFAULT_PRODUCER";
  int64_t send_timeout_ms_ = 3000;
  int max_retries_ = 2;
  size_t max_message_bytes_ = 4 * 1024 * 1024;
  std::vector<std::string> topics_;
  bool trace_ = false;
};

}  // namespace vela::client
