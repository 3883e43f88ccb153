#include "broker/timer/timer_processor.h"

#include "broker/logger.h"

namespace vela::broker::timer {

void TimerProcessor::Register(net::Dispatcher& dispatcher) {
  dispatcher.RegisterProcessor(v1::RECALL_MESSAGE,
                               [this](net::RequestContext rc, net::Frame frame) { Recall(std::move(rc), frame); });
  dispatcher.RegisterProcessor(v1::TIMER_STATUS,
                               [this](net::RequestContext rc, net::Frame frame) { Status(std::move(rc), frame); });
}

void TimerProcessor::Recall(net::RequestContext rc, const net::Frame& frame) {
  if (!frame.header.has_recall_request()) {
    return rc.ReplyError(vela::Status::InvalidArgument("RECALL_MESSAGE needs recall_request"));
  }
  const v1::RecallRequest& req = frame.header.recall_request();
  auto handle = DecodeRecallHandle(req.recall_handle());
  if (!handle.ok()) return rc.ReplyError(handle.status());
  if (req.topic().empty()) return rc.ReplyError(vela::Status::InvalidArgument("RECALL_MESSAGE needs the topic"));
  timers_.Recall(req.topic(), std::move(handle).value(), [rc](Result<v1::RecallResponse> result) {
    if (!result.ok()) {
      BrokerLogger()->debug("recall from {} refused: {}", rc.peer(), result.status().ToString());
      return rc.ReplyError(result.status());
    }
    v1::Header resp;
    *resp.mutable_recall_response() = std::move(result).value();
    rc.Reply(vela::Status::OK(), std::move(resp));
  });
}

void TimerProcessor::Status(net::RequestContext rc, const net::Frame&) {
  const TimerStats s = timers_.stats();
  v1::Header resp;
  auto* out = resp.mutable_timer_status_response();
  out->set_pending(s.pending);
  out->set_delivered(s.delivered);
  out->set_recalled(s.recalled);
  out->set_next_due_ms(s.next_due_ms);
  out->set_lateness_p50_us(s.lateness_p50_us);
  out->set_lateness_p99_us(s.lateness_p99_us);
  out->set_lateness_max_us(s.lateness_max_us);
  rc.Reply(vela::Status::OK(), std::move(resp));
}

}  // namespace vela::broker::timer
