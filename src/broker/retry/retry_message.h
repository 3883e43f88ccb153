#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/message_record.h"
#include "common/result.h"

// Retries and dead letters (DESIGN.md §7.2): the names of a group's retry and dead-letter topics,
// and the records the broker writes for a message a consumer sent back. Pure functions, no I/O.
namespace vela::broker::retry {

inline constexpr std::string_view kRetryTopicPrefix = "%RETRY%";
inline constexpr std::string_view kDlqTopicPrefix = "%DLQ%";
// The reconsume limit of a group that was never created (RocketMQ's default).
inline constexpr int32_t kDefaultMaxReconsumeTimes = 16;
// The level the broker picks for a first failure (delay_level 0): 3 + reconsume_times, as RocketMQ.
inline constexpr int32_t kFirstRetryLevel = 3;

std::string RetryTopicOf(std::string_view group);
std::string DlqTopicOf(std::string_view group);
// InvalidArgument when `group` is not a group name or its retry / dead-letter topic name would not
// be a valid topic name (topics hold at most 127 characters).
Status CheckGroupForRetry(std::string_view group);

// What the broker does with a sent-back message.
struct SendBackDecision {
  bool dead_letter = false;   // to %DLQ%<group> now (else a retry through the timer)
  int32_t delay_level = 0;    // retries: the messageDelayLevel level (1-based)
  uint32_t reconsume_times = 0;  // the copy's count: the record's + 1
};
// Decides from the record's reconsume count, the request's delay_level and max_reconsume_times and
// the group's max_retries, for a broker with `levels` delay levels (docs/protocol.md,
// CONSUMER_SEND_BACK). InvalidArgument for a delay level below -1 or above `levels`, or a negative
// max_reconsume_times.
Result<SendBackDecision> DecideSendBack(uint32_t record_reconsume_times, int32_t delay_level,
                                        int32_t max_reconsume_times, int32_t group_max_retries, size_t levels);

// The copy of `original` that a send-back stores, in `topic` queue 0 (%RETRY%<group> or
// %DLQ%<group>): the same unique id, body, flags (without the transaction bits), born time and
// host; reconsume_times as given; the properties without the broker's routing properties (timer,
// REAL_TOPIC / REAL_QID, ORIGIN_OFFSET) plus RETRY_TOPIC = the origin topic and ORIGIN_MSG_ID, both
// kept when already set (a message re-failed from %RETRY% keeps its first origin).
std::string EncodeSendBackCopy(const RecordView& original, std::string_view topic, uint32_t reconsume_times);

// The origin topic of a record: its RETRY_TOPIC property, else its own topic.
std::string_view OriginTopicOf(const RecordView& record);

// The record a resent dead letter becomes: `dead_letter` moved into %RETRY%<group> queue 0 with
// reconsume_times 0 and its properties (RETRY_TOPIC and ORIGIN_MSG_ID included) kept.
std::string EncodeResentRecord(const RecordView& dead_letter, std::string_view retry_topic);

}  // namespace vela::broker::retry
