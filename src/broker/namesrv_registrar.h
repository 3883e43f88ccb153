#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/service_thread.h"
#include "net/rpc_client.h"
#include "vela/v1/vela.pb.h"

namespace vela::broker {

// NamesrvRegistrar keeps the broker registered with every name server: at start, every
// registration period, and at once when Trigger() is called after a topic change. At shutdown
// UnregisterAll() tells each name server the broker is leaving. Failures are logged (once per
// name server until it recovers) and retried next round. Thread-safe.
class NamesrvRegistrar : public ServiceThread {
 public:
  // `build` produces the current registration; it must be thread-safe and outlive this object.
  NamesrvRegistrar(std::vector<std::string> namesrv_addrs, int64_t interval_ms,
                   std::function<v1::RegisterBrokerRequest()> build);
  ~NamesrvRegistrar() override;

  void Trigger() { Wakeup(); }
  void UnregisterAll();

 protected:
  void Run() override;

 private:
  void RegisterAll();

  std::vector<std::string> addrs_;
  int64_t interval_ms_;
  std::function<v1::RegisterBrokerRequest()> build_;
  net::RpcClient client_;
  std::vector<bool> failing_;
};

}  // namespace vela::broker
