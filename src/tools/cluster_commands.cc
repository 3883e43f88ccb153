// vela-admin cluster list, broker status.
#include <map>

#include "tools/admin_context.h"

namespace vela::tools {

namespace {

int ClusterList(AdminContext& ctx) {
  auto info = ctx.ClusterInfo(/*include_topics=*/ctx.json);
  if (!info.ok()) return Fail(info.status());
  nlohmann::json brokers = nlohmann::json::array();
  Table table({"CLUSTER", "BROKER", "ID", "ADDRESS", "LAST REGISTRATION"});
  for (const auto& b : info->brokers()) {
    std::map<int64_t, std::string> addrs(b.addrs().begin(), b.addrs().end());
    for (const auto& [id, addr] : addrs) {
      auto it = info->last_update_ms().find(addr);
      int64_t last = it == info->last_update_ms().end() ? 0 : it->second;
      brokers.push_back({{"cluster", b.cluster_name()},
                         {"broker", b.broker_name()},
                         {"id", id},
                         {"addr", addr},
                         {"last_update_ms", last}});
      table.AddRow({b.cluster_name(), b.broker_name(), std::to_string(id), addr, FormatTime(last)});
    }
  }
  if (ctx.json) {
    PrintJson({{"brokers", brokers}, {"topics", std::vector<std::string>(info->topics().begin(), info->topics().end())}});
  } else {
    table.Print();
  }
  return kExitOk;
}

int BrokerStatus(AdminContext& ctx, const std::string& addr) {
  v1::Header header;
  header.set_code(v1::BROKER_STATUS);
  auto response = ctx.Invoke(addr, std::move(header));
  if (!response.ok()) return Fail(response.status());
  std::map<std::string, std::string> values(response->header.broker_status_response().values().begin(),
                                            response->header.broker_status_response().values().end());
  if (ctx.json) {
    nlohmann::json doc = nlohmann::json::object();
    for (const auto& [k, v] : values) doc[k] = v;
    PrintJson(doc);
  } else {
    Table table({"KEY", "VALUE"});
    for (const auto& [k, v] : values) table.AddRow({k, v});
    table.Print();
  }
  return kExitOk;
}

}  // namespace

void AddClusterCommands(CLI::App& app, AdminContext& ctx) {
  auto* cluster = app.add_subcommand("cluster", "cluster information");
  auto* list = cluster->add_subcommand("list", "list the brokers registered with the name servers");
  list->callback([&ctx] { ctx.action = [&ctx] { return ClusterList(ctx); }; });

  auto* broker = app.add_subcommand("broker", "broker information");
  auto* status = broker->add_subcommand("status", "a broker's status and counters");
  auto addr = std::make_shared<std::string>();
  status->add_option("ADDR", *addr, "broker address host:port")->required();
  status->callback([&ctx, addr] { ctx.action = [&ctx, addr] { return BrokerStatus(ctx, *addr); }; });
}

}  // namespace vela::tools
