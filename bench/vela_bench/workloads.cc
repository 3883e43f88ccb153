#include "bench/vela_bench/workloads.h"

#include <stdlib.h>
#include <sys/prctl.h>

#include <algorithm>
#include <random>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/histogram.h"
#include "vela/consumer.h"
#include "vela/producer.h"

namespace vela::bench {

namespace {

constexpr int64_t kNsPerS = 1000000000;
constexpr int64_t kAckPollUs = 100000;             // produce: wait up to 100 ms for acks
constexpr int64_t kTailAckGraceNs = 30 * kNsPerS;  // produce: acks of the tail after the cap
constexpr int64_t kE2eTailNs = 10 * kNsPerS;       // e2e: wait for the last acks / deliveries

double Round1(double x) { return std::round(x * 10.0) / 10.0; }
double Round3(double x) { return std::round(x * 1000.0) / 1000.0; }

// One reusable payload: 8-byte sequence, 8-byte steady-clock send time (ns), then, with a run id,
// that id (8 bytes), then 'a'..'z' repeated. Thread-compatible.
class Payload {
 public:
  explicit Payload(size_t size, uint64_t run_id = 0) : bytes_(std::max<size_t>(size, run_id ? 24 : 16)) {
    for (size_t i = 0; i < bytes_.size(); ++i) bytes_[i] = static_cast<char>('a' + i % 26);
    if (run_id != 0) std::memcpy(bytes_.data() + 16, &run_id, sizeof run_id);
  }
  const char* Stamp(uint64_t seq, int64_t send_ns) {
    std::memcpy(bytes_.data(), &seq, sizeof seq);
    std::memcpy(bytes_.data() + 8, &send_ns, sizeof send_ns);
    return bytes_.data();
  }
  size_t size() const { return bytes_.size(); }

