#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "vela/client_config.h"
#include "vela/message.h"
#include "vela/producer.h"
#include "vela/status.h"

// Transactional messages (docs/transactions.md): messages stored as half messages that no consumer
// sees until the producer commits them; a rollback drops them. When the producer goes silent, the
// broker asks a live producer of the same group (its TransactionChecker) what became of them.
namespace vela::client {

// What became of a transaction: publish its messages, drop them, or not known yet (the broker
// asks again later, up to its transactionCheckMax checks).
enum class TransactionResolution { kCommit, kRollback, kUnknown };

// Answers the broker's check-back for one transaction. `message` is the transaction's first
// message (its topic is the real topic; properties["__transactionId__"] is the transaction id,
// msg_id its unique id). Runs on the SDK's callback threads, never on a network thread, possibly
// on several threads at once. An exception counts as no answer (the broker asks again later).
using TransactionChecker = std::function<TransactionResolution(const MessageView& message)>;

// SendInTransaction's local transaction: runs after the half message was acknowledged, on the
// calling thread; its answer commits, rolls back, or (kUnknown) leaves it to the check-back.
// An exception counts as kUnknown.
using LocalTransactionExecutor = std::function<TransactionResolution(const Message& message, const SendReceipt& receipt)>;

class TransactionProducerImpl;
struct TransactionState;

// Transaction is one open transaction of a TransactionProducer: up to 64 messages to any topics
// of the one broker its first message went to, committed or rolled back together. Made by
// TransactionProducer::BeginTransaction; filled by TransactionProducer::Send. Thread-safe.
// Dropping an open transaction that holds messages leaves it to the broker's check-back.
class Transaction {
 public:
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  // The transaction id: the unique id of its first message; empty before the first send.
  std::string id() const;
  // The broker ("ip:port") that holds the transaction; empty before the first send.
  std::string broker_addr() const;
  // The receipts of its acknowledged messages, in send order.
  std::vector<SendReceipt> receipts() const;

  // Publishes every message of the transaction (END_TRANSACTION, waits for the broker). OK when
  // committed now or earlier (by a check-back answer, say). FailedPrecondition when it has no
  // message, was already committed or rolled back through this object, or the broker says it was
  // rolled back; otherwise the broker's error. After an error that leaves the outcome unknown
  // (Unavailable, DeadlineExceeded) Commit or Rollback may be called again; no more sends.
  Status Commit();
  // Drops every message of the transaction; the mirror of Commit.
  Status Rollback();

 private:
  friend class TransactionProducerImpl;
  friend class TransactionProducer;
  explicit Transaction(std::shared_ptr<TransactionState> state);
  std::shared_ptr<TransactionState> state_;
};

// TransactionProducer sends transactional messages for one producer group and answers the
// broker's check-backs for that group with its TransactionChecker (any instance of the group may
// be asked about any transaction of the group). Every message it sends carries TRAN_MSG=true,
// PGROUP=<group> and __transactionId__=<transaction id>.
//
// Built by TransactionProducerBuilder, started on Build. Thread-safe. Send is synchronous and
// not retried on another broker once a transaction holds a message (its later messages must go
// to the same broker). Shutdown (or the destructor) stops answering check-backs.
class TransactionProducer {
 public:
  ~TransactionProducer();
  TransactionProducer(const TransactionProducer&) = delete;
  TransactionProducer& operator=(const TransactionProducer&) = delete;

  // A new, empty transaction of this producer.
  std::unique_ptr<Transaction> BeginTransaction();

  // Sends one message as a half message of `transaction` and waits for the acknowledgement; the
  // receipt's transaction_id names the transaction; its queue_id / queue_offset / offset_id are
  // those of the half message (the broker's half queue) until the commit publishes it, with the
  // same msg_id, in the topic's queues. The first message picks the broker (retried
  // on another broker like Producer::Send); later ones go to a queue of their topic on that broker,
  // without retry. Fails with InvalidArgument for a bad message (as Producer::Send; also a timer
  // message, or the 65th message of a transaction, or a transaction of another producer),
  // FailedPrecondition after Commit/Rollback, or when the topic has no writable queue on the
  // transaction's broker, and otherwise the broker's error.
  StatusOr<SendReceipt> Send(const Message& message, Transaction& transaction);

