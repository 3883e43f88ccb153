#include "broker/transaction/transaction_message.h"

#include <charconv>
#include <initializer_list>
#include <utility>

#include <fmt/format.h>

#include "common/validation.h"

namespace vela::broker::transaction {
namespace {

constexpr std::string_view kCommitName = "commit";
constexpr std::string_view kRollbackName = "rollback";
constexpr std::string_view kDiscardName = "discard";

// A whole non-negative decimal number, nothing else.
std::optional<int64_t> ParseWholeNumber(std::string_view text) {
  if (text.empty() || text.size() > 18 || text[0] == '+') return std::nullopt;
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0) return std::nullopt;
  return value;
}

bool IsBrokerHalfProperty(std::string_view key) { return key == prop::kRealTopic || key == prop::kRealQueueId; }
// A published message is a plain one to its consumers: without TRAN_MSG, a consumer that forwards
// it does not send a transactional message by accident.
bool IsHalfOnlyProperty(std::string_view key) { return IsBrokerHalfProperty(key) || key == kPropPrepared; }

Result<int64_t> ReadSetting(const Config& config, std::string_view key, int64_t fallback, int64_t min, int64_t max) {
  VELA_ASSIGN_OR_RETURN(int64_t v, config.GetInt(std::string(key), fallback));
  if (v < min || v > max) return Status::InvalidArgument(fmt::format("{} = {} is out of range ({} to {})", key, v, min, max));
  return v;
}

}  // namespace

Result<TransactionOptions> TransactionOptions::FromConfig(const Config& config) {
  TransactionOptions o;
  constexpr int64_t kYearMs = 365LL * 24 * 3600 * 1000;
  VELA_ASSIGN_OR_RETURN(o.timeout_ms, ReadSetting(config, "transactionTimeOut", o.timeout_ms, 1, kYearMs));
  VELA_ASSIGN_OR_RETURN(o.check_interval_ms,
                        ReadSetting(config, "transactionCheckInterval", o.check_interval_ms, 1, kYearMs));
  VELA_ASSIGN_OR_RETURN(o.check_max, ReadSetting(config, "transactionCheckMax", o.check_max, 1, 1000000));
  VELA_ASSIGN_OR_RETURN(o.max_messages, ReadSetting(config, "transactionMaxMessages", o.max_messages, 1, 1024));
  return o;
}

Result<bool> IsTransactional(const RecordView& record, std::string_view* group, std::string_view* transaction_id) {
  const std::string_view properties = record.properties;
  std::string_view prepared;
  if (!FindProperty(properties, kPropPrepared, &prepared) || prepared == "false") return false;
  if (prepared != "true") {
    return Status::InvalidArgument(fmt::format("property {} = '{}': only 'true' or 'false' is allowed", kPropPrepared,
                                               prepared.substr(0, std::min<size_t>(prepared.size(), 64))));
  }
  for (std::string_view timer : {prop::kTimerDeliverMs, prop::kTimerDelayMs, prop::kTimerDelaySec, prop::kDelayLevel}) {
    std::string_view ignored;
    if (FindProperty(properties, timer, &ignored)) {
      return Status::InvalidArgument(fmt::format(
          "a transactional message ({}=true) cannot also be a timer message ({} is set): delay the commit instead",
          kPropPrepared, timer));
    }
  }
  if (!FindProperty(properties, kPropProducerGroup, group) || group->empty()) {
    return Status::InvalidArgument(fmt::format(
        "a transactional message ({}=true) must name its producer group in property {}", kPropPrepared,
        kPropProducerGroup));
  }
  std::string_view immunity;
  if (FindProperty(properties, prop::kCheckImmunitySec, &immunity)) {
    auto seconds = ParseWholeNumber(immunity);
    if (!seconds || *seconds > 365LL * 24 * 3600) {
      return Status::InvalidArgument(fmt::format("property {} = '{}': a whole number of seconds up to a year is needed",
                                                 prop::kCheckImmunitySec,
                                                 immunity.substr(0, std::min<size_t>(immunity.size(), 64))));
    }
  }
  if (!FindProperty(properties, prop::kTransactionId, transaction_id)) {
    *transaction_id = record.msg_id;
  } else if (Status id = ValidateMessageId(*transaction_id); !id.ok()) {
    // The broker keeps it in NUL-separated index values and answers with it: an id's rules apply.
    return id.WithContext(fmt::format("property {} (the id of the transaction's first message)", prop::kTransactionId));
  }
  if (group->find('\0') != std::string_view::npos) {
    return Status::InvalidArgument(fmt::format("property {} holds a NUL byte", kPropProducerGroup));
  }
  return true;
}

std::string EncodeHalfRecord(const RecordView& original, uint32_t real_queue) {
  RecordFields f = original.ToFields();
  f.topic = kHalfTopic;
  f.queue_id = 0;
  f.flags = record::kFlagTransactionPrepared;
  const std::string queue = std::to_string(real_queue);
  std::string props;
  f.properties = RewriteProperties(original.properties, &IsBrokerHalfProperty,
                                   {{prop::kRealTopic, original.topic}, {prop::kRealQueueId, queue}}, props);
  return EncodeRecordToString(f);
}

