#include "net/connection.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <climits>

#include <fmt/format.h>

#include "common/clock.h"
#include "common/coding.h"
#include "common/log_rate_limiter.h"
#include "net/logger.h"
#include "net/wire_status.h"

namespace vela::net {
namespace {
std::atomic<uint64_t> g_next_connection_id{1};
constexpr auto kSweepInterval = std::chrono::milliseconds(20);
// Lines about misbehaving peers, shared by all connections: a flood of bad clients must not flood
// the log.
LogRateLimiter g_peer_log_limiter(20, 10000);

// The idle check runs twice per timeout (within [50 ms, 30 s]): a stalled connection is closed
// between one and one and a half timeouts after it stalled.
std::chrono::milliseconds IdleCheckInterval(int64_t idle_timeout_ms) {
  return std::chrono::milliseconds(std::clamp<int64_t>(idle_timeout_ms / 2, 50, 30000));
}

size_t FrameBytes(const std::string& head, const OutBody& body) { return head.size() + body.size(); }

std::string PeerOf(const asio::ip::tcp::socket& socket) {
  asio::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  if (ec) return "unknown";
  return fmt::format("{}:{}", ep.address().to_string(), ep.port());
}
}  // namespace

size_t OutBody::size() const {
  size_t n = owned.size();
  for (auto v : views) n += v.size();
  return n;
}

v1::Header MakeResponseHeader(const v1::Header& request, const Status& status) {
  v1::Header h;
  h.set_request_id(request.request_id());
  h.set_code(request.code());
  h.set_flags(kFlagResponse);
  h.set_version(kProtocolVersion);
  ToWireStatus(status, h.mutable_status());
  return h;
}

Connection::Connection(asio::ip::tcp::socket socket, ConnectionOptions options, RequestHandler* handler)
    : socket_(std::move(socket)),
      options_(options),
      handler_(handler),
      peer_(PeerOf(socket_)),
      id_(g_next_connection_id.fetch_add(1)),
      assembler_(options.max_frame_size),
      idle_timer_(socket_.get_executor()),
      sweep_timer_(socket_.get_executor()) {}

Connection::~Connection() = default;

bool Connection::OnIoThread() {
  // Keep the executor alive while asking it: target() points into it.
  const asio::any_io_executor executor = socket_.get_executor();
  const auto* ex = executor.target<asio::io_context::executor_type>();
  return ex != nullptr && ex->running_in_this_thread();
}

void Connection::Start() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    {
      std::lock_guard lock(self->mu_);
      if (self->writable_ || self->closed()) return;  // started already
      self->writable_ = true;
    }
    asio::error_code ec;
    self->socket_.set_option(asio::ip::tcp::no_delay(true), ec);
    self->peer_ = PeerOf(self->socket_);
    self->ArmIdleCheck();
    self->DoRead();
    self->DoWrite();
  });
}

void Connection::ConnectAndStart(const std::string& host, uint16_t port, int64_t timeout_ms) {
  asio::post(socket_.get_executor(), [self = shared_from_this(), host, port, timeout_ms] {
    asio::error_code ec;
    auto address = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
    if (ec) {
      self->CloseOnThread(fmt::format("bad address {}: {}", host, ec.message()));
      return;
    }
    self->peer_ = fmt::format("{}:{}", host, port);
    self->connecting_ = true;
    auto timer = std::make_shared<asio::steady_timer>(self->socket_.get_executor());
    timer->expires_after(std::chrono::milliseconds(timeout_ms));
    timer->async_wait([self, timer](const asio::error_code& tec) {
      if (!tec && self->connecting_) self->CloseOnThread("connect timed out");
    });
    self->socket_.async_connect(asio::ip::tcp::endpoint(address, port), [self, timer](const asio::error_code& cec) {
      self->connecting_ = false;
      timer->cancel();
      if (cec) {
        self->CloseOnThread(fmt::format("connect failed: {}", cec.message()));
        return;
      }
      if (self->closed()) return;
      asio::error_code oec;
      self->socket_.set_option(asio::ip::tcp::no_delay(true), oec);
      {
        std::lock_guard lock(self->mu_);
        self->writable_ = true;
      }
      self->ArmIdleCheck();
      self->DoRead();
      self->DoWrite();
    });
  });
}

