// A flipped byte in a real broker's store, end to end: after a clean restart every intact message
// is still consumed through the CLI, the damaged one is reported (broker status, the broker log),
// and vela-store verify names the damage.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cluster.h"
#include "vela/producer.h"

namespace vela::testing {
namespace {

TEST(CorruptionEndToEnd, FlippedByteIsReportedAndEveryIntactMessageIsConsumed) {
  TestCluster cluster;
  const std::string namesrv = cluster.StartNamesrv();
  cluster.StartBroker("broker-a");
  ASSERT_TRUE(cluster.WaitForBrokers(1));
  cluster.CreateTopic("Orders", 2);
  auto producer = client::ProducerBuilder().SetNamesrvAddr(namesrv).SetGroup("p").Build();
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  constexpr int kCount = 1000;
  for (int i = 0; i < kCount; ++i) {
    auto r = (*producer)->Send(client::Message("Orders", "order-" + std::to_string(i) + std::string(300, '.')));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  (*producer)->Shutdown();
  ASSERT_EQ(cluster.broker("broker-a").Terminate(), 0);

  // One byte in the middle of the written part of the first segment.
  const std::string segment = cluster.StoreDir("broker-a") + "/commitlog/00000000000000000000";
  {
    std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(kCount * 400 / 2);
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x10);
    f.seekp(kCount * 400 / 2);
    f.write(&c, 1);
  }
  auto verify = RunCommand({BinaryPath("vela-store"), "verify", "--store-dir", cluster.StoreDir("broker-a"), "--json"});
  ASSERT_EQ(verify.exit_code, 1) << verify.out << verify.err;
  EXPECT_FALSE(nlohmann::json::parse(verify.out)["clean"].get<bool>());

  const std::string broker = cluster.RestartBroker("broker-a");
  ASSERT_TRUE(cluster.WaitForBrokers(1));
  auto consumed = cluster.Admin({"consume", "--topic", "Orders", "--group", "g1", "--count", std::to_string(kCount - 1),
                                 "--timeout", "60", "--json"},
                                120000);
  ASSERT_EQ(consumed.exit_code, 0) << consumed.err;
  std::istringstream lines(consumed.out);
  int received = 0;
  for (std::string line; std::getline(lines, line);) received += line.empty() ? 0 : 1;
  EXPECT_EQ(received, kCount - 1);
  auto status = cluster.Admin({"broker", "status", broker, "--json"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  auto s = nlohmann::json::parse(status.out);
  EXPECT_EQ(s["corruptRecords"], "1") << status.out;
  EXPECT_GE(std::stoi(s["corruptRecordsReported"].get<std::string>()), 1) << status.out;
  // The broker still takes new messages on the damaged queue.
  EXPECT_EQ(cluster.Admin({"send", "--topic", "Orders", "--body", "after"}).exit_code, 0);
}

}  // namespace
}  // namespace vela::testing
