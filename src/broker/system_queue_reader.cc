#include "broker/system_queue_reader.h"

#include "broker/logger.h"

namespace vela::broker {

SystemQueueReader::SystemQueueReader(store::MessageStore& store, std::string_view topic, uint32_t queue_id,
                                     std::function<void()> wake)
    : store_(store), topic_(topic), queue_id_(queue_id), wake_(std::move(wake)) {}

void SystemQueueReader::OnDispatch(const store::DispatchedRecord& record) {
  if (record.queue_id != queue_id_ || record.topic != topic_) return;
  // Ordered after the record's queue entry was published, against Read's arming before it reads
  // the queue: either the read sees the entry or this sees the reader armed.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (armed_.load(std::memory_order_relaxed) && armed_.exchange(false, std::memory_order_relaxed)) wake_();
}

store::GetResult SystemQueueReader::Read(store::QueueOffset* offset, int32_t max_count) {
  armed_.store(true, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with OnDispatch's fence
  store::GetResult got = store_.GetMessages(topic_, queue_id_, *offset, max_count, 8 << 20, nullptr);
  if (got.outcome == store::GetOutcome::kOffsetTooSmall) {
    BrokerLogger()->error("{} queue {}: offsets {} to {} were deleted by retention before they were read", topic_,
                          queue_id_, *offset, got.min_offset);
    *offset = got.min_offset;
    return Read(offset, max_count);
  }
  if (got.outcome != store::GetOutcome::kFound && got.outcome != store::GetOutcome::kNoMatchedMessage) {
    return store::GetResult{};
  }
  if (got.next_begin_offset > *offset) *offset = got.next_begin_offset;
  return got;
}

}  // namespace vela::broker
