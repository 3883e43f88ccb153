#include "cluster.h"

#include <chrono>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace vela::testing {

std::unique_ptr<client::Producer> MakeProducer(const std::string& namesrv, const std::string& group) {
  auto p = client::ProducerBuilder().SetNamesrvAddr(namesrv).SetGroup(group).Build();
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? std::move(p).value() : nullptr;
}

std::string TestCluster::StartNamesrv() {
  std::string addr = "127.0.0.1:" + std::to_string(FreePort());
  auto p = ChildProcess::Start({BinaryPath("vela-namesrv"), "--listen", addr, "--set", "httpPort=0"},
                               dir_.str() + "/namesrv" + std::to_string(namesrvs_.size()) + ".log");
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  if (!p.ok()) return "";
  namesrvs_.push_back(std::move(p).value());
  namesrv_addr_list_.push_back(namesrvs_.back().address());
  return namesrvs_.back().address();
}

std::string TestCluster::namesrv_addrs() const {
  std::string out;
  for (const auto& a : namesrv_addr_list_) out += (out.empty() ? "" : ";") + a;
  return out;
}

std::string TestCluster::StartBroker(const std::string& name, const std::vector<std::string>& sets) {
  std::string listen = "127.0.0.1:" + std::to_string(FreePort());
  std::vector<std::string> argv = {BinaryPath("vela-broker"), "--listen", listen, "--store-dir", StoreDir(name),
                                   "--namesrv", namesrv_addrs(), "--set", "brokerName=" + name, "--set", "httpPort=0",
                                   "--set", "mappedFileSizeCommitLog=8m", "--set", "mappedFileSizeConsumeQueue=120000"};
  for (const auto& s : sets) {
    argv.push_back("--set");
    argv.push_back(s);
  }
  brokers_.push_back(BrokerEntry{name, argv, ChildProcess()});
  return RestartBroker(name);
}

std::string TestCluster::RestartBroker(const std::string& name) {
  for (auto& b : brokers_) {
    if (b.name != name) continue;
    b.process.Kill();
    auto p = ChildProcess::Start(b.argv, dir_.str() + "/" + name + ".log");
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    if (!p.ok()) return "";
    b.process = std::move(p).value();
    return b.process.address();
  }
  ADD_FAILURE() << "no broker named " << name;
  return "";
}

ChildProcess& TestCluster::broker(const std::string& name) {
  for (auto& b : brokers_) {
    if (b.name == name) return b.process;
  }
  std::abort();
}

bool TestCluster::WaitForBrokers(size_t count, int timeout_ms) const {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = Admin({"cluster", "list", "--json"}, 10000);
    if (r.exit_code == 0) {
      auto j = nlohmann::json::parse(r.out, nullptr, false);
      size_t n = 0;
      if (j.is_array()) n = j.size();
      if (j.is_object() && j.contains("brokers")) n = j["brokers"].size();
      if (n >= count) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

void TestCluster::CreateTopic(const std::string& topic, int queues) const {
  auto r = Admin({"topic", "create", topic, "--queues", std::to_string(queues)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

CommandResult TestCluster::Admin(std::vector<std::string> args, int timeout_ms) const {
  std::vector<std::string> argv = {BinaryPath("vela-admin"), "--namesrv", namesrv_addrs()};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, timeout_ms);
}

}  // namespace vela::testing
