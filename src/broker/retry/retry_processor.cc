#include "broker/retry/retry_processor.h"

#include "broker/logger.h"

namespace vela::broker::retry {

void RetryProcessor::Register(net::Dispatcher& dispatcher) {
  dispatcher.RegisterProcessor(v1::CONSUMER_SEND_BACK, [this](net::RequestContext rc, net::Frame frame) {
    HandleSendBack(rc, std::move(frame));
  });
  dispatcher.RegisterProcessor(
      v1::DEAD_LETTER_LIST,
      [this](net::RequestContext rc, net::Frame frame) { HandleDeadLetterList(rc, std::move(frame)); }, &admin_pool_);
  dispatcher.RegisterProcessor(
      v1::DEAD_LETTER_RESEND,
      [this](net::RequestContext rc, net::Frame frame) { HandleDeadLetterResend(rc, std::move(frame)); },
      &admin_pool_);
}

void RetryProcessor::HandleSendBack(net::RequestContext rc, net::Frame frame) {
  if (!frame.header.has_send_back_request()) {
    return rc.ReplyError(Status::InvalidArgument("CONSUMER_SEND_BACK needs send_back_request"));
  }
  retries_.SendBack(frame.header.send_back_request(), [rc](Result<v1::SendBackResponse> result) {
    if (!result.ok()) {
      BrokerLogger()->info("send-back from {} refused: {}", rc.peer(), result.status().ToString());
      rc.ReplyError(result.status());
      return;
    }
    v1::Header resp;
    *resp.mutable_send_back_response() = std::move(result).value();
    rc.Reply(Status::OK(), std::move(resp));
  });
}

void RetryProcessor::HandleDeadLetterList(net::RequestContext rc, net::Frame frame) {
  const auto& req = frame.header.dead_letter_list_request();
  auto page = retries_.ListDeadLetters(req.group(), req.start_offset(), req.max_messages());
  if (!page.ok()) return rc.ReplyError(page.status());
  v1::Header resp;
  auto* out = resp.mutable_dead_letter_list_response();
  out->set_message_count(page->count);
  out->set_next_offset(page->next_offset);
  out->set_more(page->more);
  rc.Reply(Status::OK(), std::move(resp), net::OutBody(std::move(page->records)));
}

void RetryProcessor::HandleDeadLetterResend(net::RequestContext rc, net::Frame frame) {
  const auto& req = frame.header.dead_letter_resend_request();
  auto result = retries_.Resend(req.group(), req.msg_id(), req.all());
  if (!result.ok()) {
    BrokerLogger()->info("dead-letter resend from {} for group {}: {}", rc.peer(), req.group(),
                         result.status().ToString());
    return rc.ReplyError(result.status());
  }
  v1::Header resp;
  auto* out = resp.mutable_dead_letter_resend_response();
  out->set_resent(result->resent);
  for (auto& id : result->msg_ids) out->add_msg_ids(std::move(id));
  rc.Reply(Status::OK(), std::move(resp));
}

}  // namespace vela::broker::retry