void Connection::DoRead() {
  if (closed() || close_after_flush_ || read_pending_ || read_paused_) return;
  char* space = assembler_.WritableData();
  read_pending_ = true;
  socket_.async_read_some(asio::buffer(space, assembler_.WritableSize()),
                          [self = shared_from_this()](const asio::error_code& ec, size_t n) {
                            self->read_pending_ = false;
                            if (ec) {
                              if (ec != asio::error::eof && ec != asio::error::operation_aborted) {
                                NetLogger()->debug("read from {} failed: {}", self->peer_, ec.message());
                              }
                              self->CloseOnThread(ec == asio::error::eof ? "peer closed" : ec.message());
                              return;
                            }
                            self->OnBytes(n);
                          });
}

void Connection::OnBytes(size_t n) {
  assembler_.Commit(n);
  progress_.fetch_add(n, std::memory_order_relaxed);
  ProcessBuffer();
  assembler_.AfterRead();  // may release the buffer: no read is outstanding here
  DoRead();
}

bool Connection::OverLimits(bool resuming) const {
  if (options_.max_requests_in_flight > 0 && requests_in_flight_.load() >= options_.max_requests_in_flight) {
    return true;
  }
  if (options_.max_unsent_bytes == 0) return false;
  const size_t mark = resuming ? options_.max_unsent_bytes / 2 : options_.max_unsent_bytes;
  return unsent_bytes_.load() > mark;
}

void Connection::ProcessBuffer() {
  while (!closed() && !close_after_flush_) {
    if (OverLimits(/*resuming=*/false)) {
      read_paused_ = true;
      paused_hint_.store(true);
      // A request finishing on another thread between the check and the hint would not see the
      // hint: look again now that it is set (both sides use sequentially consistent atomics).
      if (OverLimits(/*resuming=*/false)) {
        NetLogger()->debug("connection {} to {}: {} requests in flight, {} bytes unsent; reading paused", id_,
                           peer_, requests_in_flight_.load(), unsent_bytes_.load());
        return;
      }
      read_paused_ = false;
      paused_hint_.store(false);
    }
    Frame frame;
    Status error;
    const auto state = assembler_.Next(&frame, &error);
    if (state == FrameAssembler::State::kNeedMore) return;
    if (state == FrameAssembler::State::kRefused) {
      RefuseFrame(frame.header, error);
      continue;
    }
    if (state == FrameAssembler::State::kError) {
      if (uint64_t suppressed = 0; g_peer_log_limiter.Allow(&suppressed)) {
        NetLogger()->warn("refusing frame from {}: {}; closing ({} similar lines suppressed)", peer_, error.message(),
                          suppressed);
      }
      v1::Header err;
      err.set_flags(kFlagResponse);
      err.set_version(kProtocolVersion);
      ToWireStatus(error, err.mutable_status());
      SendFrame(std::move(err), OutBody());
      CloseAfterFlush(error.message());
      return;
    }
    HandleFrame(std::move(frame));
  }
}

// A sound frame whose header could not be parsed: its sender gets the reason on its request id
// (a request's caller, or this side's pending request when it is a response); the stream goes on.
void Connection::RefuseFrame(const v1::Header& envelope, const Status& error) {
  if (uint64_t suppressed = 0; g_peer_log_limiter.Allow(&suppressed)) {
    NetLogger()->warn("refusing frame {} from {}: {} ({} similar lines suppressed)", envelope.request_id(), peer_,
                      error.message(), suppressed);
  }
  if ((envelope.flags() & kFlagResponse) != 0) {
    if (ResponseCallback cb = TakePending(envelope.request_id())) cb(error);
    return;
  }
  if ((envelope.flags() & kFlagOneway) == 0) SendFrame(MakeResponseHeader(envelope, error), OutBody());
}