  // RocketMQ 4.x style: sends `message` as a one-message transaction, runs `executor`, then
  // commits, rolls back, or (kUnknown) leaves the outcome to the check-back. Returns the receipt
  // (with transaction_id) when the half message was stored and the executor's answer was carried
  // out; the send's error; or the error of the commit/rollback (then the check-back resolves it).
  StatusOr<SendReceipt> SendInTransaction(const Message& message, const LocalTransactionExecutor& executor);

  // SendInTransaction without blocking: the half message travels with other sends to its queue;
  // once it is acknowledged, `executor` runs on an SDK callback thread with the message as sent
  // (its transaction properties added), and its commit or rollback travels with the other
  // resolutions to that broker. `callback` runs once, on an SDK callback thread: OK with the
  // receipt (transaction_id set) when the executor's answer was carried out (or was kUnknown);
  // the send's error with an empty receipt; or, the half message being stored, the commit's or
  // rollback's error with the receipt (the broker's check-back then resolves the transaction).
  // The executor should be quick: it holds a callback thread while it runs.
  void SendInTransactionAsync(Message message, LocalTransactionExecutor executor, SendCallback callback);

  // Stops answering check-backs, unregisters from the brokers and stops the threads. Idempotent.
  // Sends, commits and rollbacks afterwards fail with FailedPrecondition.
  void Shutdown();

  // The client id this producer reports to brokers, and its producer group.
  const std::string& client_id() const;
  const std::string& producer_group() const;

 private:
  friend class TransactionProducerBuilder;
  explicit TransactionProducer(std::shared_ptr<TransactionProducerImpl> impl);
  std::shared_ptr<TransactionProducerImpl> impl_;
};

// Builds and starts a TransactionProducer. The producer group and the checker are required.
// Thread-compatible (configure from one thread).
class TransactionProducerBuilder {
 public:
  TransactionProducerBuilder& SetClientConfig(ClientConfig config);
  // "host:port;host:port"; overrides the ClientConfig's (default: VELA_NAMESRV).
  TransactionProducerBuilder& SetNamesrvAddr(std::string addrs);
  // Required: the group the broker's check-backs are addressed to.
  TransactionProducerBuilder& SetGroup(std::string producer_group);
  // Required: answers check-backs (see TransactionChecker).
  TransactionProducerBuilder& SetChecker(TransactionChecker checker);
  // Time a Send may take, retries of a first message included; also the wait for a commit or
  // rollback (default 3000 ms).
  TransactionProducerBuilder& SetSendTimeoutMs(int64_t timeout_ms);
  // Extra attempts on another broker for the first message of a transaction (default 2).
  TransactionProducerBuilder& SetMaxRetries(int retries);
  // Largest body accepted before sending (default 4 MiB).
  TransactionProducerBuilder& SetMaxMessageBytes(size_t bytes);
  // Topics this producer will send to: Build fetches their routes and connects to their brokers
  // (which also lets those brokers send check-backs at once). Optional.
  TransactionProducerBuilder& SetTopics(std::vector<std::string> topics);
  // The SDK's log level and file (see ClientConfig::log_level, log_file; process-wide).
  TransactionProducerBuilder& SetLogLevel(std::string level);
  TransactionProducerBuilder& SetLogFile(std::string path);
  // Message trace, as ProducerBuilder::EnableTrace: a send and a store event per message (the store
  // event is the half message's); the broker adds the transaction's commit or rollback and its
  // check-backs. Off by default.
  TransactionProducerBuilder& EnableTrace();

  // Validates the settings and starts the producer. Fails with InvalidArgument without a name
  // server address, a producer group or a checker, or with a non-positive send timeout.
  StatusOr<std::unique_ptr<TransactionProducer>> Build();

 private:
  ClientConfig config_;
  std::string group_;
  TransactionChecker checker_;
  int64_t send_timeout_ms_ = 3000;
  int max_retries_ = 2;
  size_t max_message_bytes_ = 4 * 1024 * 1024;
  std::vector<std::string> topics_;
  bool trace_ = false;
};

}  // namespace vela::client
