#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "bench/vela_bench/bench_client.h"

// The three workloads of BENCH.md, defined and computed as ../shared/peers/src/main.cpp does:
//   produce (W1): at most `window` unacknowledged publishes; throughput = acked / (last ack -
//     first send); ack latency per message = time the driver collects the ack - send time.
//   consume (W2): a backlog of `count` messages is created with window 256, then (after 1 s)
//     drained by one consumer; every sequence number is checked; msgs/s over the drain,
//     offset commit (consumer shutdown) included.
//   e2e (W3): consumer subscribed first, then 0.5 s later a producer paced at `rate` msgs/s;
//     latency = receive time - send time stamped in the payload (steady clock, one process).
namespace vela::bench {

// Everything a run needs (filled from the command line).
struct RunOptions {
  ClientSettings client;
  size_t size = 1024;          // payload bytes (at least 16)
  int64_t count = 200000;      // produce: messages; consume: backlog
  double time_cap_s = 20;      // produce: stop publishing after this
  int window = 1;              // produce: at most this many unacknowledged per connection
  bool sync_send = false;      // produce: Producer::Send on the driver thread (diagnostic, window 1)
  int connections = 1;         // produce: producers (each its own connection and driver thread)
  int fill_window = 256;       // consume: window used to create the backlog
  double fill_cap_s = 180;     // consume: cap for creating the backlog
  double drain_cap_s = 60;     // consume: cap for draining
  double rate = 5000;          // e2e msgs/s
  double duration_s = 10;      // e2e seconds of sending
  int e2e_window = 256;        // e2e producer window
  double spread_s = 60;        // timer: due times spread uniformly over this many seconds
  double lead_s = 0;           // timer: the first due time this long after the start (0: from the send rate)
  int broker_pid = 0;          // timer: sample this broker's resident memory (0: not measured)
  bool broadcast = false;      // consume: the broadcasting model (offsets in a temporary local dir)
};

// Runs one workload and returns its result object (the fields CLI.md lists plus extras), with
// "broker_addr" set to a broker that acknowledged messages. Throws std::runtime_error on failures
// that make the figures meaningless (no producer, stalled window, no consumer).
nlohmann::json RunProduce(const RunOptions& options);
nlohmann::json RunConsume(const RunOptions& options);
nlohmann::json RunE2e(const RunOptions& options);
// timer: `count` timer messages due uniformly over `spread_s` seconds, sent with window 256, all
// sent before the first is due; lateness = receive time - due time (epoch clock, one process).
// Reports the send rate, the lateness percentiles and, with broker_pid, the broker's anonymous
// resident memory (not the mapped log) per pending timer at the peak (after the last send,
// before the first due).
nlohmann::json RunTimer(const RunOptions& options);
// retry: a backlog of `count`, then a concurrent clustering consumer whose listener fails every
// message's first delivery (so each is sent back to the broker, CONSUMER_SEND_BACK, and comes
// back through %RETRY%<group> after the broker's first retry delay) and accepts the second.
// Reports send-backs per second (failed first deliveries over the time from the consumer's start
// to the last of them) and how many of the `count` came back (errors: those that did not within
// the drain cap). Set the broker's messageDelayLevel short, or the run waits for the 10 s level.
nlohmann::json RunRetry(const RunOptions& options);

}  // namespace vela::bench
