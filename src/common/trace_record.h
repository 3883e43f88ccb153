#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

// Message trace (DESIGN.md §7.1, docs/protocol.md "Message trace"): the events of a traced
// message's life (sent, stored, consumed, a timer due, a transaction committed, ...) are written as records
// of the reserved system topic RMQ_SYS_TRACE_TOPIC. One record carries a batch of events (up to
// kMaxEventsPerRecord, of any number of messages); its KEYS property lists the distinct ids of the
// messages its events are about, so that the store's key index finds every record holding a
// message's events. The SDK (EnableTrace) writes the send, store and consume events; the broker's
// timer and transaction services write their own for messages that carry the trace flag property.
// Shared by the SDK (encode), the broker (validate, encode) and vela-admin and the console (decode).
namespace vela::trace {

// The reserved topic of trace records (RocketMQ's name).
inline constexpr std::string_view kTraceTopic = "RMQ_SYS_TRACE_TOPIC";
// The property a tracing producer sets on each message it sends ("true"), so that the broker's
// services add their own events for it (RocketMQ's name).
inline constexpr std::string_view kTraceFlagProperty = "TRACE_ON";
// The tag of every trace record (a consumer of the trace topic may filter on it).
inline constexpr std::string_view kTraceTag = "TRACE";
// The format version written in every event of a trace record's body ("2": a record holds a batch
// of length-prefixed events; "1", one event per record, is no longer read).
inline constexpr std::string_view kTraceFormatVersion = "2";
// The most events one trace record holds.
inline constexpr size_t kMaxEventsPerRecord = 1024;
// The most body bytes one trace record holds (a batch is cut before it would grow past this).
inline constexpr size_t kMaxTraceBodyBytes = 1024 * 1024;

enum class EventType {
  kSend,                 // SDK: the producer's send of the message (cost, status)
  kStore,                // where the broker stored it: written inside the send event (store_time_ms),
                         // and read back as an event of its own (AppendEventsOfMessage)
  kConsume,              // SDK: one delivery to a listener (group, attempt, cost, result)
  kTimerDue,             // broker: a timer message was due and published into its topic
  kTimerRecalled,        // broker: a pending timer message was recalled
  kTransactionCommit,    // broker: the message's transaction was committed
  kTransactionRollback,  // broker: the message's transaction was rolled back
  kTransactionCheck,     // broker: the producer group was asked for the transaction's state
};

// "send", "store", "consume", "timer_due", "timer_recalled", "transaction_commit",
// "transaction_rollback", "transaction_check".
std::string_view EventTypeName(EventType type);
// The inverse of EventTypeName; InvalidArgument for any other name.
Result<EventType> ParseEventType(std::string_view name);
// Where an event sorts among events of the same millisecond: send, store, broker events, consume.
int EventTypeRank(EventType type);

// One trace event. Fields that do not apply to an event's type are left empty / -1 and are not
// encoded. `Text` is std::string for an event that owns its fields (TraceEvent), std::string_view
// for one decoded in place, pointing into the encoded bytes (TraceEventView: the broker's checks
// on the append path, which copy nothing).
template <typename Text>
struct BasicTraceEvent {
  EventType type = EventType::kSend;
  Text msg_id;             // the traced message's unique id (required)
  int64_t time_ms = 0;     // when it happened, epoch ms (required, > 0)
  Text topic;              // the traced message's topic
  Text client_id;          // send, consume: the client that sent or consumed it
  Text group;              // send: producer group; consume: consumer group
  int64_t cost_us = -1;    // send: until the acknowledgement; consume: the listener's run
  Text status;             // send: "ok" | "failed"; consume: "ok" | "failed"
  Text keys;               // send: the message's keys, space-separated
  Text tags;               // send: the message's tag
  Text broker;             // store and broker events: the broker's address
  int32_t queue_id = -1;   // store
  int64_t queue_offset = -1;  // store
  int32_t attempt = -1;    // consume: 1 for the first delivery, reconsume times + 1 after
  int64_t store_time_ms = -1;  // send: when the broker stored the message (with broker, queue_id,
                               // queue_offset: the store event, carried by the send event)
  Text detail;             // free text: a send error, a transaction's outcome source, ...