 private:
  std::vector<char> bytes_;
};

// Reads the stamp back; false for a body too short to hold it.
bool ReadStamp(const std::string& body, uint64_t* seq, int64_t* send_ns) {
  if (body.size() < 16) return false;
  std::memcpy(seq, body.data(), 8);
  std::memcpy(send_ns, body.data() + 8, 8);
  return true;
}

// The run id of a payload made with one (0 when the body is too short to hold one).
uint64_t ReadRunId(const std::string& body) {
  uint64_t id = 0;
  if (body.size() >= 24) std::memcpy(&id, body.data() + 16, sizeof id);
  return id;
}

nlohmann::json LatencyJson(const LatencyHistogram& h) {
  if (h.count() == 0) return nullptr;
  auto us = [](int64_t ns) { return Round1(static_cast<double>(ns) / 1000.0); };
  return {{"p50", us(h.Percentile(0.5))},
          {"p99", us(h.Percentile(0.99))},
          {"p999", us(h.Percentile(0.999))},
          {"max", us(h.max())},
          {"samples", h.count()}};
}

nlohmann::json BaseResult(const char* workload, int64_t msgs, size_t size, double seconds, double msgs_per_s,
                          int64_t errors) {
  return {{"workload", workload},
          {"msgs", msgs},
          {"bytes", msgs * static_cast<int64_t>(size)},
          {"seconds", Round3(seconds)},
          {"msgs_per_s", Round1(msgs_per_s)},
          {"mb_per_s", Round1(msgs_per_s * static_cast<double>(size) / 1e6)},
          {"errors", errors}};
}

// What one producer connection did.
struct ProduceOutcome {
  int64_t sent = 0;
  int64_t acked = 0;
  int64_t failed = 0;
  int64_t first_send_ns = 0;
  int64_t last_ack_ns = 0;
  bool capped = false;
  LatencyHistogram latency_ns;
  std::string broker_addr;
  std::string first_error;
  uint64_t trace_dropped = 0;
};

// The W1 loop of peerbench: publish while fewer than `window` are unacknowledged, then collect
// acks (waiting up to 100 ms); latency is taken when the driver collects the ack. Sequence
// numbers are seq_base + i. Stops publishing at `cap_s`, then waits at most 30 s for the tail.
// Asynchronous sends go to ProduceFromAcks, which keeps the same window from the ack callback;
// this polling loop remains for --sync-send.
ProduceOutcome ProduceLoop(const RunOptions& options, int window, int64_t count, double cap_s, uint64_t seq_base);

// The same window, refilled from the acknowledgement callback: each ack (on the SDK's network
// thread) records its latency and publishes the next message at once, so no driver thread is
// woken per acknowledgement. peerbench's Redis driver gets the same from its single thread; the
// window (at most `window` unacknowledged), the timestamps (send: before Publish; ack: when the
// driver sees it) and the cap are those of ProduceLoop. With `due_ms_of`, message i is a timer
// message due at due_ms_of(i), and its body carries that due time instead of the send time.
ProduceOutcome ProduceFromAcks(const RunOptions& options, int window, int64_t count, double cap_s, uint64_t seq_base,
                               const std::function<int64_t(int64_t)>& due_ms_of = nullptr) {
  struct State {
    std::mutex mu;
    std::condition_variable done_cv;
    ProduceOutcome r;        // GUARDED_BY(mu)
    int64_t inflight = 0;    // GUARDED_BY(mu)
    bool stopped = false;    // GUARDED_BY(mu): the cap passed
    std::vector<int64_t> send_ns;  // each slot written before its Publish, read after its ack
    std::string body;        // the payload pattern; each message is a stamped copy
    BenchProducer* producer = nullptr;
  };
  State st;
  st.send_ns.resize(static_cast<size_t>(count));
  st.body.assign(Payload(options.size).Stamp(0, 0), std::max<size_t>(options.size, 16));
  const int64_t t0 = NowMonotonicNs();
  const int64_t deadline = t0 + static_cast<int64_t>(cap_s * 1e9);
  st.r.first_send_ns = t0;
  st.r.last_ack_ns = t0;
  // Publishes until the window is full, the count is reached or the cap passes.
  auto refill = [&st, window, count, deadline, seq_base, &due_ms_of] {
    for (;;) {
      int64_t token;
      const int64_t ts = NowMonotonicNs();
      {
        std::lock_guard lock(st.mu);
        if (!st.stopped && ts >= deadline) {
          st.stopped = true;
          st.r.capped = st.r.sent < count;
        }
        if (st.stopped || st.inflight >= window || st.r.sent >= count) {
          if (st.inflight == 0) st.done_cv.notify_all();  // nothing in flight and nothing more to send
          return;
        }
        token = st.r.sent++;
        ++st.inflight;
      }
      st.send_ns[static_cast<size_t>(token)] = ts;
      std::string body = st.body;
      const uint64_t seq = seq_base + static_cast<uint64_t>(token);
      std::memcpy(body.data(), &seq, sizeof seq);
      const int64_t due_ms = due_ms_of ? due_ms_of(token) : 0;
      std::memcpy(body.data() + 8, due_ms_of ? &due_ms : &ts, sizeof ts);
      st.producer->Publish(std::move(body), static_cast<uint64_t>(token), due_ms);
    }
  };
  auto on_ack = [&st, &refill, count](uint64_t token, bool ok) {
    const int64_t t = NowMonotonicNs();
    {
      std::lock_guard lock(st.mu);
      if (token >= static_cast<uint64_t>(count)) throw std::runtime_error("bad ack token");
      if (ok) {
        st.r.latency_ns.Record(t - st.send_ns[token]);
        ++st.r.acked;
        st.r.last_ack_ns = t;
      } else {
        ++st.r.failed;
      }
      --st.inflight;
    }
    refill();
  };
  auto producer = BenchProducer::Create(options.client, on_ack);
  if (!producer.ok()) throw std::runtime_error("producer: " + producer.status().ToString());
  st.producer = producer->get();
  refill();
  {
    std::unique_lock lock(st.mu);
    const auto hard_deadline = std::chrono::steady_clock::now() +
                               std::chrono::nanoseconds(deadline - NowMonotonicNs() + kTailAckGraceNs);
    while (!(st.inflight == 0 && (st.stopped || st.r.sent >= count))) {
      if (st.done_cv.wait_until(lock, hard_deadline) == std::cv_status::timeout) {
        throw std::runtime_error("acks did not arrive within 30 s after the cap");
      }
    }
  }
  (*producer)->Shutdown();
  std::lock_guard lock(st.mu);
  ProduceOutcome r = std::move(st.r);
  r.broker_addr = (*producer)->broker_addr();
  r.first_error = (*producer)->first_error();
  r.trace_dropped = (*producer)->trace_dropped();
  return r;
}

ProduceOutcome ProduceLoop(const RunOptions& options, int window, int64_t count, double cap_s, uint64_t seq_base) {
  if (!(options.sync_send && window == 1)) return ProduceFromAcks(options, window, count, cap_s, seq_base);
  auto producer = BenchProducer::Create(options.client);
  if (!producer.ok()) throw std::runtime_error("producer: " + producer.status().ToString());
  BenchProducer& p = **producer;
  ProduceOutcome r;
  Payload payload(options.size);
  std::vector<int64_t> send_ns(static_cast<size_t>(count));
  std::vector<uint64_t> acked, failed;
  acked.reserve(static_cast<size_t>(std::max(window, 1)) * 2);
  int64_t inflight = 0;
  const int64_t t0 = NowMonotonicNs();
  const int64_t deadline = t0 + static_cast<int64_t>(cap_s * 1e9);
  const int64_t hard_deadline = deadline + kTailAckGraceNs;
  r.first_send_ns = t0;
  r.last_ack_ns = t0;
  while (r.acked + r.failed < count) {
    const int64_t now = NowMonotonicNs();
    const bool stop = now >= deadline;
    if (stop && r.sent < count) r.capped = true;
    while (!stop && inflight < window && r.sent < count) {
      const int64_t ts = NowMonotonicNs();
      send_ns[static_cast<size_t>(r.sent)] = ts;
      const char* data = payload.Stamp(seq_base + static_cast<uint64_t>(r.sent), ts);
      if (options.sync_send && window == 1) {
        p.PublishSync(data, payload.size(), static_cast<uint64_t>(r.sent));
      } else {
        p.Publish(data, payload.size(), static_cast<uint64_t>(r.sent));
      }
      ++r.sent;
      ++inflight;
    }
    if (inflight == 0) break;
    if (now > hard_deadline) throw std::runtime_error("acks did not arrive within 30 s after the cap");
    acked.clear();
    failed.clear();
    if (p.PollAcks(acked, failed, kAckPollUs) == 0) continue;
    const int64_t t = NowMonotonicNs();
    for (uint64_t token : acked) {
      if (token >= static_cast<uint64_t>(count)) throw std::runtime_error("bad ack token");
      r.latency_ns.Record(t - send_ns[token]);
    }
    r.acked += static_cast<int64_t>(acked.size());
    r.failed += static_cast<int64_t>(failed.size());
    inflight -= static_cast<int64_t>(acked.size() + failed.size());
    if (!acked.empty()) r.last_ack_ns = t;
  }
  r.broker_addr = p.broker_addr();
  r.first_error = p.first_error();
  p.Shutdown();
  r.trace_dropped = p.trace_dropped();
  return r;
}

// Runs `connections` ProduceLoops side by side (disjoint sequence ranges) and merges them.
ProduceOutcome ProduceParallel(const RunOptions& options, int window, int64_t count, double cap_s, int connections) {
  if (connections <= 1) return ProduceLoop(options, window, count, cap_s, 0);
  std::vector<ProduceOutcome> outcomes(static_cast<size_t>(connections));
  std::vector<std::string> errors(static_cast<size_t>(connections));
  std::vector<std::thread> threads;
  int64_t base = 0;
  for (int i = 0; i < connections; ++i) {
    const int64_t n = count / connections + (i < count % connections ? 1 : 0);
    threads.emplace_back([&, i, n, base] {
      try {
        outcomes[static_cast<size_t>(i)] = ProduceLoop(options, window, n, cap_s, static_cast<uint64_t>(base));
      } catch (const std::exception& e) {
        errors[static_cast<size_t>(i)] = e.what();
      }
    });
    base += n;
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors)
    if (!e.empty()) throw std::runtime_error(e);
  ProduceOutcome merged = std::move(outcomes[0]);
  for (size_t i = 1; i < outcomes.size(); ++i) {
    const ProduceOutcome& o = outcomes[i];
    merged.sent += o.sent;
    merged.acked += o.acked;
    merged.failed += o.failed;
    merged.capped = merged.capped || o.capped;
    merged.first_send_ns = std::min(merged.first_send_ns, o.first_send_ns);
    merged.last_ack_ns = std::max(merged.last_ack_ns, o.last_ack_ns);
    merged.latency_ns.Merge(o.latency_ns);
    if (merged.first_error.empty()) merged.first_error = o.first_error;
    merged.trace_dropped += o.trace_dropped;
  }
  return merged;
}

}  // namespace

nlohmann::json RunProduce(const RunOptions& options) {
  ProduceOutcome r = ProduceParallel(options, options.window, options.count, options.time_cap_s, options.connections);
  const double seconds = static_cast<double>(r.last_ack_ns - r.first_send_ns) / 1e9;
  const double rate = seconds > 0 ? static_cast<double>(r.acked) / seconds : 0;
  nlohmann::json j = BaseResult("produce", r.acked, options.size, seconds, rate, r.failed);
  j["latency_us"] = LatencyJson(r.latency_ns);
  j["window"] = options.window;
  j["connections"] = options.connections;
  j["trace"] = options.client.trace;
  j["sharding_keys"] = options.client.sharding_keys;
  if (options.client.trace && !options.client.transaction) j["trace_dropped"] = r.trace_dropped;
  j["send_api"] = options.client.transaction                      ? "SendInTransactionAsync"
                  : options.sync_send && options.window == 1 ? "Send"
                                                             : "SendAsync";
  j["sent"] = r.sent;
  j["capped"] = r.capped;
  if (!r.first_error.empty()) j["first_error"] = r.first_error;
  j["broker_addr"] = r.broker_addr;
  return j;
}

nlohmann::json RunConsume(const RunOptions& options) {
  const int64_t count = options.count;
  RunOptions local = options;
  std::string offset_dir;  // broadcast: a fresh local offset directory, removed after the run
  if (options.broadcast) {
    char dir_template[] = "/tmp/vela-bench-offsets-XXXXXX";
    if (::mkdtemp(dir_template) == nullptr) throw std::runtime_error("cannot create a temporary offset directory");
    offset_dir = dir_template;
    local.client.broadcast_offset_dir = offset_dir;
  }
  ProduceOutcome fill = ProduceLoop(options, options.fill_window, count, options.fill_cap_s, 0);
  if (fill.acked != count) std::cerr << "warning: backlog only " << fill.acked << " messages\n";
  std::this_thread::sleep_for(std::chrono::seconds(1));

  std::vector<std::atomic<uint8_t>> seen(static_cast<size_t>(count));
  std::atomic<int64_t> received{0}, dupes{0}, bytes{0}, malformed{0};
  std::atomic<int64_t> first_ns{0}, last_ns{0};  // when the first and the last message arrived
  auto handler = [&](const std::string& body) {
    uint64_t seq = 0;
    int64_t ts = 0;
    if (!ReadStamp(body, &seq, &ts)) {
      malformed.fetch_add(1, std::memory_order_relaxed);
    } else if (seq < static_cast<uint64_t>(count) && seen[seq].exchange(1, std::memory_order_relaxed) != 0) {
      dupes.fetch_add(1, std::memory_order_relaxed);
    }
    bytes.fetch_add(static_cast<int64_t>(body.size()), std::memory_order_relaxed);
    if (received.fetch_add(1, std::memory_order_release) + 1 == fill.acked) {
      last_ns.store(NowMonotonicNs(), std::memory_order_relaxed);
    }
    if (first_ns.load(std::memory_order_relaxed) == 0) {
      int64_t none = 0;
      first_ns.compare_exchange_strong(none, NowMonotonicNs(), std::memory_order_relaxed);
    }
  };
  // The clock starts before the consumer is built: route lookup, rebalance and the first pulls
  // count against Vela (peerbench connects its consumer before starting the clock).
  const int64_t t0 = NowMonotonicNs();
  const int64_t deadline = t0 + static_cast<int64_t>(options.drain_cap_s * 1e9);
  auto consumer = BenchConsumer::Create(local.client, handler);
  if (!consumer.ok()) throw std::runtime_error("consumer: " + consumer.status().ToString());
  while (received.load(std::memory_order_acquire) < fill.acked && NowMonotonicNs() < deadline) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  (*consumer)->Shutdown();  // commits the consumed offsets
  const int64_t t1 = NowMonotonicNs();
  if (!offset_dir.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(offset_dir, ignored);
  }
  int64_t distinct = 0;
  for (const auto& s : seen) distinct += s.load(std::memory_order_relaxed);
  const int64_t missing = std::max<int64_t>(0, fill.acked - distinct);
  const double seconds = static_cast<double>(t1 - t0) / 1e9;
  const int64_t got = received.load();
  nlohmann::json j = BaseResult("consume", got, options.size, seconds, static_cast<double>(got) / seconds,
                                fill.failed + missing + malformed.load());
  j["bytes"] = bytes.load();
  j["mb_per_s"] = Round1(static_cast<double>(bytes.load()) / seconds / 1e6);
  j["latency_us"] = nullptr;  // W2 measures throughput only (as peerbench)
  j["backlog"] = fill.acked;
  j["fill_msgs_per_s"] =
      Round1(static_cast<double>(fill.acked) / (static_cast<double>(fill.last_ack_ns - fill.first_send_ns) / 1e9));
  j["fill_ack_latency_us"] = LatencyJson(fill.latency_ns);
  j["received"] = got;
  j["distinct"] = distinct;
  j["missing"] = missing;
  j["dupes"] = dupes.load();
  j["malformed"] = malformed.load();
  j["broker_addr"] = fill.broker_addr;
  j["mode"] = options.broadcast ? "broadcast" : options.client.orderly ? "orderly" : "concurrent";
  j["sharding_keys"] = options.client.sharding_keys;
  // Where the drain's time went: until the first message (consumer start, route, rebalance, first
  // pull), and after the last one (shutdown, offset commit). Diagnostics; peerbench has neither.
  auto ms = [](int64_t ns) { return Round3(static_cast<double>(ns) / 1e6); };
  j["first_message_ms"] = first_ns.load() > 0 ? nlohmann::json(ms(first_ns.load() - t0)) : nlohmann::json(nullptr);
  j["after_last_message_ms"] = last_ns.load() > 0 ? nlohmann::json(ms(t1 - last_ns.load())) : nlohmann::json(nullptr);
  return j;
}

nlohmann::json RunRetry(const RunOptions& options) {
  const int64_t count = options.count;
  ProduceOutcome fill = ProduceLoop(options, options.fill_window, count, options.fill_cap_s, 0);
  if (fill.acked != count) std::cerr << "warning: backlog only " << fill.acked << " messages\n";
  std::this_thread::sleep_for(std::chrono::seconds(1));

  std::vector<std::atomic<uint8_t>> failed(static_cast<size_t>(count));
  std::vector<std::atomic<uint8_t>> returned(static_cast<size_t>(count));
  std::atomic<int64_t> send_backs{0}, came_back{0}, dupes{0}, malformed{0};
  std::atomic<int64_t> last_send_back_ns{0};
  const int64_t t0 = NowMonotonicNs();
  client::PushConsumerOptions consumer_options;
  consumer_options.group = options.client.group;
  consumer_options.consume_from = client::ConsumeFrom::kFirst;
  consumer_options.consume_threads = options.client.consume_threads;
  consumer_options.pull_batch_size = options.client.pull_batch_size;
  client::PushConsumerBuilder builder;
  if (!options.client.namesrv.empty()) builder.SetNamesrvAddr(options.client.namesrv);
  if (options.client.trace) builder.EnableTrace();
  builder.SetOptions(consumer_options)
      .Subscribe(options.client.topic, client::FilterExpression::All())
      .SetListener([&](const client::MessageView& m) {
        uint64_t seq = 0;
        int64_t ts = 0;
        if (!ReadStamp(m.body, &seq, &ts) || seq >= static_cast<uint64_t>(count)) {
          malformed.fetch_add(1, std::memory_order_relaxed);
          return client::ConsumeResult::kSuccess;
        }
        if (m.reconsume_times == 0) {
          if (failed[seq].exchange(1, std::memory_order_relaxed) == 0) {
            send_backs.fetch_add(1, std::memory_order_relaxed);
            last_send_back_ns.store(NowMonotonicNs(), std::memory_order_relaxed);
            return client::ConsumeResult::kFailure;
          }
          dupes.fetch_add(1, std::memory_order_relaxed);  // a first delivery seen twice
          return client::ConsumeResult::kSuccess;
        }
        if (returned[seq].exchange(1, std::memory_order_relaxed) != 0) {
          dupes.fetch_add(1, std::memory_order_relaxed);
        } else {
          came_back.fetch_add(1, std::memory_order_release);
        }
        return client::ConsumeResult::kSuccess;
      });
  auto consumer = builder.Build();
  if (!consumer.ok()) throw std::runtime_error("consumer: " + consumer.status().ToString());
  const int64_t deadline = t0 + static_cast<int64_t>(options.drain_cap_s * 1e9);
  while (came_back.load(std::memory_order_acquire) < fill.acked && NowMonotonicNs() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  (*consumer)->Shutdown();
  const int64_t t1 = NowMonotonicNs();
  const int64_t backs = send_backs.load();
  const double send_back_s =
      backs > 0 ? static_cast<double>(last_send_back_ns.load() - t0) / 1e9 : static_cast<double>(t1 - t0) / 1e9;
  const double seconds = static_cast<double>(t1 - t0) / 1e9;
  const int64_t missing = std::max<int64_t>(0, fill.acked - came_back.load());
  nlohmann::json j = BaseResult("retry", came_back.load(), options.size, seconds,
                                static_cast<double>(came_back.load()) / seconds, fill.failed + missing + malformed.load());
  j["latency_us"] = nullptr;
  j["backlog"] = fill.acked;
  j["send_backs"] = backs;
  j["send_backs_per_s"] = Round1(static_cast<double>(backs) / std::max(send_back_s, 1e-9));
  j["send_back_seconds"] = Round3(send_back_s);
  j["came_back"] = came_back.load();
  j["missing"] = missing;
  j["dupes"] = dupes.load();
  j["malformed"] = malformed.load();
  j["broker_addr"] = fill.broker_addr;
  return j;
}

nlohmann::json RunE2e(const RunOptions& options) {
  // 1 ns timer slack for this thread and, inherited, for every SDK thread created below.
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  const auto total = static_cast<int64_t>(options.rate * options.duration_s);
  if (total <= 0) throw std::runtime_error("e2e needs --rate and --duration > 0");
  std::vector<std::atomic<uint8_t>> seen(static_cast<size_t>(total));
  std::mutex latency_mu;
  LatencyHistogram latency_ns;  // GUARDED_BY(latency_mu)
  // Per second of sending (by each message's send stamp): the worst latency and how many took
  // over 1 ms, so a tail can be placed in time (a stall in the first second, or one every second).
  const auto seconds_of_sending = static_cast<size_t>(std::ceil(options.duration_s)) + 1;
  std::vector<int64_t> worst_ns_by_second(seconds_of_sending);  // GUARDED_BY(latency_mu)
  std::vector<int64_t> over_1ms_by_second(seconds_of_sending);   // GUARDED_BY(latency_mu)
  std::atomic<int64_t> send_start_ns{0};
  std::atomic<int64_t> received{0}, dupes{0}, malformed{0}, foreign{0};
  // Messages of an earlier run on the same topic carry another run id: counted apart, never as
  // this run's (their sequence numbers overlap).
  const uint64_t run_id = std::random_device{}() | (static_cast<uint64_t>(std::random_device{}()) << 32) | 1;
  auto handler = [&](const std::string& body) {
    const int64_t t = NowMonotonicNs();
    uint64_t seq = 0;
    int64_t ts = 0;
    if (ReadRunId(body) != run_id) {
      foreign.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (!ReadStamp(body, &seq, &ts)) {
      malformed.fetch_add(1, std::memory_order_relaxed);
    } else if (seq < static_cast<uint64_t>(total)) {
      if (seen[seq].exchange(1, std::memory_order_relaxed) != 0) {
        dupes.fetch_add(1, std::memory_order_relaxed);
      } else {
        std::lock_guard lock(latency_mu);
        latency_ns.Record(t - ts);
        const int64_t since_start = ts - send_start_ns.load(std::memory_order_relaxed);
        const auto second = std::min(static_cast<size_t>(std::max<int64_t>(since_start, 0) / kNsPerS),
                                     seconds_of_sending - 1);
        worst_ns_by_second[second] = std::max(worst_ns_by_second[second], t - ts);
        if (t - ts > 1000000) ++over_1ms_by_second[second];
      }
    }
    received.fetch_add(1, std::memory_order_release);
  };
  auto consumer = BenchConsumer::Create(options.client, handler);
  if (!consumer.ok()) throw std::runtime_error("consumer: " + consumer.status().ToString());
  auto producer = BenchProducer::Create(options.client);
  if (!producer.ok()) throw std::runtime_error("producer: " + producer.status().ToString());
  BenchProducer& p = **producer;
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let the subscription settle

  Payload payload(options.size, run_id);
  std::vector<uint64_t> acked, failed;
  int64_t inflight = 0, acks = 0, fails = 0, late_1ms = 0, max_lag = 0;
  const auto period = static_cast<int64_t>(1e9 / options.rate);
  std::vector<int64_t> send_lag_by_second(seconds_of_sending);  // the sending thread's own
  const int64_t t0 = NowMonotonicNs() + 1000000;
  send_start_ns.store(t0, std::memory_order_relaxed);
  for (int64_t i = 0; i < total; ++i) {
    const int64_t target = t0 + i * period;
    for (;;) {
      acked.clear();
      failed.clear();
      const bool full = inflight >= options.e2e_window;
      p.PollAcks(acked, failed, full ? 1000 : 0);
      acks += static_cast<int64_t>(acked.size());
      fails += static_cast<int64_t>(failed.size());
      inflight -= static_cast<int64_t>(acked.size() + failed.size());
      const int64_t now = NowMonotonicNs();
      if (now > target + 30 * kNsPerS) throw std::runtime_error("producer stalled for 30 s (window full)");
      if (inflight >= options.e2e_window) continue;
      if (now >= target) break;
      std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<int64_t>(target - now, 500000)));
    }
    const int64_t ts = NowMonotonicNs();
    max_lag = std::max(max_lag, ts - target);
    const auto send_second = std::min(static_cast<size_t>((target - t0) / kNsPerS), seconds_of_sending - 1);
    auto& second_lag = send_lag_by_second[send_second];
    second_lag = std::max(second_lag, ts - target);
    if (ts - target > 1000000) ++late_1ms;
    p.Publish(payload.Stamp(static_cast<uint64_t>(i), ts), payload.size(), static_cast<uint64_t>(i));
    ++inflight;
  }
  const int64_t t_end = NowMonotonicNs();
  while (inflight > 0 && NowMonotonicNs() < t_end + kE2eTailNs) {
    acked.clear();
    failed.clear();
    p.PollAcks(acked, failed, kAckPollUs);
    acks += static_cast<int64_t>(acked.size());
    fails += static_cast<int64_t>(failed.size());
    inflight -= static_cast<int64_t>(acked.size() + failed.size());
  }
  while (received.load(std::memory_order_acquire) < total && NowMonotonicNs() < t_end + kE2eTailNs) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  (*consumer)->Shutdown();
  const std::string broker_addr = p.broker_addr();
  const std::string first_error = p.first_error();
  p.Shutdown();

  int64_t distinct = 0;
  for (const auto& s : seen) distinct += s.load(std::memory_order_relaxed);
  const double seconds = static_cast<double>(t_end - t0) / 1e9;
  const int64_t got = received.load();
  nlohmann::json j = BaseResult("e2e", got, options.size, seconds, static_cast<double>(total) / seconds,
                                fails + (total - distinct) + malformed.load());
  j["bytes"] = got * static_cast<int64_t>(payload.size());
  {
    std::lock_guard lock(latency_mu);
    j["latency_us"] = LatencyJson(latency_ns);
    auto& by_second = j["by_second"] = nlohmann::json::array();
    for (size_t s = 0; s < seconds_of_sending; ++s) {
      by_second.push_back({{"max_us", Round1(static_cast<double>(worst_ns_by_second[s]) / 1000.0)},
                           {"over_1ms", over_1ms_by_second[s]},
                           {"send_lag_max_us", Round1(static_cast<double>(send_lag_by_second[s]) / 1000.0)}});
    }
  }
  j["rate"] = options.rate;
  j["sent"] = total;
  j["acked"] = acks;
  j["received"] = got;
  j["missing"] = total - distinct;
  j["dupes"] = dupes.load();
  j["other_runs"] = foreign.load();  // messages of earlier runs on the topic, not counted
  j["send_late_gt_1ms"] = late_1ms;
  j["max_send_lag_us"] = Round1(static_cast<double>(max_lag) / 1000.0);
  if (!first_error.empty()) j["first_error"] = first_error;
  j["broker_addr"] = broker_addr;
  return j;
}

namespace {
// The broker's anonymous resident memory (RssAnon): its heap, stacks and RocksDB's memtables and
// caches, without the mapped commit-log and queue files, which are the log itself.
int64_t ResidentBytes(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("RssAnon:", 0) == 0) return std::stoll(line.substr(8)) * 1024;
  }
  return 0;
}
int64_t NowEpochUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

