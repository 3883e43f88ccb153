#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "broker/namesrv_registrar.h"
#include "broker/timer/timer_service.h"
#include "broker/topic_manager.h"
#include "common/result.h"
#include "metrics/broker_metrics.h"
#include "store/message_store.h"
#include "vela/v1/vela.pb.h"

namespace vela::broker::retry {

// A page of a group's dead letters (DEAD_LETTER_LIST).
struct DeadLetterPage {
  std::string records;          // the stored records, concatenated (the store format)
  uint32_t count = 0;
  int64_t next_offset = 0;      // queue offset of %DLQ%<group> to go on from
  bool more = false;
};

// What DEAD_LETTER_RESEND did.
struct ResendResult {
  int32_t resent = 0;
  std::vector<std::string> msg_ids;  // at most kMaxListedIds
  static constexpr size_t kMaxListedIds = 1000;
};

// RetryService is the broker's side of consumer retries and dead letters (DESIGN.md §7.2,
// docs/consumption.md "Broker side"). Everything it keeps is records in the log plus a few state
// keys, as every service (DESIGN.md §7.1):
// - SendBack stores the copy of a failed message: a retry goes into the timer topic as a timer
//   record whose real topic is %RETRY%<group> queue 0, so the TimerService re-puts it there when
//   its delay level's time has come (exactly once, never early: the timer's guarantees); a message
//   whose retries are used up goes to %DLQ%<group> queue 0 at once. Both copies keep the unique id
//   and properties and name the origin topic (RETRY_TOPIC). The answer waits until the copy is
//   durable as a send's would.
// - Retry and dead-letter topics (one queue each) are created on demand (a clustering consumer's
//   heartbeat, the first dead letter) and announced to the name servers at once.
// - Dead letters are listed and resent (back into %RETRY%<group>, reconsume 0, no delay). Each is
//   resent at most once: the broker keeps, in the store's state column family, the queue offset
//   below which every dead letter of the group was resent (dlq/floor/<group>) and a mark per dead
//   letter resent on its own (dlq/resent/<group> NUL be64 offset). A mark is written after its
//   copy is in the log, so a crash between the two may resend one twice, never lose it.
//
// Thread-safe. SendBack runs on io threads (reads mapped memory, never waits on disk); the dead
// letter requests block on the log and RocksDB and run on the admin pool. The references must
// outlive the service.
class RetryService final {
 public:
  RetryService(store::MessageStore& store, TopicManager& topics, timer::TimerService& timers,
               NamesrvRegistrar* registrar, metrics::BrokerMetrics* metrics = nullptr);
  RetryService(const RetryService&) = delete;
  RetryService& operator=(const RetryService&) = delete;

  using SendBackCallback = std::function<void(Result<v1::SendBackResponse>)>;
  // Serves one CONSUMER_SEND_BACK (docs/protocol.md). `done` runs once: at once for a refusal
  // (InvalidArgument, NotFound, PermissionDenied), else when the store reports the append (on the
  // caller's thread under ASYNC_FLUSH, on the flush thread under SYNC_FLUSH).
  void SendBack(const v1::SendBackRequest& request, SendBackCallback done);

  // Creates %RETRY%<group> / %DLQ%<group> (1 queue, read + write) unless it exists; cheap when it
  // does. The name servers hear of a new topic at once. InvalidArgument for a group name that
  // cannot make a topic name.
  Status EnsureRetryTopic(std::string_view group);
  Status EnsureDlqTopic(std::string_view group);

  // Up to `max_messages` dead letters of `group` from `start_offset` (those already resent left
  // out). NotFound when the group has no dead-letter topic on this broker. Blocks on RocksDB.
  Result<DeadLetterPage> ListDeadLetters(std::string_view group, int64_t start_offset, int32_t max_messages);
  // Resends the group's dead letters with unique id `msg_id` (all of them when `all`) that were
  // not resent yet. NotFound when there is no dead-letter topic, or (for one id) no such dead
  // letter left to resend. Blocks until the copies are in the log.
  Result<ResendResult> Resend(std::string_view group, std::string_view msg_id, bool all);

 private:
  Status EnsureTopic(const std::string& topic);
  // Queue offsets of %DLQ%<group> below the floor were all resent.
  int64_t ResendFloor(std::string_view group);
  bool ResentMarked(std::string_view group, int64_t queue_offset);

  store::MessageStore& store_;
  TopicManager& topics_;
  timer::TimerService& timers_;
  NamesrvRegistrar* const registrar_;
  metrics::BrokerMetrics* const metrics_;
  std::mutex create_mu_;  // one creation (and its log line) per topic
  std::mutex resend_mu_;  // one resend at a time: marks and floors are read, then written
};

}  // namespace vela::broker::retry
