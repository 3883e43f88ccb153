// libFuzzer target for the frame decoder: CheckFrameLength and DecodeFrame on the raw input, and
// the connection's incremental parsing (FrameAssembler) fed the same bytes as a stream in chunks
// of sizes taken from the input. Invariants for any input: no crash; a frame that decodes encodes
// back to a frame that decodes the same; the frames and the first error do not depend on how the
// stream is split; the read buffer never grows past twice the most bytes it held plus one read
// chunk, and an empty buffer can always be given back.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/stubs/logging.h>

#include "common/coding.h"
#include "net/frame_assembler.h"
#include "net/frame_codec.h"

namespace {

using vela::net::DecodeFrame;
using vela::net::Frame;
using vela::net::FrameAssembler;

void Check(bool cond) {
  if (!cond) std::abort();
}

// What parsing a stream produced: each frame as (header bytes, body), then the error if any.
struct Parsed {
  std::vector<std::pair<std::string, std::string>> frames;
  std::string error;
};

// Feeds `stream` in chunks whose sizes come from `sizes` (cycled), checking the buffer bound.
Parsed Assemble(std::string_view stream, std::string_view sizes, uint32_t max_frame_size) {
  FrameAssembler assembler(max_frame_size);
  Parsed out;
  size_t k = 0;
  size_t peak_buffered = 0;
  while (!stream.empty() && out.error.empty()) {
    size_t chunk = 1;
    if (!sizes.empty()) chunk = 1 + static_cast<uint8_t>(sizes[k++ % sizes.size()]) * 97;
    char* space = assembler.WritableData();
    Check(assembler.WritableSize() >= FrameAssembler::kReadChunk / 2);
    Check(assembler.capacity() <= 2 * peak_buffered + FrameAssembler::kReadChunk);
    const size_t n = std::min({chunk, assembler.WritableSize(), stream.size()});
    std::memcpy(space, stream.data(), n);
    assembler.Commit(n);
    stream.remove_prefix(n);
    peak_buffered = std::max(peak_buffered, assembler.buffered());
    for (;;) {
      Frame frame;
      vela::Status error;
      const auto state = assembler.Next(&frame, &error);
      if (state == FrameAssembler::State::kNeedMore) break;
      if (state == FrameAssembler::State::kError) {
        Check(!error.ok() && !error.message().empty());
        out.error = error.message();
        break;
      }
      out.frames.emplace_back(frame.header.SerializeAsString(), std::move(frame.body));
    }
    assembler.AfterRead();
  }
  assembler.ShrinkIfEmpty();
  if (assembler.buffered() == 0) Check(assembler.capacity() <= 4 * FrameAssembler::kReadChunk);
  return out;
}

}  // namespace

// Protobuf logs every string field that is not UTF-8; the fuzzer makes millions of them.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  // The pure functions on the input as one frame.
  if (size >= 4) {
    const uint32_t frame_length = vela::coding::GetBigEndian32(input.data());
    vela::Status st = vela::net::CheckFrameLength(frame_length, 1 << 20);
    Check(st.ok() == (frame_length >= 4 && frame_length <= (1u << 20)));
  }
  auto decoded = DecodeFrame(input);
  if (decoded.ok()) {
    const std::string again = vela::net::EncodeFrame(decoded->header, decoded->body);
    Check(vela::coding::GetBigEndian32(again.data()) == again.size() - 4);
    auto redecoded = DecodeFrame(std::string_view(again).substr(4));
    Check(redecoded.ok());
    Check(redecoded->body == decoded->body);
    Check(redecoded->header.SerializeAsString() == decoded->header.SerializeAsString());
  } else {
    Check(!decoded.status().message().empty());
  }

  // The input as a stream: the first byte picks the frame size limit, the next 8 the chunk sizes.
  if (size < 9) return 0;
  const uint32_t max_frame_size = 16u << (static_cast<uint8_t>(input[0]) % 21);  // 16 B .. 16 MiB
  const std::string_view sizes = input.substr(1, 8);
  const std::string_view stream = input.substr(9);
  const Parsed whole = Assemble(stream, {}, max_frame_size);
  Parsed split = Assemble(stream, sizes, max_frame_size);
  Check(split.frames == whole.frames);
  Check(split.error == whole.error);
  return 0;
}
