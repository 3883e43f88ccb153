#include "broker/retry/retry_message.h"

#include <algorithm>

#include <fmt/format.h>

#include "broker/timer/timer_message.h"
#include "common/validation.h"

namespace vela::broker::retry {
namespace {

// Properties a copy does not carry over: the broker's routing of the record it was made from. A
// stale ORIGIN_OFFSET in particular would be read as the origin of the copy's own re-put.
bool IsRoutingProperty(std::string_view key) {
  return key == prop::kRealTopic || key == prop::kRealQueueId || key == timer::kPropDueMs ||
         key == timer::kPropRecallId || key == timer::kPropRolledFrom || key == timer::kPropOriginOffset;
}

constexpr uint32_t kTransactionFlags =
    record::kFlagTransactionPrepared | record::kFlagTransactionCommit | record::kFlagTransactionRollback;

thread_local std::string properties_buffer;

}  // namespace

std::string RetryTopicOf(std::string_view group) { return std::string(kRetryTopicPrefix).append(group); }
std::string DlqTopicOf(std::string_view group) { return std::string(kDlqTopicPrefix).append(group); }

Status CheckGroupForRetry(std::string_view group) {
  if (group.empty()) return Status::InvalidArgument("no consumer group given");
  VELA_RETURN_IF_ERROR(ValidateGroupName(group));
  // The longer of the two names decides.
  if (Status s = ValidateSystemTopicName(RetryTopicOf(group)); !s.ok()) {
    return Status::InvalidArgument(fmt::format(
        "group '{}' cannot have a retry topic: {}", group.substr(0, std::min<size_t>(group.size(), 64)), s.message()));
  }
  return Status::OK();
}

Result<SendBackDecision> DecideSendBack(uint32_t record_reconsume_times, int32_t delay_level,
                                        int32_t max_reconsume_times, int32_t group_max_retries, size_t levels) {
  if (delay_level < -1) {
    return Status::InvalidArgument(
        fmt::format("delay_level {} is not a level: -1 (dead letter), 0 (the broker picks) or 1..{}", delay_level,
                    levels));
  }
  if (delay_level > 0 && static_cast<size_t>(delay_level) > levels) {
    return Status::InvalidArgument(
        fmt::format("delay level {} does not exist: this broker has levels 1 to {} (messageDelayLevel)", delay_level,
                    levels));
  }
  if (max_reconsume_times < 0) {
    return Status::InvalidArgument(fmt::format("max_reconsume_times {} is negative", max_reconsume_times));
  }
  const int32_t group_max = std::max(group_max_retries, 0);
  const int32_t max = max_reconsume_times > 0 ? std::min(max_reconsume_times, group_max) : group_max;
  SendBackDecision d;
  d.reconsume_times = record_reconsume_times + 1;
  d.dead_letter = delay_level == -1 || max == 0 || d.reconsume_times > static_cast<uint32_t>(max);
  if (!d.dead_letter) {
    const int64_t picked = delay_level > 0 ? delay_level : kFirstRetryLevel + int64_t{record_reconsume_times};
    d.delay_level = static_cast<int32_t>(std::min<int64_t>(picked, static_cast<int64_t>(levels)));
  }
  return d;
}

std::string EncodeSendBackCopy(const RecordView& original, std::string_view topic, uint32_t reconsume_times) {
  RecordFields f = original.ToFields();
  f.topic = topic;
  f.queue_id = 0;
  f.queue_offset = 0;
  f.physical_offset = 0;
  f.store_timestamp_ms = 0;
  f.store_host = 0;
  f.prepared_offset = 0;
  f.flags &= ~kTransactionFlags;
  f.reconsume_times = reconsume_times;
  std::string_view origin_topic;
  std::string_view origin_id;
  const bool has_origin = FindProperty(original.properties, prop::kRetryTopic, &origin_topic);
  const bool has_origin_id = FindProperty(original.properties, prop::kOriginMsgId, &origin_id);
  if (!has_origin) origin_topic = original.topic;
  if (!has_origin_id) origin_id = original.msg_id;
  // RETRY_TOPIC and ORIGIN_MSG_ID are written once, at the end (kept values when already set).
  f.properties = RewriteProperties(
      original.properties,
      [](std::string_view k) { return IsRoutingProperty(k) || k == prop::kRetryTopic || k == prop::kOriginMsgId; },
      {{prop::kRetryTopic, origin_topic}, {prop::kOriginMsgId, origin_id}}, properties_buffer);
  return EncodeRecordToString(f);
}

std::string_view OriginTopicOf(const RecordView& record) {
  std::string_view origin;
  if (FindProperty(record.properties, prop::kRetryTopic, &origin) && !origin.empty()) return origin;
  return record.topic;
}

std::string EncodeResentRecord(const RecordView& dead_letter, std::string_view retry_topic) {
  return EncodeSendBackCopy(dead_letter, retry_topic, /*reconsume_times=*/0);
}

}  // namespace vela::broker::retry
