#pragma once

#include <cstddef>
#include <cstdint>

// Constants of the message record format: the unit of the commit log, of a send request's body
// and of a pull response's body. docs/storage-format.md describes it; both change together.
// All integers are little-endian.
//
//   offset size field
//   0      4    total_size        bytes of the whole record, this field included
//   4      4    magic             kRecordMagic (format version in the low byte), or kBlankMagic
//   8      4    crc               CRC-32C of bytes [12, total_size)
//   12     4    queue_id
//   16     8    queue_offset      index in the consume queue (set by the broker)
//   24     8    physical_offset   byte offset in the commit log (set by the broker)
//   32     4    flags             RecordFlag bits
//   36     4    reconsume_times
//   40     8    born_timestamp_ms
//   48     8    store_timestamp_ms (set by the broker)
//   56     8    born_host         IPv4 (4, network order) + port (2, little-endian) + 2 zero bytes
//   64     8    store_host        same layout (set by the broker)
//   72     8    prepared_offset   transaction: physical offset of the half message, else 0
//   80     2    topic_length      then the topic bytes
//   ..     2    msg_id_length     then the message id bytes
//   ..     4    properties_length then the properties (key 0x01 value 0x02, repeated)
//   ..     4    body_length       then the body bytes
namespace vela::record {

inline constexpr uint32_t kRecordMagic = 0x56454C01;  // "VEL" + format version 1
inline constexpr uint32_t kBlankMagic = 0x56454CFF;   // end-of-segment filler: skip to the next segment
inline constexpr size_t kFixedHeaderSize = 80;
inline constexpr size_t kMinRecordSize = kFixedHeaderSize + 2 + 2 + 4 + 4;
inline constexpr size_t kCrcStart = 12;  // the CRC covers [kCrcStart, total_size)

inline constexpr size_t kOffTotalSize = 0;
inline constexpr size_t kOffMagic = 4;
inline constexpr size_t kOffCrc = 8;
inline constexpr size_t kOffQueueId = 12;
inline constexpr size_t kOffQueueOffset = 16;
inline constexpr size_t kOffPhysicalOffset = 24;
inline constexpr size_t kOffFlags = 32;
inline constexpr size_t kOffReconsume = 36;
inline constexpr size_t kOffBornTs = 40;
inline constexpr size_t kOffStoreTs = 48;
inline constexpr size_t kOffBornHost = 56;
inline constexpr size_t kOffStoreHost = 64;
inline constexpr size_t kOffPreparedOffset = 72;
inline constexpr size_t kOffTopicLength = 80;

inline constexpr size_t kMaxTopicLength = 127;
inline constexpr size_t kMaxMsgIdLength = 128;

// Bits of the flags field.
enum RecordFlag : uint32_t {
  kFlagNone = 0,
  kFlagTransactionPrepared = 1u << 0,  // a half message: stored, never delivered from its topic
  kFlagTransactionCommit = 1u << 1,    // the committed copy of a half message
  kFlagTransactionRollback = 1u << 2,
  kFlagBodyCompressed = 1u << 3,
};

// Separators of the properties encoding.
inline constexpr char kPropNameSep = '\x01';
inline constexpr char kPropPairSep = '\x02';

}  // namespace vela::record
