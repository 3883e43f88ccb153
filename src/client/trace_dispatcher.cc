#include "client/trace_dispatcher.h"

#include <algorithm>
#include <map>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "client/client_instance.h"
#include "client/logger.h"
#include "common/clock.h"
#include "common/message_id.h"
#include "common/message_record.h"

namespace vela::client {

void TraceBatch::Append(std::string_view broker_addr, std::string_view encoded, size_t id_at, size_t id_size) {
  const uint32_t header[kHeaderWords] = {static_cast<uint32_t>(broker_addr.size()),
                                         static_cast<uint32_t>(encoded.size()), static_cast<uint32_t>(id_at),
                                         static_cast<uint32_t>(id_size)};
  bytes_.append(reinterpret_cast<const char*>(header), sizeof header);
  bytes_.append(broker_addr);
  bytes_.append(encoded);
  ++count_;
}

bool TraceQueue::Offer(std::string_view broker_addr, std::string_view encoded, size_t id_at, size_t id_size) {
  {
    std::lock_guard lock(mu_);
    if (!closed_ && items_.size() < capacity_) {
      items_.Append(broker_addr, encoded, id_at, id_size);
      if (items_.size() == 1) cv_.notify_one();
      return true;
    }
  }
  dropped_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

void TraceQueue::TakeBatch(size_t wake_at, std::chrono::milliseconds linger, std::chrono::milliseconds idle,
                           TraceBatch* batch) {
  batch->clear();
  if (wake_at == 0) wake_at = 1;
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, idle, [&] { return closed_ || !items_.empty(); })) return;
  if (!closed_ && items_.size() < wake_at) {
    // A partial batch waits a little for company: one request carries many events under load.
    cv_.wait_for(lock, linger, [&] { return closed_ || items_.size() >= wake_at; });
  }
  std::swap(*batch, items_);  // items_ is left with the batch's emptied buffer
}

void TraceQueue::Close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  cv_.notify_all();
}

size_t TraceQueue::size() const {
  std::lock_guard lock(mu_);
  return items_.size();
}

bool TraceQueue::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

namespace {
std::atomic<uint64_t> next_dispatcher_id{1};
}  // namespace

TraceDispatcher::TraceDispatcher(TraceDispatcherOptions options)
    : options_(options),
      queue_(options.queue_capacity),
      born_host_(PackHost(LocalIpAddress() + ":0")),
      instance_id_(next_dispatcher_id.fetch_add(1, std::memory_order_relaxed)) {}

TraceDispatcher::~TraceDispatcher() { Stop(); }

void TraceDispatcher::Start() {
  if (started_.exchange(true)) return;
  net::RpcClientOptions rpc_options;
  rpc_options.io_threads = 1;
  rpc_options.thread_name = "vela-trace";
  rpc_ = std::make_unique<net::RpcClient>(rpc_options);
  thread_ = std::thread([this] { Run(); });
}

