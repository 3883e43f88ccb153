// vela-bench: BENCH.md's workloads (W1 produce, W2 consume, W3 e2e) against Vela through the SDK.
//   vela-bench --namesrv 127.0.0.1:9876 produce --topic T --window 256 --json
//   vela-bench consume --topic T --group G --count 200000 --json
//   vela-bench e2e --topic T --group G --rate 5000 --duration 10 --json
//   vela-bench consume ... --orderly | --broadcast     # W2 with an orderly or broadcasting consumer
//   vela-bench produce|consume ... --sharding-keys N   # messages keyed key-<i mod N>
//   vela-bench retry --topic T --group G --count 20000  # send-backs per second (bench/consumption.sh)
// Definitions and computations follow ../shared/peers/src/main.cpp (docs/performance.md lists
// every difference). Prints one line (or one JSON object with --json) on stdout.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "bench/vela_bench/bench_client.h"
#include "bench/vela_bench/workloads.h"
#include "common/build_info.h"
#include "common/command_line.h"
#include "common/logging.h"

namespace vela::bench {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;

// The model name of the first CPU in /proc/cpuinfo.
std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }
  return "unknown";
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

double ProcessCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

std::string Commit() {
  const char* env = std::getenv("VELA_BENCH_COMMIT");
  return env && *env ? std::string(env) : std::string(BuildCommit());  // the commit the binary was built from
}

void PrintHuman(const nlohmann::json& j) {
  std::printf("%s: %lld msgs in %.3f s = %.1f msgs/s (%.1f MB/s), errors %lld, durability %s",
              j["workload"].get<std::string>().c_str(), static_cast<long long>(j["msgs"].get<int64_t>()),
              j["seconds"].get<double>(), j["msgs_per_s"].get<double>(), j["mb_per_s"].get<double>(),
              static_cast<long long>(j["errors"].get<int64_t>()), j["durability"].get<std::string>().c_str());
  const auto& lat = j["latency_us"];
  if (lat.is_object()) {
    std::printf("; latency us p50 %.1f p99 %.1f p99.9 %.1f max %.1f", lat["p50"].get<double>(),
                lat["p99"].get<double>(), lat["p999"].get<double>(), lat["max"].get<double>());
  }
  if (j.contains("missing")) std::printf("; missing %lld", static_cast<long long>(j["missing"].get<int64_t>()));
  if (j.contains("dupes")) std::printf(" dupes %lld", static_cast<long long>(j["dupes"].get<int64_t>()));
  std::printf("\n");
}

