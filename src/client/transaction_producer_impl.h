#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "client/producer_impl.h"
#include "common/result.h"
#include "net/dispatcher.h"
#include "vela/v1/vela.pb.h"
#include "vela/transaction.h"

// The SDK side of transactional messages (docs/transactions.md): the state of one transaction,
// the producer that sends, resolves and answers check-backs, and the pure helpers they use.
namespace vela::client {

// The client-side cap of messages in one transaction (the broker enforces its own
// transactionMaxMessages, default 64, too).
inline constexpr size_t kMaxMessagesPerTransaction = 64;

// `message` as a transactional message of `producer_group` in transaction `transaction_id`:
// TRAN_MSG=true, PGROUP, __transactionId__ set (over any such property the message had).
Message StampTransactional(Message message, const std::string& producer_group, const std::string& transaction_id);

// What a transactional message may not be, on top of ValidateMessage: a timer message.
vela::Status ValidateTransactional(const Message& message, size_t max_body_bytes);

// The MessageView a TransactionChecker gets for a CHECK_TRANSACTION_STATE: the first record of
// `body` (the transaction's first half record) served by `broker_addr`, with its topic the
// REAL_TOPIC property (else the request's topic), its queue REAL_QID, and __transactionId__ set to
// the request's transaction id when the record lacks it. Corruption when the body holds no record.
Result<MessageView> CheckedMessageView(const v1::CheckTransactionRequest& request, std::string_view body,
                                       const std::string& broker_addr);

// The END_TRANSACTION request resolving a transaction, and the header that carries it alone.
v1::EndTransactionRequest MakeEndTransactionRequest(const std::string& producer_group, const std::string& transaction_id,
                                                    const std::vector<int64_t>& half_offsets,
                                                    TransactionResolution resolution, bool from_check,
                                                    bool by_operator);
v1::Header MakeEndTransaction(const std::string& producer_group, const std::string& transaction_id,
                              const std::vector<int64_t>& half_offsets, TransactionResolution resolution,
                              bool from_check, bool by_operator);
v1::TransactionResolution ToWire(TransactionResolution resolution);

// Maps an END_TRANSACTION response to what Commit (commit = true) or Rollback returns: OK when the
// transaction ended the asked way (now or earlier), FailedPrecondition when it ended the other
// way, or the transport / broker error with `addr` as context.
vela::Status EndTransactionOutcome(const Result<net::Frame>& response, bool commit, const std::string& transaction_id,
                                   const std::string& addr);
// The same for one result of END_TRANSACTION_BATCH (or the batch's transport error).
vela::Status EndTransactionOutcome(const Result<v1::EndTransactionResponse>& response, bool commit,
                                   const std::string& transaction_id, const std::string& addr);

// The state of one Transaction: its phase, id, broker, receipts and half-message offsets. Thread-
// safe: `send_mu` serializes the sends and resolutions of the transaction (the first send picks the
// broker the later ones use), `mu` guards the fields for readers.
struct TransactionState {
  enum class Phase {
    kOpen,        // sends allowed
    kResolving,   // a commit or rollback failed without a decision: only Commit / Rollback again
    kCommitted,
    kRolledBack,
  };
  explicit TransactionState(std::weak_ptr<TransactionProducerImpl> producer_in, const void* owner_in)
      : producer(std::move(producer_in)), owner(owner_in) {}

  // OK when one more message may be sent: the transaction is open and holds fewer than
  // kMaxMessagesPerTransaction messages. REQUIRES: mu held.
  vela::Status CheckCanSendLocked() const;
  // OK when the transaction may be committed (commit) or rolled back: it holds a message and was
  // not resolved through this object yet. REQUIRES: mu held.
  vela::Status CheckCanResolveLocked(bool commit) const;
  // Records one acknowledged message (its receipt carries the transaction id). REQUIRES: mu held.
  void AddLocked(SendReceipt receipt, const ProducerImpl::Placement& placed);

  const std::weak_ptr<TransactionProducerImpl> producer;
  const void* const owner;  // the TransactionProducerImpl that made it (identity only)
  std::mutex send_mu;
  mutable std::mutex mu;
  Phase phase = Phase::kOpen;                  // GUARDED_BY(mu)
  std::string id;                              // GUARDED_BY(mu); "" before the first acknowledged send
  ProducerImpl::Placement broker;              // GUARDED_BY(mu); name and address, set with id
  std::vector<SendReceipt> receipts;           // GUARDED_BY(mu)
  std::vector<int64_t> half_offsets;           // GUARDED_BY(mu)
};

// Settings of a transaction producer (TransactionProducerBuilder fills them).
struct TransactionProducerSettings {
  ProducerSettings producer;
  TransactionChecker checker;
};

// TransactionProducerImpl is the producer behind the public TransactionProducer: a ProducerImpl
// (heartbeating every broker of the cluster, with a CHECK_TRANSACTION_STATE processor) that sends
// stamped messages, resolves transactions with END_TRANSACTION, and runs the checker for the
// broker's check-backs on the callback pool, answering over the connection the check came on.
// Thread-safe. Held by shared_ptr: transactions keep a weak reference.
class TransactionProducerImpl : public std::enable_shared_from_this<TransactionProducerImpl> {
 public:
  explicit TransactionProducerImpl(TransactionProducerSettings settings);
  ~TransactionProducerImpl();

  vela::Status Start();
  std::unique_ptr<Transaction> Begin();
  Result<SendReceipt> Send(const Message& message, TransactionState& state);
  vela::Status Resolve(TransactionState& state, bool commit);
  Result<SendReceipt> SendInTransaction(const Message& message, const LocalTransactionExecutor& executor);
  void SendInTransactionAsync(Message message, LocalTransactionExecutor executor, SendCallback callback);
  void Shutdown();

  const std::string& client_id() const { return producer_->client_id(); }
  const std::string& group() const { return settings_.producer.group; }

 private:
  // On an io thread: hands a check to the callback pool.
  void OnCheck(net::RequestContext context, net::Frame frame);
  // On the callback pool: runs the checker and answers over `connection`.
  void RunCheck(const std::shared_ptr<net::Connection>& connection, const std::string& peer, const net::Frame& frame);

  // One END_TRANSACTION on its way: what it asks, and who hears the outcome (`decided`: the broker
  // answered with an outcome, whichever).
  struct EndJob {
    v1::EndTransactionRequest request;
    bool commit = false;
    std::function<void(const vela::Status& status, bool decided)> done;
  };
  // END_TRANSACTIONs to one broker share a lane: up to kEndsInFlight requests in flight; those that
  // come meanwhile leave together as one END_TRANSACTION_BATCH when one returns.
  struct EndLane {
    int in_flight = 0;
    std::vector<EndJob> waiting;
  };
  // Sends `job` to the broker at `addr` (now, or with the next batch); `done` runs on the callback pool.
  void EndAsync(const std::string& addr, EndJob job);
  void DispatchEnds(const std::string& addr, std::vector<EndJob> jobs);

  TransactionProducerSettings settings_;
  std::unique_ptr<ProducerImpl> producer_;
  std::mutex end_mu_;
  std::unordered_map<std::string, EndLane> end_lanes_;  // GUARDED_BY(end_mu_), by broker address
  std::atomic<bool> running_{false};
};

}  // namespace vela::client
