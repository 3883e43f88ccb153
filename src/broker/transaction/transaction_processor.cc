#include "broker/transaction/transaction_processor.h"

#include "broker/logger.h"

namespace vela::broker::transaction {

void TransactionProcessor::Register(net::Dispatcher& dispatcher) {
  dispatcher.RegisterProcessor(v1::END_TRANSACTION, [this](net::RequestContext rc, net::Frame frame) {
    EndTransaction(std::move(rc), frame);
  });
}

void TransactionProcessor::EndTransaction(net::RequestContext rc, const net::Frame& frame) {
  auto refuse = [&](const Status& s) {
    BrokerLogger()->debug("END_TRANSACTION from {} refused: {}", rc.peer(), s.ToString());
    rc.ReplyError(s);
  };
  if (!frame.header.has_end_transaction_request()) {
    return refuse(Status::InvalidArgument("END_TRANSACTION needs end_transaction_request"));
  }
  const v1::EndTransactionRequest& req = frame.header.end_transaction_request();
  if (req.from_check()) {
    return refuse(Status::InvalidArgument(
        "END_TRANSACTION with from_check answers a CHECK_TRANSACTION_STATE, which this broker does not send yet"));
  }
  EndTransactionRequest request;
  request.producer_group = req.producer_group();
  request.msg_id = req.transaction_id();
  request.half_offset = req.half_physical_offsets_size() == 1 ? req.half_physical_offsets(0) : -1;
  request.resolution = req.resolution();
  transactions_.EndTransaction(std::move(request), [rc](Result<v1::EndTransactionResponse> result) {
    if (!result.ok()) {
      BrokerLogger()->debug("END_TRANSACTION from {} refused: {}", rc.peer(), result.status().ToString());
      return rc.ReplyError(result.status());
    }
    v1::Header resp;
    *resp.mutable_end_transaction_response() = std::move(result).value();
    rc.Reply(Status::OK(), std::move(resp));
  });
}

}  // namespace vela::broker::transaction
