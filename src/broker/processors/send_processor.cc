#include "broker/processors/send_processor.h"

#include <algorithm>

#include <fmt/format.h>

#include "broker/logger.h"
#include "common/clock.h"
#include "common/coding.h"
#include "common/message_id.h"
#include "common/recall_handle.h"
#include "common/validation.h"

namespace vela::broker {
namespace {

// Splits a send body into its records and checks each one against the request and the limits.
// Patches the queue id where the broker chose it, after checking the CRC the client computed: a
// record damaged on its way must not be re-stamped into a valid one. Records left as they came
// are CRC-checked once, by the store's Append.
Status SplitAndValidate(const v1::SendRequest& req, uint32_t queue_id, std::string& body,
                        std::vector<std::string_view>* records) {
  size_t pos = 0;
  while (pos < body.size()) {
    RecordView view;
    std::string reason;
    std::string_view rest(body.data() + pos, body.size() - pos);
    if (DecodeRecord(rest, /*verify_crc=*/false, &view, &reason) != DecodeOutcome::kRecord) {
      return Status::InvalidArgument(
          fmt::format("message {} of the request is malformed: {}", records->size(), reason.empty() ? "no record" : reason));
    }
    if (view.topic != req.topic()) {
      return Status::InvalidArgument(
          fmt::format("message {} is for topic {}, the request for {}", records->size(), view.topic, req.topic()));
    }
    // The body size limit (maxMessageSize) is checked by the store's Append.
    if (Status props = ValidatePropertiesBlock(view.properties); !props.ok()) {
      return props.WithContext(fmt::format("message {} of the request", records->size()));
    }
    if (Status id = ValidateMessageId(view.msg_id); !id.ok()) {
      return id.WithContext(fmt::format("message {} of the request", records->size()));
    }
    // The transaction flags are the broker's (a half message, a committed copy): a client setting
    // them could pass its message off as a commit of someone's transaction.
    constexpr uint32_t kBrokerFlags =
        record::kFlagTransactionPrepared | record::kFlagTransactionCommit | record::kFlagTransactionRollback;
    if ((view.flags & kBrokerFlags) != 0) {
      return Status::InvalidArgument(fmt::format(
          "message {} of the request sets record flags {:#x}, which only the broker sets (transactions: set the "
          "property TRAN_MSG=true instead)",
          records->size(), view.flags & kBrokerFlags));
    }
    char* raw = body.data() + pos;
    if (view.queue_id != queue_id) {
      RecordView checked;
      if (DecodeRecord(view.raw, /*verify_crc=*/true, &checked, &reason) != DecodeOutcome::kRecord) {
        return Status::InvalidArgument(
            fmt::format("message {} of the request is corrupt: {}", records->size(), reason));
      }
      coding::PutFixed32(raw + record::kOffQueueId, queue_id);
      RefreshRecordCrc(raw);
    }
    records->push_back(view.raw);
    pos += view.raw.size();
  }
  if (records->empty()) return Status::InvalidArgument("send request carries no message");
  if (req.message_count() != 0 && req.message_count() != records->size()) {
    return Status::InvalidArgument(
        fmt::format("request says {} messages, body holds {}", req.message_count(), records->size()));
  }
  return Status::OK();
}

bool Acted(const Admission& a) { return !a.rewritten.empty() || a.deliver_at_ms != 0 || a.recall_broker != nullptr; }

// What a full receipt adds for one record besides where it landed.
struct ReceiptExtras {
  int64_t deliver_at_ms = 0;
  const std::string* recall_broker = nullptr;  // recallable: the handle names this broker
  bool half_message = false;
};

}  // namespace

SendProcessor::SendProcessor(const BrokerOptions& options, const std::string& broker_addr, ResourceResolver& resolver,
                             store::MessageStore& store, BrokerCounters& counters, std::vector<AdmissionStage*> stages)
    : options_(options),
      broker_addr_(broker_addr),
      resolver_(resolver),
      store_(store),
      counters_(counters),
      stages_(std::move(stages)) {}

void SendProcessor::Register(net::Dispatcher& dispatcher) {
  dispatcher.RegisterProcessor(v1::SEND_MESSAGE,
                               [this](net::RequestContext rc, net::Frame frame) { HandleSend(rc, std::move(frame)); });
}

Status SendProcessor::Admit(const std::vector<std::string_view>& records, uint32_t queue_id,
                            std::vector<Admission>* admissions) const {
  if (stages_.empty()) return Status::OK();
  const int64_t now_ms = NowEpochMs();
  for (size_t i = 0; i < records.size(); ++i) {
    // The CRC is checked once per record: by Append for the records left as they came, here for
    // the ones a stage rewrote (before the rewrite is used), so that a record damaged on its way is
    // never re-encoded into a valid one.
    RecordView view;
    std::string reason;
    if (DecodeRecord(records[i], /*verify_crc=*/false, &view, &reason) != DecodeOutcome::kRecord) {
      return Status::InvalidArgument(fmt::format("message {} of the request is malformed: {}", i, reason));
    }
    Admission admission;
    for (AdmissionStage* stage : stages_) {
      if (Status s = stage->Admit(view, queue_id, now_ms, &admission); !s.ok()) {
        return s.WithContext(fmt::format("message {} of the request", i));
      }
      if (Acted(admission)) break;  // the first stage that acts decides for the record
    }
    if (!Acted(admission)) continue;
    if (DecodeRecord(records[i], /*verify_crc=*/true, &view, &reason) != DecodeOutcome::kRecord) {
      return Status::InvalidArgument(fmt::format("message {} of the request is corrupt: {}", i, reason));
    }
    if (admissions->empty()) admissions->resize(records.size());
    (*admissions)[i] = std::move(admission);
  }
  return Status::OK();
}

void SendProcessor::HandleSend(net::RequestContext rc, net::Frame frame) {
  counters_.send_requests.fetch_add(1, std::memory_order_relaxed);
  auto fail = [&](const Status& s) {
    counters_.send_errors.fetch_add(1, std::memory_order_relaxed);
    BrokerLogger()->debug("send from {} refused: {}", rc.peer(), s.ToString());
    rc.ReplyError(s);
  };
  // validate
  if (!frame.header.has_send_request()) return fail(Status::InvalidArgument("SEND_MESSAGE needs send_request"));
  const v1::SendRequest& req = frame.header.send_request();
  auto topic = resolver_.ResolveTopic(req.topic(), /*for_write=*/true);
  if (!topic.ok()) return fail(topic.status());
  uint32_t queue_id;
  if (req.queue_id() < 0) {
    queue_id = round_robin_.fetch_add(1, std::memory_order_relaxed) % static_cast<uint32_t>(topic->write_queues);
  } else if (req.queue_id() >= topic->write_queues) {
    return fail(Status::InvalidArgument(fmt::format("queue {} does not exist: topic {} has {} write queues",
                                                    req.queue_id(), req.topic(), topic->write_queues)));
  } else {
    queue_id = static_cast<uint32_t>(req.queue_id());
  }
  store::AppendRequest append;
  Status valid = SplitAndValidate(req, queue_id, frame.body, &append.records);
  if (!valid.ok()) return fail(valid);

  // admit: `admissions` (empty unless a stage acted) owns the rewritten records until Append returns.
  std::vector<Admission> admissions;
  if (Status admitted = Admit(append.records, queue_id, &admissions); !admitted.ok()) return fail(admitted);
  // Records a stage acted on may sit in other queues than the rest (and carry extras): then each
  // record gets its full receipt, whatever the producer asked; but a request of timer messages
  // only (all in the timer queue) keeps the compact form, with each one's due time.
  const bool all_timers = !admissions.empty() && std::all_of(admissions.begin(), admissions.end(), [](const Admission& a) {
    return a.deliver_at_ms > 0;
  });
  const bool compact = req.compact_receipts() && (admissions.empty() || all_timers);
  // Full receipts repeat each message's id: they are read from the request's records, so the
  // body travels with the callback, with where each record starts in it.
  std::string body;
  std::vector<size_t> starts;
  if (!compact) {
    starts.reserve(append.records.size());
    for (std::string_view r : append.records) starts.push_back(static_cast<size_t>(r.data() - frame.body.data()));
    body = frame.body;
  }
  std::vector<ReceiptExtras> extras;
  if (!admissions.empty()) {
    extras.resize(admissions.size());
    for (size_t i = 0; i < admissions.size(); ++i) {
      if (!admissions[i].rewritten.empty()) append.records[i] = admissions[i].rewritten;
      extras[i] = ReceiptExtras{admissions[i].deliver_at_ms, admissions[i].recall_broker, admissions[i].half_message};
    }
  }

  // append, then complete
  const int64_t bytes = static_cast<int64_t>(frame.body.size());
  const int64_t count = static_cast<int64_t>(append.records.size());
  store_.Append(std::move(append), [this, rc, bytes, count, compact, topic = req.topic(), body = std::move(body),
                                    starts = std::move(starts), extras = std::move(extras)](
                                       Result<store::AppendResult> result) {
    if (!result.ok()) {
      counters_.send_errors.fetch_add(1, std::memory_order_relaxed);
      if (result.status().IsNoSpace()) BrokerLogger()->warn("send refused: {}", result.status().ToString());
      rc.ReplyError(result.status());
      return;
    }
    counters_.messages_in.fetch_add(count, std::memory_order_relaxed);
    counters_.bytes_in.fetch_add(bytes, std::memory_order_relaxed);
    // Timer messages count as RocketMQ's "delay" type, half messages as "transaction"; bytes are
    // shared out by message count.
    const auto delayed = static_cast<int64_t>(
        std::count_if(extras.begin(), extras.end(), [](const ReceiptExtras& e) { return e.deliver_at_ms > 0; }));
    const auto halves = static_cast<int64_t>(
        std::count_if(extras.begin(), extras.end(), [](const ReceiptExtras& e) { return e.half_message; }));
    if (delayed > 0) {
      counters_.CountIn(topic, metrics::BrokerMetrics::kMessageTypeDelay, delayed, bytes * delayed / count);
    }
    if (halves > 0) {
      counters_.CountIn(topic, metrics::BrokerMetrics::kMessageTypeTransaction, halves, bytes * halves / count);
    }
    if (count > delayed + halves) {
      counters_.CountIn(topic, metrics::BrokerMetrics::kMessageTypeNormal, count - delayed - halves,
                        bytes - bytes * delayed / count - bytes * halves / count);
    }
    v1::Header resp;
    auto* sr = resp.mutable_send_response();
    sr->set_broker_addr(broker_addr_);
    if (compact) {
      // The records of one request sit in one queue with consecutive offsets (the store's
      // guarantee); the client knows their ids.
      auto* c = sr->mutable_compact_receipt();
      c->set_queue_id(static_cast<int32_t>(result->records.front().queue_id));
      c->set_first_queue_offset(result->records.front().queue_offset.value());
      c->set_store_host(options_.store.store_host);
      c->set_store_timestamp_ms(result->records.front().store_timestamp_ms);
      c->mutable_physical_offsets()->Reserve(static_cast<int>(result->records.size()));
      for (const auto& r : result->records) c->add_physical_offsets(r.physical_offset.value());
      if (!extras.empty()) {
        c->mutable_deliver_at_ms()->Reserve(static_cast<int>(extras.size()));
        for (const ReceiptExtras& e : extras) c->add_deliver_at_ms(e.deliver_at_ms);
      }
      rc.Reply(Status::OK(), std::move(resp));
      return;
    }
    for (size_t i = 0; i < result->records.size(); ++i) {
      const store::AppendedRecord& r = result->records[i];
      RecordView view;
      (void)DecodeRecord(std::string_view(body).substr(starts[i]), /*verify_crc=*/false, &view);  // validated
      auto* receipt = sr->add_receipts();
      receipt->set_msg_id(std::string(view.msg_id));
      receipt->set_offset_id(MakeOffsetId(options_.store.store_host, r.physical_offset.value()));
      receipt->set_queue_id(static_cast<int32_t>(r.queue_id));
      receipt->set_queue_offset(r.queue_offset.value());
      receipt->set_physical_offset(r.physical_offset.value());
      receipt->set_store_timestamp_ms(r.store_timestamp_ms);
      if (!extras.empty()) {
        receipt->set_deliver_at_ms(extras[i].deliver_at_ms);
        if (extras[i].recall_broker != nullptr) {
          receipt->set_recall_handle(EncodeRecallHandle(*extras[i].recall_broker, extras[i].deliver_at_ms, view.msg_id));
        }
      }
    }
    rc.Reply(Status::OK(), std::move(resp));
  });
}

}  // namespace vela::broker
