#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <asio/thread_pool.hpp>

#include "client/client_instance.h"
#include "client/process_queue.h"
#include "common/result.h"
#include "vela/consumer.h"

namespace vela::client {

// PushConsumerImpl is the clustering, concurrent push consumer behind PushConsumer (see its class
// comment for the behaviour). Pieces and threads:
//  - rebalance (internal pool, serialized by rebalance_mu_): route + consumer list -> average
//    allocation -> create/release ProcessQueues;
//  - pull loop per queue: requests go out from any thread, responses are decoded on the io
//    thread (cheap) and their messages posted to the consume pool; pauses use timers;
//  - consume pool: runs the listener, updates the queue's offset tracker;
//  - timers (internal pool): heartbeat every 10 s, rebalance and commit every 5 s.
// Thread-safe. Owns its ClientInstance and consume pool.
class PushConsumerImpl {
 public:
  using Subscriptions = std::map<std::string, FilterExpression>;

  PushConsumerImpl(ClientConfig config, PushConsumerOptions options, Subscriptions subscriptions,
                   MessageListener listener, std::shared_ptr<FailurePolicy> failure_policy);
  ~PushConsumerImpl();

  vela::Status Start();
  vela::Status Subscribe(const std::string& topic, const FilterExpression& filter);
  vela::Status Unsubscribe(const std::string& topic);
  void Shutdown();

  const std::string& client_id() const { return instance_->client_id(); }
  const std::string& group() const { return options_.group; }

  // Checks a subscription expression without any server: InvalidArgument / kBadFilter with the
  // parser's message and position.
  static Status ValidateFilter(const FilterExpression& filter);

 private:
  Subscriptions CopySubscriptions();
  void Rebalance();
  // Queries the consumer list from a broker of `route`. Sorted.
  Result<std::vector<std::string>> GetConsumerList(const TopicRoute& route);
  // The offset to start pulling `mq` from: the committed one, else per ConsumeFrom.
  Result<int64_t> ComputeStartOffset(const MessageQueue& mq, const std::string& addr);
  std::string AddrOf(const MessageQueue& mq);
  void ReleaseQueue(const std::shared_ptr<ProcessQueue>& pq, bool sync);

  void PullNext(const std::shared_ptr<ProcessQueue>& pq);
  void OnPullResult(const std::shared_ptr<ProcessQueue>& pq, const std::string& addr, Result<net::Frame> response);
  // Hands pulled (or redelivered) messages to the listener threads.
  void SubmitConsume(const std::shared_ptr<ProcessQueue>& pq, std::vector<MessageView> messages);
  void ConsumeOne(const std::shared_ptr<ProcessQueue>& pq, MessageView& message);

  // Sends the queue's committable offset when it moved. With `sync`, waits for the answer.
  void CommitQueue(const std::shared_ptr<ProcessQueue>& pq, bool sync);
  void CommitAll(bool sync);
  // Tells every broker of the subscribed topics about this client; `sync` waits for the answers.
  // Tells every broker of the subscribed topics about this consumer. With sync, returns the
  // first refusal of a subscription (bad filter, SQL92 disabled); transport errors only log.
  vela::Status SendHeartbeat(bool sync);
  std::vector<std::string> SubscribedBrokerAddrs();

  const ClientConfig config_;
  const PushConsumerOptions options_;
  const MessageListener listener_;
  const std::shared_ptr<FailurePolicy> failure_policy_;
  std::unique_ptr<ClientInstance> instance_;
  asio::thread_pool consume_pool_;
  std::atomic<bool> running_{false};
  std::atomic<bool> shut_down_{false};

  std::mutex sub_mu_;
  Subscriptions subscriptions_;  // GUARDED_BY(sub_mu_)

  std::mutex rebalance_mu_;  // serializes Rebalance and the final commit
  std::mutex queues_mu_;
  std::map<MessageQueue, std::shared_ptr<ProcessQueue>> queues_;  // GUARDED_BY(queues_mu_)
};

}  // namespace vela::client
