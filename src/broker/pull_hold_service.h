#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/service_thread.h"
#include "net/dispatcher.h"
#include "store/message_store.h"
#include "vela/v1/vela.pb.h"

namespace vela::broker {

// A pull that found nothing and waits for a new message in its queue (long polling).
struct HeldPull {
  net::RequestContext context;
  v1::PullRequest request;
  int64_t deadline_ms = 0;
};

// PullHoldService parks pulls that found nothing (RocketMQ's PullRequestHoldService). The store
// tells it of each new record on the appending thread, which then retries the held pulls of that
// queue itself (the first two; more go to their consumers' own io threads) and writes their
// answers straight to the consumers' sockets: a message reaches a waiting consumer with no thread
// hand-off in the broker and no polling delay. A pull whose deadline passes is retried one last
// time (on this service's thread) and answered "no new message". Pulls of a consumer that
// disconnected are dropped. Thread-safe.
class PullHoldService : public ServiceThread, public store::DispatchListener {
 public:
  // retry(pull, final) re-runs the pull; `final` is true at the deadline.
  using Retry = std::function<void(HeldPull pull, bool final)>;
  explicit PullHoldService(Retry retry);
  ~PullHoldService() override;

  void Hold(HeldPull pull);
  // Retries every pull held on (topic, queue) now.
  void Wake(std::string_view topic, uint32_t queue_id);
  void OnDispatch(const store::DispatchedRecord& record) override;
  // Answers every held pull (at shutdown).
  void ReleaseAll();
  int64_t held_count() const { return held_.load(std::memory_order_relaxed); }

 protected:
  void Run() override;

 private:
  using Key = std::pair<std::string, uint32_t>;
  struct KeyLess {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      int c = std::string_view(a.first).compare(std::string_view(b.first));
      return c < 0 || (c == 0 && a.second < b.second);
    }
  };
  void Dispatch(std::vector<HeldPull> pulls, bool final);

  Retry retry_;
  std::mutex mu_;
  std::map<Key, std::vector<HeldPull>, KeyLess> holds_;  // GUARDED_BY(mu_)
  std::atomic<int64_t> held_{0};
};

}  // namespace vela::broker
