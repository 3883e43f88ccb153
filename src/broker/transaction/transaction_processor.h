#pragma once

#include "broker/transaction/transaction_service.h"
#include "net/dispatcher.h"

namespace vela::broker::transaction {

// END_TRANSACTION (docs/protocol.md): a producer commits or rolls back its half message. Checks the
// request's shape and hands it to the TransactionService, which answers once the resolution is in
// the log (or at once when it changes nothing). CHECK_TRANSACTION_STATE answers (from_check) are
// refused: this broker sends no check-backs yet.
class TransactionProcessor {
 public:
  explicit TransactionProcessor(TransactionService& transactions) : transactions_(transactions) {}
  void Register(net::Dispatcher& dispatcher);

  void EndTransaction(net::RequestContext rc, const net::Frame& frame);

 private:
  TransactionService& transactions_;
};

}  // namespace vela::broker::transaction