Result<HalfRecord> ParseHalfRecord(const RecordView& record) {
  HalfRecord h;
  std::string_view topic, queue, group;
  const bool complete = FindProperty(record.properties, prop::kRealTopic, &topic) &&
                        FindProperty(record.properties, prop::kRealQueueId, &queue) &&
                        FindProperty(record.properties, kPropProducerGroup, &group);
  auto queue_id = complete ? ParseWholeNumber(queue) : std::nullopt;
  if (!queue_id || *queue_id > UINT32_MAX || topic.empty() || group.empty()) {
    return Status::InvalidArgument(fmt::format("half record at offset {} lacks a valid {}, {} or {}",
                                               record.physical_offset, prop::kRealTopic, prop::kRealQueueId,
                                               kPropProducerGroup));
  }
  h.real_topic = std::string(topic);
  h.real_queue = static_cast<uint32_t>(*queue_id);
  h.producer_group = std::string(group);
  h.msg_id = std::string(record.msg_id);
  std::string_view txn, immunity;
  h.transaction_id = FindProperty(record.properties, prop::kTransactionId, &txn) && !txn.empty() ? std::string(txn)
                                                                                                 : h.msg_id;
  if (FindProperty(record.properties, prop::kCheckImmunitySec, &immunity)) {
    if (auto seconds = ParseWholeNumber(immunity); seconds && *seconds <= 365LL * 24 * 3600) h.immunity_ms = *seconds * 1000;
  }
  return h;
}

std::string EncodeCommittedRecord(const RecordView& half_record, const HalfRecord& parsed, uint32_t queue_id) {
  RecordFields f = half_record.ToFields();
  f.topic = parsed.real_topic;
  f.queue_id = queue_id;
  f.flags = record::kFlagTransactionCommit;
  const std::string origin = std::to_string(half_record.physical_offset);
  std::string props;
  f.properties = RewriteProperties(half_record.properties, &IsHalfOnlyProperty, {{kPropOriginOffset, origin}}, props);
  return EncodeRecordToString(f);
}

std::string EncodeDiscardCopy(const RecordView& half_record) {
  RecordFields f = half_record.ToFields();
  f.topic = kDiscardTopic;
  f.queue_id = 0;
  return EncodeRecordToString(f);
}

std::string_view ResolutionName(Resolution r) {
  switch (r) {
    case Resolution::kCommit:
      return kCommitName;
    case Resolution::kRollback:
      return kRollbackName;
    case Resolution::kDiscard:
      return kDiscardName;
  }
  return kRollbackName;
}

std::string EncodeOpRecord(const OpRecord& op, int64_t now_ms) {
  Properties props;
  props.reserve(5);  // (also keeps GCC 12's -Warray-bounds false positive on a growing vector away)
  props.emplace_back(kPropResolution, ResolutionName(op.resolution));
  props.emplace_back(kPropHalfOffset, std::to_string(op.half_offset));
  props.emplace_back(kPropProducerGroup, op.producer_group);
  props.emplace_back(prop::kTransactionId, op.transaction_id);
  if (op.resolution == Resolution::kDiscard) props.emplace_back(kPropDiscardOffset, std::to_string(op.discard_offset));
  const std::string encoded = EncodeProperties(props);
  RecordFields f;
  f.topic = kOpTopic;
  f.msg_id = op.msg_id;
  f.born_timestamp_ms = now_ms;
  f.flags = op.resolution == Resolution::kCommit ? record::kFlagTransactionCommit : record::kFlagTransactionRollback;
  f.properties = encoded;
  return EncodeRecordToString(f);
}

Result<OpRecord> ParseOpRecord(const RecordView& record) {
  OpRecord op;
  std::string_view resolution, offset, group, txn, discard;
  const bool complete = FindProperty(record.properties, kPropResolution, &resolution) &&
                        FindProperty(record.properties, kPropHalfOffset, &offset) &&
                        FindProperty(record.properties, kPropProducerGroup, &group);
  auto half_offset = complete ? ParseWholeNumber(offset) : std::nullopt;
  std::optional<int64_t> discard_offset;
  if (resolution == kDiscardName && FindProperty(record.properties, kPropDiscardOffset, &discard)) {
    discard_offset = ParseWholeNumber(discard);
  }
  if (!half_offset || (resolution != kCommitName && resolution != kRollbackName && !discard_offset)) {
    return Status::InvalidArgument(fmt::format("op record at offset {} lacks a valid {}, {} or {}",
                                               record.physical_offset, kPropResolution, kPropHalfOffset,
                                               kPropDiscardOffset));
  }
  op.resolution = resolution == kCommitName     ? Resolution::kCommit
                  : resolution == kRollbackName ? Resolution::kRollback
                                                : Resolution::kDiscard;
  op.half_offset = *half_offset;
  op.msg_id = std::string(record.msg_id);
  op.producer_group = std::string(group);
  op.transaction_id =
      FindProperty(record.properties, prop::kTransactionId, &txn) && !txn.empty() ? std::string(txn) : op.msg_id;
  op.discard_offset = discard_offset.value_or(-1);
  return op;
}

}  // namespace vela::broker::transaction
