// Sends --count messages synchronously, with a tag, a key and a property, and prints each receipt.
//   example_producer --namesrv 127.0.0.1:9876 --topic TopicTest --count 10
#include <iostream>

#include "example_args.h"
#include "vela/producer.h"

int main(int argc, char** argv) {
  ExampleArgs args = ExampleArgs::Parse(argc, argv);
  auto producer = vela::client::ProducerBuilder().SetNamesrvAddr(args.namesrv).SetGroup("example_producer").Build();
  if (!producer.ok()) {
    std::cerr << "cannot start the producer: " << producer.status().ToString() << "\n";
    return 1;
  }
  for (int i = 0; i < args.count; ++i) {
    vela::client::Message message(args.topic, "Hello Vela " + std::to_string(i));
    message.tag = "TagA";
    message.keys = {"order-" + std::to_string(i)};
    message.properties["env"] = "test";
    auto receipt = (*producer)->Send(message);
    if (!receipt.ok()) {
      std::cerr << "send failed: " << receipt.status().ToString() << "\n";
      return 1;
    }
    std::cout << "sent " << receipt->msg_id << " to " << receipt->broker_addr << " queue " << receipt->queue_id
              << " offset " << receipt->queue_offset << "\n";
  }
  // Ordered by key: every message of one sharding key lands on the same queue.
  vela::client::Message ordered(args.topic, "order created");
  ordered.sharding_key = "user-42";
  auto receipt = (*producer)->Send(ordered);
  if (receipt.ok()) std::cout << "sharded message on queue " << receipt->queue_id << "\n";
  (*producer)->Shutdown();
  return 0;
}
