#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include <asio/thread_pool.hpp>

#include "broker/broker_options.h"
#include "broker/client_manager.h"
#include "broker/pull_hold_service.h"
#include "broker/topic_manager.h"
#include "filter/filter_cache.h"
#include "store/message_store.h"

namespace vela::broker {

class NamesrvRegistrar;

// Counters shown by BROKER_STATUS. Relaxed atomics: figures, not synchronization.
struct BrokerCounters {
  std::atomic<int64_t> send_requests{0};
  std::atomic<int64_t> messages_in{0};
  std::atomic<int64_t> bytes_in{0};
  std::atomic<int64_t> send_errors{0};
  std::atomic<int64_t> pull_requests{0};
  std::atomic<int64_t> messages_out{0};
  std::atomic<int64_t> bytes_out{0};
  std::atomic<int64_t> filter_conversion_failures{0};
  std::atomic<int64_t> bad_requests{0};
  std::atomic<int64_t> corrupt_records_reported{0};  // damaged records pulls passed over
};

// What every processor needs, owned by BrokerController and outliving every processor.
struct BrokerContext {
  const BrokerOptions& options;
  std::string broker_addr;  // advertised host:port
  store::MessageStore& store;
  TopicManager& topics;
  ClientManager& clients;
  PullHoldService& holds;
  NamesrvRegistrar& registrar;
  filter::FilterCache& filters;
  asio::thread_pool& admin_pool;
  BrokerCounters& counters;
  int64_t start_time_ms;
};

}  // namespace vela::broker
