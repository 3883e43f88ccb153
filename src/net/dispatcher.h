#pragma once

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include <asio/thread_pool.hpp>

#include "net/connection.h"

namespace vela::net {

// RequestContext is what a processor gets with a request: who asked and a call-once Reply that
// may be called from any thread (it posts to the connection's io thread). Holds only a weak
// reference to the connection: replying after the peer left is a no-op. Copyable; copies share
// the "replied" flag. The request stays in flight on its connection (Connection::FinishRequest)
// until the first Reply, or until the last copy is dropped without one (oneway requests, a
// processor that gives up).
//
// Test seam: a context built with a ReplySink has no connection; its first Reply hands the
// response (header filled as for the wire) to the sink on the replying thread instead.
class RequestContext {
 public:
  using ReplySink = std::function<void(Status status, v1::Header response, OutBody body)>;

  RequestContext(const std::shared_ptr<Connection>& connection, const v1::Header& request);
  // For unit tests of processors: no socket; `request` gives the id, code and flags.
  RequestContext(ReplySink sink, const v1::Header& request, std::string peer = "127.0.0.1:1");

  // Sends the response: `response` carries the typed payload (its id, code, flags and status
  // are filled here). Only the first call sends; oneway requests send nothing.
  void Reply(const Status& status, v1::Header response = {}, OutBody body = {}) const;
  void ReplyError(const Status& status) const { Reply(status); }

  uint64_t request_id() const { return request_id_; }
  v1::RequestCode code() const { return code_; }
  bool oneway() const { return oneway_; }
  const std::string& peer() const { return peer_; }
  uint64_t connection_id() const { return connection_id_; }
  std::shared_ptr<Connection> connection() const { return connection_.lock(); }

 private:
  friend class Dispatcher;
  std::weak_ptr<Connection> connection_;
  uint64_t request_id_;
  uint64_t connection_id_;
  v1::RequestCode code_;
  bool oneway_;
  std::string peer_;
  // Shared by the copies: whether the request was answered, and its end of in-flight accounting.
  struct ReplyState;
  std::shared_ptr<ReplyState> state_;
};

// Told of every request answered through a Dispatcher (not oneway ones): its code, the status
// answered and the time from its arrival to the reply, in microseconds. Runs on the replying
// thread (an io thread or a worker), so it must be cheap and thread-safe (the broker feeds
// rocketmq_rpc_latency with it).
using ReplyObserver = std::function<void(v1::RequestCode code, const Status& status, int64_t micros)>;

// A request processor: called with the context and the request frame.
using Processor = std::function<void(RequestContext context, Frame request)>;

// Dispatcher maps request codes to processors, filled at startup (RegisterProcessor) and read-only
// afterwards. A processor runs on the io thread unless registered with a worker pool (for slow
// work). Unknown codes get an Unimplemented error response. Thread-safe after startup.
class Dispatcher : public RequestHandler {
 public:
  // REQUIRES: before the server starts. `pool`, if given, must outlive the dispatcher.
  void RegisterProcessor(v1::RequestCode code, Processor processor, asio::thread_pool* pool = nullptr);
  void OnRequest(const std::shared_ptr<Connection>& connection, Frame frame) override;
  // REQUIRES: before the server starts.
  void SetReplyObserver(ReplyObserver observer) { observer_ = std::move(observer); }

 private:
  ReplyObserver observer_;
  struct Entry {
    Processor processor;
    asio::thread_pool* pool;
  };
  std::unordered_map<int, Entry> processors_;
};

}  // namespace vela::net
