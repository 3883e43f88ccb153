#include "net/frame_codec.h"

#include <fmt/format.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include "common/coding.h"

namespace vela::net {

Status CheckFrameLength(uint32_t frame_length, uint32_t max_frame_size) {
  if (frame_length > max_frame_size) {
    return Status(StatusCode::kInvalidArgument,
                  fmt::format("frame of {} bytes exceeds the maximum of {} bytes", frame_length, max_frame_size),
                  SubCode::kFrameTooLarge);
  }
  if (frame_length < 4) return Status::InvalidArgument(fmt::format("frame of {} bytes is too short", frame_length));
  return Status::OK();
}

Result<Frame> DecodeFrame(std::string_view data) {
  if (data.size() < 4) return Status::InvalidArgument("frame too short for its header length");
  uint32_t header_length = coding::GetBigEndian32(data.data());
  if (header_length > kMaxHeaderSize) {
    return Status::InvalidArgument(
        fmt::format("header of {} bytes exceeds the {} KiB cap", header_length, kMaxHeaderSize / 1024));
  }
  if (header_length > data.size() - 4) {
    return Status::InvalidArgument(
        fmt::format("header length {} overruns the frame of {} bytes", header_length, data.size()));
  }
  Frame frame;
  if (!frame.header.ParseFromArray(data.data() + 4, static_cast<int>(header_length))) {
    return Status::InvalidArgument("frame header is not a valid vela.v1.Header");
  }
  frame.body.assign(data.data() + 4 + header_length, data.size() - 4 - header_length);
  return frame;
}

std::optional<v1::Header> ReadRefusedEnvelope(std::string_view data) {
  if (data.size() < 4) return std::nullopt;
  const uint32_t header_length = coding::GetBigEndian32(data.data());
  if (header_length <= kMaxHeaderSize || header_length > data.size() - 4) return std::nullopt;
  using google::protobuf::internal::WireFormatLite;
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(data.data() + 4),
                                            static_cast<int>(header_length));
  v1::Header envelope;
  while (const uint32_t tag = in.ReadTag()) {
    const int field = WireFormatLite::GetTagFieldNumber(tag);
    const bool varint = WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_VARINT;
    uint64_t value = 0;
    if (varint && field >= v1::Header::kRequestIdFieldNumber && field <= v1::Header::kFlagsFieldNumber) {
      if (!in.ReadVarint64(&value)) break;
      if (field == v1::Header::kRequestIdFieldNumber) envelope.set_request_id(value);
      if (field == v1::Header::kCodeFieldNumber) envelope.set_code(static_cast<v1::RequestCode>(value));
      if (field == v1::Header::kFlagsFieldNumber) envelope.set_flags(static_cast<uint32_t>(value));
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      break;
    }
  }
  return envelope;
}

std::string EncodeFrameHead(const v1::Header& header, size_t body_size) {
  const size_t header_size = header.ByteSizeLong();
  std::string out;
  out.resize(8 + header_size);
  coding::PutBigEndian32(out.data(), static_cast<uint32_t>(4 + header_size + body_size));
  coding::PutBigEndian32(out.data() + 4, static_cast<uint32_t>(header_size));
  header.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(out.data() + 8));
  return out;
}

std::string EncodeFrame(const v1::Header& header, std::string_view body) {
  std::string out = EncodeFrameHead(header, body.size());
  out.append(body);
  return out;
}

}  // namespace vela::net
