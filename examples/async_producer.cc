// Sends --count messages asynchronously and waits for every callback.
//   example_async_producer --namesrv 127.0.0.1:9876 --topic TopicTest --count 1000
#include <atomic>
#include <condition_variable>
#include <iostream>
#include <mutex>

#include "example_args.h"
#include "vela/producer.h"

int main(int argc, char** argv) {
  ExampleArgs args = ExampleArgs::Parse(argc, argv);
  auto producer = vela::client::ProducerBuilder().SetNamesrvAddr(args.namesrv).Build();
  if (!producer.ok()) {
    std::cerr << "cannot start the producer: " << producer.status().ToString() << "\n";
    return 1;
  }
  std::mutex mu;
  std::condition_variable done;
  int pending = args.count;
  std::atomic<int> failures{0};
  for (int i = 0; i < args.count; ++i) {
    vela::client::Message message(args.topic, "async message " + std::to_string(i));
    (*producer)->SendAsync(std::move(message), [&](const vela::client::Status& status,
                                                   const vela::client::SendReceipt& receipt) {
      if (!status.ok()) {
        ++failures;
        std::cerr << "send failed: " << status.ToString() << "\n";
      } else if (receipt.queue_offset % 100 == 0) {
        std::cout << "acknowledged " << receipt.msg_id << " queue " << receipt.queue_id << " offset "
                  << receipt.queue_offset << "\n";
      }
      std::lock_guard lock(mu);
      if (--pending == 0) done.notify_one();
    });
  }
  std::unique_lock lock(mu);
  done.wait(lock, [&] { return pending == 0; });
  std::cout << args.count - failures.load() << " of " << args.count << " acknowledged\n";
  lock.unlock();
  (*producer)->Shutdown();
  return failures.load() == 0 ? 0 : 1;
}
