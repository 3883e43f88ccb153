#pragma once

#include <atomic>
#include <cstdint>

#include "broker/trace/trace_writer.h"
#include "net/dispatcher.h"

namespace vela::broker::trace {

// TraceProcessor serves SEND_TRACE: the SDK's batches of trace records (docs/protocol.md "Message
// trace"), the one way a client writes to the reserved topic RMQ_SYS_TRACE_TOPIC. A plain
// SEND_MESSAGE to it stays refused (ResourceResolver). Every record of a request must be a
// well-formed trace record (common/trace_record.h: ValidateTraceRecord, queue 0, a valid id and
// properties): one bad record refuses the whole request with InvalidArgument naming it. The
// accepted records are appended together and answered when durable. Runs on io threads;
// thread-safe. `writer` must outlive it.
class TraceProcessor {
 public:
  explicit TraceProcessor(TraceWriter& writer);

  void Register(net::Dispatcher& dispatcher);
  void HandleSendTrace(net::RequestContext rc, net::Frame frame);

  // Requests refused (bad records), for tests and logs.
  uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

 private:
  TraceWriter& writer_;
  std::atomic<uint64_t> refused_{0};
};

}  // namespace vela::broker::trace
