#include "net/dispatcher.h"

#include <fmt/format.h>

#include "common/clock.h"
#include "net/logger.h"
#include "net/wire_status.h"

namespace vela::net {

struct RequestContext::ReplyState {
  std::atomic<bool> replied{false};
  std::weak_ptr<Connection> connection;
  ReplySink sink;  // set only for contexts without a connection (tests)
  const ReplyObserver* observer = nullptr;  // the dispatcher's, which outlives its requests
  int64_t arrived_us = 0;

  explicit ReplyState(const std::shared_ptr<Connection>& c) : connection(c) {}
  explicit ReplyState(ReplySink s) : sink(std::move(s)) {}
  ReplyState(const ReplyState&) = delete;
  ReplyState& operator=(const ReplyState&) = delete;
  ~ReplyState() {
    if (replied.load()) return;
    if (auto c = connection.lock()) c->FinishRequest();
  }
};

RequestContext::RequestContext(const std::shared_ptr<Connection>& connection, const v1::Header& request)
    : connection_(connection),
      request_id_(request.request_id()),
      connection_id_(connection->id()),
      code_(request.code()),
      oneway_((request.flags() & kFlagOneway) != 0),
      peer_(connection->peer()),
      state_(std::make_shared<ReplyState>(connection)) {}

RequestContext::RequestContext(ReplySink sink, const v1::Header& request, std::string peer)
    : request_id_(request.request_id()),
      connection_id_(0),
      code_(request.code()),
      oneway_((request.flags() & kFlagOneway) != 0),
      peer_(std::move(peer)),
      state_(std::make_shared<ReplyState>(std::move(sink))) {}

void RequestContext::Reply(const Status& status, v1::Header response, OutBody body) const {
  if (state_->replied.exchange(true)) return;
  auto conn = connection_.lock();
  if (!conn && !state_->sink) return;
  if (oneway_) {
    if (conn) conn->FinishRequest();
    return;
  }
  if (state_->observer != nullptr && *state_->observer) {
    (*state_->observer)(code_, status, NowMonotonicUs() - state_->arrived_us);
  }
  response.set_request_id(request_id_);
  response.set_code(code_);
  response.set_flags(kFlagResponse);
  response.set_version(kProtocolVersion);
  ToWireStatus(status, response.mutable_status());
  if (!conn) {
    state_->sink(status, std::move(response), std::move(body));
    return;
  }
  conn->SendFrame(std::move(response), std::move(body));  // counted as unsent before the request ends
  conn->FinishRequest();
}

void Dispatcher::RegisterProcessor(v1::RequestCode code, Processor processor, asio::thread_pool* pool) {
  processors_[static_cast<int>(code)] = Entry{std::move(processor), pool};
}

void Dispatcher::OnRequest(const std::shared_ptr<Connection>& connection, Frame frame) {
  RequestContext ctx(connection, frame.header);
  ctx.state_->observer = &observer_;
  ctx.state_->arrived_us = NowMonotonicUs();
  auto it = processors_.find(static_cast<int>(frame.header.code()));
  if (it == processors_.end()) {
    NetLogger()->warn("unknown request code {} from {}", static_cast<int>(frame.header.code()), connection->peer());
    ctx.ReplyError(Status::Unimplemented(fmt::format("unknown request code {}", static_cast<int>(frame.header.code()))));
    return;
  }
  const Entry& entry = it->second;
  auto run = [processor = &entry.processor, ctx, frame = std::move(frame)]() mutable {
    try {
      (*processor)(ctx, std::move(frame));
    } catch (const std::exception& e) {
      NetLogger()->error("processor for code {} from {} threw: {}", static_cast<int>(ctx.code()), ctx.peer(), e.what());
      ctx.ReplyError(Status::Internal(fmt::format("internal error: {}", e.what())));
    }
  };
  if (entry.pool) {
    asio::post(*entry.pool, std::move(run));
  } else {
    run();
  }
}

}  // namespace vela::net
