// vela-consume-probe: a test-only consumer process for the consumption acceptance tests
// (consumption_acceptance_test.cc). It consumes one topic through the public SDK in the mode asked
// (concurrent clustering, orderly, broadcast) with a listener that fails on purpose, and prints one
// JSON line per delivery, flushed at once (a test that SIGKILLs it sees every finished delivery):
//   {"id", "key", "seq", "queue", "offset", "reconsume", "start_ns", "end_ns", "result", "pid"}
// key and seq are the message's properties of those names; start_ns / end_ns are CLOCK_REALTIME
// around the listener's work (one machine: comparable across processes). It runs until SIGTERM or
// SIGINT, then shuts the consumer down (commit, unlock) and exits 0.
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "vela/consumer.h"

namespace {

int64_t RealtimeNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

struct ProbeArgs {
  std::string namesrv;
  std::string topic;
  std::string group;
  std::string mode = "concurrent";  // concurrent | orderly | broadcast
  std::string instance;
  std::string offset_dir;
  int fail_first = 0;          // fail while reconsume_times < fail_first
  bool fail_always = false;    // fail every delivery
  double fail_rate = 0;        // fail this fraction of deliveries at random
  int sleep_max_us = 0;        // sleep a random 0..N microseconds in the listener
  int threads = 4;
  int max_reconsume = 16;      // orderly
  int suspend_ms = 100;        // orderly
  int lock_renew_ms = 20000;   // orderly
  int commit_ms = 1000;
  int pull_batch = 32;
  std::string log_file;        // the SDK's log (info level) goes here
};

[[noreturn]] void Usage(const std::string& why) {
  std::cerr << "vela-consume-probe: " << why << "\n";
  std::exit(2);
}

ProbeArgs Parse(int argc, char** argv) {
  ProbeArgs a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--fail-always") {
      a.fail_always = true;
      continue;
    }
    if (i + 1 >= argc) Usage("missing value for " + flag);
    const std::string v = argv[++i];
    if (flag == "--namesrv") a.namesrv = v;
    else if (flag == "--topic") a.topic = v;
    else if (flag == "--group") a.group = v;
    else if (flag == "--mode") a.mode = v;
    else if (flag == "--instance") a.instance = v;
    else if (flag == "--offset-dir") a.offset_dir = v;
    else if (flag == "--fail-first") a.fail_first = std::stoi(v);
    else if (flag == "--fail-rate") a.fail_rate = std::stod(v);
    else if (flag == "--sleep-max-us") a.sleep_max_us = std::stoi(v);
    else if (flag == "--threads") a.threads = std::stoi(v);
    else if (flag == "--max-reconsume") a.max_reconsume = std::stoi(v);
    else if (flag == "--suspend-ms") a.suspend_ms = std::stoi(v);
    else if (flag == "--lock-renew-ms") a.lock_renew_ms = std::stoi(v);
    else if (flag == "--commit-ms") a.commit_ms = std::stoi(v);
    else if (flag == "--pull-batch") a.pull_batch = std::stoi(v);
    else if (flag == "--log-file") a.log_file = v;
    else Usage("unknown flag " + flag);
  }
  if (a.namesrv.empty() || a.topic.empty() || a.group.empty()) Usage("--namesrv, --topic and --group are required");
  if (a.mode != "concurrent" && a.mode != "orderly" && a.mode != "broadcast") Usage("bad --mode " + a.mode);
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  const ProbeArgs args = Parse(argc, argv);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);  // before any thread starts: all inherit it

  std::mutex out_mu;
  std::mutex rng_mu;
  std::mt19937_64 rng(static_cast<uint64_t>(RealtimeNs()) ^ static_cast<uint64_t>(getpid()));
  const int pid = static_cast<int>(getpid());

  vela::client::ClientConfig config;
  config.namesrv_addr = args.namesrv;
  if (!args.instance.empty()) config.instance_name = args.instance;
  if (!args.log_file.empty()) {
    config.log_file = args.log_file;
    config.log_level = "info";
  }
  config.request_timeout_ms = 5000;
  vela::client::PushConsumerOptions options;
  options.group = args.group;
  options.consume_from = vela::client::ConsumeFrom::kFirst;
  options.consume_threads = static_cast<size_t>(args.threads);
  options.orderly = args.mode == "orderly";
  options.model =
      args.mode == "broadcast" ? vela::client::MessageModel::kBroadcasting : vela::client::MessageModel::kClustering;
  options.offset_store_dir = args.offset_dir;
  options.max_reconsume_times = args.max_reconsume;
  options.suspend_current_queue_time_ms = args.suspend_ms;
  options.lock_renew_interval_ms = args.lock_renew_ms;
  options.commit_interval_ms = args.commit_ms;
  options.pull_batch_size = args.pull_batch;
  options.rebalance_interval_ms = 1000;

  auto consumer =
      vela::client::PushConsumerBuilder()
          .SetClientConfig(config)
          .SetOptions(options)
          .Subscribe(args.topic)
          .SetListener([&](const vela::client::MessageView& m) {
            const int64_t start = RealtimeNs();
            bool fail = args.fail_always || m.reconsume_times < args.fail_first;
            int sleep_us = 0;
            if (args.fail_rate > 0 || args.sleep_max_us > 0) {
              std::lock_guard lock(rng_mu);
              if (args.fail_rate > 0 && std::uniform_real_distribution<double>(0, 1)(rng) < args.fail_rate) fail = true;
              if (args.sleep_max_us > 0) sleep_us = std::uniform_int_distribution<int>(0, args.sleep_max_us)(rng);
            }
            if (sleep_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(sleep_us));
            const int64_t end = RealtimeNs();
            auto prop = [&](const char* name) {
              auto it = m.properties.find(name);
              return it == m.properties.end() ? std::string() : it->second;
            };
            nlohmann::json j = {{"id", m.msg_id},          {"key", prop("key")},
                                {"seq", prop("seq")},      {"topic", m.topic},
                                {"queue", m.queue_id},     {"offset", m.queue_offset},
                                {"reconsume", m.reconsume_times}, {"start_ns", start},
                                {"end_ns", end},           {"result", fail ? "failed" : "ok"},
                                {"pid", pid}};
            const std::string line = j.dump() + "\n";
            {
              std::lock_guard lock(out_mu);
              std::fwrite(line.data(), 1, line.size(), stdout);
              std::fflush(stdout);
            }
            return fail ? vela::client::ConsumeResult::kFailure : vela::client::ConsumeResult::kSuccess;
          })
          .Build();
  if (!consumer.ok()) {
    std::cerr << "vela-consume-probe: " << consumer.status().ToString() << std::endl;
    return 1;
  }
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  (*consumer)->Shutdown();
  return 0;
}
