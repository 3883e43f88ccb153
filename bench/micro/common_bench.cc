// Micro-benchmarks of src/common: CRC-32C at several sizes, encoding one 1 KiB-body message
// record (header, properties, body, CRC) as the producer does per message, and the broker's
// check of a full trace record.
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "common/crc32c.h"
#include "common/message_id.h"
#include "common/message_record.h"
#include "common/trace_record.h"

namespace vela {
namespace {

// CRC-32C over state.range(0) bytes (the hardware path when the CPU has SSE4.2).
void BM_Crc32c(benchmark::State& state) {
  const std::string data(static_cast<size_t>(state.range(0)), 'c');
  for (auto _ : state) {
    uint32_t crc = crc32c::Value(data.data(), data.size());
    benchmark::DoNotOptimize(crc);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
  state.SetLabel(crc32c::HardwareAccelerated() ? "hw" : "portable");
}
BENCHMARK(BM_Crc32c)->Arg(64)->Arg(1024)->Arg(1180)->Arg(4096)->Arg(65536)->Arg(1 << 20);

// The table-driven fallback, for reference.
void BM_Crc32cPortable(benchmark::State& state) {
  const std::string data(static_cast<size_t>(state.range(0)), 'c');
  for (auto _ : state) {
    uint32_t crc = crc32c::ExtendPortable(0, data.data(), data.size());
    benchmark::DoNotOptimize(crc);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Crc32cPortable)->Arg(1024)->Arg(65536);

// One record with a 1 KiB body, a message id and a TAGS property, appended to a reused buffer.
void BM_Record_EncodeCrc(benchmark::State& state) {
  const std::string body(1024, 'b');
  const std::string props = EncodeProperties({{"TAGS", "TagA"}});
  RecordFields fields;
  fields.topic = "BenchTopic";
  fields.queue_id = 3;
  fields.born_timestamp_ms = 1700000000000;
  fields.born_host = PackHost("127.0.0.1:40000");
  fields.msg_id = "7F0000019C4000000000000000000001";
  fields.properties = props;
  fields.body = body;
  std::string out;
  out.reserve(EncodedRecordSize(fields));
  for (auto _ : state) {
    out.clear();
    EncodeRecord(fields, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(EncodedRecordSize(fields)));
}
BENCHMARK(BM_Record_EncodeCrc);

// Decoding the same record with CRC verification (what recovery and the broker's send check do).
void BM_Record_DecodeVerify(benchmark::State& state) {
  const std::string body(1024, 'b');
  const std::string props = EncodeProperties({{"TAGS", "TagA"}});
  RecordFields fields;
  fields.topic = "BenchTopic";
  fields.msg_id = "7F0000019C4000000000000000000001";
  fields.properties = props;
  fields.body = body;
  std::string encoded;
  EncodeRecord(fields, &encoded);
  for (auto _ : state) {
    RecordView view;
    DecodeOutcome outcome = DecodeRecord(encoded, /*verify_crc=*/true, &view);
    if (outcome != DecodeOutcome::kRecord) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(view.body.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Record_DecodeVerify);

// The broker's check of one trace record as the SDK sends them under load: a send and a store
// event per message, 480 messages (the KEYS value's limit stops a record near 490 distinct ids).
// Items: events.
void BM_ValidateTraceRecord(benchmark::State& state) {
  constexpr int kMessages = 480;
  trace::TraceRecordBuilder builder;
  for (int i = 0; i < kMessages; ++i) {
    trace::TraceEvent send;
    send.type = trace::EventType::kSend;
    send.msg_id = NewMessageId();
    send.time_ms = 1700000000000 + i;
    send.topic = "orders";
    send.client_id = "10.0.0.1@vela@4242";
    send.group = "order-producers";
    send.cost_us = 230;
    send.status = "ok";
    send.keys = "order-4711";
    send.tags = "created";
    trace::TraceEvent store = send;
    store.type = trace::EventType::kStore;
    store.client_id = store.group = store.status = store.keys = store.tags = "";
    store.cost_us = -1;
    store.broker = "10.0.0.2:10911";
    store.queue_id = 3;
    store.queue_offset = 100000 + i;
    if (builder.Add(send) != trace::TraceRecordBuilder::AddOutcome::kAdded ||
        builder.Add(store) != trace::TraceRecordBuilder::AddOutcome::kAdded) {
      state.SkipWithError("the record filled up early");
      return;
    }
  }
  std::string record;
  builder.Finish(NewMessageId(), 0, 1700000000000, &record);
  RecordView view;
  std::string reason;
  if (DecodeRecord(record, /*verify_crc=*/true, &view, &reason) != DecodeOutcome::kRecord) {
    state.SkipWithError(reason.c_str());
    return;
  }
  for (auto _ : state) {
    auto events = trace::ValidateTraceRecord(view.topic, view.flags, view.properties, view.body);
    if (!events.ok()) {
      state.SkipWithError(events.status().ToString().c_str());
      return;
    }
    benchmark::DoNotOptimize(*events);
  }
  state.SetItemsProcessed(state.iterations() * 2 * kMessages);
}
BENCHMARK(BM_ValidateTraceRecord);

}  // namespace
}  // namespace vela

BENCHMARK_MAIN();
