#pragma once

#include "broker/transaction/transaction_service.h"
#include "net/dispatcher.h"

namespace vela::broker::transaction {

// The transaction requests (docs/protocol.md): END_TRANSACTION (a producer's commit or rollback, a
// check-back's answer, an operator's resolution), END_TRANSACTION_BATCH (several of them),
// TRANSACTION_LIST and TRANSACTION_STATUS. Checks each request's shape and hands it to the
// TransactionService, which answers END_TRANSACTION once the resolution is in the log (or at once
// when it changes nothing).
class TransactionProcessor {
 public:
  explicit TransactionProcessor(TransactionService& transactions) : transactions_(transactions) {}
  void Register(net::Dispatcher& dispatcher);

  void EndTransaction(net::RequestContext rc, const net::Frame& frame);
  // Several END_TRANSACTIONs: answered together once every one of them is decided.
  void EndTransactionBatch(net::RequestContext rc, const net::Frame& frame);
  void List(net::RequestContext rc, const net::Frame& frame);
  void Status(net::RequestContext rc);

 private:
  TransactionService& transactions_;
};

}  // namespace vela::broker::transaction
