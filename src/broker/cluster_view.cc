#include "broker/cluster_view.h"

#include <algorithm>
#include <charconv>
#include <iterator>
#include <chrono>
#include <tuple>

#include <fmt/format.h>

#include "broker/logger.h"
#include "common/clock.h"

namespace vela::broker {
namespace {

// The value of `key` in a BROKER_STATUS map as a number, or empty when absent or not a number.
template <typename T>
std::optional<T> NumberAt(const std::map<std::string, std::string>& values, const std::string& key) {
  auto it = values.find(key);
  if (it == values.end()) return std::nullopt;
  T value{};
  const char* end = it->second.data() + it->second.size();
  auto [ptr, ec] = std::from_chars(it->second.data(), end, value);
  if (it->second.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

// Sends `request` to every address at once and waits for every answer, at most `timeout_ms` (and
// a little more: the connection's sweep runs the timeouts). The answers come in the addresses'
// order; one still missing at the deadline is DeadlineExceeded.
std::vector<Result<net::Frame>> InvokeAll(net::RpcClient& client, const std::vector<std::string>& addrs,
                                          const v1::Header& request, int64_t timeout_ms) {
  struct Pending {
    std::mutex mu;
    std::condition_variable done;
    std::vector<std::optional<Result<net::Frame>>> answers;  // GUARDED_BY(mu)
    size_t remaining = 0;                                    // GUARDED_BY(mu)
  };
  // Shared with the callbacks: one that comes after the deadline finds it still alive.
  auto pending = std::make_shared<Pending>();
  pending->answers.resize(addrs.size());
  pending->remaining = addrs.size();
  for (size_t i = 0; i < addrs.size(); ++i) {
    client.Invoke(addrs[i], request, {}, timeout_ms, [pending, i](Result<net::Frame> answer) {
      std::lock_guard lock(pending->mu);
      pending->answers[i] = std::move(answer);
      if (--pending->remaining == 0) pending->done.notify_all();
    });
  }
  std::unique_lock lock(pending->mu);
  pending->done.wait_for(lock, std::chrono::milliseconds(timeout_ms + 500), [&] { return pending->remaining == 0; });
  std::vector<Result<net::Frame>> out;
  out.reserve(addrs.size());
  for (size_t i = 0; i < addrs.size(); ++i) {
    if (pending->answers[i]) {
      out.push_back(std::move(*pending->answers[i]));
    } else {
      out.push_back(Status::DeadlineExceeded(fmt::format("no answer within {} ms", timeout_ms)));
    }
  }
  return out;
}

}  // namespace

BrokerFigures FiguresOf(const BrokerSighting& now, const BrokerSighting* before) {
  const auto& v = now.status;
  BrokerFigures f;
  if (auto it = v.find("version"); it != v.end()) f.version = it->second;
  f.uptime_ms = NumberAt<int64_t>(v, "uptimeMs");
  f.messages_in = NumberAt<int64_t>(v, "messagesIn");
  f.messages_out = NumberAt<int64_t>(v, "messagesOut");
  const auto min_offset = NumberAt<int64_t>(v, "commitLogMinOffset");
  const auto max_offset = NumberAt<int64_t>(v, "commitLogMaxOffset");
  if (min_offset && max_offset) f.commit_log_bytes = *max_offset - *min_offset;
  f.disk_used_ratio = NumberAt<double>(v, "vela_store_disk_used_ratio");
  if (auto port = NumberAt<int64_t>(v, "httpPort"); port && *port > 0) f.http_port = port;
  if (before == nullptr || !f.uptime_ms) return f;
  // Rates on the broker's own clock: its uptime at each answer. A smaller uptime (or totals)
  // means it restarted in between: no rate rather than a negative one.
  const auto before_uptime = NumberAt<int64_t>(before->status, "uptimeMs");
  if (!before_uptime || *f.uptime_ms <= *before_uptime) return f;
  const int64_t window_ms = *f.uptime_ms - *before_uptime;
  auto rate = [&](const std::optional<int64_t>& total, const char* key) -> std::optional<double> {
    const auto before_total = NumberAt<int64_t>(before->status, key);
    if (!total || !before_total || *total < *before_total) return std::nullopt;
    return static_cast<double>(*total - *before_total) * 1000.0 / static_cast<double>(window_ms);
  };
  f.messages_in_per_sec = rate(f.messages_in, "messagesIn");
  f.messages_out_per_sec = rate(f.messages_out, "messagesOut");
  if (f.messages_in_per_sec || f.messages_out_per_sec) f.rate_window_ms = window_ms;
  return f;
}

ClusterSurveyor::ClusterSurveyor(std::vector<std::string> namesrv_addrs, int64_t timeout_ms)
    : namesrv_addrs_(std::move(namesrv_addrs)),
      timeout_ms_(timeout_ms),
      client_(net::RpcClientOptions{1, net::kDefaultMaxFrameSize, timeout_ms, "vela-survey"}) {}

ClusterSurvey ClusterSurveyor::Survey() {
  ClusterSurvey survey;
  if (namesrv_addrs_.empty()) survey.namesrv_errors.push_back("no name server is configured (namesrvAddr)");

  // The brokers as the name servers know them, merged: an address listed by several name servers
  // once, with the latest registration any of them saw.
  v1::Header info_request;
  info_request.set_code(v1::GET_CLUSTER_INFO);
  info_request.mutable_cluster_info_request()->set_include_topics(false);
  std::map<std::tuple<std::string, std::string, int64_t>, BrokerSighting> listed;
  auto infos = InvokeAll(client_, namesrv_addrs_, info_request, timeout_ms_);
  for (size_t i = 0; i < infos.size(); ++i) {
    if (!infos[i].ok()) {
      survey.namesrv_errors.push_back(fmt::format("{}: {}", namesrv_addrs_[i], infos[i].status().ToString()));
      continue;
    }
    const v1::ClusterInfoResponse& info = infos[i]->header.cluster_info_response();
    for (const auto& b : info.brokers()) {
      for (const auto& [id, addr] : b.addrs()) {
        BrokerSighting& s = listed[{b.cluster_name(), b.broker_name(), id}];
        s.cluster_name = b.cluster_name();
        s.broker_name = b.broker_name();
        s.broker_id = id;
        s.address = addr;
        auto last = info.last_update_ms().find(addr);
        if (last != info.last_update_ms().end()) {
          s.last_registration_ms = std::max(s.last_registration_ms, last->second);
        }
      }
    }
  }
  survey.registered = listed.size();
  for (auto& [key, sighting] : listed) {
    if (survey.brokers.size() == kMaxSurveyedBrokers) break;
    survey.brokers.push_back(std::move(sighting));
  }

  // Each broker's own status, all asked at once.
  std::vector<std::string> addrs;
  addrs.reserve(survey.brokers.size());
  for (const auto& b : survey.brokers) addrs.push_back(b.address);
  v1::Header status_request;
  status_request.set_code(v1::BROKER_STATUS);
  auto statuses = InvokeAll(client_, addrs, status_request, timeout_ms_);
  for (size_t i = 0; i < statuses.size(); ++i) {
    BrokerSighting& b = survey.brokers[i];
    if (!statuses[i].ok()) {
      b.reach = statuses[i].status();
      continue;
    }
    const auto& values = statuses[i]->header.broker_status_response().values();
    b.status.insert(values.begin(), values.end());
  }

  // Connections to brokers no longer listed are closed (a churning cluster would pile them up).
  std::set<std::string> now_asked(addrs.begin(), addrs.end());
  std::vector<std::string> gone;
  {
    std::lock_guard lock(mu_);
    std::set_difference(last_addresses_.begin(), last_addresses_.end(), now_asked.begin(), now_asked.end(),
                        std::back_inserter(gone));
    last_addresses_ = std::move(now_asked);
  }
  for (const auto& addr : gone) client_.CloseConnection(addr);
  survey.taken_at_ms = NowEpochMs();
  return survey;
}

const BrokerSighting* ClusterView::Snapshot::Previous(const std::string& address) const {
  if (!previous) return nullptr;
  for (const auto& b : previous->brokers) {
    if (b.address == address) return b.reach.ok() ? &b : nullptr;
  }
  return nullptr;
}

ClusterView::ClusterView(std::function<ClusterSurvey()> survey, int64_t max_age_ms,
                         std::function<int64_t()> now_ms)
    : survey_(std::move(survey)), max_age_ms_(max_age_ms), now_ms_(std::move(now_ms)) {}

std::shared_ptr<const ClusterView::Snapshot> ClusterView::Get() {
  std::unique_lock lock(mu_);
  while (true) {
    if (current_ && now_ms_() - current_->taken_at_monotonic_ms < max_age_ms_) return current_;
    if (!surveying_) break;
    if (current_) return current_;  // stale by less than the survey under way
    surveyed_.wait(lock);           // the first survey: wait for it (or take one if it fails)
  }
  surveying_ = true;
  lock.unlock();
  ClusterSurvey survey;
  try {
    survey = survey_();
  } catch (...) {
    lock.lock();
    surveying_ = false;
    surveyed_.notify_all();
    throw;
  }
  auto next = std::make_shared<Snapshot>();
  next->latest = std::make_shared<const ClusterSurvey>(std::move(survey));
  next->taken_at_monotonic_ms = now_ms_();
  lock.lock();
  if (current_) next->previous = current_->latest;
  current_ = std::move(next);
  surveying_ = false;
  surveyed_.notify_all();
  return current_;
}

}  // namespace vela::broker