void Connection::ResumeReading() {
  if (!read_paused_ || closed() || OverLimits(/*resuming=*/true)) return;
  read_paused_ = false;
  paused_hint_.store(false);
  NetLogger()->debug("connection {} to {}: reading resumed", id_, peer_);
  ProcessBuffer();
  DoRead();
}

void Connection::FinishRequest() {
  requests_in_flight_.fetch_sub(1);
  if (!paused_hint_.load() || closed() || resume_posted_.exchange(true)) return;
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    self->resume_posted_.store(false);
    self->ResumeReading();
  });
}

void Connection::ArmIdleCheck() {
  if (options_.idle_timeout_ms <= 0 || closed()) return;
  idle_timer_.expires_after(IdleCheckInterval(options_.idle_timeout_ms));
  idle_timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
    if (ec || self->closed()) return;
    self->CheckIdle();
  });
}

// A connection is stalled while it holds a partial frame or unsent bytes and no byte moves.
void Connection::CheckIdle() {
  const size_t partial = assembler_.buffered();
  const size_t unsent = unsent_bytes_.load();
  const uint64_t progress = progress_.load(std::memory_order_relaxed);
  const int64_t now = NowMonotonicNs();
  if (partial == 0 && unsent == 0) {
    stalled_since_ns_ = 0;
  } else if (stalled_since_ns_ == 0 || progress != progress_seen_) {
    stalled_since_ns_ = now;
  } else if (now - stalled_since_ns_ >= options_.idle_timeout_ms * 1000000) {
    const std::string reason = fmt::format(
        "no byte moved for {} ms while holding {} bytes of a partial frame and {} unsent bytes",
        (now - stalled_since_ns_) / 1000000, partial, unsent);
    if (uint64_t suppressed = 0; g_peer_log_limiter.Allow(&suppressed)) {
      NetLogger()->warn("closing idle connection {} from {}: {} ({} similar lines suppressed)", id_, peer_, reason,
                        suppressed);
    }
    CloseOnThread(reason);
    return;
  }
  progress_seen_ = progress;
  ArmIdleCheck();
}

ResponseCallback Connection::TakePending(uint64_t request_id) {
  std::lock_guard lock(mu_);
  auto it = pending_.find(request_id);
  if (it == pending_.end()) return nullptr;
  ResponseCallback cb = std::move(it->second.callback);
  pending_.erase(it);
  return cb;
}

void Connection::HandleFrame(Frame frame) {
  if (frame.is_response()) {
    ResponseCallback cb = TakePending(frame.header.request_id());
    if (!cb) return;  // timed out already
    Status st = FromWireStatus(frame.header.status());
    if (st.ok()) {
      cb(std::move(frame));
    } else {
      cb(st);
    }
    return;
  }
  if (handler_ == nullptr) {
    if (!frame.is_oneway()) {
      SendFrame(MakeResponseHeader(frame.header, Status::Unimplemented("this endpoint serves no requests")), OutBody());
    }
    return;
  }
  requests_in_flight_.fetch_add(1);
  handler_->OnRequest(shared_from_this(), std::move(frame));
}

void Connection::SendFrame(v1::Header header, OutBody body) {
  if (header.version() == 0) header.set_version(kProtocolVersion);
  OutFrame f{EncodeFrameHead(header, body.size()), std::move(body)};
  if (OnIoThread()) {
    QueueWrite(std::move(f));
  } else {
    QueueFromAnyThread(std::move(f));
  }
}

