#include "broker/timer/timer_admission.h"

namespace vela::broker::timer {

Status TimerAdmission::Admit(const RecordView& record, uint32_t queue_id, int64_t now_ms, Admission* admission) {
  if (record.properties.empty()) return Status::OK();
  VELA_ASSIGN_OR_RETURN(std::optional<int64_t> due, DueTimeOf(record.properties, now_ms, timers_.options()));
  if (!due || *due <= now_ms) return Status::OK();
  VELA_RETURN_IF_ERROR(timers_.EnsureTimerTopic());
  admission->rewritten = EncodeTimerRecord(record, queue_id, *due);
  admission->deliver_at_ms = *due;
  admission->recall_broker = &timers_.broker_name();
  return Status::OK();
}

}  // namespace vela::broker::timer
