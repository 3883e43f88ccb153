#include "client/message_codec.h"

#include <fmt/format.h>

#include "common/message_id.h"
#include "common/validation.h"

namespace vela::client {

vela::Status ValidateMessage(const Message& message, size_t max_body_bytes) {
  VELA_RETURN_IF_ERROR(ValidateUserTopicName(message.topic));
  if (message.body.empty()) return vela::Status::InvalidArgument("message body is empty");
  if (message.body.size() > max_body_bytes) {
    return vela::Status(vela::StatusCode::kInvalidArgument,
                        fmt::format("message body of {} bytes exceeds the limit of {}", message.body.size(),
                                    max_body_bytes),
                        vela::SubCode::kMessageTooLarge);
  }
  if (!message.tag.empty()) VELA_RETURN_IF_ERROR(ValidateProperty(prop::kTags, message.tag));
  for (const auto& key : message.keys) {
    if (key.empty() || key.find(' ') != std::string::npos) {
      return vela::Status::InvalidArgument(fmt::format("message key '{}' is empty or contains a space", key));
    }
  }
  for (const auto& [k, v] : message.properties) VELA_RETURN_IF_ERROR(ValidateProperty(k, v));
  // The broker would keep such a message as a half message: only a TransactionProducer, which can
  // commit it, sets this property (after this check).
  if (message.properties.count(std::string(prop::kTransactionPrepared)) != 0) {
    return vela::Status::InvalidArgument(
        fmt::format("property {} is set by the SDK: send transactional messages through a TransactionProducer",
                    prop::kTransactionPrepared));
  }
  if (message.delay_ms < 0 || message.deliver_at_ms < 0 || message.delay_level < 0) {
    return vela::Status::InvalidArgument("delay, delivery time and delay level must not be negative");
  }
  if ((message.delay_ms > 0) + (message.deliver_at_ms > 0) + (message.delay_level > 0) > 1) {
    return vela::Status::InvalidArgument("set at most one of a delay, a delivery time and a delay level");
  }
  return vela::Status::OK();
}

std::string EncodeMessageProperties(const Message& message) {
  Properties props;
  if (!message.tag.empty()) props.emplace_back(prop::kTags, message.tag);
  if (!message.keys.empty()) {
    std::string keys;
    for (const auto& key : message.keys) {
      if (!keys.empty()) keys.push_back(' ');
      keys.append(key);
    }
    props.emplace_back(prop::kKeys, std::move(keys));
  }
  if (!message.sharding_key.empty()) props.emplace_back(prop::kShardingKey, message.sharding_key);
  if (message.delay_ms > 0) props.emplace_back(prop::kTimerDelayMs, std::to_string(message.delay_ms));
  if (message.deliver_at_ms > 0) props.emplace_back(prop::kTimerDeliverMs, std::to_string(message.deliver_at_ms));
  if (message.delay_level > 0) props.emplace_back(prop::kDelayLevel, std::to_string(message.delay_level));
  for (const auto& [k, v] : message.properties) props.emplace_back(k, v);
  return EncodeProperties(props);
}

void AppendMessageRecord(const Message& message, std::string_view msg_id, uint64_t born_host, int64_t born_ms,
                         std::string* out, uint32_t queue_id) {
  const std::string properties = EncodeMessageProperties(message);
  RecordFields fields;
  fields.topic = message.topic;
  fields.queue_id = queue_id;
  fields.born_timestamp_ms = born_ms;
  fields.born_host = born_host;
  fields.msg_id = msg_id;
  fields.properties = properties;
  fields.body = message.body;
  EncodeRecord(fields, out);
}

namespace {
// The text of the last host seen: the records of one pull mostly come from one producer host, and
// formatting an address costs more than the rest of a view.
class HostText {
 public:
  const std::string& Of(uint64_t packed) {
    if (!valid_ || packed != packed_) {
      text_ = packed != 0 ? UnpackHost(packed) : std::string();
      packed_ = packed;
      valid_ = true;
    }
    return text_;
  }

 private:
  bool valid_ = false;
  uint64_t packed_ = 0;
  std::string text_;
};

// The consumer's view of a decoded record served by `broker_addr`.
MessageView MakeView(const RecordView& record, const std::string& broker_addr, HostText& born_hosts) {
  MessageView view;
  view.msg_id = std::string(record.msg_id);
  uint64_t store_host = record.store_host != 0 ? record.store_host : PackHost(broker_addr);
  view.offset_id = MakeOffsetId(store_host, record.physical_offset);
  view.topic = std::string(record.topic);
  view.queue_id = static_cast<int32_t>(record.queue_id);
  view.queue_offset = record.queue_offset;
  view.body = std::string(record.body);
  view.born_timestamp_ms = record.born_timestamp_ms;
  view.store_timestamp_ms = record.store_timestamp_ms;
  view.born_host = born_hosts.Of(record.born_host);
  view.reconsume_times = static_cast<int32_t>(record.reconsume_times);
  view.broker_addr = broker_addr;
  ForEachProperty(record.properties, [&](std::string_view k, std::string_view v) {
    if (k == prop::kTags) {
      view.tag = std::string(v);
    } else if (k == prop::kKeys) {
      size_t start = 0;
      while (start < v.size()) {
        size_t end = v.find(' ', start);
        if (end == std::string_view::npos) end = v.size();
        if (end > start) view.keys.emplace_back(v.substr(start, end - start));
        start = end + 1;
      }
    } else {
      view.properties[std::string(k)] = std::string(v);
    }
    return true;
  });
  return view;
}
}  // namespace

Result<std::vector<MessageView>> DecodeMessages(std::string_view body, const std::string& broker_addr,
                                                size_t expected_count) {
  std::vector<MessageView> out;
  out.reserve(expected_count);
  HostText born_hosts;
  while (!body.empty()) {
    RecordView record;
    std::string reason;
    auto outcome = DecodeRecord(body, /*verify_crc=*/true, &record, &reason);
    if (outcome == DecodeOutcome::kEndOfData || outcome == DecodeOutcome::kBlank) break;
    if (outcome != DecodeOutcome::kRecord) {
      return vela::Status::Corruption(fmt::format("record {} from {} does not decode: {}", out.size(), broker_addr,
                                                  reason));
    }
    out.push_back(MakeView(record, broker_addr, born_hosts));
    body.remove_prefix(record.raw.size());
  }
  return out;
}

}  // namespace vela::client
