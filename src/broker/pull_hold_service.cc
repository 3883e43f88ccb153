#include "broker/pull_hold_service.h"

#include "common/clock.h"

namespace vela::broker {

PullHoldService::PullHoldService(Retry retry) : ServiceThread("pull-hold"), retry_(std::move(retry)) {}

PullHoldService::~PullHoldService() { Stop(); }

void PullHoldService::Hold(HeldPull pull) {
  std::lock_guard lock(mu_);
  Key key{pull.request.topic(), static_cast<uint32_t>(pull.request.queue_id())};
  holds_[key].push_back(std::move(pull));
  held_.fetch_add(1, std::memory_order_relaxed);
}

void PullHoldService::Wake(std::string_view topic, uint32_t queue_id) {
  std::vector<HeldPull> woken;
  {
    std::lock_guard lock(mu_);
    auto it = holds_.find(std::pair<std::string_view, uint32_t>(topic, queue_id));
    if (it == holds_.end()) return;
    woken = std::move(it->second);
    holds_.erase(it);
    held_.fetch_sub(static_cast<int64_t>(woken.size()), std::memory_order_relaxed);
  }
  Dispatch(std::move(woken), false);
}

void PullHoldService::OnDispatch(const store::DispatchedRecord& record) {
  if (held_.load(std::memory_order_relaxed) == 0) return;
  Wake(record.topic, record.queue_id);
}

void PullHoldService::Dispatch(std::vector<HeldPull> pulls, bool final) {
  for (auto& p : pulls) {
    auto connection = p.context.connection();
    if (connection == nullptr) continue;  // the consumer left: nobody to answer
    // The read and the answer run on the consumer's own io thread, never on the caller's: the
    // caller is the appending thread (a producer's io thread) or this service's deadline thread.
    asio::post(connection->executor(), [this, p = std::move(p), final]() mutable { retry_(std::move(p), final); });
  }
}

void PullHoldService::Run() {
  while (!stopped()) {
    WaitForRunning(std::chrono::milliseconds(100));
    const int64_t now = NowEpochMs();
    std::vector<HeldPull> expired;
    {
      std::lock_guard lock(mu_);
      for (auto it = holds_.begin(); it != holds_.end();) {
        auto& v = it->second;
        for (auto p = v.begin(); p != v.end();) {
          if (p->deadline_ms <= now) {
            expired.push_back(std::move(*p));
            p = v.erase(p);
          } else {
            ++p;
          }
        }
        it = v.empty() ? holds_.erase(it) : std::next(it);
      }
      held_.fetch_sub(static_cast<int64_t>(expired.size()), std::memory_order_relaxed);
    }
    Dispatch(std::move(expired), true);
  }
}

void PullHoldService::ReleaseAll() {
  std::vector<HeldPull> all;
  {
    std::lock_guard lock(mu_);
    for (auto& [k, v] : holds_) {
      for (auto& p : v) all.push_back(std::move(p));
    }
    holds_.clear();
    held_.store(0);
  }
  for (auto& p : all) retry_(std::move(p), true);
}

}  // namespace vela::broker