void Connection::Request(v1::Header header, OutBody body, int64_t timeout_ms, ResponseCallback callback) {
  const uint64_t id = next_request_id_.fetch_add(1, std::memory_order_relaxed);
  header.set_request_id(id);
  header.set_version(kProtocolVersion);
  OutFrame frame{EncodeFrameHead(header, body.size()), std::move(body)};
  const bool on_io_thread = OnIoThread();
  bool registered = false;
  {
    std::lock_guard lock(mu_);
    if (!closed()) {
      // Registered before a byte is written: the response may come back at once.
      pending_.emplace(id, Pending{std::move(callback), NowMonotonicNs() + timeout_ms * 1000000});
      registered = true;
    }
  }
  if (!registered) {  // closed: fail on the io thread, like every other completion
    asio::post(socket_.get_executor(), [self = shared_from_this(), callback = std::move(callback)] {
      callback(Status::Unavailable(fmt::format("connection to {} is closed", self->peer_)));
    });
    return;
  }
  if (on_io_thread) {
    ArmSweep();
    QueueWrite(std::move(frame));
    return;
  }
  if (!sweep_armed_.load()) asio::post(socket_.get_executor(), [self = shared_from_this()] { self->ArmSweep(); });
  QueueFromAnyThread(std::move(frame));
}

void Connection::QueueFromAnyThread(OutFrame frame) {
  {
    std::lock_guard lock(mu_);
    if (closed()) return;
    if (writable_ && !writing_ && write_queue_.empty()) {
      frame = WriteNowLocked(std::move(frame));
      if (frame.head.empty() && frame.body.size() == 0) return;  // all of it went out
    }
    AddUnsentLocked(frame);
    write_queue_.push_back(std::move(frame));
    if (writing_) return;  // the write in flight takes it when it completes
  }
  asio::post(socket_.get_executor(), [self = shared_from_this()] { self->DoWrite(); });
}

