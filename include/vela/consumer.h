#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "vela/client_config.h"
#include "vela/message.h"
#include "vela/status.h"

namespace vela::client {

// What a listener says about one message.
enum class ConsumeResult {
  kSuccess,  // consumed: its offset may be committed
  kFailure,  // not consumed: the FailurePolicy decides when it comes back
};

// A subscription expression: a tag expression ("*", "TagA || TagB") or an SQL92 condition on
// properties (DESIGN.md §7, SQL92.md).
struct FilterExpression {
  enum class Type { kTag, kSql92 };
  Type type = Type::kTag;
  std::string expression = "*";

  static FilterExpression Tag(std::string expr) { return {Type::kTag, std::move(expr)}; }
  static FilterExpression Sql92(std::string expr) { return {Type::kSql92, std::move(expr)}; }
  static FilterExpression All() { return {Type::kTag, "*"}; }
};

// Where a group with no committed offset on a queue starts.
enum class ConsumeFrom {
  kFirst,      // the oldest retained message
  kLast,       // only messages stored after the consumer started
  kTimestamp,  // the first message stored at or after a given epoch time
};

// How a group shares a topic. Only kClustering exists today; broadcasting comes later.
enum class MessageModel { kClustering, kBroadcasting };

// The concurrent listener: called on a consumer thread for each message. Must be thread-safe
// (called from several threads at once). Exceptions escaping it count as kFailure.
using MessageListener = std::function<ConsumeResult(const MessageView& message)>;

// FailurePolicy decides what happens to a message whose listener returned kFailure. Today the
// consumer redelivers it locally after the returned delay (its offset is not committed
// meanwhile); the retry-topic policy (send back to the broker) plugs in here later.
// Implementations must be thread-safe.
class FailurePolicy {
 public:
  virtual ~FailurePolicy() = default;
  // Milliseconds to wait before handing the message to the listener again, or a negative value
  // to give up on it (it then counts as consumed). `message.reconsume_times` counts the failures
  // so far minus one.
  virtual int64_t RedeliveryDelayMs(const MessageView& message) = 0;
};

// The default: 1 s, 2 s, 4 s ... up to 60 s, forever.
std::shared_ptr<FailurePolicy> MakeBackoffFailurePolicy(int64_t initial_ms = 1000, int64_t max_ms = 60000);

class PushConsumerImpl;

// PushConsumer receives the messages of its subscriptions and hands each to the listener on a
// pool of consumer threads. In clustering mode the group's members share each topic's queues:
// the sorted queue list is split evenly among the sorted live client ids, recomputed at once
// when the broker reports a membership change and every 5 s. Each assigned queue has a long-poll
// pull loop, paused while too many messages or bytes wait in its cache. Consumed offsets are
// committed every 5 s, when a queue moves away and at Shutdown; a committed offset never passes
// a message still in flight, so a crash can redeliver (at-least-once) but never skip.
//
// Built by PushConsumerBuilder, started on Build. Thread-safe. Owns its threads. Orderly,
// broadcast and pop-style (SimpleConsumer) consumption are planned as sibling classes sharing
// the same client instance, rebalance and offset-store pieces.
class PushConsumer {
 public:
  ~PushConsumer();
  PushConsumer(const PushConsumer&) = delete;
  PushConsumer& operator=(const PushConsumer&) = delete;

  // Adds or replaces a subscription while running. A bad expression fails with InvalidArgument
  // (SubCode kBadFilter) naming the problem and its position.
  Status Subscribe(const std::string& topic, const FilterExpression& filter);
  // Stops consuming a topic (its queues are released and their offsets committed).
  Status Unsubscribe(const std::string& topic);

  // Stops pulling, waits for listeners in progress, commits consumed offsets, unregisters from
  // the brokers and stops the threads. Idempotent. Blocks (bounded by the request timeout).
  void Shutdown();

  const std::string& client_id() const;
  const std::string& group() const;

 private:
  friend class PushConsumerBuilder;
  explicit PushConsumer(std::unique_ptr<PushConsumerImpl> impl);
  std::unique_ptr<PushConsumerImpl> impl_;
};

// The tunables of a push consumer (PushConsumerBuilder fills it).
struct PushConsumerOptions {
  std::string group;
  MessageModel model = MessageModel::kClustering;
  ConsumeFrom consume_from = ConsumeFrom::kLast;
  int64_t consume_from_timestamp_ms = 0;
  // Listener threads. 0: the listener runs on the network thread that received the messages, in
  // pull order, which saves a thread hand-off per pull; the listener must then be quick and must
  // not block (no synchronous calls on this client from inside it).
  size_t consume_threads = 4;
  int pull_batch_size = 32;
  int pull_max_bytes = 4 * 1024 * 1024;
  int64_t long_poll_ms = 15000;
  size_t max_cached_messages_per_queue = 1000;
  size_t max_cached_bytes_per_queue = 100u * 1024 * 1024;
  int64_t rebalance_interval_ms = 5000;
  int64_t commit_interval_ms = 5000;
  int64_t heartbeat_interval_ms = 10000;
  // When false, nothing is committed to the broker (for tools that only peek).
  bool commit_offsets = true;
};

// Builds and starts a PushConsumer. Thread-compatible.
class PushConsumerBuilder {
 public:
  PushConsumerBuilder& SetClientConfig(ClientConfig config);
  PushConsumerBuilder& SetNamesrvAddr(std::string addrs);
  PushConsumerBuilder& SetGroup(std::string group);
  PushConsumerBuilder& Subscribe(std::string topic, FilterExpression filter = FilterExpression::All());
  PushConsumerBuilder& SetListener(MessageListener listener);
  PushConsumerBuilder& SetConsumeThreads(size_t threads);
  PushConsumerBuilder& SetConsumeFrom(ConsumeFrom from, int64_t timestamp_ms = 0);
  PushConsumerBuilder& SetMaxCachedMessagesPerQueue(size_t count);
  PushConsumerBuilder& SetMaxCachedBytesPerQueue(size_t bytes);
  PushConsumerBuilder& SetPullBatchSize(int messages);
  PushConsumerBuilder& SetMessageModel(MessageModel model);
  PushConsumerBuilder& SetFailurePolicy(std::shared_ptr<FailurePolicy> policy);
  // Every tunable at once (the setters above edit the same struct).
  PushConsumerBuilder& SetOptions(PushConsumerOptions options);
  // The SDK's log level and file (see ClientConfig::log_level, log_file; process-wide). Build
  // fails with InvalidArgument on an unknown level or a file that cannot be opened.
  PushConsumerBuilder& SetLogLevel(std::string level);
  PushConsumerBuilder& SetLogFile(std::string path);

  // Validates (group, listener, at least one subscription, every expression) and starts.
  StatusOr<std::unique_ptr<PushConsumer>> Build();

 private:
  ClientConfig config_;
  PushConsumerOptions options_;
  std::vector<std::pair<std::string, FilterExpression>> subscriptions_;
  MessageListener listener_;
  std::shared_ptr<FailurePolicy> failure_policy_;
};

}  // namespace vela::client