nlohmann::json RunTimer(const RunOptions& options) {
  const int64_t total = options.count;
  std::vector<std::atomic<uint8_t>> seen(static_cast<size_t>(total));
  std::mutex latency_mu;
  LatencyHistogram lateness_ns;  // GUARDED_BY(latency_mu)
  std::atomic<int64_t> received{0}, dupes{0}, early{0};
  auto handler = [&](const std::string& body) {
    const int64_t now_us = NowEpochUs();
    uint64_t seq = 0;
    int64_t due_ms = 0;
    if (!ReadStamp(body, &seq, &due_ms) || seq >= static_cast<uint64_t>(total)) return;
    if (seen[seq].exchange(1, std::memory_order_relaxed) != 0) {
      dupes.fetch_add(1, std::memory_order_relaxed);
    } else {
      if (now_us < due_ms * 1000) early.fetch_add(1, std::memory_order_relaxed);
      std::lock_guard lock(latency_mu);
      lateness_ns.Record(std::max<int64_t>(0, now_us - due_ms * 1000) * 1000);
    }
    received.fetch_add(1, std::memory_order_release);
  };
  // Timers due more than ten minutes ahead are only stored (the memory measurement): nothing is
  // consumed and the run ends after the sends.
  const bool await_delivery = options.lead_s < 600;
  client::StatusOr<std::unique_ptr<BenchConsumer>> consumer = std::unique_ptr<BenchConsumer>();
  if (await_delivery) consumer = BenchConsumer::Create(options.client, handler);
  if (!consumer.ok()) throw std::runtime_error("consumer: " + consumer.status().ToString());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const int64_t rss_before = options.broker_pid > 0 ? ResidentBytes(options.broker_pid) : 0;

  // All sends must end before the first timer is due: 20 s of lead per million unless told.
  const double lead_s = options.lead_s > 0 ? options.lead_s : 5.0 + 20.0 * static_cast<double>(total) / 1e6;
  const int64_t first_due_ms = NowEpochUs() / 1000 + static_cast<int64_t>(lead_s * 1000);
  const double step_ms = options.spread_s * 1000.0 / static_cast<double>(total);
  // The sends go through the same window-256 loop as W1's plain sends, so the two rates compare.
  ProduceOutcome sent = ProduceFromAcks(options, 256, total, 3600, 0, [&](int64_t i) {
    return first_due_ms + static_cast<int64_t>(static_cast<double>(i) * step_ms);
  });
  const int64_t acked = sent.acked, failed = sent.failed;
  const std::string& first_error = sent.first_error;
  const std::string& broker_addr = sent.broker_addr;
  const double send_seconds = static_cast<double>(sent.last_ack_ns - sent.first_send_ns) / 1e9;
  const bool sent_in_time = NowEpochUs() / 1000 < first_due_ms;
  if (options.broker_pid > 0) std::this_thread::sleep_for(std::chrono::seconds(5));  // the broker indexes the tail
  const int64_t rss_peak = options.broker_pid > 0 ? ResidentBytes(options.broker_pid) : 0;
  const int64_t deadline_ms = first_due_ms + static_cast<int64_t>(options.spread_s * 1000) + 60000;
  while (await_delivery && received.load(std::memory_order_acquire) < acked && NowEpochUs() / 1000 < deadline_ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (*consumer) (*consumer)->Shutdown();

  int64_t distinct = 0;
  for (const auto& s : seen) distinct += s.load(std::memory_order_relaxed);
  const int64_t undelivered = await_delivery ? total - distinct : 0;
  nlohmann::json j = BaseResult("timer", distinct, options.size, send_seconds,
                                static_cast<double>(acked) / send_seconds, failed + undelivered + early.load());
  j["deliveries_awaited"] = await_delivery;
  {
    std::lock_guard lock(latency_mu);
    j["latency_us"] = LatencyJson(lateness_ns);
  }
  j["latency_is"] = "lateness: receive time - due time";
  j["send_msgs_per_s"] = Round1(static_cast<double>(acked) / send_seconds);
  j["sent_before_first_due"] = sent_in_time;
  j["spread_s"] = options.spread_s;
  j["lead_s"] = lead_s;
  j["missing"] = total - distinct;
  j["dupes"] = dupes.load();
  j["early"] = early.load();
  if (options.broker_pid > 0) {
    j["broker_rss_anon_before"] = rss_before;
    j["broker_rss_anon_peak_pending"] = rss_peak;
    j["broker_bytes_per_pending_timer"] = Round1(static_cast<double>(rss_peak - rss_before) / static_cast<double>(total));
  }
  if (!first_error.empty()) j["first_error"] = first_error;
  j["broker_addr"] = broker_addr;
  return j;
}

}  // namespace vela::bench