int Main(int argc, char** argv) {
  CLI::App app{"vela-bench: BENCH.md workloads against Vela"};
  app.fallthrough();  // global options also after the subcommand
  AddVersionFlag(app, "vela-bench");
  app.require_subcommand(1);
  RunOptions options;
  bool json = false;
  std::string durability;
  std::string label;
  app.add_option("--namesrv", options.client.namesrv, "name servers host:port[;...] (default: $VELA_NAMESRV)")
      ->envname("VELA_NAMESRV");
  app.add_flag("--json", json, "print one JSON object");
  app.add_option("--durability", durability,
                 "report this durability instead of asking the broker (BROKER_STATUS flushDiskType)");
  app.add_option("--label", label, "free text copied into the JSON");
  std::string log_level = "warn";
  app.add_option("--log-level", log_level, "SDK log level on stderr")->capture_default_str();

  double duration = 0;
  auto add_common = [&](CLI::App* sub) {
    sub->add_option("--topic", options.client.topic, "topic (create it first, fresh for each run)")->required();
    sub->add_option("--size", options.size, "payload bytes (>= 16)")->capture_default_str();
    sub->add_flag("--trace", options.client.trace,
                  "message trace on every producer and consumer of the run (EnableTrace)");
  };

  auto* produce = app.add_subcommand("produce", "W1: publish with at most --window unacknowledged");
  add_common(produce);
  auto* produce_count = produce->add_option("--count", options.count, "messages (default 200000)");
  auto* produce_duration = produce->add_option("--duration", duration, "stop publishing after S seconds (default 20)");
  produce_count->excludes(produce_duration);
  produce->add_option("--time-cap", options.time_cap_s, "with --count: stop publishing after S seconds")
      ->capture_default_str();
  produce->add_option("--window", options.window, "at most W unacknowledged per connection")->capture_default_str();
  produce->add_flag("--sync-send", options.sync_send,
                    "diagnostic: with --window 1 use the blocking Producer::Send instead of SendAsync");
  produce->add_option("--connections", options.connections, "producers, each its own connection and thread")
      ->capture_default_str();
  produce->add_flag("--transaction", options.client.transaction,
                    "each message a one-message transaction: half message, then commit (latency: send to commit "
                    "acknowledged), with SendInTransactionAsync: --window transactions in flight");

  auto* consume = app.add_subcommand("consume", "W2: create a backlog of --count (window 256), then drain it");
  add_common(consume);
  consume->add_option("--group", options.client.group, "consumer group")->required();
  auto* consume_count = consume->add_option("--count", options.count, "backlog messages (default 200000)");
  auto* consume_duration = consume->add_option("--duration", duration, "drain cap in seconds (default 60)");
  consume_count->excludes(consume_duration);
  consume->add_option("--fill-cap", options.fill_cap_s, "cap in seconds for creating the backlog")
      ->capture_default_str();
  consume->add_option("--fill-window", options.fill_window, "window used to create the backlog")->capture_default_str();

  consume->add_flag("--orderly", options.client.orderly, "orderly consumer (broker queue locks, per-key order)");
  auto* consume_broadcast =
      consume->add_flag("--broadcast", options.broadcast, "broadcasting consumer (offsets in a temporary local dir)");
  consume_broadcast->excludes("--orderly");
  for (auto* sub : {produce, consume}) {
    sub->add_option("--sharding-keys", options.client.sharding_keys,
                    "message i carries the sharding key key-<i mod N> (its queue follows the key; an orderly "
                    "consumer keeps order per key); 0: none")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
  }
  produce->get_option("--sharding-keys")->excludes("--transaction");
  auto* retry = app.add_subcommand(
      "retry", "a backlog of --count whose first deliveries all fail: send-backs per second, all come back");
  add_common(retry);
  retry->add_option("--group", options.client.group, "consumer group")->required();
  retry->add_option("--count", options.count, "backlog messages")->required();
  retry->add_option("--duration", options.drain_cap_s, "cap in seconds for all to come back")->capture_default_str();
  retry->add_option("--fill-window", options.fill_window, "window used to create the backlog")->capture_default_str();
  auto* e2e = app.add_subcommand("e2e", "W3: consumer first, producer at a fixed rate, receive - send latency");
  add_common(e2e);
  e2e->add_option("--group", options.client.group, "consumer group")->required();
  e2e->add_option("--rate", options.rate, "messages per second")->required();
  e2e->add_option("--duration", options.duration_s, "seconds of sending")->required();
  e2e->add_option("--window", options.e2e_window, "producer window")->capture_default_str();

  auto* timer = app.add_subcommand("timer", "timer messages due uniformly over --spread seconds: lateness per delivery");
  add_common(timer);
  timer->add_option("--group", options.client.group, "consumer group")->required();
  timer->add_option("--count", options.count, "timer messages")->required();
  timer->add_option("--spread", options.spread_s, "seconds over which they fall due")->required();
  timer->add_option("--lead", options.lead_s,
                    "seconds from the start to the first due time (default: from the count); 600 or more: "
                    "only store the timers and measure memory, without waiting for them");
  timer->add_option("--broker-pid", options.broker_pid, "measure this broker's resident memory per pending timer");

  for (auto* sub : {produce, e2e}) {
    sub->add_option("--callback-threads", options.client.callback_threads,
                    "SDK send-callback threads (0: acknowledgements handled on the SDK's network thread)")
        ->capture_default_str();
  }
  for (auto* sub : {consume, e2e, timer, retry}) {
    sub->add_option("--consume-threads", options.client.consume_threads,
                    "push consumer listener threads (0: the listener runs on the SDK's network thread)")
        ->capture_default_str();
    sub->add_option("--pull-batch", options.client.pull_batch_size, "push consumer pull batch size")
        ->capture_default_str();
  }

  if (auto code = ParseCommandLine(app, argc, argv)) return *code;
  InitLogging(log_level);

  // peerbench's safety bounds.
  options.size = std::max<size_t>(options.size, 16);
  if (!timer->parsed()) options.count = std::clamp<int64_t>(options.count, 1, 5000000);
  options.window = std::max(options.window, 1);
  options.connections = std::clamp(options.connections, 1, 64);
  options.duration_s = std::min(options.duration_s, 120.0);
  if (produce->parsed() && duration > 0) {
    options.count = 5000000;  // --duration alone: time-bounded
    options.time_cap_s = std::min(duration, 300.0);
  }
  if (consume->parsed() && duration > 0) options.drain_cap_s = std::min(duration, 300.0);

  nlohmann::json result;
  try {
    if (produce->parsed()) {
      result = RunProduce(options);
    } else if (consume->parsed()) {
      result = RunConsume(options);
    } else if (retry->parsed()) {
      options.drain_cap_s = std::clamp(options.drain_cap_s, 1.0, 600.0);
      result = RunRetry(options);
    } else if (timer->parsed()) {
      options.count = std::clamp<int64_t>(options.count, 1, 20000000);
      result = RunTimer(options);
    } else {
      result = RunE2e(options);
    }
  } catch (const std::exception& e) {
    std::cerr << "vela-bench error: " << e.what() << "\n";
    return kExitFailed;
  }
  const std::string broker_addr = result.value("broker_addr", std::string());
  result["durability"] = durability.empty() ? QueryFlushDiskType(broker_addr) : durability;
  result["topic"] = options.client.topic;
  result["size"] = options.size;
  result["client_cpu_s"] = ProcessCpuSeconds();
  result["commit"] = Commit();
  result["machine"] = {{"nproc", std::thread::hardware_concurrency()},
                       {"cpu", CpuModel()},
                       {"loadavg_after", LoadAverage()}};
  if (!label.empty()) result["label"] = label;
  if (json) {
    std::cout << result.dump() << std::endl;
  } else {
    PrintHuman(result);
  }
  return result["errors"].get<int64_t>() == 0 ? kExitOk : kExitFailed;
}

}  // namespace
}  // namespace vela::bench

int main(int argc, char** argv) { return vela::bench::Main(argc, argv); }
