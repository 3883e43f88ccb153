#pragma once

// Shared by the consume-service unit tests: a stand-in broker that answers CONSUMER_SEND_BACK
// (recording every request, refusing the first `refuse_first` ones), and a consumer context on a
// client instance that talks to it, with no name server behind it.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "client/client_instance.h"
#include "client/consume_service.h"
#include "client/consumer_context.h"
#include "client/process_queue.h"
#include "common/message_id.h"
#include "common/message_record.h"
#include "net/dispatcher.h"
#include "net/server.h"

namespace vela::client::testing {

class FakeSendBackBroker {
 public:
  explicit FakeSendBackBroker(int refuse_first = 0) : refuse_left_(refuse_first) {
    dispatcher_.RegisterProcessor(v1::CONSUMER_SEND_BACK, [this](net::RequestContext ctx, net::Frame frame) {
      bool refuse = false;
      {
        std::lock_guard lock(mu_);
        if (refuse_left_ > 0) {
          --refuse_left_;
          refuse = true;
        } else {
          requests_.push_back(frame.header.send_back_request());
        }
      }
      if (refuse) {
        ctx.ReplyError(vela::Status::Unavailable("the fake broker refuses this send-back"));
      } else {
        ctx.Reply(vela::Status::OK());
      }
    });
    server_ = std::make_unique<net::Server>(net::ServerOptions{"127.0.0.1:0", 1}, &dispatcher_);
    EXPECT_TRUE(server_->Start().ok());
  }
  ~FakeSendBackBroker() { server_->Stop(); }
  std::string address() const { return server_->listen_address(); }

  std::vector<v1::SendBackRequest> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  mutable std::mutex mu_;
  int refuse_left_;                        // GUARDED_BY(mu_)
  std::vector<v1::SendBackRequest> requests_;  // GUARDED_BY(mu_)
  net::Dispatcher dispatcher_;
  std::unique_ptr<net::Server> server_;
};

// A consumer context with a running client instance (no name server is ever asked) and the
// consume service under test, which it stops after the instance (whose timers call into it).
struct TestConsumer {
  TestConsumer(PushConsumerOptions options, MessageListener listener, const std::string& namesrv = "127.0.0.1:1",
               ConsumerContext::Subscriptions subscriptions = {})
      : ctx(ClientConfig{}, std::move(options), std::move(listener), std::move(subscriptions)) {
    ClientConfig config;
    config.namesrv_addr = namesrv;
    auto created = ClientInstance::Create(config, nullptr);
    EXPECT_TRUE(created.ok());
    instance = std::move(created).value();
    ctx.instance = instance.get();
    ctx.running.store(true);
  }
  ~TestConsumer() {
    ctx.running.store(false);
    if (service) service->Shutdown();
    instance->Shutdown();
    service.reset();
  }
  template <typename Service>
  Service& Use() {
    auto owned = std::make_unique<Service>(ctx);
    Service& ref = *owned;
    service = std::move(owned);
    return ref;
  }
  ConsumerContext ctx;
  std::unique_ptr<ClientInstance> instance;
  std::unique_ptr<ConsumeService> service;
};

// A received message as the pull service would hand it: from `broker_addr`, at queue offset
// `offset` (physical offset 1000 + offset), with a sharding key when `key` is not empty.
inline MessageView MakeMessage(const std::string& broker_addr, int64_t offset, const std::string& key = {},
                               const std::string& body = {}) {
  MessageView m;
  m.msg_id = "MSG" + std::to_string(offset);
  m.offset_id = MakeOffsetId(PackHost(broker_addr), 1000 + offset);
  m.topic = "T";
  m.queue_id = 0;
  m.queue_offset = offset;
  m.body = body.empty() ? key + ":" + std::to_string(offset) : body;
  m.broker_addr = broker_addr;
  if (!key.empty()) m.properties[std::string(prop::kShardingKey)] = key;
  return m;
}

// The offset a queue's consumption could commit now.
inline int64_t Committable(const std::shared_ptr<ProcessQueue>& pq) {
  std::lock_guard lock(pq->mu);
  return pq->tracker.CommittableOffset();
}

// Polls `done` until it holds or 20 s pass.
inline bool WaitFor(const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

}  // namespace vela::client::testing
