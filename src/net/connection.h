#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <asio.hpp>

#include "common/result.h"
#include "net/frame_assembler.h"
#include "net/frame_codec.h"

namespace vela::net {

// The body of an outgoing frame: an owned part, then views of memory kept alive by `keepalive`
// until the write completes (scatter-gather from mapped commit-log segments).
struct OutBody {
  std::string owned;
  std::vector<std::string_view> views;
  std::shared_ptr<const void> keepalive;

  OutBody() = default;
  OutBody(std::string s) : owned(std::move(s)) {}  // NOLINT: implicit for convenience
  size_t size() const;
};

class Connection;

// Receives request frames (not responses) read from any connection. Implemented by Dispatcher.
// Called on the connection's io thread. Each request counts as in flight on its connection until
// the handler calls Connection::FinishRequest for it, exactly once, from any thread (RequestContext
// does it when it replies or when its last copy is dropped).
class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  virtual void OnRequest(const std::shared_ptr<Connection>& connection, Frame frame) = 0;
};

// Result of a request: the response frame, or the transport error, the timeout, or the non-OK
// status the peer answered with.
using ResponseCallback = std::function<void(Result<Frame>)>;

// Limits applied to one connection; 0 means no limit. A connection over max_requests_in_flight
// (requests handed to the handler and not finished) or max_unsent_bytes (frames queued and not yet
// written to the socket) stops reading until it is back under both (back-pressure: the peer's
// sends then wait in TCP, not in this process). A connection holding a partial frame or unsent
// bytes on which no byte moves either way for idle_timeout_ms is closed.
struct ConnectionOptions {
  uint32_t max_frame_size = kDefaultMaxFrameSize;
  size_t max_requests_in_flight = 0;
  size_t max_unsent_bytes = 0;
  int64_t idle_timeout_ms = 0;
};

