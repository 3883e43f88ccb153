#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "client/client_instance.h"
#include "client/queue_allocation.h"
#include "common/result.h"
#include "vela/producer.h"

namespace vela::client {

// Settings of a producer (ProducerBuilder fills them).
struct ProducerSettings {
  ClientConfig config;
  std::string group;
  int64_t send_timeout_ms = 3000;
  int max_retries = 2;
  size_t max_message_bytes = 4 * 1024 * 1024;
};

// ProducerImpl is the producer behind the public Producer: it encodes messages once (their ids
// stay the same across retries), picks queues, sends and retries on another broker. Thread-safe.
// Owns its ClientInstance. Async sends run their network part on io threads and their callbacks
// and retries on the callback pool; a route that is not cached is fetched on the internal pool.
class ProducerImpl {
 public:
  explicit ProducerImpl(ProducerSettings settings);
  ~ProducerImpl();

  // Creates the client instance and starts the heartbeat. Fails when no name server is set.
  vela::Status Start();

  Result<std::vector<SendReceipt>> Send(const std::vector<Message>& messages, bool batch);
  void SendAsync(Message message, SendCallback callback);
  vela::Status SendOneway(const Message& message);
  void Shutdown();

  const std::string& client_id() const { return instance_->client_id(); }

  // True for the errors worth another attempt on another broker: the broker is unreachable,
  // timed out, or its disk is full.
  static bool IsRetryable(const vela::Status& status);

 private:
  // One send request (one message or a batch) across its attempts.
  struct SendJob {
    std::string topic;
    std::string sharding_key;
    std::string records;  // the encoded body, reused by every attempt
    uint32_t count = 0;
    bool batch = false;
    int64_t deadline_ms = 0;
    int attempts_left = 0;
    std::string avoid_broker;
    vela::Status last_error;
    SendCallback callback;  // async only
  };
  // Where one attempt goes.
  struct Target {
    std::string broker_name;
    std::string addr;
    int32_t queue_id = -1;
  };

  Result<std::shared_ptr<SendJob>> MakeJob(const std::vector<Message>& messages, bool batch);
  // Picks the target of the next attempt. With `may_block` false, fails with kUnavailable
  // (message "no cached route") instead of asking the name servers.
  Result<Target> PickTarget(SendJob& job, bool may_block);
  // When no broker has the topic yet: any broker of the cluster, queue chosen by the broker (so
  // brokers with auto-creation enabled create it).
  Result<Target> PickAnyBroker(SendJob& job);
  v1::Header MakeHeader(const SendJob& job, int32_t queue_id) const;
  Result<std::vector<SendReceipt>> ParseResponse(const SendJob& job, const std::string& addr,
                                                 Result<net::Frame> response) const;
  void AttemptAsync(std::shared_ptr<SendJob> job, bool may_block);
  void FinishAsync(const std::shared_ptr<SendJob>& job, const vela::Status& status, const SendReceipt& receipt);
  void SendHeartbeat();

  ProducerSettings settings_;
  std::unique_ptr<ClientInstance> instance_;
  QueueSelector selector_;
  std::atomic<bool> shut_down_{false};
  std::mutex mu_;
  std::condition_variable idle_cv_;
  int64_t in_flight_ = 0;  // GUARDED_BY(mu_): async sends not finished
};

}  // namespace vela::client
