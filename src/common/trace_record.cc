#include "common/trace_record.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <unordered_set>
#include <utility>

#include <fmt/format.h>

#include "common/coding.h"
#include "common/message_record.h"
#include "common/validation.h"

namespace vela::trace {
namespace {

struct TypeName {
  EventType type;
  std::string_view name;
  int rank;
};
constexpr std::array<TypeName, 8> kTypes = {{
    {EventType::kSend, "send", 0},
    {EventType::kStore, "store", 1},
    {EventType::kTimerRecalled, "timer_recalled", 2},
    {EventType::kTimerDue, "timer_due", 2},
    {EventType::kTransactionCheck, "transaction_check", 2},
    {EventType::kTransactionCommit, "transaction_commit", 3},
    {EventType::kTransactionRollback, "transaction_rollback", 3},
    {EventType::kConsume, "consume", 4},
}};

// Field names of the encoded body.
constexpr std::string_view kFieldVersion = "v";
constexpr std::string_view kFieldType = "type";
constexpr std::string_view kFieldId = "id";
constexpr std::string_view kFieldTime = "time";
constexpr std::string_view kFieldTopic = "topic";
constexpr std::string_view kFieldClient = "client";
constexpr std::string_view kFieldGroup = "group";
constexpr std::string_view kFieldCost = "cost_us";
constexpr std::string_view kFieldStatus = "status";
constexpr std::string_view kFieldKeys = "keys";
constexpr std::string_view kFieldTags = "tags";
constexpr std::string_view kFieldBroker = "broker";
constexpr std::string_view kFieldQueue = "queue";
constexpr std::string_view kFieldOffset = "offset";
constexpr std::string_view kFieldAttempt = "attempt";
constexpr std::string_view kFieldDetail = "detail";
constexpr std::string_view kFieldStoreTime = "stored";

Status CheckText(std::string_view field, std::string_view value) {
  if (value.size() > kMaxPropertyValueLength) {
    return Status::InvalidArgument(fmt::format("trace field {} is {} bytes, above the limit of {}", field,
                                               value.size(), kMaxPropertyValueLength));
  }
  if (value.find(record::kPropNameSep) != std::string_view::npos ||
      value.find(record::kPropPairSep) != std::string_view::npos) {
    return Status::InvalidArgument(fmt::format("trace field {} holds a separator byte (0x01 or 0x02)", field));
  }
  return Status::OK();
}

template <typename Int>
bool ParseInt(std::string_view text, Int* out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

void Put(std::string* out, std::string_view key, std::string_view value) {
  out->append(key);
  out->push_back(record::kPropNameSep);
  out->append(value);
  out->push_back(record::kPropPairSep);
}

}  // namespace

std::string_view EventTypeName(EventType type) {
  for (const TypeName& t : kTypes) {
    if (t.type == type) return t.name;
  }
  return "unknown";
}

Result<EventType> ParseEventType(std::string_view name) {
  for (const TypeName& t : kTypes) {
    if (t.name == name) return t.type;
  }
  return Status::InvalidArgument(fmt::format("unknown trace event type '{}'", name));
}

int EventTypeRank(EventType type) {
  for (const TypeName& t : kTypes) {
    if (t.type == type) return t.rank;
  }
  return 5;
}

bool TimelineBefore(const TraceEvent& a, const TraceEvent& b) {
  if (a.time_ms != b.time_ms) return a.time_ms < b.time_ms;
  if (EventTypeRank(a.type) != EventTypeRank(b.type)) return EventTypeRank(a.type) < EventTypeRank(b.type);
  return a.attempt < b.attempt;
}

namespace {

template <typename Text>
Status ValidateEvent(const BasicTraceEvent<Text>& e) {
  if (Status id = ValidateMessageId(e.msg_id); !id.ok()) return id.WithContext("trace event");
  if (e.time_ms <= 0) return Status::InvalidArgument("trace event has no time");
  if (!e.status.empty() && e.status != "ok" && e.status != "failed") {
    return Status::InvalidArgument(fmt::format("trace event status '{}' is neither ok nor failed", e.status));
  }
  if (e.cost_us < -1 || e.queue_id < -1 || e.queue_offset < -1 || e.attempt < -1 || e.attempt == 0 ||
      e.store_time_ms < -1) {
    return Status::InvalidArgument("trace event has a negative cost, queue, offset, attempt or store time");
  }
  if (e.store_time_ms >= 0 && (e.type != EventType::kSend || e.broker.empty())) {
    return Status::InvalidArgument("only a send event carries a store time, with the broker's address");
  }
  const std::pair<std::string_view, std::string_view> texts[] = {
      {kFieldTopic, e.topic}, {kFieldClient, e.client_id}, {kFieldGroup, e.group},   {kFieldKeys, e.keys},
      {kFieldTags, e.tags},   {kFieldBroker, e.broker},    {kFieldDetail, e.detail}};
  for (const auto& [field, value] : texts) VELA_RETURN_IF_ERROR(CheckText(field, value));
  return Status::OK();
}

}  // namespace

Status ValidateTraceEvent(const TraceEvent& e) { return ValidateEvent(e); }
Status ValidateTraceEvent(const TraceEventView& e) { return ValidateEvent(e); }

std::string EncodeTraceEvent(const TraceEvent& e, size_t* id_at) {
  std::string out;
  EncodeTraceEventInto(e, &out, id_at);
  return out;
}

void EncodeTraceEventInto(const TraceEvent& e, std::string* encoded, size_t* id_at) {
  std::string& out = *encoded;
  out.clear();
  out.reserve(128 + e.topic.size() + e.client_id.size() + e.group.size() + e.keys.size() + e.detail.size());
  Put(&out, kFieldVersion, kTraceFormatVersion);
  Put(&out, kFieldType, EventTypeName(e.type));
  if (id_at != nullptr) *id_at = out.size() + kFieldId.size() + 1;
  Put(&out, kFieldId, e.msg_id);
  auto number = [&](std::string_view key, int64_t value) {
    if (value < 0) return;
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
    Put(&out, key, std::string_view(digits, static_cast<size_t>(end - digits)));
  };
  number(kFieldTime, e.time_ms);
  auto text = [&](std::string_view key, const std::string& value) {
    if (!value.empty()) Put(&out, key, value);
  };
  text(kFieldTopic, e.topic);
  text(kFieldClient, e.client_id);
  text(kFieldGroup, e.group);
  number(kFieldCost, e.cost_us);
  text(kFieldStatus, e.status);
  text(kFieldKeys, e.keys);
  text(kFieldTags, e.tags);
  text(kFieldBroker, e.broker);
  number(kFieldQueue, e.queue_id);
  number(kFieldOffset, e.queue_offset);
  number(kFieldAttempt, e.attempt);
  number(kFieldStoreTime, e.store_time_ms);
  text(kFieldDetail, e.detail);
}

namespace {

// Decodes one encoded event into *out (text fields assigned from views into `body`).
template <typename Text>
Status DecodeEvent(std::string_view body, BasicTraceEvent<Text>* out) {
  BasicTraceEvent<Text>& e = *out;
  Status error;
  uint32_t seen = 0;  // one bit per field, so that a field given twice is refused
  bool has_version = false, has_type = false, has_id = false, has_time = false;
  // Every pair must be whole: ForEachProperty skips malformed pairs, which a trace record may not hold.
  if (!body.empty() && body.back() != record::kPropPairSep) {
    return Status::InvalidArgument("trace record body does not end with a whole field");
  }
  ForEachProperty(body, [&](std::string_view key, std::string_view value) {
    static constexpr std::string_view kFields[] = {kFieldVersion, kFieldType,   kFieldId,     kFieldTime,
                                                   kFieldTopic,   kFieldClient, kFieldGroup,  kFieldCost,
                                                   kFieldStatus,  kFieldKeys,   kFieldTags,   kFieldBroker,
                                                   kFieldQueue,   kFieldOffset, kFieldAttempt, kFieldDetail,
                                                   kFieldStoreTime};
    size_t index = 0;
    while (index < std::size(kFields) && kFields[index] != key) ++index;
    if (index == std::size(kFields)) {
      error = Status::InvalidArgument(fmt::format("unknown trace field '{}'", key));
      return false;
    }
    if ((seen & (1u << index)) != 0) {
      error = Status::InvalidArgument(fmt::format("trace field '{}' given twice", key));
      return false;
    }
    seen |= 1u << index;
    auto number = [&](auto* out) {
      if (!ParseInt(value, out) || *out < 0) {
        error = Status::InvalidArgument(fmt::format("trace field '{}' is not a number: '{}'", key, value));
        return false;
      }
      return true;
    };
    if (key == kFieldVersion) {
      if (value != kTraceFormatVersion) {
        error = Status::InvalidArgument(fmt::format("unknown trace format version '{}'", value));
        return false;
      }
      has_version = true;
    } else if (key == kFieldType) {
      auto type = ParseEventType(value);
      if (!type.ok()) {
        error = type.status();
        return false;
      }
      e.type = *type;
      has_type = true;
    } else if (key == kFieldId) {
      e.msg_id = value;
      has_id = true;
    } else if (key == kFieldTime) {
      if (!number(&e.time_ms)) return false;
      has_time = true;
    } else if (key == kFieldTopic) {
      e.topic = value;
    } else if (key == kFieldClient) {
      e.client_id = value;
    } else if (key == kFieldGroup) {
      e.group = value;
    } else if (key == kFieldCost) {
      return number(&e.cost_us);
    } else if (key == kFieldStatus) {
      e.status = value;
    } else if (key == kFieldKeys) {
      e.keys = value;
    } else if (key == kFieldTags) {
      e.tags = value;
    } else if (key == kFieldBroker) {
      e.broker = value;
    } else if (key == kFieldQueue) {
      return number(&e.queue_id);
    } else if (key == kFieldOffset) {
      return number(&e.queue_offset);
    } else if (key == kFieldAttempt) {
      return number(&e.attempt);
    } else if (key == kFieldStoreTime) {
      return number(&e.store_time_ms);
    } else {
      e.detail = value;
    }
    return true;
  });
  if (!error.ok()) return error;
  if (!has_version) return Status::InvalidArgument("trace record has no format version");
  if (!has_type || !has_id || !has_time) return Status::InvalidArgument("trace record lacks its type, id or time");
  return ValidateEvent(e);
}

// Calls fn(index, encoded event) for each event of a trace record's body, after checking the
// framing (not empty, at most kMaxEventsPerRecord, lengths within the body); stops at the first
// error fn returns, with the event's index as context.
template <typename Fn>
Status ForEachEncodedEvent(std::string_view body, Fn&& fn) {
  if (body.empty()) return Status::InvalidArgument("trace record body holds no event");
  for (size_t index = 0; !body.empty(); ++index) {
    if (index == kMaxEventsPerRecord) {
      return Status::InvalidArgument(fmt::format("trace record holds more than {} events", kMaxEventsPerRecord));
    }
    if (body.size() < 4) return Status::InvalidArgument("trace record body ends inside an event's length");
    const uint32_t length = coding::GetFixed32(body.data());
    body.remove_prefix(4);
    if (length > body.size()) {
      return Status::InvalidArgument(fmt::format("trace event {} claims {} bytes, {} remain", index, length,
                                                 body.size()));
    }
    if (Status st = fn(body.substr(0, length)); !st.ok()) return st.WithContext(fmt::format("trace event {}", index));
    body.remove_prefix(length);
  }
  return Status::OK();
}

}  // namespace

Result<TraceEvent> DecodeTraceEvent(std::string_view body) {
  TraceEvent e;
  VELA_RETURN_IF_ERROR(DecodeEvent(body, &e));
  return e;
}

Result<TraceEventView> DecodeTraceEventView(std::string_view body) {
  TraceEventView e;
  VELA_RETURN_IF_ERROR(DecodeEvent(body, &e));
  return e;
}

Result<std::vector<TraceEvent>> DecodeTraceEvents(std::string_view body) {
  std::vector<TraceEvent> events;
  VELA_RETURN_IF_ERROR(ForEachEncodedEvent(body, [&](std::string_view encoded) {
    return DecodeEvent(encoded, &events.emplace_back());
  }));
  return events;
}

Status AppendEventsOfMessage(std::string_view body, std::string_view msg_id, std::vector<TraceEvent>* out) {
  std::vector<TraceEvent> found;  // appended only when the whole body decodes
  VELA_RETURN_IF_ERROR(ForEachEncodedEvent(body, [&](std::string_view encoded) {
    TraceEventView view;
    VELA_RETURN_IF_ERROR(DecodeEvent(encoded, &view));
    if (view.msg_id != msg_id) return Status::OK();
    TraceEvent& event = found.emplace_back();
    VELA_RETURN_IF_ERROR(DecodeEvent(encoded, &event));
    if (event.store_time_ms < 0) return Status::OK();
    // A send that carries its store: the store becomes an event of its own, with the detail (a
    // stored send has no error to report, only a note such as a timer's due time).
    TraceEvent store;
    store.type = EventType::kStore;
    store.msg_id = event.msg_id;
    store.time_ms = event.store_time_ms;
    store.topic = event.topic;
    store.broker = std::move(event.broker);
    store.queue_id = std::exchange(event.queue_id, -1);
    store.queue_offset = std::exchange(event.queue_offset, -1);
    store.detail = std::move(event.detail);
    event.broker.clear();
    event.detail.clear();
    event.store_time_ms = -1;
    found.push_back(std::move(store));  // `event` is not used after this
    return Status::OK();
  }));
  out->insert(out->end(), std::make_move_iterator(found.begin()), std::make_move_iterator(found.end()));
  return Status::OK();
}

TraceRecordBuilder::AddOutcome TraceRecordBuilder::Add(const TraceEvent& event, Status* why) {
  if (Status valid = ValidateTraceEvent(event); !valid.ok()) {
    if (why != nullptr) *why = std::move(valid);
    return AddOutcome::kInvalid;
  }
  return AddEncoded(event.msg_id, EncodeTraceEvent(event));
}

TraceRecordBuilder::AddOutcome TraceRecordBuilder::AddEncoded(std::string_view msg_id, std::string_view encoded) {
  if (events_ == kMaxEventsPerRecord) return AddOutcome::kFull;
  // A record never passes kMaxTraceBodyBytes; one event alone is at most ~120 KiB.
  if (body_.size() + 4 + encoded.size() > kMaxTraceBodyBytes) return AddOutcome::kFull;
  const bool new_id = !SeenId(msg_id, /*add=*/false);
  if (new_id && keys_.size() + 1 + msg_id.size() > kMaxPropertyValueLength) return AddOutcome::kFull;
  coding::AppendFixed32(&body_, static_cast<uint32_t>(encoded.size()));
  body_.append(encoded);
  if (new_id) {
    if (!keys_.empty()) keys_ += ' ';
    (void)SeenId(msg_id, /*add=*/true);
    keys_.append(msg_id);
  }
  ++events_;
  return AddOutcome::kAdded;
}

bool TraceRecordBuilder::SeenId(std::string_view id, bool add) {
  // keys_ stays within kMaxPropertyValueLength (< 2^16), so offset and size fit 16 bits each.
  static_assert(kMaxPropertyValueLength < (1u << 16));
  constexpr size_t kMask = kIdSlots - 1;
  static_assert((kIdSlots & kMask) == 0, "a power of two");
  for (size_t i = std::hash<std::string_view>{}(id) & kMask;; i = (i + 1) & kMask) {
    const uint32_t slot = id_slots_[i];
    if (slot == 0) {
      if (add) id_slots_[i] = static_cast<uint32_t>(keys_.size() << 16 | id.size());
      return false;
    }
    if (std::string_view(keys_).substr(slot >> 16, slot & 0xffff) == id) return true;
  }
}

void TraceRecordBuilder::Finish(std::string_view record_id, uint64_t born_host, int64_t born_ms, std::string* out) {
  std::string properties;
  Put(&properties, prop::kKeys, keys_);
  Put(&properties, prop::kTags, kTraceTag);
  RecordFields fields;
  fields.topic = kTraceTopic;
  fields.born_timestamp_ms = born_ms;
  fields.born_host = born_host;
  fields.msg_id = record_id;
  fields.properties = properties;
  fields.body = body_;
  EncodeRecord(fields, out);
  body_.clear();
  keys_.clear();
  std::fill(id_slots_.begin(), id_slots_.end(), 0);
  events_ = 0;
}

Result<size_t> ValidateTraceRecord(std::string_view topic, uint32_t flags, std::string_view properties,
                                   std::string_view body) {
  if (topic != kTraceTopic) {
    return Status::InvalidArgument(fmt::format("a trace record is for topic {}, not {}", kTraceTopic, topic));
  }
  if (flags != 0) return Status::InvalidArgument(fmt::format("a trace record sets record flags {:#x}", flags));
  if (body.size() > kMaxTraceBodyBytes) {
    return Status::InvalidArgument(
        fmt::format("a trace record body takes {} bytes, above the limit of {}", body.size(), kMaxTraceBodyBytes));
  }
  std::string_view keys;
  bool has_keys = false, tags_ok = false, other = false;
  ForEachProperty(properties, [&](std::string_view key, std::string_view value) {
    if (key == prop::kKeys && !has_keys) {
      keys = value;
      has_keys = true;
    } else if (key == prop::kTags && !tags_ok) {
      tags_ok = value == kTraceTag;
    } else {
      other = true;
    }
    return true;
  });
  // The events are decoded in place (nothing copied), and KEYS is matched as they go: it must be
  // the events' distinct ids, in order of first appearance, space-separated.
  size_t events = 0;
  std::string_view keys_left = keys;
  bool keys_ok = has_keys;
  std::string_view last_id;  // events of one message come together: most repeats are the last id
  std::unordered_set<std::string_view> seen;
  VELA_RETURN_IF_ERROR(ForEachEncodedEvent(body, [&](std::string_view encoded) {
    TraceEventView e;
    VELA_RETURN_IF_ERROR(DecodeEvent(encoded, &e));
    ++events;
    if (e.msg_id == last_id || !seen.insert(e.msg_id).second) return Status::OK();
    last_id = e.msg_id;
    if (keys_left.size() != keys.size()) {  // not the first id: a space before it
      keys_ok = keys_ok && keys_left.starts_with(' ');
      if (keys_ok) keys_left.remove_prefix(1);
    }
    keys_ok = keys_ok && keys_left.starts_with(e.msg_id);
    if (keys_ok) keys_left.remove_prefix(e.msg_id.size());
    return Status::OK();
  }));
  if (!keys_ok || !keys_left.empty() || !tags_ok || other) {
    return Status::InvalidArgument(
        fmt::format("a trace record's properties must be exactly KEYS=<the distinct ids of its events, in order> "
                    "and TAGS={}",
                    kTraceTag));
  }
  return events;
}

}  // namespace vela::trace
