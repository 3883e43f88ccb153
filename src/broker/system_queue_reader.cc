#include "broker/system_queue_reader.h"

#include "broker/logger.h"

namespace vela::broker {

SystemQueueReader::SystemQueueReader(store::MessageStore& store, std::string_view topic, uint32_t queue_id,
                                     std::function<void()> wake)
    : store_(store), topic_(topic), queue_id_(queue_id), wake_(std::move(wake)) {}

void SystemQueueReader::OnDispatch(const store::DispatchedRecord& record) {
  if (record.queue_id == queue_id_ && record.topic == topic_) wake_();
}

store::GetResult SystemQueueReader::Read(store::QueueOffset* offset, int32_t max_count) {
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
