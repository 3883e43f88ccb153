// Consumes a topic in a group until --count messages arrived (or Ctrl-C), printing each.
//   example_push_consumer --namesrv 127.0.0.1:9876 --topic TopicTest --group example_group --count 10
#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <mutex>
#include <thread>

#include "example_args.h"
#include "vela/consumer.h"

namespace {
std::atomic<bool> g_stop{false};
}  // namespace

int main(int argc, char** argv) {
  ExampleArgs args = ExampleArgs::Parse(argc, argv);
  std::signal(SIGINT, [](int) { g_stop = true; });
  std::atomic<int> received{0};
  std::mutex print_mu;
  auto consumer =
      vela::client::PushConsumerBuilder()
          .SetNamesrvAddr(args.namesrv)
          .SetGroup(args.group)
          .Subscribe(args.topic, vela::client::FilterExpression::Tag("*"))
          .SetConsumeFrom(vela::client::ConsumeFrom::kFirst)
          .SetConsumeThreads(4)
          .SetListener([&](const vela::client::MessageView& m) {
            {
              std::lock_guard lock(print_mu);
              std::cout << "received " << m.msg_id << " queue " << m.queue_id << " offset " << m.queue_offset
                        << " tag " << m.tag << ": " << m.body << "\n";
            }
            ++received;
            return vela::client::ConsumeResult::kSuccess;
          })
          .Build();
  if (!consumer.ok()) {
    std::cerr << "cannot start the consumer: " << consumer.status().ToString() << "\n";
    return 1;
  }
  while (!g_stop && received.load() < args.count) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  (*consumer)->Shutdown();  // commits the consumed offsets
  std::cout << "consumed " << received.load() << " messages\n";
  return 0;
}
