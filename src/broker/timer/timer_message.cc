#include "broker/timer/timer_message.h"

#include <charconv>
#include <initializer_list>
#include <utility>

#include <fmt/format.h>

namespace vela::broker::timer {
namespace {

// A whole non-negative decimal number, nothing else (no sign, spaces or fraction).
std::optional<int64_t> ParseWholeNumber(std::string_view text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0 || text[0] == '+') return std::nullopt;
  return value;
}

bool IsBrokerTimerProperty(std::string_view key) {
  return key == prop::kRealTopic || key == prop::kRealQueueId || key == kPropDueMs || key == kPropRolledFrom;
}


// A number's decimal digits in a caller's buffer (no allocation: this runs once per timer send).
struct Decimal {
  explicit Decimal(int64_t v) : size(static_cast<size_t>(std::to_chars(digits, digits + sizeof digits, v).ptr - digits)) {}
  std::string_view view() const { return {digits, size}; }
  char digits[24];
  size_t size;
};

thread_local std::string properties_buffer;

}  // namespace

Result<std::vector<int64_t>> TimerOptions::ParseDelayLevels(std::string_view text) {
  std::vector<int64_t> levels;
  while (!text.empty()) {
    const auto start = text.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    text.remove_prefix(start);
    const auto end = text.find(' ');
    std::string_view item = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end);
    // The number, then its unit: ms, s, m, h or d.
    const size_t digits = item.find_first_not_of("0123456789");
    const std::string_view suffix = digits == std::string_view::npos ? std::string_view() : item.substr(digits);
    int64_t unit = 0;
    if (suffix == "ms") unit = 1;
    if (suffix == "s") unit = 1000;
    if (suffix == "m") unit = 60 * 1000;
    if (suffix == "h") unit = 3600 * 1000;
    if (suffix == "d") unit = 24 * 3600 * 1000;
    auto n = unit == 0 ? std::nullopt : ParseWholeNumber(item.substr(0, digits));
    if (!n || *n == 0) {
      return Status::InvalidArgument(fmt::format(
          "messageDelayLevel: '{}' is not a delay (a whole number with ms, s, m, h or d, as in 10s)", item));
    }
    levels.push_back(*n * unit);
  }
  if (levels.empty()) return Status::InvalidArgument("messageDelayLevel names no level");
  return levels;
}

Result<TimerOptions> TimerOptions::FromConfig(const Config& config, int64_t file_reserved_ms) {
  TimerOptions o;
  VELA_ASSIGN_OR_RETURN(o.delay_level_ms,
                        ParseDelayLevels(config.GetString("messageDelayLevel", kDefaultDelayLevels)));
  VELA_ASSIGN_OR_RETURN(int64_t max_sec, config.GetInt("timerMaxDelaySec", o.max_delay_ms / 1000));
  if (max_sec <= 0 || max_sec > 100LL * 365 * 24 * 3600) {
    return Status::InvalidArgument(fmt::format("timerMaxDelaySec {} is out of range (1 s to 100 years)", max_sec));
  }
  o.max_delay_ms = max_sec * 1000;
  VELA_ASSIGN_OR_RETURN(int64_t roll_sec, config.GetInt("timerRollAfterSec", 0));
  if (roll_sec < 0) return Status::InvalidArgument("timerRollAfterSec must not be negative");
  o.roll_after_ms = roll_sec > 0 ? roll_sec * 1000 : file_reserved_ms / 2;
  return o;
}

Result<std::optional<int64_t>> DueTimeOf(std::string_view properties, int64_t now_ms, const TimerOptions& options) {
  std::string_view found_key;
  std::string_view found_value;
  int found = 0;
  ForEachProperty(properties, [&](std::string_view k, std::string_view v) {
    if (k == kPropDeliverMs || k == kPropDelayMs || k == kPropDelaySec || k == kPropDelayLevel) {
      if (++found == 1) {
        found_key = k;
        found_value = v;
      }
    }
    return true;
  });
  if (found == 0) return std::optional<int64_t>();
  if (found > 1) {
    return Status::InvalidArgument(fmt::format("a message may set only one of {}, {}, {} and {}", kPropDeliverMs,
                                               kPropDelayMs, kPropDelaySec, kPropDelayLevel));
  }
  auto value = ParseWholeNumber(found_value);
  if (!value) {
    return Status::InvalidArgument(fmt::format("property {} = '{}' is not a whole non-negative number", found_key,
                                               found_value.substr(0, std::min<size_t>(found_value.size(), 64))));
  }
  int64_t due = 0;
  if (found_key == kPropDeliverMs) {
    due = *value;
  } else if (found_key == kPropDelayMs) {
    due = *value > options.max_delay_ms ? INT64_MAX : now_ms + *value;
  } else if (found_key == kPropDelaySec) {
    due = *value > options.max_delay_ms / 1000 ? INT64_MAX : now_ms + *value * 1000;
  } else {
    const auto levels = static_cast<int64_t>(options.delay_level_ms.size());
    if (*value < 1 || *value > levels) {
      return Status::InvalidArgument(
          fmt::format("delay level {} does not exist: this broker has levels 1 to {}", *value, levels));
    }
    due = now_ms + options.delay_level_ms[static_cast<size_t>(*value - 1)];
  }
  if (due != INT64_MAX && due - now_ms <= options.max_delay_ms) return std::optional<int64_t>(due);
  return Status::InvalidArgument(fmt::format("property {} = {} asks for a time beyond this broker's horizon of {} s "
                                             "(timerMaxDelaySec)",
                                             found_key, found_value, options.max_delay_ms / 1000));
}

