#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/service_thread.h"
#include "net/rpc_client.h"
#include "vela/v1/vela.pb.h"

namespace vela::broker {

// NamesrvRegistrar keeps the broker registered with every name server: at start, every
// registration period, and at once when Trigger() is called after a topic change. The topic
// table travels in frame bodies (split into parts of at most kMaxPartBytes); a name server that
// already holds the current table's version gets a registration without a body, so the periodic
// re-registration of a broker with 100,000 topics costs a small frame. At shutdown
// UnregisterAll() tells each name server the broker is leaving. Failures and refusals are logged
// (once per name server until it recovers) and retried within kRetryMs. Thread-safe.
class NamesrvRegistrar : public ServiceThread {
 public:
  // `build` produces the current registration; it must be thread-safe and outlive this object.
  // `generation`, when given, changes whenever what `build` would return changes: while it
  // stays the same, the last registration is reused instead of built again.
  NamesrvRegistrar(std::vector<std::string> namesrv_addrs, int64_t interval_ms,
                   std::function<v1::RegisterBrokerRequest()> build, std::function<uint64_t()> generation = {});
  ~NamesrvRegistrar() override;

  void Trigger() { Wakeup(); }
  void UnregisterAll();

  // Serialized TopicRouteTable parts of about max_part_bytes at most (one entry may exceed it);
  // at least one part, empty for an empty table.
  static std::vector<std::string> EncodeTopicParts(const v1::TopicRouteTable& table, size_t max_part_bytes);
  // A version identifying the table's contents (a hash of every field), never 0.
  static uint64_t TableVersion(const v1::TopicRouteTable& table);

  static constexpr size_t kMaxPartBytes = 4 << 20;
  static constexpr int64_t kRetryMs = 3000;
  static constexpr int64_t kRequestTimeoutMs = 3000;
  static constexpr int64_t kBodyTimeoutMs = 15000;

 protected:
  void Run() override;

 private:
  // Returns true when every name server took the registration.
  bool RegisterAll();
  // Registers with name server i: without a body when it holds `version`, else the whole table
  // (*parts: the encoded table, filled on first need and shared by the name servers).
  Status RegisterWith(size_t i, const v1::RegisterBrokerRequest& identity, const v1::TopicRouteTable& table,
                      uint64_t version, std::vector<std::string>* parts);

  std::vector<std::string> addrs_;
  int64_t interval_ms_;
  std::function<v1::RegisterBrokerRequest()> build_;
  std::function<uint64_t()> generation_;
  // The last registration built (registrar thread only).
  bool built_ = false;
  uint64_t built_generation_ = 0;
  v1::RegisterBrokerRequest identity_;  // without topics
  v1::TopicRouteTable table_;
  uint64_t version_ = 0;
  net::RpcClient client_;
  std::vector<bool> failing_;
  std::vector<uint64_t> held_version_;  // per name server: the table version it holds (0: unknown)
  size_t topic_count_ = 0;
};

}  // namespace vela::broker
