#pragma once

#include "broker/timer/timer_service.h"
#include "net/dispatcher.h"

namespace vela::broker::timer {

// RECALL_MESSAGE and TIMER_STATUS (docs/protocol.md): answers from the TimerService.
// A recall is answered when its record is stored, or at once when nothing is left to recall.
class TimerProcessor {
 public:
  explicit TimerProcessor(TimerService& timers) : timers_(timers) {}
  void Register(net::Dispatcher& dispatcher);

  void Recall(net::RequestContext rc, const net::Frame& frame);
  void Status(net::RequestContext rc, const net::Frame& frame);

 private:
  TimerService& timers_;
};

}  // namespace vela::broker::timer
