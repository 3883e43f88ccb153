#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/config.h"
#include "common/message_record.h"
#include "common/result.h"

// Transactional messages (DESIGN.md §7.2): what a producer sends, how the broker records a half
// message and a resolution (an op record), and what a commit publishes. Pure functions and value
// types, no I/O.
namespace vela::broker::transaction {

// The system topics (RocketMQ's names), one queue each.
inline constexpr std::string_view kHalfTopic = "RMQ_SYS_TRANS_HALF_TOPIC";
inline constexpr std::string_view kOpTopic = "RMQ_SYS_TRANS_OP_HALF_TOPIC";

// Properties a producer sets (RocketMQ's names): TRAN_MSG=true and its producer group.
inline constexpr std::string_view kPropPrepared = prop::kTransactionPrepared;
inline constexpr std::string_view kPropProducerGroup = prop::kProducerGroup;
// Properties the broker adds to an op record: the resolution and the half record it resolves.
inline constexpr std::string_view kPropResolution = "TRAN_OP_RESOLUTION";  // "commit" | "rollback"
inline constexpr std::string_view kPropHalfOffset = "TRAN_HALF_OFFSET";     // commit-log offset
// Added to a committed message: the commit-log offset of the half record it came from (the same
// name the timer's re-puts use).
inline constexpr std::string_view kPropOriginOffset = "ORIGIN_OFFSET";

// Transaction settings (conf/broker.conf, RocketMQ's keys). They all belong to the check-back
// (transactionTimeOut: the age from which the service lists a pending half message for it) and to
// multi-message transactions, neither of which exists yet: FromConfig refuses each at any value but
// its default, so that no setting is silently ignored.
struct TransactionOptions {
  int64_t timeout_ms = 6000;            // transactionTimeOut (used by the pending scan only)
  int64_t check_interval_ms = 60000;    // transactionCheckInterval (not implemented yet)
  int64_t check_max = 15;               // transactionCheckMax (not implemented yet)
  int64_t max_messages = 64;            // transactionMaxMessages (not implemented yet)

  static Result<TransactionOptions> FromConfig(const Config& config);
};

// Whether a message asks to be a half message: true for TRAN_MSG=true, false when TRAN_MSG is
// absent or "false"; InvalidArgument for any other value, for TRAN_MSG=true without a PGROUP
// (the producer group a resolution must come from), and for a transactional message that also
// asks for a timer (TIMER_DELIVER_MS, TIMER_DELAY_MS, TIMER_DELAY_SEC, DELAY): as in RocketMQ, a
// transactional message cannot be delayed. `*group` is set to PGROUP when true.
Result<bool> IsTransactional(std::string_view properties, std::string_view* group);

// The half record of a message: the same id, body, born time and host, in the half topic's queue
// 0, with the producer's properties plus REAL_TOPIC and REAL_QID, flagged prepared.
std::string EncodeHalfRecord(const RecordView& original, uint32_t real_queue);

// What a half record says.
struct HalfRecord {
  std::string real_topic;
  uint32_t real_queue = 0;
  std::string producer_group;
  std::string msg_id;
};
// Reads a record of the half topic; InvalidArgument when it lacks what the broker writes.
Result<HalfRecord> ParseHalfRecord(const RecordView& record);

// The message a commit publishes: the real topic and `queue_id`, the producer's properties
// (without TRAN_MSG, REAL_TOPIC and REAL_QID; PGROUP stays) plus ORIGIN_OFFSET naming the half
// record, the same id, body and born fields, flagged as a committed transaction.
std::string EncodeCommittedRecord(const RecordView& half_record, const HalfRecord& parsed, uint32_t queue_id);

enum class Resolution { kCommit, kRollback };
std::string_view ResolutionName(Resolution r);  // "commit" | "rollback"

// An op record: resolves the half record at `half_offset` (message `msg_id` of `group`).
std::string EncodeOpRecord(Resolution resolution, int64_t half_offset, std::string_view msg_id,
                           std::string_view group, int64_t now_ms);

// What an op record says.
struct OpRecord {
  Resolution resolution = Resolution::kRollback;
  int64_t half_offset = 0;
  std::string msg_id;
  std::string producer_group;
};
Result<OpRecord> ParseOpRecord(const RecordView& record);

}  // namespace vela::broker::transaction
