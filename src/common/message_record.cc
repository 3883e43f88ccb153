#include "common/message_record.h"

#include <arpa/inet.h>

#include <charconv>

#include <fmt/format.h>

#include "common/coding.h"
#include "common/crc32c.h"

namespace vela {

using namespace record;  // NOLINT: the format constants

std::string EncodeProperties(const Properties& props) {
  std::string out;
  for (const auto& [k, v] : props) {
    out.append(k);
    out.push_back(kPropNameSep);
    out.append(v);
    out.push_back(kPropPairSep);
  }
  return out;
}

bool FindProperty(std::string_view encoded, std::string_view key, std::string_view* value) {
  bool found = false;
  ForEachProperty(encoded, [&](std::string_view k, std::string_view v) {
    if (k == key) {
      *value = v;
      found = true;
      return false;
    }
    return true;
  });
  return found;
}

Properties DecodeProperties(std::string_view encoded) {
  Properties out;
  ForEachProperty(encoded, [&](std::string_view k, std::string_view v) {
    out.emplace_back(std::string(k), std::string(v));
    return true;
  });
  return out;
}

size_t EncodedRecordSize(const RecordFields& f) {
  return kFixedHeaderSize + 2 + f.topic.size() + 2 + f.msg_id.size() + 4 + f.properties.size() + 4 + f.body.size();
}

void EncodeRecord(const RecordFields& f, std::string* out) {
  using namespace coding;  // NOLINT
  const size_t size = EncodedRecordSize(f);
  const size_t start = out->size();
  out->resize(start + size);
  char* p = out->data() + start;
  PutFixed32(p + kOffTotalSize, static_cast<uint32_t>(size));
  PutFixed32(p + kOffMagic, kRecordMagic);
  PutFixed32(p + kOffQueueId, f.queue_id);
  PutFixed64(p + kOffQueueOffset, static_cast<uint64_t>(f.queue_offset));
  PutFixed64(p + kOffPhysicalOffset, static_cast<uint64_t>(f.physical_offset));
  PutFixed32(p + kOffFlags, f.flags);
  PutFixed32(p + kOffReconsume, f.reconsume_times);
  PutFixed64(p + kOffBornTs, static_cast<uint64_t>(f.born_timestamp_ms));
  PutFixed64(p + kOffStoreTs, static_cast<uint64_t>(f.store_timestamp_ms));
  PutFixed64(p + kOffBornHost, f.born_host);
  PutFixed64(p + kOffStoreHost, f.store_host);
  PutFixed64(p + kOffPreparedOffset, static_cast<uint64_t>(f.prepared_offset));
  char* q = p + kOffTopicLength;
  // memcpy from an empty view's null pointer is undefined even for zero bytes: copy only data.
  auto put = [&q](std::string_view field, size_t length_bytes) {
    if (length_bytes == 2) {
      PutFixed16(q, static_cast<uint16_t>(field.size()));
    } else {
      PutFixed32(q, static_cast<uint32_t>(field.size()));
    }
    if (!field.empty()) std::memcpy(q + length_bytes, field.data(), field.size());
    q += length_bytes + field.size();
  };
  put(f.topic, 2);
  put(f.msg_id, 2);
  put(f.properties, 4);
  put(f.body, 4);
  RefreshRecordCrc(p);
}

RecordFields RecordView::ToFields() const {
  RecordFields f;
  f.topic = topic;
  f.queue_id = queue_id;
  f.queue_offset = queue_offset;
  f.physical_offset = physical_offset;
  f.flags = flags;
  f.reconsume_times = reconsume_times;
  f.born_timestamp_ms = born_timestamp_ms;
  f.store_timestamp_ms = store_timestamp_ms;
  f.born_host = born_host;
  f.store_host = store_host;
  f.prepared_offset = prepared_offset;
  f.msg_id = msg_id;
  f.properties = properties;
  f.body = body;
  return f;
}

std::string_view RecordView::Tag() const {
  std::string_view tag;
  FindProperty(properties, prop::kTags, &tag);
  return tag;
}

DecodeOutcome DecodeRecord(std::string_view data, bool verify_crc, RecordView* out, std::string* reason) {
  using namespace coding;  // NOLINT
  auto fail = [&](std::string why) {
    if (reason) *reason = std::move(why);
    return DecodeOutcome::kCorrupt;
  };
  if (data.size() < 8) return DecodeOutcome::kEndOfData;
  const char* p = data.data();
  const uint32_t size = GetFixed32(p + kOffTotalSize);
  const uint32_t magic = GetFixed32(p + kOffMagic);
  if (size == 0 && magic == 0) return DecodeOutcome::kEndOfData;
  if (magic == kBlankMagic) return DecodeOutcome::kBlank;
  if (magic != kRecordMagic) return fail(fmt::format("bad magic {:#x}", magic));
  if (size < kMinRecordSize) return fail(fmt::format("record size {} below the minimum", size));
  if (size > data.size()) return fail(fmt::format("record size {} runs past the {} bytes available", size, data.size()));
  RecordView v;
  v.raw = data.substr(0, size);
  v.queue_id = GetFixed32(p + kOffQueueId);
  v.queue_offset = static_cast<int64_t>(GetFixed64(p + kOffQueueOffset));
  v.physical_offset = static_cast<int64_t>(GetFixed64(p + kOffPhysicalOffset));
  v.flags = GetFixed32(p + kOffFlags);
  v.reconsume_times = GetFixed32(p + kOffReconsume);
  v.born_timestamp_ms = static_cast<int64_t>(GetFixed64(p + kOffBornTs));
  v.store_timestamp_ms = static_cast<int64_t>(GetFixed64(p + kOffStoreTs));
  v.born_host = GetFixed64(p + kOffBornHost);
  v.store_host = GetFixed64(p + kOffStoreHost);
  v.prepared_offset = static_cast<int64_t>(GetFixed64(p + kOffPreparedOffset));
  size_t pos = kOffTopicLength;
  auto take = [&](size_t len_bytes, std::string_view* field) {
    if (pos + len_bytes > size) return false;
    size_t len = len_bytes == 2 ? GetFixed16(p + pos) : GetFixed32(p + pos);
    pos += len_bytes;
    if (len > size - pos) return false;
    *field = std::string_view(p + pos, len);
    pos += len;
    return true;
  };
  if (!take(2, &v.topic) || !take(2, &v.msg_id) || !take(4, &v.properties) || !take(4, &v.body)) {
    return fail("field lengths overrun the record");
  }
  if (pos != size) return fail(fmt::format("record has {} bytes after its last field", size - pos));
  if (v.topic.empty() || v.topic.size() > kMaxTopicLength) return fail("bad topic length");
  if (verify_crc) {
    uint32_t stored = GetFixed32(p + kOffCrc);
    uint32_t actual = crc32c::Value(p + kCrcStart, size - kCrcStart);
    if (stored != actual) return fail(fmt::format("crc mismatch: stored {:#x}, computed {:#x}", stored, actual));
  }
  *out = v;
  return DecodeOutcome::kRecord;
}

void RefreshRecordCrc(char* record) {
  const uint32_t size = coding::GetFixed32(record + kOffTotalSize);
  coding::PutFixed32(record + kOffCrc, crc32c::Value(record + kCrcStart, size - kCrcStart));
}

void StampRecord(char* record, uint32_t queue_id, int64_t queue_offset, int64_t physical_offset,
                 int64_t store_timestamp_ms, uint64_t store_host) {
  coding::PutFixed32(record + kOffQueueId, queue_id);
  coding::PutFixed64(record + kOffQueueOffset, static_cast<uint64_t>(queue_offset));
  coding::PutFixed64(record + kOffPhysicalOffset, static_cast<uint64_t>(physical_offset));
  coding::PutFixed64(record + kOffStoreTs, static_cast<uint64_t>(store_timestamp_ms));
  coding::PutFixed64(record + kOffStoreHost, store_host);
  RefreshRecordCrc(record);
}

uint64_t PackHost(std::string_view host_port) {
  auto colon = host_port.rfind(':');
  if (colon == std::string_view::npos) return 0;
  std::string host(host_port.substr(0, colon));
  if (host == "localhost") host = "127.0.0.1";
  in_addr addr{};
  if (inet_pton(AF_INET, host.c_str(), &addr) != 1) return 0;
  unsigned port = 0;
  auto ps = host_port.substr(colon + 1);
  auto [ptr, ec] = std::from_chars(ps.data(), ps.data() + ps.size(), port);
  if (ec != std::errc() || port > 65535) return 0;
  uint64_t packed = 0;
  std::memcpy(&packed, &addr.s_addr, 4);
  packed |= static_cast<uint64_t>(port) << 32;
  return packed;
}

std::string UnpackHost(uint64_t packed) {
  in_addr addr{};
  auto ip = static_cast<uint32_t>(packed & 0xffffffffu);
  std::memcpy(&addr.s_addr, &ip, 4);
  char buf[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &addr, buf, sizeof(buf));
  return fmt::format("{}:{}", buf, (packed >> 32) & 0xffff);
}

int64_t TagHash(std::string_view tag) {
  if (tag.empty()) return 0;
  // FNV-1a folded to 31 bits, never 0 for a non-empty tag.
  uint64_t h = 1469598103934665603ull;
  for (char c : tag) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  auto v = static_cast<int64_t>((h ^ (h >> 31)) & 0x7fffffff);
  return v == 0 ? 1 : v;
}

std::string EncodeRecordToString(const RecordFields& fields) {
  std::string out;
  out.reserve(EncodedRecordSize(fields));
  EncodeRecord(fields, &out);
  return out;
}

std::string_view RewriteProperties(std::string_view properties, bool (*skip)(std::string_view),
                                   std::initializer_list<PropertyRef> extra, std::string& out) {
  out.clear();
  ForEachProperty(properties, [&](std::string_view k, std::string_view v) {
    if (skip != nullptr && skip(k)) return true;
    out.append(k).append(1, record::kPropNameSep).append(v).append(1, record::kPropPairSep);
    return true;
  });
  for (const auto& [k, v] : extra) out.append(k).append(1, record::kPropNameSep).append(v).append(1, record::kPropPairSep);
  return out;
}

}  // namespace vela
