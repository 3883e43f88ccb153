// Micro-benchmarks of the frame codec (src/net/frame_codec.h): encoding and decoding one
// SEND_MESSAGE request frame with a 1 KiB body, as the producer and the broker do per message.
#include <string>

#include <benchmark/benchmark.h>

#include "net/frame_codec.h"
#include "vela/v1/vela.pb.h"

namespace vela::net {
namespace {

constexpr size_t kBodyBytes = 1024;

// A send request header like the SDK's (topic, queue, group, count).
v1::Header SendHeader() {
  v1::Header header;
  header.set_code(v1::SEND_MESSAGE);
  header.set_request_id(123456789);
  auto* request = header.mutable_send_request();
  request->set_topic("BenchTopic");
  request->set_queue_id(3);
  request->set_producer_group("vela_bench_producer");
  request->set_message_count(1);
  request->set_batch(false);
  return header;
}

// The head only (length prefixes + header): what Connection writes before the body's views.
void BM_FrameCodec_EncodeHead(benchmark::State& state) {
  const v1::Header header = SendHeader();
  for (auto _ : state) {
    std::string head = EncodeFrameHead(header, kBodyBytes);
    benchmark::DoNotOptimize(head);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FrameCodec_EncodeHead);

// A whole frame with a 1 KiB body copied in (EncodeFrame).
void BM_FrameCodec_Encode(benchmark::State& state) {
  const v1::Header header = SendHeader();
  const std::string body(kBodyBytes, 'x');
  for (auto _ : state) {
    std::string frame = EncodeFrame(header, body);
    benchmark::DoNotOptimize(frame);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kBodyBytes));
}
BENCHMARK(BM_FrameCodec_Encode);

// Decoding the bytes after the length prefix: header parse + body copy.
void BM_FrameCodec_Decode(benchmark::State& state) {
  const std::string frame = EncodeFrame(SendHeader(), std::string(kBodyBytes, 'x'));
  const std::string_view after_prefix = std::string_view(frame).substr(kLengthPrefixSize);
  for (auto _ : state) {
    auto decoded = DecodeFrame(after_prefix);
    if (!decoded.ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(decoded);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kBodyBytes));
}
BENCHMARK(BM_FrameCodec_Decode);

}  // namespace
}  // namespace vela::net

BENCHMARK_MAIN();
