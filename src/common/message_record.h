#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/record_format.h"
#include "common/result.h"

namespace vela {

// System property names, visible to SQL92 under these names (SQL92.md).
namespace prop {
inline constexpr std::string_view kTags = "TAGS";
inline constexpr std::string_view kKeys = "KEYS";  // space-separated
inline constexpr std::string_view kShardingKey = "SHARDING_KEY";
// Timer messages (RocketMQ's names): at most one of the first four.
inline constexpr std::string_view kTimerDeliverMs = "TIMER_DELIVER_MS";  // epoch ms
inline constexpr std::string_view kTimerDelayMs = "TIMER_DELAY_MS";
inline constexpr std::string_view kTimerDelaySec = "TIMER_DELAY_SEC";
inline constexpr std::string_view kDelayLevel = "DELAY";  // 1..levels of messageDelayLevel
inline constexpr std::string_view kTransactionPrepared = "TRAN_MSG";
inline constexpr std::string_view kProducerGroup = "PGROUP";
// Transactions: the transaction a half message belongs to (the unique id of its first message;
// absent: the message's own id), and the seconds before its first check-back (RocketMQ's names).
inline constexpr std::string_view kTransactionId = "__transactionId__";
inline constexpr std::string_view kCheckImmunitySec = "CHECK_IMMUNITY_TIME_IN_SECONDS";
inline constexpr std::string_view kRealTopic = "REAL_TOPIC";
inline constexpr std::string_view kRealQueueId = "REAL_QID";
inline constexpr std::string_view kRetryTopic = "RETRY_TOPIC";
inline constexpr std::string_view kOriginMsgId = "ORIGIN_MSG_ID";
}  // namespace prop

using Properties = std::vector<std::pair<std::string, std::string>>;

// Encodes properties as key 0x01 value 0x02 pairs. Keys and values must not contain 0x01/0x02
// (ValidateProperty checks that).
std::string EncodeProperties(const Properties& props);
// Calls fn(key, value) for every pair of an encoded properties block; stops early if fn returns
// false. Malformed trailing bytes are ignored.
template <typename Fn>
void ForEachProperty(std::string_view encoded, Fn&& fn) {
  while (!encoded.empty()) {
    auto pair_end = encoded.find(record::kPropPairSep);
    std::string_view pair = encoded.substr(0, pair_end);
    encoded = pair_end == std::string_view::npos ? std::string_view() : encoded.substr(pair_end + 1);
    auto sep = pair.find(record::kPropNameSep);
    if (sep == std::string_view::npos) continue;
    if (!fn(pair.substr(0, sep), pair.substr(sep + 1))) return;
  }
}
// Calls fn(key) for every non-empty key of a KEYS property value (keys are separated by spaces).
template <typename Fn>
void ForEachKey(std::string_view keys, Fn&& fn) {
  while (!keys.empty()) {
    const auto space = keys.find(' ');
    const std::string_view key = keys.substr(0, space);
    keys = space == std::string_view::npos ? std::string_view() : keys.substr(space + 1);
    if (!key.empty()) fn(key);
  }
}
// Returns the value of `key` in an encoded block, or false when absent.
bool FindProperty(std::string_view encoded, std::string_view key, std::string_view* value);
Properties DecodeProperties(std::string_view encoded);

// Fields of a record to be encoded (the producer's side, and broker rewrites).
struct RecordFields {
  std::string_view topic;
  uint32_t queue_id = 0;
  int64_t queue_offset = 0;
  int64_t physical_offset = 0;
  uint32_t flags = 0;
  uint32_t reconsume_times = 0;
  int64_t born_timestamp_ms = 0;
  int64_t store_timestamp_ms = 0;
  uint64_t born_host = 0;
  uint64_t store_host = 0;
  int64_t prepared_offset = 0;
  std::string_view msg_id;
  std::string_view properties;  // encoded
  std::string_view body;
};

// Size the record of `fields` occupies.
size_t EncodedRecordSize(const RecordFields& fields);
// Appends one encoded record, CRC included, to *out.
void EncodeRecord(const RecordFields& fields, std::string* out);
// The same, as a new string of exactly the record's size.
std::string EncodeRecordToString(const RecordFields& fields);

// An encoded properties block with the pairs whose key `skip` names left out (none when skip is
// null) and `extra` appended, written into `out` (cleared first; a buffer the caller may reuse).
// Returns a view of `out`.
using PropertyRef = std::pair<std::string_view, std::string_view>;
std::string_view RewriteProperties(std::string_view properties, bool (*skip)(std::string_view),
                                   std::initializer_list<PropertyRef> extra, std::string& out);

// A decoded view of one record; views point into the bytes it was decoded from.
struct RecordView {
  std::string_view raw;  // the whole record
  uint32_t queue_id = 0;
  int64_t queue_offset = 0;
  int64_t physical_offset = 0;
  uint32_t flags = 0;
  uint32_t reconsume_times = 0;
  int64_t born_timestamp_ms = 0;
  int64_t store_timestamp_ms = 0;
  uint64_t born_host = 0;
  uint64_t store_host = 0;
  int64_t prepared_offset = 0;
  std::string_view topic;
  std::string_view msg_id;
  std::string_view properties;
  std::string_view body;

  RecordFields ToFields() const;
  std::string_view Tag() const;  // the TAGS property or empty
};

enum class DecodeOutcome {
  kRecord,      // a valid record
  kBlank,       // the end-of-segment filler: the rest of the segment is unused
  kEndOfData,   // zeros or fewer bytes than a header: nothing more was written here
  kCorrupt,     // bad magic, impossible sizes, or a CRC mismatch
};

// Decodes the record at the start of `data`. With verify_crc, a CRC mismatch is kCorrupt.
// On kCorrupt, *reason says why. Never reads outside `data`.
DecodeOutcome DecodeRecord(std::string_view data, bool verify_crc, RecordView* out, std::string* reason = nullptr);

// Patches the broker-assigned fields of an encoded record in place and recomputes its CRC.
// REQUIRES: record points at a whole record previously validated by DecodeRecord.
void StampRecord(char* record, uint32_t queue_id, int64_t queue_offset, int64_t physical_offset,
                 int64_t store_timestamp_ms, uint64_t store_host);
// Recomputes the CRC of an encoded record after its fields were patched.
void RefreshRecordCrc(char* record);

// Hosts as stored: IPv4 + port packed in 8 bytes. "a.b.c.d:port" <-> packed; other forms give 0.
uint64_t PackHost(std::string_view host_port);
std::string UnpackHost(uint64_t packed);

// 32-bit hash of a tag as kept in consume-queue entries; 0 means "no tag".
int64_t TagHash(std::string_view tag);

}  // namespace vela
