#pragma once

#include <cstdint>
#include <string>

#include "broker/broker_counters.h"
#include "broker/broker_options.h"
#include "broker/cluster_view.h"
#include "broker/topic_manager.h"
#include "http/http_server.h"
#include "store/message_store.h"

namespace vela::broker {

// The most topics one /api/topics page lists (its `limit` parameter, default 500).
inline constexpr int64_t kMaxTopicsPerPage = 5000;

// BrokerHttpApi is what the broker serves over HTTP (docs/operations.md): `/metrics` (Prometheus
// text, the registry of `counters`, request counters published first) and the JSON API under
// `/api/` that the web console and scripts share:
//   GET /api/cluster   this broker: names, addresses, version, uptime, store and disk figures
//   GET /api/topics    topics by name with their queues and offsets, a page at a time
//                      (?limit=N, 1..kMaxTopicsPerPage, default 500; ?after=NAME: the names
//                      after NAME; the answer's "next" is the `after` of the next page, or null;
//                      ?name=NAME: that topic alone, 404 when unknown)
//   GET /api/brokers   the brokers of the cluster as the name servers list them (at most
//                      kMaxSurveyedBrokers), each with its own status figures or why it could not
//                      be reached; a survey of ClusterView, at most one per ClusterView max age
// Every answer is JSON (errors too: {"error": "..."} with 400). The web console and its other
// routes are ConsoleApi's (console/console_api.h), on the same server. Handlers run on the HTTP server's threads
// and only read thread-safe services. Everything passed in must outlive the server's Stop.
class BrokerHttpApi {
 public:
  BrokerHttpApi(const BrokerOptions& options, std::string broker_addr, store::MessageStore& store,
                TopicManager& topics, BrokerCounters& counters, ClusterView& cluster_view, int64_t start_time_ms);

  // Adds the routes to `server`. REQUIRES: before server.Start().
  void Register(http::HttpServer& server);

  http::HttpResponse Metrics(const http::HttpRequest& request);
  http::HttpResponse Cluster(const http::HttpRequest& request);
  http::HttpResponse Topics(const http::HttpRequest& request);
  // May block for a survey (about two RPC timeouts at most) on the HTTP thread that asks.
  http::HttpResponse Brokers(const http::HttpRequest& request);

 private:
  const BrokerOptions& options_;
  const std::string broker_addr_;
  store::MessageStore& store_;
  TopicManager& topics_;
  BrokerCounters& counters_;
  ClusterView& cluster_view_;
  const int64_t start_time_ms_;
};

}  // namespace vela::broker