void TraceDispatcher::Record(const vela::trace::TraceEvent& event, std::string_view broker_addr) {
  std::string last_broker;  // only when the event names no broker
  if (broker_addr.empty()) {
    std::lock_guard lock(mu_);
    last_broker = last_broker_addr_;
    broker_addr = last_broker;
  } else {
    // Each thread tells the shared "last broker" only when its own broker changes: the common
    // case (every event to the same broker) takes no lock here.
    thread_local uint64_t told_dispatcher = 0;  // an instance_id_ (never reused, unlike an address)
    thread_local std::string told_broker;
    if (told_dispatcher != instance_id_ || told_broker != broker_addr) {
      told_dispatcher = instance_id_;
      told_broker.assign(broker_addr);
      std::lock_guard lock(mu_);
      last_broker_addr_.assign(broker_addr);
    }
  }
  if (broker_addr.empty()) {
    unroutable_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const bool needs_client = event.client_id.empty() && (event.type == vela::trace::EventType::kSend ||
                                                        event.type == vela::trace::EventType::kConsume);
  std::optional<vela::trace::TraceEvent> filled;
  if (needs_client) {
    filled = event;
    filled->client_id = client_id_;
  }
  const vela::trace::TraceEvent& e = filled ? *filled : event;
  if (vela::Status valid = vela::trace::ValidateTraceEvent(e); !valid.ok()) {
    failed_.fetch_add(1, std::memory_order_relaxed);
    LogFailure(fmt::format("trace event of {} not written: {}", e.msg_id, valid.ToString()));
    return;
  }
  thread_local std::string encoded;  // reused: the queue copies the bytes
  size_t id_at = 0;
  vela::trace::EncodeTraceEventInto(e, &encoded, &id_at);
  if (!queue_.Offer(broker_addr, encoded, id_at, e.msg_id.size())) LogFailure("trace queue full: event dropped");
}

void TraceDispatcher::Run() {
  TraceBatch batch;
  for (;;) {
    const bool closing = queue_.closed();
    queue_.TakeBatch(options_.max_batch, std::chrono::milliseconds(options_.linger_ms), std::chrono::milliseconds(200),
                     &batch);
    if (batch.empty()) {
      if (closing || queue_.closed()) {
        if (queue_.size() == 0) return;
      }
      continue;
    }
    int64_t timeout = options_.request_timeout_ms;
    if (const int64_t deadline = stop_deadline_ms_.load(std::memory_order_acquire); deadline > 0) {
      const int64_t left = deadline - NowEpochMs();
      if (left <= 0) {
        // Stop's bound passed: what remains is dropped (counted as failed).
        failed_.fetch_add(batch.size() + queue_.size(), std::memory_order_relaxed);
        do {
          queue_.TakeBatch(options_.max_batch, std::chrono::milliseconds(0), std::chrono::milliseconds(0), &batch);
        } while (!batch.empty());
        return;
      }
      timeout = std::min(timeout, left);
    }
    SendBatch(batch, timeout);
  }
}

void TraceDispatcher::SendBatch(const TraceBatch& batch, int64_t timeout_ms) {
  // Per broker, requests of at most max_batch events, in the order the events happened.
  struct Event {
    std::string_view msg_id;
    std::string_view encoded;
  };
  std::map<std::string_view, std::vector<Event>> by_broker;
  batch.ForEach([&](std::string_view broker, std::string_view msg_id, std::string_view encoded) {
    by_broker[broker].push_back(Event{msg_id, encoded});
  });
  const int64_t now = NowEpochMs();
  for (const auto& [addr, events] : by_broker) {
    for (size_t first = 0; first < events.size(); first += options_.max_batch) {
      const size_t end = std::min(events.size(), first + std::max<size_t>(1, options_.max_batch));
      // Usually one record per request; a request too large for one record takes several.
      net::OutBody body;
      uint32_t records = 0;
      vela::trace::TraceRecordBuilder builder;
      auto finish = [&] {
        builder.Finish(NewMessageId(), born_host_, now, &body.owned);
        ++records;
      };
      for (size_t i = first; i < end; ++i) {
        if (builder.AddEncoded(events[i].msg_id, events[i].encoded) ==
            vela::trace::TraceRecordBuilder::AddOutcome::kFull) {
          finish();
          (void)builder.AddEncoded(events[i].msg_id, events[i].encoded);  // an empty record takes any one event
        }
      }
      if (!builder.empty()) finish();
      const auto count = static_cast<uint64_t>(end - first);
      v1::Header header;
      header.set_code(v1::SEND_TRACE);
      auto* request = header.mutable_send_request();
      request->set_topic(std::string(vela::trace::kTraceTopic));
      request->set_queue_id(0);
      request->set_message_count(records);
      request->set_batch(records > 1);
      auto response =
          rpc_->InvokeSync(std::string(addr), std::move(header), std::move(body), std::max<int64_t>(1, timeout_ms));
      if (response.ok()) {
        written_.fetch_add(count, std::memory_order_relaxed);
      } else {
        failed_.fetch_add(count, std::memory_order_relaxed);
        LogFailure(fmt::format("{} trace event(s) not written to {}: {}", count, addr, response.status().ToString()));
      }
    }
  }
}

void TraceDispatcher::LogFailure(const std::string& what) {
  const int64_t now = NowEpochMs();
  int64_t last = last_failure_log_ms_.load(std::memory_order_relaxed);
  if (now - last >= 10000 && last_failure_log_ms_.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
    ClientLogger()->warn("{} (trace: {} dropped, {} failed so far)", what, dropped(), failed());
  }
}

void TraceDispatcher::Stop() {
  if (stopped_.exchange(true)) return;
  if (!started_.load()) {
    queue_.Close();
    return;
  }
  stop_deadline_ms_.store(NowEpochMs() + options_.flush_on_stop_ms, std::memory_order_release);
  queue_.Close();
  if (thread_.joinable()) thread_.join();
  if (rpc_) rpc_->Shutdown();
  if (const uint64_t lost = dropped() + failed(); lost > 0) {
    ClientLogger()->warn("trace: {} event(s) written, {} dropped (queue full), {} failed", written(), dropped(),
                         failed());
  }
}

MessageListener TracingListener(std::shared_ptr<TraceDispatcher> tracer, std::string group, MessageListener inner) {
  return [tracer = std::move(tracer), group = std::move(group), inner = std::move(inner)](const MessageView& m) {
    const int64_t start_ms = NowEpochMs();
    const int64_t start_ns = NowMonotonicNs();
    auto record = [&](bool ok) {
      thread_local vela::trace::TraceEvent e;  // refilled per delivery: Record copies its encoding
      e.type = vela::trace::EventType::kConsume;
      e.msg_id = m.msg_id;
      e.time_ms = start_ms;
      e.topic = m.topic;
      e.client_id = tracer->client_id();
      e.group = group;
      e.cost_us = std::max<int64_t>(0, (NowMonotonicNs() - start_ns) / 1000);
      e.status = ok ? "ok" : "failed";
      e.attempt = std::max(0, m.reconsume_times) + 1;
      tracer->Record(e, m.broker_addr);
    };
    ConsumeResult result;
    try {
      result = inner(m);
    } catch (...) {
      record(false);
      throw;
    }
    if (result != ConsumeResult::kLeave) record(result == ConsumeResult::kSuccess);
    return result;
  };
}

}  // namespace vela::client
