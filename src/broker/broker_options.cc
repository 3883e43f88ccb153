#include "broker/broker_options.h"

#include <fmt/format.h>

namespace vela::broker {
namespace {

std::vector<std::string> SplitAddrs(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    auto end = s.find_first_of(";,", start);
    if (end == std::string::npos) end = s.size();
    std::string part = s.substr(start, end - start);
    if (!part.empty()) out.push_back(part);
    start = end + 1;
  }
  return out;
}

}  // namespace

Result<BrokerOptions> BrokerOptions::FromConfig(const Config& c) {
  BrokerOptions o;
  o.cluster_name = c.GetString("brokerClusterName", o.cluster_name);
  o.broker_name = c.GetString("brokerName", o.broker_name);
  VELA_ASSIGN_OR_RETURN(o.broker_id, c.GetInt("brokerId", o.broker_id));
  o.namesrv_addrs = SplitAddrs(c.GetString("namesrvAddr", ""));
  VELA_ASSIGN_OR_RETURN(int64_t port, c.GetInt("listenPort", 10911));
  o.listen = c.GetString("listen", fmt::format("0.0.0.0:{}", port));
  o.advertised_ip = c.GetString("brokerIP1", o.advertised_ip);
  VELA_ASSIGN_OR_RETURN(int64_t io, c.GetInt("ioThreads", 0));
  o.io_threads = static_cast<size_t>(io);
  VELA_ASSIGN_OR_RETURN(o.auto_create_topic, c.GetBool("autoCreateTopicEnable", o.auto_create_topic));
  VELA_ASSIGN_OR_RETURN(o.auto_create_group, c.GetBool("autoCreateSubscriptionGroup", o.auto_create_group));
  VELA_ASSIGN_OR_RETURN(int64_t group_limit,
                        c.GetInt("autoCreateSubscriptionGroupLimit", static_cast<int64_t>(o.auto_create_group_limit)));
  if (group_limit < 1) return Status::InvalidArgument("autoCreateSubscriptionGroupLimit must be at least 1");
  o.auto_create_group_limit = static_cast<size_t>(group_limit);
  VELA_ASSIGN_OR_RETURN(int64_t queues, c.GetInt("defaultTopicQueueNums", o.default_topic_queues));
  if (queues < 1 || queues > 1024) return Status::InvalidArgument("defaultTopicQueueNums must be 1..1024");
  o.default_topic_queues = static_cast<int32_t>(queues);
  VELA_ASSIGN_OR_RETURN(o.enable_property_filter, c.GetBool("enablePropertyFilter", o.enable_property_filter));
  VELA_ASSIGN_OR_RETURN(o.register_interval_ms, c.GetInt("registerNameServerPeriod", o.register_interval_ms));
  VELA_ASSIGN_OR_RETURN(o.long_polling_max_ms, c.GetInt("longPollingMaxMs", o.long_polling_max_ms));
  VELA_ASSIGN_OR_RETURN(o.client_expiry_ms, c.GetInt("clientChannelExpiryMs", o.client_expiry_ms));
  VELA_ASSIGN_OR_RETURN(o.queue_lock_lease_ms, c.GetInt("rebalanceLockMaxLiveTime", o.queue_lock_lease_ms));
  if (o.queue_lock_lease_ms < 100 || o.queue_lock_lease_ms > 3600 * 1000) {
    return Status::InvalidArgument(fmt::format("rebalanceLockMaxLiveTime {} ms is out of range (100 ms to 1 h)",
                                               o.queue_lock_lease_ms));
  }
  VELA_ASSIGN_OR_RETURN(int64_t max_pull, c.GetInt("maxPullMessages", o.max_pull_messages));
  o.max_pull_messages = static_cast<int32_t>(max_pull);
  VELA_ASSIGN_OR_RETURN(o.max_pull_bytes, c.GetBytes("maxTransferBytesOnMessageInMemory", o.max_pull_bytes));
  VELA_ASSIGN_OR_RETURN(int64_t frame, c.GetBytes("maxFrameSize", o.max_frame_size));
  o.max_frame_size = static_cast<uint32_t>(frame);
  VELA_ASSIGN_OR_RETURN(o.server_limits, net::ServerLimits::FromConfig(c));
  VELA_ASSIGN_OR_RETURN(o.store, store::StoreOptions::FromConfig(c));
  if (o.store.root_dir.empty()) o.store.root_dir = "./store";
  VELA_ASSIGN_OR_RETURN(o.timer, timer::TimerOptions::FromConfig(c, o.store.file_reserved_ms()));
  VELA_ASSIGN_OR_RETURN(o.transaction, transaction::TransactionOptions::FromConfig(c));
  VELA_ASSIGN_OR_RETURN(o.http, http::HttpOptions::FromConfig(c, kDefaultBrokerHttpPort, o.listen));
  // The console's write actions (resend dead letters, reset offsets): off unless asked for, since
  // the HTTP port has no access control (the broker warns at start when they are on).
  VELA_ASSIGN_OR_RETURN(o.console_write_enabled, c.GetBool("consoleWriteEnabled", false));
  return o;
}

}  // namespace vela::broker
