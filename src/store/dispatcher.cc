#include "store/dispatcher.h"

#include "store/logger.h"

namespace vela::store {

namespace {
constexpr size_t kIndexBatch = 512;
}

Dispatcher::Dispatcher(CommitLog& log, ConsumeQueueTable& queues, RocksMetaStore& meta)
    : ServiceThread("vela-dispatch"), log_(log), queues_(queues), meta_(meta) {}

Dispatcher::~Dispatcher() { Stop(); }

Status Dispatcher::DispatchAvailable() {
  int64_t pos = dispatched_.load(std::memory_order_relaxed);
  std::vector<IndexEntry> index;
  std::vector<std::shared_ptr<MappedSegment>> pins;  // keep index views mapped until written
  std::shared_ptr<ConsumeQueue> cq;
  std::string cq_topic;
  uint32_t cq_id = 0;
  Status result;
  auto flush_index = [&]() -> Status {
    if (index.empty()) return Status::OK();
    Status st = meta_.WriteIndex(index);
    index.clear();
    pins.clear();
    return st;
  };
  while (true) {
    const int64_t end = log_.write_offset();
    if (pos >= end) break;
    auto seg = log_.SegmentFor(pos);
    if (!seg) {
      const int64_t min = log_.min_offset();
      if (pos < min) {
        pos = min;  // retention removed what we had not read (only when far behind)
        continue;
      }
      result = Status::Internal(fmt::format("dispatcher: no segment for offset {}", pos));
      break;
    }
    const int64_t rel = pos - seg->base();
    const int64_t rest = std::min(seg->size(), end - seg->base()) - rel;
    if (seg->size() - rel < 8) {
      pos = seg->end();
      continue;
    }
    RecordView view;
    std::string why;
    const auto outcome = DecodeRecord(seg->View(rel, rest), /*verify_crc=*/false, &view, &why);
    if (outcome == DecodeOutcome::kBlank) {
      pos = seg->end();
      continue;
    }
    if (outcome != DecodeOutcome::kRecord) {
      result = Status::Corruption(fmt::format("dispatcher: bad record at offset {}: {}", pos, why));
      break;
    }
    const int64_t tag_hash = TagHash(view.Tag());
    if (!cq || cq_id != view.queue_id || cq_topic != view.topic) {
      cq = queues_.FindOrCreate(view.topic, view.queue_id);
      cq_topic.assign(view.topic);
      cq_id = view.queue_id;
    }
    const auto size = static_cast<uint32_t>(view.raw.size());
    Status st = cq->Put(view.queue_offset, QueueEntry{pos, static_cast<int32_t>(size), tag_hash});
    if (!st.ok()) {
      result = st;
      break;
    }
    DispatchedRecord d;
    d.topic = view.topic;
    d.queue_id = view.queue_id;
    d.queue_offset = view.queue_offset;
    d.physical_offset = pos;
    d.size = size;
    d.tag_hash = tag_hash;
    d.store_timestamp_ms = view.store_timestamp_ms;
    d.flags = view.flags;
    d.record = &view;
    for (auto* l : listeners_) l->OnDispatch(d);
    IndexEntry& ie = index.emplace_back();
    ie.msg_id = view.msg_id;
    ie.topic = view.topic;
    FindProperty(view.properties, prop::kKeys, &ie.keys);
    ie.physical_offset = pos;
    ie.size = size;
    if (pins.empty() || pins.back() != seg) pins.push_back(seg);
    pos += size;
    if (index.size() >= kIndexBatch) {
      Status ist = flush_index();
      if (!ist.ok()) Log().error("dispatcher: index write failed: {}", ist.ToString());
      dispatched_.store(pos, std::memory_order_release);
    }
  }
  Status ist = flush_index();
  if (!ist.ok()) Log().error("dispatcher: index write failed: {}", ist.ToString());
  dispatched_.store(pos, std::memory_order_release);
  return result;
}

void Dispatcher::Run() {
  bool failed = false;
  while (!stopped()) {
    idle_.store(true, std::memory_order_seq_cst);
    if (log_.write_offset() <= dispatched_offset() || failed) {
      WaitForRunning(std::chrono::milliseconds(failed ? 1000 : 100));
    }
    idle_.store(false, std::memory_order_seq_cst);
    Status st = DispatchAvailable();
    if (!st.ok() && !failed) Log().error("{}", st.ToString());
    failed = !st.ok();
  }
}

}  // namespace vela::store
