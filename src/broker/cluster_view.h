#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "net/rpc_client.h"

namespace vela::broker {

// The most brokers one survey lists and asks for their status (GET /api/brokers).
inline constexpr size_t kMaxSurveyedBrokers = 256;
// Each request of a survey (to a name server, to a broker) is given this long: a dead broker
// costs one of these, once per survey.
inline constexpr int64_t kClusterSurveyTimeoutMs = 1000;
// How long a survey serves /api/brokers: consoles poll every 2 s, so all of them together cause
// at most one survey per this period.
inline constexpr int64_t kClusterViewMaxAgeMs = 2000;

// What one survey saw of one broker: where the name servers place it, and its BROKER_STATUS.
struct BrokerSighting {
  std::string cluster_name;
  std::string broker_name;
  int64_t broker_id = 0;
  std::string address;
  // Its last registration by the name servers' clocks (epoch ms; the latest across them), 0 when
  // none says.
  int64_t last_registration_ms = 0;
  // OK when the broker answered BROKER_STATUS; else why not (refused, timed out, an error answer).
  Status reach;
  std::map<std::string, std::string> status;  // its BROKER_STATUS values; empty when not reached
};

// One survey of the cluster: the brokers the name servers list, each asked for its status.
struct ClusterSurvey {
  int64_t taken_at_ms = 0;               // when the survey ended (epoch ms, this broker's clock)
  std::vector<BrokerSighting> brokers;   // by (cluster, name, id); at most kMaxSurveyedBrokers
  size_t registered = 0;                 // brokers the name servers list (may exceed brokers.size())
  std::vector<std::string> namesrv_errors;  // "ADDR: status" of each name server that did not answer
};

// The figures of one broker the console shows, read from its BROKER_STATUS values; a figure the
// broker did not report (an older broker, or not reached) is empty.
struct BrokerFigures {
  std::string version;
  std::optional<int64_t> uptime_ms;
  std::optional<int64_t> messages_in;   // totals since the broker started
  std::optional<int64_t> messages_out;
  // Per second between the previous survey and this one, measured on the broker's own uptime;
  // empty without a previous sighting, or when the broker restarted in between.
  std::optional<double> messages_in_per_sec;
  std::optional<double> messages_out_per_sec;
  std::optional<int64_t> rate_window_ms;
  std::optional<int64_t> commit_log_bytes;  // bytes between the commit log's min and max offsets
  std::optional<double> disk_used_ratio;    // of the file system holding its store, 0..1
  std::optional<int64_t> http_port;         // its console's port; empty when its HTTP is off
};

// The figures of `now` (a reached broker), with rates against `before` (the same broker in the
// previous survey) when given. Pure.
BrokerFigures FiguresOf(const BrokerSighting& now, const BrokerSighting* before);

// ClusterSurveyor takes surveys of the cluster for the broker's HTTP API: GET_CLUSTER_INFO to
// every name server at once (their answers merged), then BROKER_STATUS to every broker listed (at
// most kMaxSurveyedBrokers), all at once, each request bounded by `timeout_ms`, so a dead or slow
// broker costs one timeout and never holds up the others. It owns an RpcClient with one io thread
// of its own (never the messaging io threads); the connections to brokers that left the list are
// closed at the next survey. Thread-safe; surveys may run at once, though ClusterView runs one at
// a time.
class ClusterSurveyor {
 public:
  ClusterSurveyor(std::vector<std::string> namesrv_addrs, int64_t timeout_ms);
  ClusterSurveyor(const ClusterSurveyor&) = delete;
  ClusterSurveyor& operator=(const ClusterSurveyor&) = delete;

  // Takes a survey. Blocks for at most about two timeouts (name servers, then brokers). Without
  // name servers, or when none answers, the survey lists no broker and says why in namesrv_errors.
  ClusterSurvey Survey();

 private:
  const std::vector<std::string> namesrv_addrs_;
  const int64_t timeout_ms_;
  net::RpcClient client_;
  std::mutex mu_;
  std::set<std::string> last_addresses_;  // GUARDED_BY(mu_): the brokers the last survey asked
};

// ClusterView caches the latest survey for `max_age_ms`, so that any number of readers polling
// cause at most one survey per max_age_ms: a reader that finds it older takes a new one, while
// readers arriving during that survey get the one before it (or wait for it when there is none
// yet). It keeps the survey before the latest for rates. `survey` must be thread-safe and
// outlive the view; `now_ms` is a monotonic clock (injectable for tests). Thread-safe.
class ClusterView {
 public:
  struct Snapshot {
    std::shared_ptr<const ClusterSurvey> latest;    // never null
    std::shared_ptr<const ClusterSurvey> previous;  // the survey before it, or null
    int64_t taken_at_monotonic_ms = 0;

    // The previous survey's sighting of the broker at `address`, or null.
    const BrokerSighting* Previous(const std::string& address) const;
  };

  ClusterView(std::function<ClusterSurvey()> survey, int64_t max_age_ms, std::function<int64_t()> now_ms);

  // The latest survey, taken now when the cached one is older than max_age_ms. May block for a
  // survey. Never null.
  std::shared_ptr<const Snapshot> Get();

 private:
  const std::function<ClusterSurvey()> survey_;
  const int64_t max_age_ms_;
  const std::function<int64_t()> now_ms_;
  std::mutex mu_;
  std::condition_variable surveyed_;
  std::shared_ptr<const Snapshot> current_;  // GUARDED_BY(mu_)
  bool surveying_ = false;                   // GUARDED_BY(mu_): a reader is taking a survey
};

}  // namespace vela::broker
