#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "vela/v1/vela.pb.h"

// The frame format of DESIGN.md §5, pure functions with no I/O:
//   | u32 frame_length | u32 header_length | header (protobuf vela.v1.Header) | body (raw) |
// Lengths are big-endian; frame_length counts everything after itself.
namespace vela::net {

inline constexpr uint32_t kProtocolVersion = 1;
inline constexpr uint32_t kDefaultMaxFrameSize = 16 * 1024 * 1024;
inline constexpr size_t kLengthPrefixSize = 4;
// Headers are parsed whole up to this size; a larger one inside a sound frame is answered with an
// error on its request id (see ReadRefusedEnvelope) and the connection goes on.
inline constexpr uint32_t kMaxHeaderSize = 1024 * 1024;

enum FrameFlag : uint32_t {
  kFlagResponse = 1u << 0,
  kFlagOneway = 1u << 1,
};

// A decoded frame: the parsed header and the body bytes (owned).
struct Frame {
  v1::Header header;
  std::string body;

  bool is_response() const { return (header.flags() & kFlagResponse) != 0; }
  bool is_oneway() const { return (header.flags() & kFlagOneway) != 0; }
};

// Checks a received frame_length against the limit before anything else is read.
// Returns InvalidArgument (SubCode::kFrameTooLarge) above max_frame_size, or when too small to
// hold the header length.
Status CheckFrameLength(uint32_t frame_length, uint32_t max_frame_size);

// Decodes the bytes after the length prefix (exactly frame_length bytes). Fails with
// InvalidArgument on a header length above kMaxHeaderSize ("header of N bytes exceeds the 1024 KiB
// cap"), a header length that overruns the frame, or a header that does not parse.
Result<Frame> DecodeFrame(std::string_view after_length_prefix);

// For a frame DecodeFrame refused: when only its header's size was at fault (over kMaxHeaderSize
// but inside the frame), the frame's bounds are sound and the header is read field by field,
// without parsing the rest, for its request id, code and flags, so that the request can be
// answered and the stream read on. nullopt when the frame was refused for anything else (the
// stream cannot be trusted past it). Fields after the first malformed byte are left unset.
std::optional<v1::Header> ReadRefusedEnvelope(std::string_view after_length_prefix);

// Encodes the length prefix, header length and header for a frame whose body has body_size
// bytes; the caller sends the body after these bytes.
std::string EncodeFrameHead(const v1::Header& header, size_t body_size);

// A whole frame in one string (tests, small messages).
std::string EncodeFrame(const v1::Header& header, std::string_view body);

}  // namespace vela::net
