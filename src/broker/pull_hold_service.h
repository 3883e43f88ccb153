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
// tells it of each new record on the appending thread; OnDispatch there only takes the pulls held
// on that queue and posts each to its own consumer connection's io thread, where the pull is
// re-run and answered: no pull is ever read or answered on the appending thread, so a send never
// pays for a consumer's read. A pull whose deadline passes is posted the same way for one last
// retry (from this service's thread) and answered "no new message". Pulls of a consumer that
// disconnected are dropped. Thread-safe.
class PullHoldService : public ServiceThread, public store::DispatchListener {
 public:
  // retry(pull, final) re-runs the pull; `final` is true at the deadline. It runs on the pull's
  // connection's io thread (on the caller's thread only in ReleaseAll).
  using Retry = std::function<void(HeldPull pull, bool final)>;
  explicit PullHoldService(Retry retry);
  ~PullHoldService() override;

  void Hold(HeldPull pull);
  // Retries every pull held on (topic, queue) now, each on its connection's io thread.
  void Wake(std::string_view topic, uint32_t queue_id);
  void OnDispatch(const store::DispatchedRecord& record) override;
  // Answers every held pull on the calling thread (at shutdown, once the io threads stopped).
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
  // Posts each pull's retry to its connection's io thread.
  void Dispatch(std::vector<HeldPull> pulls, bool final);

  Retry retry_;
  std::mutex mu_;
  std::map<Key, std::vector<HeldPull>, KeyLess> holds_;  // GUARDED_BY(mu_)
  std::atomic<int64_t> held_{0};
};

}  // namespace vela::broker
