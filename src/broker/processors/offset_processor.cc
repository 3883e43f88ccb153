#include "broker/processors/offset_processor.h"

namespace vela::broker {

OffsetProcessor::OffsetProcessor(ResourceResolver& resolver, store::MessageStore& store)
    : resolver_(resolver), store_(store) {}

void OffsetProcessor::Register(net::Dispatcher& dispatcher) {
  dispatcher.RegisterProcessor(v1::QUERY_CONSUMER_OFFSET, [this](net::RequestContext rc, net::Frame frame) {
    HandleQueryOffset(rc, std::move(frame));
  });
  dispatcher.RegisterProcessor(v1::UPDATE_CONSUMER_OFFSET, [this](net::RequestContext rc, net::Frame frame) {
    HandleUpdateOffset(rc, std::move(frame));
  });
}

void OffsetProcessor::HandleQueryOffset(net::RequestContext rc, net::Frame frame) {
  const auto& q = frame.header.query_offset_request();
  auto offset = store_.meta().QueryOffset(q.group(), q.topic(), static_cast<uint32_t>(q.queue_id()));
  v1::Header resp;
  resp.mutable_query_offset_response()->set_offset(offset ? offset->value() : -1);
  rc.Reply(Status::OK(), std::move(resp));
}

void OffsetProcessor::HandleUpdateOffset(net::RequestContext rc, net::Frame frame) {
  const auto& u = frame.header.update_offset_request();
  if (u.offset() < 0 || u.queue_id() < 0) {
    rc.ReplyError(Status::InvalidArgument("offset and queue id must not be negative"));
    return;
  }
  auto g = resolver_.ResolveGroup(u.group(), rc.peer());
  if (!g.ok()) {
    rc.ReplyError(g.status());
    return;
  }
  rc.Reply(store_.meta().CommitOffset(u.group(), u.topic(), static_cast<uint32_t>(u.queue_id()),
                                      store::QueueOffset(u.offset())));
}

}  // namespace vela::broker