// Connection is one TCP connection carrying frames both ways: requests it sends get responses
// matched by request id; requests it receives go to the RequestHandler. It is pinned to one
// io_context thread, which does all reading. Its memory is bounded by its ConnectionOptions: the
// read buffer follows the bytes received (FrameAssembler), and reading stops while too many
// requests are in flight or too many response bytes wait to be written. Writes go through one queue with at most one write
// in flight, in the order they were queued: the io thread batches what queued meanwhile into one
// gather write; another thread that finds nothing queued or in flight writes its frame itself
// with one non-blocking sendmsg (no hand-off to the io thread, which may be asleep), and leaves
// any unwritten rest to the io thread. Kept alive by its own pending operations (shared_ptr).
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // `handler` may be null (then incoming requests get an Unimplemented error); it must outlive
  // the connection.
  Connection(asio::ip::tcp::socket socket, ConnectionOptions options, RequestHandler* handler);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Starts reading. REQUIRES: the socket is connected.
  void Start();
  // Client side: connects to host:port and then starts; frames sent before that are queued.
  // Thread-safe.
  void ConnectAndStart(const std::string& host, uint16_t port, int64_t timeout_ms);

  // Queues a frame (a response, or a oneway request). Thread-safe.
  void SendFrame(v1::Header header, OutBody body);
  // Sends a request and calls `callback` once on this connection's io thread with the response,
  // an error, or DeadlineExceeded after timeout_ms. Assigns the request id. Thread-safe.
  void Request(v1::Header header, OutBody body, int64_t timeout_ms, ResponseCallback callback);
  // Closes the socket and fails pending requests with Unavailable. Thread-safe, idempotent.
  void Close(std::string_view reason);

  // Registers a callback run once on the io thread when the connection closes. Thread-safe.
  void AddCloseListener(std::function<void()> listener);

  // Ends one request handed to the RequestHandler (answered or dropped): it no longer counts
  // against max_requests_in_flight. Thread-safe.
  void FinishRequest();

  // For tests and stats: requests in flight, bytes queued and not yet written, whether reading is
  // paused by back-pressure (the last is read on the io thread; elsewhere it is a hint).
  size_t requests_in_flight() const { return requests_in_flight_.load(); }
  size_t unsent_bytes() const { return unsent_bytes_.load(); }
  bool reading_paused() const { return paused_hint_.load(); }

  bool closed() const { return closed_.load(std::memory_order_acquire); }
  const std::string& peer() const { return peer_; }
  uint64_t id() const { return id_; }
  asio::any_io_executor executor() { return socket_.get_executor(); }

 private:
  struct Pending {
    ResponseCallback callback;
    int64_t deadline_ns;
  };
  struct OutFrame {
    std::string head;
    OutBody body;
  };

  bool OnIoThread();
  // Queues `frame` behind what is queued, or writes it now from this (non-io) thread.
  void QueueFromAnyThread(OutFrame frame);
  // REQUIRES: mu_ held, nothing queued or in flight, writable. Writes what the socket takes now;
  // returns the unwritten rest as a frame (empty head and body when all of it went out).
  OutFrame WriteNowLocked(OutFrame frame);
  void DoRead();
  void OnBytes(size_t n);
  // Decodes and handles whole frames until the buffer has none, the connection closes, or a limit
  // pauses reading.
  void ProcessBuffer();
  // True while over max_requests_in_flight or max_unsent_bytes. `resuming` asks for the lower
  // mark of the unsent-bytes limit (half), so a connection does not flap around it.
  bool OverLimits(bool resuming) const;
  void ResumeReading();
  void ArmIdleCheck();
  void CheckIdle();
  void AddUnsentLocked(const OutFrame& frame);
  void HandleFrame(Frame frame);
  void RefuseFrame(const v1::Header& envelope, const Status& error);
  // Removes and returns the callback of a pending request; empty when it is not pending.
  ResponseCallback TakePending(uint64_t request_id);
  void QueueWrite(OutFrame frame);
  void DoWrite();
  void CloseOnThread(std::string_view reason);
  // Stops reading, and closes once the queued frames (an error response) are written.
  void CloseAfterFlush(std::string_view reason);
  void ArmSweep();
  void SweepTimeouts();

  asio::ip::tcp::socket socket_;
  ConnectionOptions options_;
  RequestHandler* handler_;
  std::string peer_;
  const uint64_t id_;
  std::atomic<bool> closed_{false};
  bool connecting_ = false;  // io thread only

  // Read side (io thread only).
  FrameAssembler assembler_;
  bool read_pending_ = false;  // an async read is outstanding
  bool read_paused_ = false;   // back-pressure: no reading or decoding until under the limits
  std::atomic<bool> paused_hint_{false};     // read_paused_ for other threads
  std::atomic<bool> resume_posted_{false};   // a ResumeReading is queued on the io thread
  std::atomic<size_t> requests_in_flight_{0};
  // Bytes moved either way (for the idle check); the idle check's state is io thread only.
  std::atomic<uint64_t> progress_{0};
  uint64_t progress_seen_ = 0;
  int64_t stalled_since_ns_ = 0;
  asio::steady_timer idle_timer_;

  // Write side and pending requests, shared by the io thread and callers' threads.
  std::mutex mu_;
  std::deque<OutFrame> write_queue_;         // GUARDED_BY(mu_)
  std::vector<OutFrame> in_flight_;          // GUARDED_BY(mu_)
  size_t in_flight_bytes_ = 0;               // GUARDED_BY(mu_)
  std::atomic<size_t> unsent_bytes_{0};      // written under mu_: bytes in write_queue_ and in_flight_
  bool writing_ = false;                     // GUARDED_BY(mu_): an async write is in flight
  bool writable_ = false;                    // GUARDED_BY(mu_): connected, started, not closed
  std::unordered_map<uint64_t, Pending> pending_;  // GUARDED_BY(mu_): requests awaiting a response
  std::atomic<uint64_t> next_request_id_{1};
  bool close_after_flush_ = false;  // io thread only
  std::string close_reason_;        // io thread only
  asio::steady_timer sweep_timer_;  // io thread only
  std::atomic<bool> sweep_armed_{false};
  std::vector<std::function<void()>> close_listeners_;
};

// Helper for processors and clients: the response header for `request` with `status`.
v1::Header MakeResponseHeader(const v1::Header& request, const Status& status);

}  // namespace vela::net
