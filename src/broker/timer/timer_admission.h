#pragma once

#include "broker/admission.h"
#include "broker/timer/timer_service.h"

namespace vela::broker::timer {

// The send pipeline's timer stage: a message that asks for a time (TIMER_DELIVER_MS,
// TIMER_DELAY_MS, TIMER_DELAY_SEC or DELAY) is rewritten into a record of the timer topic, due at
// that time, and its receipt carries the due time and a recall handle. A message that asks for a
// time already past goes on untouched (delivered at once). A value that does not parse, a
// level that does not exist or a time beyond timerMaxDelaySec refuses the send. Thread-safe.
class TimerAdmission final : public AdmissionStage {
 public:
  explicit TimerAdmission(TimerService& timers) : timers_(timers) {}
  Status Admit(const RecordView& record, uint32_t queue_id, int64_t now_ms, Admission* admission) override;

 private:
  TimerService& timers_;
};

}  // namespace vela::broker::timer
