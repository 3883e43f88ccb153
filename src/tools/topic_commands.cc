// vela-admin topic create / list / route / status / delete.
#include <map>
#include <set>

#include <fmt/format.h>

#include "common/validation.h"
#include "tools/admin_context.h"

namespace vela::tools {

namespace {

const char* TypeName(v1::MessageType type) {
  switch (type) {
    case v1::MESSAGE_FIFO: return "fifo";
    case v1::MESSAGE_DELAY: return "delay";
    case v1::MESSAGE_TRANSACTION: return "transaction";
    default: return "normal";
  }
}

std::string PermName(uint32_t perm) {
  std::string s;
  s += (perm & client::kPermRead) ? 'r' : '-';
  s += (perm & client::kPermWrite) ? 'w' : '-';
  return s;
}

struct TopicCreateArgs {
  std::string name;
  int queues = 8;
  std::string type = "normal";
  std::string broker;
  std::string cluster;
};

int TopicCreate(AdminContext& ctx, const TopicCreateArgs& args) {
  auto valid = ValidateUserTopicName(args.name);
  if (!valid.ok()) return Fail(valid);
  static const std::map<std::string, v1::MessageType> kTypes = {{"normal", v1::MESSAGE_NORMAL},
                                                                {"fifo", v1::MESSAGE_FIFO},
                                                                {"delay", v1::MESSAGE_DELAY},
                                                                {"transaction", v1::MESSAGE_TRANSACTION}};
  auto resolved = ctx.TargetBrokers(args.broker, args.cluster);
  if (!resolved.ok()) return Fail(resolved.status());
  const std::vector<std::string>& targets = *resolved;
  v1::Header header;
  header.set_code(v1::CREATE_TOPIC);
  auto* config = header.mutable_create_topic_request();
  config->set_name(args.name);
  config->set_read_queues(args.queues);
  config->set_write_queues(args.queues);
  config->set_perm(client::kPermRead | client::kPermWrite);
  config->set_message_type(kTypes.at(args.type));
  int code = kExitOk;
  nlohmann::json created = nlohmann::json::array();
  for (const auto& addr : targets) {
    auto response = ctx.Invoke(addr, header);
    if (!response.ok()) {
      code = Fail(response.status());
      continue;
    }
    created.push_back(addr);
    if (!ctx.json) std::cout << fmt::format("created topic {} ({} queues, {}) on {}", args.name, args.queues, args.type, addr) << std::endl;
  }
  if (ctx.json) {
    PrintJson({{"topic", args.name}, {"queues", args.queues}, {"type", args.type}, {"brokers", created}});
  }
  return code;
}

int TopicList(AdminContext& ctx, bool include_system) {
  auto addrs = ctx.BrokerAddrs();
  if (!addrs.ok()) return Fail(addrs.status());
  struct Row {
    int read = 0;
    int write = 0;
    uint32_t perm = 0;
    v1::MessageType type = v1::MESSAGE_NORMAL;
    std::vector<std::string> brokers;
  };
  std::map<std::string, Row> topics;
  int code = kExitOk;
  for (const auto& addr : *addrs) {
    Status s = ctx.ForEachPage(addr, v1::LIST_TOPICS, [&](const std::string& body) {
      v1::TopicListResponse page;
      if (!page.ParseFromString(body)) return vela::Status::Corruption("topic list page does not parse");
      for (const auto& t : page.topics()) {
        auto& row = topics[t.name()];
        row.read += t.read_queues();
        row.write += t.write_queues();
        row.perm |= t.perm();
        row.type = t.message_type();
        row.brokers.push_back(addr);
      }
      return vela::Status::OK();
    }, include_system);
    if (!s.ok()) code = Fail(s);
  }
  if (ctx.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& [name, r] : topics) {
      list.push_back({{"name", name},
                      {"read_queues", r.read},
                      {"write_queues", r.write},
                      {"perm", r.perm},
                      {"type", TypeName(r.type)},
                      {"brokers", r.brokers}});
    }
    PrintJson({{"topics", list}});
  } else {
    Table table({"TOPIC", "TYPE", "READ QUEUES", "WRITE QUEUES", "PERM", "BROKERS"});
    for (const auto& [name, r] : topics) {
      table.AddRow({name, TypeName(r.type), std::to_string(r.read), std::to_string(r.write), PermName(r.perm),
                    std::to_string(r.brokers.size())});
    }
    table.Print();
  }
  return code;
}

int TopicRoute(AdminContext& ctx, const std::string& topic) {
  auto instance = ctx.Instance();
  if (!instance.ok()) return Fail(instance.status());
  auto route = (*instance)->namesrv().GetRoute(topic);
  if (!route.ok()) return Fail(route.status());
  std::map<std::string, std::string> masters;
  nlohmann::json brokers = nlohmann::json::array();
  for (const auto& b : route->brokers()) {
    nlohmann::json addrs = nlohmann::json::object();
    for (const auto& [id, addr] : b.addrs()) {
      addrs[std::to_string(id)] = addr;
      if (id == 0) masters[b.broker_name()] = addr;
    }
    brokers.push_back({{"cluster", b.cluster_name()}, {"broker", b.broker_name()}, {"addrs", addrs}});
  }
  nlohmann::json queues = nlohmann::json::array();
  Table table({"BROKER", "ADDRESS", "READ QUEUES", "WRITE QUEUES", "PERM", "TYPE"});
  for (const auto& q : route->queues()) {
    queues.push_back({{"broker", q.broker_name()},
                      {"addr", masters[q.broker_name()]},
                      {"read_queues", q.read_queues()},
                      {"write_queues", q.write_queues()},
                      {"perm", q.perm()},
                      {"type", TypeName(q.message_type())}});
    table.AddRow({q.broker_name(), masters[q.broker_name()], std::to_string(q.read_queues()),
                  std::to_string(q.write_queues()), PermName(q.perm()), TypeName(q.message_type())});
  }
  if (ctx.json) {
    PrintJson({{"topic", topic}, {"brokers", brokers}, {"queues", queues}});
  } else {
    table.Print();
  }
  return kExitOk;
}

int TopicStatus(AdminContext& ctx, const std::string& topic) {
  auto route = ctx.Route(topic);
  if (!route.ok()) return Fail(route.status());
  nlohmann::json queues = nlohmann::json::array();
  Table table({"BROKER", "QUEUE", "MIN OFFSET", "MAX OFFSET", "LAST STORED"});
  int code = kExitOk;
  for (const auto& [name, addr] : route->broker_addrs) {
    v1::Header header;
    header.set_code(v1::TOPIC_STATUS);
    header.mutable_topic_status_request()->set_topic(topic);
    auto response = ctx.Invoke(addr, std::move(header));
    if (!response.ok()) {
      code = Fail(response.status());
      continue;
    }
    for (const auto& q : response->header.topic_status_response().queues()) {
      queues.push_back({{"broker", name},
                        {"broker_addr", addr},
                        {"queue", q.queue_id()},
                        {"min_offset", q.min_offset()},
                        {"max_offset", q.max_offset()},
                        {"last_store_ms", q.last_store_timestamp_ms()}});
      table.AddRow({name, std::to_string(q.queue_id()), std::to_string(q.min_offset()), std::to_string(q.max_offset()),
                    FormatTime(q.last_store_timestamp_ms())});
    }
  }
  if (ctx.json) {
    PrintJson({{"topic", topic}, {"queues", queues}});
  } else {
    table.Print();
  }
  return code;
}

int TopicDelete(AdminContext& ctx, const std::string& topic) {
  auto addrs = ctx.BrokerAddrs();
  if (!addrs.ok()) return Fail(addrs.status());
  nlohmann::json deleted = nlohmann::json::array();
  v1::Header request;
  request.set_code(v1::DELETE_TOPIC);
  request.mutable_delete_topic_request()->set_topic(topic);
  int code = ctx.ForEachBroker(
      *addrs, request, [&](const std::string& addr, const net::Frame&) { deleted.push_back(addr); },
      /*skip_not_found=*/true);  // NotFound: the topic is not on that broker
  auto instance = ctx.Instance();
  if (!instance.ok()) return Fail(instance.status());
  for (const auto& ns : (*instance)->namesrv().addresses()) {
    v1::Header header;
    header.set_code(v1::NAMESRV_DELETE_TOPIC);
    header.mutable_namesrv_delete_topic_request()->set_topic(topic);
    auto response = ctx.Invoke(ns, std::move(header));
    if (!response.ok() && response.status().code() != vela::StatusCode::kNotFound) code = Fail(response.status());
  }
  if (deleted.empty() && code == kExitOk) {
    return Fail(vela::Status::NotFound(fmt::format("topic {} exists on no broker", topic), vela::SubCode::kTopicNotFound));
  }
  if (ctx.json) {
    PrintJson({{"topic", topic}, {"brokers", deleted}});
  } else {
    for (const auto& addr : deleted) std::cout << fmt::format("deleted topic {} on {}", topic, addr.get<std::string>()) << std::endl;
  }
  return code;
}

}  // namespace

