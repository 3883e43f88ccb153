#include "broker/trace/trace_processor.h"

#include <fmt/format.h>

#include "broker/logger.h"
#include "common/message_record.h"
#include "common/trace_record.h"
#include "common/validation.h"

namespace vela::broker::trace {
namespace {

// The records of a SEND_TRACE body, each checked (CRC included: trace records are never
// rewritten, so the store's check is the same one made earlier).
// Counts their events into *events.
Status SplitTraceRecords(const v1::SendRequest& req, const std::string& body, std::vector<std::string_view>* records,
                         uint64_t* events) {
  if (req.topic() != vela::trace::kTraceTopic) {
    return Status::InvalidArgument(
        fmt::format("SEND_TRACE is for topic {} only, not {}", vela::trace::kTraceTopic, req.topic()));
  }
  size_t pos = 0;
  while (pos < body.size()) {
    RecordView view;
    std::string reason;
    std::string_view rest(body.data() + pos, body.size() - pos);
    if (DecodeRecord(rest, /*verify_crc=*/true, &view, &reason) != DecodeOutcome::kRecord) {
      return Status::InvalidArgument(fmt::format("trace record {} of the request is malformed: {}", records->size(),
                                                 reason.empty() ? "no record" : reason));
    }
    auto context = [&](const Status& s) { return s.WithContext(fmt::format("trace record {}", records->size())); };
    if (view.queue_id != 0) return context(Status::InvalidArgument("a trace record goes to queue 0"));
    if (Status id = ValidateMessageId(view.msg_id); !id.ok()) return context(id);
    if (Status props = ValidatePropertiesBlock(view.properties); !props.ok()) return context(props);
    auto valid = vela::trace::ValidateTraceRecord(view.topic, view.flags, view.properties, view.body);
    if (!valid.ok()) return context(valid.status());
    *events += *valid;
    records->push_back(view.raw);
    pos += view.raw.size();
  }
  if (records->empty()) return Status::InvalidArgument("SEND_TRACE request carries no trace record");
  if (req.message_count() != 0 && req.message_count() != records->size()) {
    return Status::InvalidArgument(
        fmt::format("request says {} trace records, body holds {}", req.message_count(), records->size()));
  }
  return Status::OK();
}

}  // namespace

TraceProcessor::TraceProcessor(TraceWriter& writer) : writer_(writer) {}

void TraceProcessor::Register(net::Dispatcher& dispatcher) {
  dispatcher.RegisterProcessor(v1::SEND_TRACE,
                               [this](net::RequestContext rc, net::Frame frame) { HandleSendTrace(rc, std::move(frame)); });
}

void TraceProcessor::HandleSendTrace(net::RequestContext rc, net::Frame frame) {
  if (!frame.header.has_send_request()) {
    refused_.fetch_add(1, std::memory_order_relaxed);
    rc.ReplyError(Status::InvalidArgument("SEND_TRACE needs send_request"));
    return;
  }
  std::vector<std::string_view> records;
  uint64_t events = 0;
  if (Status valid = SplitTraceRecords(frame.header.send_request(), frame.body, &records, &events); !valid.ok()) {
    refused_.fetch_add(1, std::memory_order_relaxed);
    BrokerLogger()->debug("trace batch from {} refused: {}", rc.peer(), valid.ToString());
    rc.ReplyError(valid);
    return;
  }
  writer_.AppendRecords(std::move(records), events, [rc](Status status) {
    if (!status.ok()) {
      rc.ReplyError(status);
      return;
    }
    rc.Reply(Status::OK(), v1::Header());
  });
}

}  // namespace vela::broker::trace
