#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"
#include "common/message_record.h"
#include "common/result.h"

// Timer messages (DESIGN.md §7.2): what a producer asks for, how the broker records it in the
// timer topic, and the recall handle. Pure functions and value types, no I/O.
namespace vela::broker::timer {

// The system topic that holds timer messages until they are due (RocketMQ's name).
inline constexpr std::string_view kTimerTopic = "rmq_sys_wheel_timer";

// Properties a producer sets (RocketMQ's names): at most one per message.
inline constexpr std::string_view kPropDeliverMs = prop::kTimerDeliverMs;
inline constexpr std::string_view kPropDelayMs = prop::kTimerDelayMs;
inline constexpr std::string_view kPropDelaySec = prop::kTimerDelaySec;
inline constexpr std::string_view kPropDelayLevel = prop::kDelayLevel;
// Properties the broker adds to records of the timer topic.
inline constexpr std::string_view kPropDueMs = "TIMER_OUT_MS";          // the due time, epoch ms
inline constexpr std::string_view kPropRecallId = "TIMER_DEL_UNIQKEY";  // a recall record: the id it cancels
inline constexpr std::string_view kPropRolledFrom = "TIMER_ROLL_FROM";  // a rolled copy: the offset it replaces
// Added to a delivered message: the commit-log offset of the timer record it came from.
inline constexpr std::string_view kPropOriginOffset = "ORIGIN_OFFSET";

// Timer settings (conf/broker.conf).
struct TimerOptions {
  // messageDelayLevel: the delay of each level, level 1 first (RocketMQ's 18 by default).
  std::vector<int64_t> delay_level_ms;
  int64_t max_delay_ms = 365LL * 24 * 3600 * 1000;  // timerMaxDelaySec (default one year)
  int64_t roll_after_ms = 0;  // timers stored longer ago than this are rolled forward (0: half fileReservedTime)

  static Result<TimerOptions> FromConfig(const Config& config, int64_t file_reserved_ms);
  // Parses "1s 5s 10s 30s 1m ... 2h" (units ms, s, m, h, d; whole numbers; at least one level).
  static Result<std::vector<int64_t>> ParseDelayLevels(std::string_view text);
};
inline constexpr std::string_view kDefaultDelayLevels = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h";

// When a message is due, from its properties: nullopt when it asks for no timer. Refused
// (InvalidArgument, naming the property) when more than one timer property is set, a value is not
// a whole decimal number, a level is outside 1..levels, or the due time lies beyond the horizon.
// A due time at or before now is returned as is (the caller delivers it at once).
Result<std::optional<int64_t>> DueTimeOf(std::string_view properties, int64_t now_ms, const TimerOptions& options);

// The record that stands in the timer topic for a message due at `due_ms`: the same id, body,
// born time and host, the producer's properties plus REAL_TOPIC, REAL_QID and TIMER_OUT_MS.
std::string EncodeTimerRecord(const RecordView& original, uint32_t real_queue, int64_t due_ms);
// A recall record: cancels the timer of message `msg_id` of `real_topic` due at `due_ms`.
std::string EncodeRecallRecord(std::string_view real_topic, std::string_view msg_id, int64_t due_ms,
                               int64_t now_ms);
// A copy of a timer record written further on in the log (roll forward), naming the offset it replaces.
std::string EncodeRolledRecord(const RecordView& timer_record, int64_t rolled_from);

// What a record of the timer topic says.
struct TimerRecord {
  enum class Kind { kTimer, kRecall, kRolled };
  Kind kind = Kind::kTimer;
  int64_t due_ms = 0;
  std::string real_topic;
  uint32_t real_queue = 0;
  std::string msg_id;
  int64_t rolled_from = -1;
};
// Reads a record of the timer topic; InvalidArgument when it lacks what the broker writes.
Result<TimerRecord> ParseTimerRecord(const RecordView& record);

// The message a due timer record becomes: its real topic and queue, the producer's properties
// (without the broker's timer properties) plus ORIGIN_OFFSET, the same id, body and born fields.
std::string EncodeDeliveredRecord(const RecordView& timer_record, const TimerRecord& parsed, uint32_t queue_id);

}  // namespace vela::broker::timer
