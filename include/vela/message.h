#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

// Messages as the SDK's users see them: what a producer sends, what it gets back, and what a
// consumer receives.
namespace vela::client {

// A message to send. A plain value: build it, pass it to Producer::Send, reuse or drop it.
// Thread-compatible.
struct Message {
  std::string topic;
  std::string body;
  std::string tag;                                // one tag, used by tag subscriptions ("" for none)
  std::vector<std::string> keys;                  // indexed by the broker for query by key; no spaces
  std::map<std::string, std::string> properties;  // user properties, visible to SQL92 filters
  std::string sharding_key;                       // non-empty: every message of the key goes to one queue
  // Timer messages: set at most one. The broker keeps the message until it is due, then delivers
  // it (never early, at millisecond precision); a time already past is delivered at once. The
  // receipt carries the due time and a recall handle (Producer::Recall).
  int64_t delay_ms = 0;       // > 0: deliver after this delay (up to the broker's timerMaxDelaySec)
  int64_t deliver_at_ms = 0;  // > 0: deliver at this epoch time (ms)
  int32_t delay_level = 0;    // > 0: RocketMQ's delay level (1 = 1 s ... 18 = 2 h; the broker's messageDelayLevel)

  Message() = default;
  Message(std::string topic_in, std::string body_in) : topic(std::move(topic_in)), body(std::move(body_in)) {}
};

// What the broker acknowledged for one sent message.
struct SendReceipt {
  std::string msg_id;     // the unique id given at send time (stable across retries and brokers)
  std::string offset_id;  // broker address + commit-log offset: finds the record without an index
  std::string topic;
  int32_t queue_id = -1;
  int64_t queue_offset = -1;
  std::string broker_addr;  // "ip:port" of the broker that stored it
  int64_t deliver_at_ms = 0;  // timer messages: when the message is due (epoch ms); 0 otherwise
  std::string recall_handle;  // timer messages: what Producer::Recall takes to cancel it
  std::string transaction_id;  // transactional messages: the transaction's id (its first message's msg_id)
  int64_t store_timestamp_ms = 0;  // when the broker stored it (epoch ms; 0 from a broker that does not say)
};

// What Producer::Recall found.
enum class RecallOutcome {
  kRecalled,          // the message will never be delivered
  kAlreadyRecalled,   // an earlier recall cancelled it
  kAlreadyDelivered,  // too late: it was delivered
};

// A received message, owned by the consumer while the listener runs (copy what must outlive it).
struct MessageView {
  std::string msg_id;
  std::string offset_id;
  std::string topic;  // a message redelivered through %RETRY%<group>: the topic it was sent to
  int32_t queue_id = -1;
  int64_t queue_offset = -1;
  std::string tag;
  std::vector<std::string> keys;
  std::map<std::string, std::string> properties;  // every property except TAGS and KEYS
  std::string body;
  int64_t born_timestamp_ms = 0;
  int64_t store_timestamp_ms = 0;
  std::string born_host;
  int32_t reconsume_times = 0;  // failed deliveries of this message before this one (retries)
  std::string broker_addr;
};

}  // namespace vela::client
