#include "broker/transaction/transaction_processor.h"

#include "broker/logger.h"
#include "common/clock.h"
#include "net/wire_status.h"

namespace vela::broker::transaction {
namespace {
constexpr size_t kDefaultListEntries = 1000;
constexpr size_t kMaxListEntries = 100000;
// END_TRANSACTIONs in one END_TRANSACTION_BATCH at most.
constexpr int kMaxBatchedEnds = 1024;

EndTransactionRequest FromWire(const v1::EndTransactionRequest& req, const std::string& peer) {
  EndTransactionRequest request;
  request.producer_group = req.producer_group();
  request.transaction_id = req.transaction_id();
  request.half_offsets.assign(req.half_physical_offsets().begin(), req.half_physical_offsets().end());
  request.resolution = req.resolution();
  request.from_check = req.from_check();
  request.by_operator = req.by_operator();
  if (request.by_operator) {
    BrokerLogger()->info("operator at {} resolves transaction {}: {}", peer, request.transaction_id,
                         v1::TransactionResolution_Name(request.resolution));
  }
  return request;
}
}  // namespace

void TransactionProcessor::Register(net::Dispatcher& dispatcher) {
  dispatcher.RegisterProcessor(v1::END_TRANSACTION, [this](net::RequestContext rc, net::Frame frame) {
    EndTransaction(std::move(rc), frame);
  });
  dispatcher.RegisterProcessor(v1::END_TRANSACTION_BATCH, [this](net::RequestContext rc, net::Frame frame) {
    EndTransactionBatch(std::move(rc), frame);
  });
  dispatcher.RegisterProcessor(v1::TRANSACTION_LIST,
                               [this](net::RequestContext rc, net::Frame frame) { List(std::move(rc), frame); });
  dispatcher.RegisterProcessor(v1::TRANSACTION_STATUS,
                               [this](net::RequestContext rc, net::Frame) { Status(std::move(rc)); });
}

void TransactionProcessor::EndTransaction(net::RequestContext rc, const net::Frame& frame) {
  if (!frame.header.has_end_transaction_request()) {
    BrokerLogger()->debug("END_TRANSACTION from {} refused: no end_transaction_request", rc.peer());
    return rc.ReplyError(vela::Status::InvalidArgument("END_TRANSACTION needs end_transaction_request"));
  }
  transactions_.EndTransaction(FromWire(frame.header.end_transaction_request(), rc.peer()),
                               [rc](Result<v1::EndTransactionResponse> result) {
    if (!result.ok()) {
      BrokerLogger()->debug("END_TRANSACTION from {} refused: {}", rc.peer(), result.status().ToString());
      return rc.ReplyError(result.status());
    }
    v1::Header resp;
    *resp.mutable_end_transaction_response() = std::move(result).value();
    rc.Reply(vela::Status::OK(), std::move(resp));
  });
}

void TransactionProcessor::EndTransactionBatch(net::RequestContext rc, const net::Frame& frame) {
  if (!frame.header.has_end_transaction_batch_request()) {
    BrokerLogger()->debug("END_TRANSACTION_BATCH from {} refused: no end_transaction_batch_request", rc.peer());
    return rc.ReplyError(vela::Status::InvalidArgument("END_TRANSACTION_BATCH needs end_transaction_batch_request"));
  }
  const auto& wire = frame.header.end_transaction_batch_request().requests();
  if (wire.empty() || wire.size() > kMaxBatchedEnds) {
    BrokerLogger()->debug("END_TRANSACTION_BATCH from {} refused: {} requests", rc.peer(), wire.size());
    return rc.ReplyError(vela::Status::InvalidArgument(
        fmt::format("END_TRANSACTION_BATCH holds {} requests: 1 to {} are allowed", wire.size(), kMaxBatchedEnds)));
  }
  std::vector<EndTransactionRequest> requests;
  requests.reserve(static_cast<size_t>(wire.size()));
  for (const auto& req : wire) requests.push_back(FromWire(req, rc.peer()));
  transactions_.EndTransactions(std::move(requests), [rc](std::vector<Result<v1::EndTransactionResponse>> results) {
    v1::Header resp;
    auto* out = resp.mutable_end_transaction_batch_response();
    for (auto& result : results) {
      auto* r = out->add_results();
      if (result.ok()) {
        *r->mutable_response() = std::move(result).value();
      } else {
        BrokerLogger()->debug("END_TRANSACTION from {} refused: {}", rc.peer(), result.status().ToString());
        net::ToWireStatus(result.status(), r->mutable_status());
      }
    }
    rc.Reply(vela::Status::OK(), std::move(resp));
  });
}

void TransactionProcessor::List(net::RequestContext rc, const net::Frame& frame) {
  const size_t asked = frame.header.has_list_request() ? frame.header.list_request().max_entries() : 0;
  const size_t max = asked == 0 ? kDefaultListEntries : std::min(asked, kMaxListEntries);
  bool truncated = false;
  v1::Header resp;
  auto* out = resp.mutable_transaction_list_response();
  // The list travels in the frame's header (at most 1 MiB): it stops well short of that.
  constexpr size_t kMaxListBytes = 512 << 10;
  size_t bytes = 0;
  for (TransactionSummary& s : transactions_.List(max, &truncated)) {
    if (bytes >= kMaxListBytes) {
      truncated = true;
      break;
    }
    auto* t = out->add_transactions();
    t->set_transaction_id(std::move(s.transaction_id));
    t->set_producer_group(std::move(s.producer_group));
    for (auto& topic : s.topics) t->add_topics(std::move(topic));
    t->set_message_count(s.message_count);
    t->set_first_store_ms(s.first_store_ms);
    t->set_check_times(s.check_times);
    t->set_discarded(s.discarded);
    bytes += t->ByteSizeLong();
  }
  out->set_truncated(truncated);
  rc.Reply(vela::Status::OK(), std::move(resp));
}

void TransactionProcessor::Status(net::RequestContext rc) {
  const TransactionStats s = transactions_.stats();
  v1::Header resp;
  auto* out = resp.mutable_transaction_status_response();
  out->set_pending(s.pending);
  out->set_oldest_pending_age_ms(s.oldest_pending_store_ms > 0 ? std::max<int64_t>(0, NowEpochMs() - s.oldest_pending_store_ms) : 0);
  out->set_committed(s.committed);
  out->set_rolled_back(s.rolled_back);
  out->set_checks_sent(s.checks_sent);
  out->set_discarded(s.discarded);
  out->set_checks_without_producer(s.checks_without_producer);
  rc.Reply(vela::Status::OK(), std::move(resp));
}

}  // namespace vela::broker::transaction