  bool operator==(const BasicTraceEvent&) const = default;
};
using TraceEvent = BasicTraceEvent<std::string>;
using TraceEventView = BasicTraceEvent<std::string_view>;

// Timeline order (a strict weak order for std::stable_sort): by time; within a millisecond by
// EventTypeRank, then consumes by attempt.
bool TimelineBefore(const TraceEvent& a, const TraceEvent& b);

// Checks what every event needs: a valid message id, time_ms > 0, a status of "ok" or "failed"
// where one is set, every text field free of the properties separators (0x01, 0x02) and at most
// 16 KiB. InvalidArgument naming the first problem.
Status ValidateTraceEvent(const TraceEvent& event);
Status ValidateTraceEvent(const TraceEventView& event);

// One event's fields as an encoded properties block (key 0x01 value 0x02 pairs: v, type, id, time,
// and the fields that are set); *id_at, when given, is where the message id starts in it.
// REQUIRES: ValidateTraceEvent(event).
std::string EncodeTraceEvent(const TraceEvent& event, size_t* id_at = nullptr);
// The same into *encoded (replacing what it held; its capacity is reused).
void EncodeTraceEventInto(const TraceEvent& event, std::string* encoded, size_t* id_at = nullptr);
// Decodes and validates one encoded event. InvalidArgument for an unknown version, type or field,
// a field given twice, a number that does not parse, or an event ValidateTraceEvent refuses.
Result<TraceEvent> DecodeTraceEvent(std::string_view encoded);
// The same, decoded in place: the view's text fields point into `encoded`.
Result<TraceEventView> DecodeTraceEventView(std::string_view encoded);

// The body of a trace record: each event as a 4-byte little-endian length followed by its
// EncodeTraceEvent block. Decoding refuses an empty body, more than kMaxEventsPerRecord events,
// a length that runs past the body, and any event DecodeTraceEvent refuses.
Result<std::vector<TraceEvent>> DecodeTraceEvents(std::string_view body);
// Appends to `out` the events of a trace record's body that are about message `msg_id`;
// InvalidArgument (nothing appended) when the body does not decode. A send event that carries
// its store (store_time_ms set) is appended as two events: the send, and the store (broker,
// queue, offset and detail), so that readers see the same timeline as from separate events.
Status AppendEventsOfMessage(std::string_view body, std::string_view msg_id, std::vector<TraceEvent>* out);

// TraceRecordBuilder gathers events into one trace record, in the store format: topic
// RMQ_SYS_TRACE_TOPIC, queue 0, its own unique id, properties KEYS = the distinct message ids of
// its events in order of first appearance (space-separated) and TAGS = TRACE, the events as its
// body. It guarantees that what Finish writes is a record ValidateTraceRecord accepts: Add refuses
// an invalid event and reports when the record is full (kMaxEventsPerRecord events, the KEYS value
// at the properties' value limit, or kMaxTraceBodyBytes). Not thread-safe.
class TraceRecordBuilder {
 public:
  enum class AddOutcome {
    kAdded,
    kFull,     // not added: Finish this record and add the event to the next one
    kInvalid,  // not added, ever: ValidateTraceEvent refused the event (see `why`)
  };
  AddOutcome Add(const TraceEvent& event, Status* why = nullptr);
  // Adds an event about message `msg_id` encoded by EncodeTraceEvent from an event
  // ValidateTraceEvent accepted (so never kInvalid).
  AddOutcome AddEncoded(std::string_view msg_id, std::string_view encoded);
  size_t events() const { return events_; }
  bool empty() const { return events_ == 0; }
  // Appends the record to `out` and starts an empty one. REQUIRES: !empty().
  void Finish(std::string_view record_id, uint64_t born_host, int64_t born_ms, std::string* out);

 private:
  // Whether `id` is in keys_ already; if not and `add`, records that it is about to be appended
  // at keys_'s current end.
  bool SeenId(std::string_view id, bool add);

  std::string body_;
  std::string keys_;  // the distinct ids, space-separated
  // The distinct ids as an open-addressing set of slots, each 0 (empty) or where an id lies in
  // keys_ (offset << 16 | size): a record holds at most kMaxEventsPerRecord ids, so the table is
  // at most half full, and adding an id allocates nothing (it runs once per traced message).
  static constexpr size_t kIdSlots = 2 * kMaxEventsPerRecord;
  std::vector<uint32_t> id_slots_ = std::vector<uint32_t>(kIdSlots, 0);
  size_t events_ = 0;
};

// Checks that a record (decoded from a SEND_TRACE request) is a well-formed trace record as
// TraceRecordBuilder writes them: topic RMQ_SYS_TRACE_TOPIC, no flags, exactly the properties KEYS
// (the distinct ids of its events, in order of first appearance) and TAGS (TRACE), and a body
// DecodeTraceEvents accepts. Returns the number of events.
Result<size_t> ValidateTraceRecord(std::string_view topic, uint32_t flags, std::string_view properties,
                                   std::string_view body);

}  // namespace vela::trace
