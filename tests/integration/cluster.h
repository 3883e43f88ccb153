#pragma once

#include <memory>
#include <string>
#include <vector>

#include "support/process.h"
#include "support/test_support.h"
#include "vela/producer.h"

namespace vela::testing {

// A started SDK producer of `group` that finds its brokers through `namesrv`; null (and a failed
// expectation) when it cannot start.
std::unique_ptr<client::Producer> MakeProducer(const std::string& namesrv, const std::string& group);

// TestCluster starts real name servers and brokers for one test, each on a free loopback port
// with its own store directory under one temporary directory, and stops them at the end.
class TestCluster {
 public:
  TestCluster() = default;

  // Starts a name server; returns its address.
  std::string StartNamesrv();
  // Starts a broker named `name` registered with every name server started so far; `sets` are
  // extra --set key=value settings. The store dir is kept across restarts of the same name.
  std::string StartBroker(const std::string& name, const std::vector<std::string>& sets = {});
  // Restarts a stopped or killed broker on the same port and store directory.
  std::string RestartBroker(const std::string& name);
  ChildProcess& broker(const std::string& name);
  ChildProcess& namesrv(size_t i) { return namesrvs_[i]; }
  // "addr1;addr2" of the running name servers.
  std::string namesrv_addrs() const;
  const TempDir& dir() const { return dir_; }
  std::string StoreDir(const std::string& name) const { return dir_.str() + "/" + name; }
  // Waits until the name servers list `count` brokers; false on timeout.
  bool WaitForBrokers(size_t count, int timeout_ms = 20000) const;
  // Creates a topic on every broker through vela-admin; fails the test on error.
  void CreateTopic(const std::string& topic, int queues) const;
  // Runs vela-admin with --namesrv set.
  CommandResult Admin(std::vector<std::string> args, int timeout_ms = 60000) const;

 private:
  struct BrokerEntry {
    std::string name;
    std::vector<std::string> argv;
    ChildProcess process;
  };
  TempDir dir_;
  std::vector<ChildProcess> namesrvs_;
  std::vector<std::string> namesrv_addr_list_;
  std::vector<BrokerEntry> brokers_;
};

}  // namespace vela::testing