std::string EncodeTimerRecord(const RecordView& original, uint32_t real_queue, int64_t due_ms) {
  RecordFields f = original.ToFields();
  f.topic = kTimerTopic;
  f.queue_id = 0;
  const Decimal queue(real_queue), due(due_ms);
  f.properties = RewriteProperties(
      original.properties, &IsBrokerTimerProperty,
      {{prop::kRealTopic, original.topic}, {prop::kRealQueueId, queue.view()}, {kPropDueMs, due.view()}},
      properties_buffer);
  return EncodeRecordToString(f);
}

std::string EncodeRecallRecord(std::string_view real_topic, std::string_view msg_id, int64_t due_ms,
                               int64_t now_ms) {
  const std::string props = EncodeProperties({{std::string(prop::kRealTopic), std::string(real_topic)},
                                              {std::string(prop::kRealQueueId), "0"},
                                              {std::string(kPropDueMs), std::to_string(due_ms)},
                                              {std::string(kPropRecallId), std::string(msg_id)}});
  RecordFields f;
  f.topic = kTimerTopic;
  f.msg_id = msg_id;
  f.born_timestamp_ms = now_ms;
  f.properties = props;
  return EncodeRecordToString(f);
}

std::string EncodeRolledRecord(const RecordView& timer_record, int64_t rolled_from) {
  RecordFields f = timer_record.ToFields();
  const Decimal from(rolled_from);
  f.properties = RewriteProperties(
      timer_record.properties, [](std::string_view k) { return k == kPropRolledFrom; },
      {{kPropRolledFrom, from.view()}}, properties_buffer);
  return EncodeRecordToString(f);
}

Result<TimerRecord> ParseTimerRecord(const RecordView& record) {
  TimerRecord t;
  std::string_view due, topic, queue, recall, rolled;
  const bool complete = FindProperty(record.properties, kPropDueMs, &due) &&
                        FindProperty(record.properties, prop::kRealTopic, &topic) &&
                        FindProperty(record.properties, prop::kRealQueueId, &queue);
  auto due_ms = complete ? ParseWholeNumber(due) : std::nullopt;
  auto queue_id = complete ? ParseWholeNumber(queue) : std::nullopt;
  if (!due_ms || !queue_id || topic.empty() || *queue_id > UINT32_MAX) {
    return Status::InvalidArgument(fmt::format("timer record at offset {} lacks a valid {}, {} or {}",
                                               record.physical_offset, kPropDueMs, prop::kRealTopic,
                                               prop::kRealQueueId));
  }
  t.due_ms = *due_ms;
  t.real_topic = std::string(topic);
  t.real_queue = static_cast<uint32_t>(*queue_id);
  t.msg_id = std::string(record.msg_id);
  if (FindProperty(record.properties, kPropRecallId, &recall)) {
    t.kind = TimerRecord::Kind::kRecall;
    t.msg_id = std::string(recall);
  } else if (FindProperty(record.properties, kPropRolledFrom, &rolled)) {
    auto from = ParseWholeNumber(rolled);
    if (!from) return Status::InvalidArgument("rolled timer record names no offset");
    t.kind = TimerRecord::Kind::kRolled;
    t.rolled_from = *from;
  }
  return t;
}

std::string EncodeDeliveredRecord(const RecordView& timer_record, const TimerRecord& parsed, uint32_t queue_id) {
  RecordFields f = timer_record.ToFields();
  f.topic = parsed.real_topic;
  f.queue_id = queue_id;
  const Decimal origin(timer_record.physical_offset);
  f.properties = RewriteProperties(timer_record.properties, &IsBrokerTimerProperty,
                                   {{kPropOriginOffset, origin.view()}}, properties_buffer);
  return EncodeRecordToString(f);
}

}  // namespace vela::broker::timer
