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
  // Not consumed. Concurrent clustering: the message goes back to the broker, which redelivers it
  // through the group's retry topic %RETRY%<group> after a growing delay (10 s, 30 s, 1 min, ...)
  // and moves it to the dead-letter topic %DLQ%<group> after the group's maximum retries (group
  // create --max-retries, default 16). Orderly: retried in place (see PushConsumerOptions).
  // Broadcasting: logged and skipped.
  kFailure,
  // Neither consumed nor failed: the message stays in flight in this consumer (its offset is not
  // committed past it, it is not retried), so the queue's next owner, or this group after a
  // restart, receives it again. For a consumer about to shut down that takes no more messages
  // (vela-admin consume --count). In orderly mode its sharding key takes no further messages.
  kLeave,
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

// How a group shares a topic. Clustering: the group's members share each topic's queues, each
// message is consumed by one member, offsets live on the brokers, failures are retried through
// the broker. Broadcasting: every member receives every message; each keeps its offsets in a local
// file (PushConsumerOptions::offset_store_dir) and resumes from it after a restart; failures are
// logged and skipped.
enum class MessageModel { kClustering, kBroadcasting };

// The listener: called on a consumer thread for each message. Concurrent consumers call it from
// several threads at once (it must be thread-safe); orderly consumers call it one message at a
// time per sharding key and queue. Exceptions escaping it count as kFailure. A message redelivered
// through the retry topic shows its origin topic (and the property RETRY_TOPIC) and the number of
// earlier failed deliveries (reconsume_times).
using MessageListener = std::function<ConsumeResult(const MessageView& message)>;

class PushConsumerImpl;

// PushConsumer receives the messages of its subscriptions and hands each to the listener on a
// pool of consumer threads. In clustering mode the group's members share each topic's queues:
// the sorted queue list is split evenly among the sorted live client ids, recomputed at once
// when the broker reports a membership change and every 5 s; the consumer also subscribes to its
// group's retry topic %RETRY%<group> on its own. In broadcasting mode every member takes every
// queue. Each assigned queue has a long-poll pull loop, paused while too many messages or bytes
// wait in its cache. Consumed offsets are committed every 5 s, when a queue moves away and at
// Shutdown; a committed offset never passes a message still in flight, so a crash can redeliver
// (at-least-once) but never skip.
//
// Orderly (SetOrderly(true)): in clustering mode a queue is consumed only while this client holds
// its broker lock; within a queue the messages of one sharding key go to the listener one at a
// time in offset order, different keys in parallel; a failure is retried in place, then
// dead-lettered (PushConsumerOptions).
//
// Built by PushConsumerBuilder, started on Build. Thread-safe. Owns its threads.
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
  // With EnableTrace: trace events dropped because the trace queue was full (tracing never slows
  // the listener), plus those lost because their batch failed. 0 without tracing.
  uint64_t trace_dropped() const;

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
  // When false, no offset is committed (neither to the broker nor to the local offset file), for
  // tools that only peek.
  bool commit_offsets = true;

  // Orderly consumption (see PushConsumer). With consume_threads 0, the keys a pulled batch wakes
  // are consumed on the network thread, and keys resumed later (after a retry pause, a lock wait,
  // or 64 messages of one key in a row) on one consume thread.
  bool orderly = false;
  // Orderly: failed deliveries of a message retried in place before it goes to the dead-letter
  // topic (%DLQ%<group>; broadcasting: skipped). 0: the first failure dead-letters it. Concurrent
  // clustering consumers use the group's maximum (group create --max-retries) instead.
  int32_t max_reconsume_times = 16;
  // Orderly: the pause before a failed message is handed to the listener again (RocketMQ's
  // suspendCurrentQueueTimeMillis); the other keys of the queue go on meanwhile.
  int64_t suspend_current_queue_time_ms = 1000;
  // Orderly clustering: how often held queue locks are renewed (RocketMQ: 20 s, a third of the
  // broker's rebalanceLockMaxLiveTime of 60 s). The SDK considers a lock lapsed two intervals after
  // its last renewal, so this must be at most a third of the broker's lease. Locks not granted are
  // retried every second.
  int64_t lock_renew_interval_ms = 20000;
  // Concurrent clustering: when sending a failed message back to the broker fails, it is handed
  // to the listener again locally after this pause (its offset stays held meanwhile).
  int64_t send_back_retry_delay_ms = 5000;
  // Broadcasting: the directory of the local offset files (<dir>/<group>/<instance_name>.offsets,
  // instance_name from ClientConfig). Empty: $HOME/.vela/offsets.
  std::string offset_store_dir;
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
  PushConsumerBuilder& SetOrderly(bool orderly);
  // Every tunable at once (the setters above edit the same struct).
  PushConsumerBuilder& SetOptions(PushConsumerOptions options);
  // The SDK's log level and file (see ClientConfig::log_level, log_file; process-wide). Build
  // fails with InvalidArgument on an unknown level or a file that cannot be opened.
  PushConsumerBuilder& SetLogLevel(std::string level);
  PushConsumerBuilder& SetLogFile(std::string path);
  // Message trace (docs/operations.md "Message trace"): every delivery the listener decides
  // (kSuccess or kFailure) records a consume event (group, client id, attempt = reconsume times
  // + 1, start time, cost, result ok/failed) into RMQ_SYS_TRACE_TOPIC, written asynchronously and
  // in batches by a background thread. Off by default.
  PushConsumerBuilder& EnableTrace();

  // Validates (group, listener, at least one subscription, every expression, the tunables) and
  // starts. Broadcasting: fails when the local offset file cannot be used (corrupt, in use by
  // another instance of the same group and instance name, not writable).
  StatusOr<std::unique_ptr<PushConsumer>> Build();

 private:
  ClientConfig config_;
  PushConsumerOptions options_;
  std::vector<std::pair<std::string, FilterExpression>> subscriptions_;
  MessageListener listener_;
  bool trace_ = false;
};

}  // namespace vela::client