void AddTopicCommands(CLI::App& app, AdminContext& ctx) {
  auto* topic = app.add_subcommand("topic", "topic administration");

  auto create_args = std::make_shared<TopicCreateArgs>();
  auto* create = topic->add_subcommand("create", "create a topic on every broker (or one broker / cluster)");
  create->add_option("NAME", create_args->name, "topic name")->required();
  create->add_option("--queues", create_args->queues, "read and write queues per broker (default 8)")
      ->check(CLI::Range(1, 1024));
  create->add_option("--type", create_args->type, "normal|fifo|delay|transaction")
      ->check(CLI::IsMember({"normal", "fifo", "delay", "transaction"}));
  auto* broker_opt = create->add_option("--broker", create_args->broker, "only this broker (host:port)");
  create->add_option("--cluster", create_args->cluster, "only the brokers of this cluster")->excludes(broker_opt);
  create->callback([&ctx, create_args] { ctx.action = [&ctx, create_args] { return TopicCreate(ctx, *create_args); }; });

  auto include_system = std::make_shared<bool>(false);
  auto* list = topic->add_subcommand("list", "list the topics of every broker (system topics only with --system)");
  list->add_flag("--system", *include_system, "also list the brokers' reserved system topics");
  list->callback([&ctx, include_system] {
    ctx.action = [&ctx, include_system] { return TopicList(ctx, *include_system); };
  });

  auto name = std::make_shared<std::string>();
  auto* route = topic->add_subcommand("route", "a topic's route as the name servers see it");
  route->add_option("NAME", *name, "topic name")->required();
  route->callback([&ctx, name] { ctx.action = [&ctx, name] { return TopicRoute(ctx, *name); }; });

  auto* status = topic->add_subcommand("status", "per queue: broker, queue id, min/max offset, last store time");
  status->add_option("NAME", *name, "topic name")->required();
  status->callback([&ctx, name] { ctx.action = [&ctx, name] { return TopicStatus(ctx, *name); }; });

  auto* del = topic->add_subcommand("delete", "delete a topic from every broker and name server");
  del->add_option("NAME", *name, "topic name")->required();
  del->callback([&ctx, name] { ctx.action = [&ctx, name] { return TopicDelete(ctx, *name); }; });
}

}  // namespace vela::tools
