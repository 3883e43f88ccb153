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
// Where a transaction goes after transactionCheckMax check-backs without a decision: copies of its
// half records, readable, for operators (RocketMQ's name).
inline constexpr std::string_view kDiscardTopic = "TRANS_CHECK_MAX_TIME_TOPIC";

// Properties a producer sets (RocketMQ's names): TRAN_MSG=true and its producer group.
inline constexpr std::string_view kPropPrepared = prop::kTransactionPrepared;
inline constexpr std::string_view kPropProducerGroup = prop::kProducerGroup;
// Properties the broker adds to an op record: the resolution and the half record it resolves.
inline constexpr std::string_view kPropResolution = "TRAN_OP_RESOLUTION";  // "commit" | "rollback" | "discard"
inline constexpr std::string_view kPropHalfOffset = "TRAN_HALF_OFFSET";     // commit-log offset
inline constexpr std::string_view kPropDiscardOffset = "TRAN_DISCARD_OFFSET";  // the copy's offset (discard)
// Added to a committed message: the commit-log offset of the half record it came from (the same
// name the timer's re-puts use).
inline constexpr std::string_view kPropOriginOffset = "ORIGIN_OFFSET";

// Transaction settings (conf/broker.conf, RocketMQ's keys; docs/transactions.md).
struct TransactionOptions {
  int64_t timeout_ms = 6000;            // transactionTimeOut: age of a transaction at its first check
  int64_t check_interval_ms = 60000;    // transactionCheckInterval: between two checks of one transaction
  int64_t check_max = 15;               // transactionCheckMax: checks before it is discarded
  int64_t max_messages = 64;            // transactionMaxMessages: half messages of one transaction

  static Result<TransactionOptions> FromConfig(const Config& config);
};

// Whether a message asks to be a half message: true for TRAN_MSG=true, false when TRAN_MSG is
// absent or "false"; InvalidArgument for any other value, for TRAN_MSG=true without a PGROUP
// (the producer group a resolution must come from), and for a transactional message that also
// asks for a timer (TIMER_DELIVER_MS, TIMER_DELAY_MS, TIMER_DELAY_SEC, DELAY): as in RocketMQ, a
// transactional message cannot be delayed; also for a CHECK_IMMUNITY_TIME_IN_SECONDS that is not a
// whole number of seconds up to a year, and an empty __transactionId__. `*group` is set to PGROUP
// and `*transaction_id` to __transactionId__ (or the message's own id) when true.
Result<bool> IsTransactional(const RecordView& record, std::string_view* group, std::string_view* transaction_id);

// The half record of a message: the same id, body, born time and host, in the half topic's queue
// 0, with the producer's properties plus REAL_TOPIC and REAL_QID, flagged prepared.
std::string EncodeHalfRecord(const RecordView& original, uint32_t real_queue);

// What a half record says.
struct HalfRecord {
  std::string real_topic;
  uint32_t real_queue = 0;
  std::string producer_group;
  std::string msg_id;
  std::string transaction_id;  // __transactionId__, or the message's own id
  int64_t immunity_ms = 0;     // CHECK_IMMUNITY_TIME_IN_SECONDS * 1000 (0: none)
};
// Reads a record of the half topic (or a copy of one in the discard topic); InvalidArgument when it lacks what the broker writes.
Result<HalfRecord> ParseHalfRecord(const RecordView& record);

// The message a commit publishes: the real topic and `queue_id`, the producer's properties
// (without TRAN_MSG, REAL_TOPIC and REAL_QID; PGROUP stays) plus ORIGIN_OFFSET naming the half
// record, the same id, body and born fields, flagged as a committed transaction.
std::string EncodeCommittedRecord(const RecordView& half_record, const HalfRecord& parsed, uint32_t queue_id);

// A copy of a half record in the discard topic (queue 0), everything else the same.
std::string EncodeDiscardCopy(const RecordView& half_record);

// kDiscard is not final: an operator may still commit or roll back a discarded transaction.
enum class Resolution { kCommit, kRollback, kDiscard };
std::string_view ResolutionName(Resolution r);  // "commit" | "rollback" | "discard"

// An op record: resolves the half record at `half_offset` (message `msg_id` of transaction
// `transaction_id` of `group`); a discard names the copy at `discard_offset`.
struct OpRecord {
  Resolution resolution = Resolution::kRollback;
  int64_t half_offset = 0;
  std::string msg_id;
  std::string producer_group;
  std::string transaction_id;
  int64_t discard_offset = -1;
};
std::string EncodeOpRecord(const OpRecord& op, int64_t now_ms);
Result<OpRecord> ParseOpRecord(const RecordView& record);

}  // namespace vela::broker::transaction
