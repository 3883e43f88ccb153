#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "broker/timer/timer_message.h"
#include "broker/transaction/transaction_message.h"
#include "common/config.h"
#include "http/http_server.h"
#include "net/server.h"
#include "store/message_store.h"

namespace vela::broker {

// The broker's HTTP port when httpPort is not set (CLI.md).
inline constexpr int kDefaultBrokerHttpPort = 8080;

// Broker settings (conf/broker.conf documents each, with RocketMQ's key names where the meaning
// matches). Built once at startup by FromConfig; immutable afterwards.
struct BrokerOptions {
  std::string cluster_name = "DefaultCluster";     // brokerClusterName
  std::string broker_name = "broker-a";            // brokerName
  int64_t broker_id = 0;                           // brokerId (0: master)
  std::vector<std::string> namesrv_addrs;          // namesrvAddr "host:port;host:port"
  std::string listen = "0.0.0.0:10911";            // listen / listenPort
  std::string advertised_ip = "127.0.0.1";         // brokerIP1: the address clients are told
  size_t io_threads = 0;                           // ioThreads (0: cores)
  bool auto_create_topic = false;                  // autoCreateTopicEnable
  bool auto_create_group = true;                   // autoCreateSubscriptionGroup
  size_t auto_create_group_limit = 10000;          // autoCreateSubscriptionGroupLimit: no auto-creation past it
  int32_t default_topic_queues = 8;                // defaultTopicQueueNums
  bool enable_property_filter = true;              // enablePropertyFilter (SQL92)
  int64_t register_interval_ms = 30000;            // registerNameServerPeriod
  int64_t long_polling_max_ms = 30000;             // longPollingMaxMs: cap on a held pull
  int64_t client_expiry_ms = 60000;                // clientChannelExpiryMs
  int64_t queue_lock_lease_ms = 60000;             // rebalanceLockMaxLiveTime: lease of a queue lock
  int32_t max_pull_messages = 256;                 // maxPullMessages per request
  int64_t max_pull_bytes = 4 * 1024 * 1024;        // maxTransferBytesOnMessageInMemory
  uint32_t max_frame_size = 16 * 1024 * 1024;      // maxFrameSize
  net::ServerLimits server_limits;                 // serverMaxConnections, serverChannelMaxIdleTimeSeconds, ...
  store::StoreOptions store;
  timer::TimerOptions timer;                       // messageDelayLevel, timerMaxDelaySec, timerRollAfterSec
  transaction::TransactionOptions transaction;     // transactionTimeOut, transactionCheckInterval, ...
  http::HttpOptions http;                          // httpPort (default 8080; 0: any; -1: off), httpThreads
  bool console_write_enabled = false;              // consoleWriteEnabled: the console's POST routes act

  static Result<BrokerOptions> FromConfig(const Config& config);
};

}  // namespace vela::broker