Connection::OutFrame Connection::WriteNowLocked(OutFrame frame) {
  const size_t pieces = 2 + frame.body.views.size();
  if (pieces > IOV_MAX) return frame;  // rare: let the io thread's gather write split it
  // A request or a plain response has two pieces: no allocation for them on the send path.
  constexpr size_t kInlinePieces = 8;
  iovec inline_iov[kInlinePieces];
  std::vector<iovec> heap_iov;
  iovec* iov = inline_iov;
  if (pieces > kInlinePieces) {
    heap_iov.resize(pieces);
    iov = heap_iov.data();
  }
  size_t count = 0;
  auto add = [&](std::string_view part) {
    if (!part.empty()) iov[count++] = iovec{const_cast<char*>(part.data()), part.size()};
  };
  add(frame.head);
  add(frame.body.owned);
  for (auto v : frame.body.views) add(v);
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = count;
  const ssize_t n = ::sendmsg(socket_.native_handle(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n <= 0) return frame;  // would block, or an error the io thread's write reports and acts on
  progress_.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
  size_t skip = static_cast<size_t>(n);
  std::string rest;
  for (size_t i = 0; i < count; ++i) {
    if (skip >= iov[i].iov_len) {
      skip -= iov[i].iov_len;
      continue;
    }
    rest.append(static_cast<const char*>(iov[i].iov_base) + skip, iov[i].iov_len - skip);
    skip = 0;
  }
  return OutFrame{std::move(rest), OutBody()};
}

void Connection::QueueWrite(OutFrame frame) {
  {
    std::lock_guard lock(mu_);
    if (closed()) return;
    AddUnsentLocked(frame);
    write_queue_.push_back(std::move(frame));
  }
  DoWrite();
}

void Connection::AddUnsentLocked(const OutFrame& frame) {
  unsent_bytes_.store(unsent_bytes_.load(std::memory_order_relaxed) + FrameBytes(frame.head, frame.body));
}

void Connection::DoWrite() {
  std::vector<asio::const_buffer> buffers;
  {
    std::lock_guard lock(mu_);
    if (writing_ || write_queue_.empty() || !writable_ || closed()) return;
    writing_ = true;
    in_flight_.clear();
    in_flight_bytes_ = 0;
    // Take a batch first, then point buffers at it: moving a frame (small-string bodies) after its
    // buffer was taken would leave the buffer dangling.
    size_t bytes = 0;
    size_t pieces = 0;
    while (!write_queue_.empty() && pieces < 512 && bytes < (4u << 20)) {
      in_flight_.push_back(std::move(write_queue_.front()));
      write_queue_.pop_front();
      const auto& f = in_flight_.back();
      bytes += FrameBytes(f.head, f.body);
      pieces += 2 + f.body.views.size();
    }
    in_flight_bytes_ = bytes;
    buffers.reserve(pieces);
    for (const auto& f : in_flight_) {
      if (!f.head.empty()) buffers.emplace_back(asio::buffer(f.head));
      if (!f.body.owned.empty()) buffers.emplace_back(asio::buffer(f.body.owned));
      for (auto v : f.body.views) buffers.emplace_back(asio::buffer(v.data(), v.size()));
    }
  }
  asio::async_write(socket_, buffers, [self = shared_from_this()](const asio::error_code& ec, size_t n) {
    std::vector<OutFrame> written;  // releases keepalive pins outside the lock
    bool drained;
    {
      std::lock_guard lock(self->mu_);
      self->writing_ = false;
      written.swap(self->in_flight_);
      self->unsent_bytes_.store(self->unsent_bytes_.load(std::memory_order_relaxed) - self->in_flight_bytes_);
      self->in_flight_bytes_ = 0;
      drained = self->write_queue_.empty();
    }
    self->progress_.fetch_add(n, std::memory_order_relaxed);
    if (ec) {
      NetLogger()->debug("write to {} failed: {}", self->peer_, ec.message());
      self->CloseOnThread(ec.message());
      return;
    }
    if (self->close_after_flush_ && drained) {
      self->CloseOnThread(self->close_reason_);
      return;
    }
    self->DoWrite();
    if (self->read_paused_) self->ResumeReading();
  });
}

void Connection::CloseAfterFlush(std::string_view reason) {
  close_after_flush_ = true;
  close_reason_ = std::string(reason);
  bool idle;
  {
    std::lock_guard lock(mu_);
    idle = !writing_ && write_queue_.empty();
  }
  if (idle) CloseOnThread(close_reason_);
}

void Connection::Close(std::string_view reason) {
  asio::post(socket_.get_executor(),
             [self = shared_from_this(), reason = std::string(reason)] { self->CloseOnThread(reason); });
}

void Connection::CloseOnThread(std::string_view reason) {
  std::unordered_map<uint64_t, Pending> pending;
  std::deque<OutFrame> unsent;
  {
    // Under mu_: no other thread is in a direct write on this socket, and none starts one.
    std::lock_guard lock(mu_);
    if (closed_.exchange(true, std::memory_order_acq_rel)) return;
    writable_ = false;
    asio::error_code ec;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    unsent.swap(write_queue_);
    pending.swap(pending_);
    unsent_bytes_.store(in_flight_bytes_);  // the write in flight still holds its frames
  }
  NetLogger()->debug("closing connection {} to {}: {}", id_, peer_, reason);
  sweep_timer_.cancel();
  idle_timer_.cancel();
  for (auto& [id, p] : pending) {
    p.callback(Status::Unavailable(fmt::format("connection to {} closed: {}", peer_, reason)));
  }
  auto listeners = std::move(close_listeners_);
  for (auto& l : listeners) l();
}

void Connection::AddCloseListener(std::function<void()> listener) {
  asio::post(socket_.get_executor(), [self = shared_from_this(), listener = std::move(listener)]() mutable {
    if (self->closed()) {
      listener();
    } else {
      self->close_listeners_.push_back(std::move(listener));
    }
  });
}

void Connection::ArmSweep() {
  if (closed() || sweep_armed_.exchange(true)) return;
  sweep_timer_.expires_after(kSweepInterval);
  sweep_timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
    self->sweep_armed_.store(false);
    if (ec || self->closed()) return;
    self->SweepTimeouts();
  });
}

void Connection::SweepTimeouts() {
  const int64_t now = NowMonotonicNs();
  std::vector<ResponseCallback> expired;
  bool more;
  {
    std::lock_guard lock(mu_);
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->second.deadline_ns <= now) {
        expired.push_back(std::move(it->second.callback));
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
    more = !pending_.empty();
  }
  for (auto& cb : expired) cb(Status::DeadlineExceeded(fmt::format("no response from {} in time", peer_)));
  if (more) ArmSweep();
}

}  // namespace vela::net
