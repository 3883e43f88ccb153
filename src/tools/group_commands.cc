// vela-admin group create / list / progress / reset-offset / dlq / dlq-resend.
#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "client/message_codec.h"
#include "common/message_record.h"
#include "common/validation.h"
#include "tools/admin_context.h"

namespace vela::tools {

namespace {

struct GroupCreateArgs {
  std::string name;
  bool broadcast = false;
  int max_retries = 16;
  std::string broker;
  std::string cluster;
};

int GroupCreate(AdminContext& ctx, const GroupCreateArgs& args) {
  auto valid = ValidateGroupName(args.name);
  if (!valid.ok()) return Fail(valid);
  auto resolved = ctx.TargetBrokers(args.broker, args.cluster);
  if (!resolved.ok()) return Fail(resolved.status());
  const std::vector<std::string>& targets = *resolved;
  v1::Header header;
  header.set_code(v1::CREATE_GROUP);
  auto* config = header.mutable_create_group_request();
  config->set_name(args.name);
  config->set_broadcast(args.broadcast);
  config->set_max_retries(args.max_retries);
  config->set_consume_enable(true);
  int code = kExitOk;
  nlohmann::json created = nlohmann::json::array();
  for (const auto& addr : targets) {
    auto response = ctx.Invoke(addr, header);
    if (!response.ok()) {
      code = Fail(response.status());
      continue;
    }
    created.push_back(addr);
    if (!ctx.json) std::cout << fmt::format("created group {} on {}", args.name, addr) << std::endl;
  }
  if (ctx.json) {
    PrintJson({{"group", args.name}, {"broadcast", args.broadcast}, {"max_retries", args.max_retries}, {"brokers", created}});
  }
  return code;
}

int GroupList(AdminContext& ctx) {
  auto addrs = ctx.BrokerAddrs();
  if (!addrs.ok()) return Fail(addrs.status());
  struct Row {
    v1::GroupConfig config;
    std::vector<std::string> brokers;
  };
  std::map<std::string, Row> groups;
  int code = kExitOk;
  for (const auto& addr : *addrs) {
    Status s = ctx.ForEachPage(addr, v1::LIST_GROUPS, [&](const std::string& body) {
      v1::GroupListResponse page;
      if (!page.ParseFromString(body)) return vela::Status::Corruption("group list page does not parse");
      for (const auto& g : page.groups()) {
        auto& row = groups[g.name()];
        row.config = g;
        row.brokers.push_back(addr);
      }
      return vela::Status::OK();
    });
    if (!s.ok()) code = Fail(s);
  }
  if (ctx.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& [name, r] : groups) {
      list.push_back({{"name", name},
                      {"broadcast", r.config.broadcast()},
                      {"max_retries", r.config.max_retries()},
                      {"consume_enable", r.config.consume_enable()},
                      {"brokers", r.brokers}});
    }
    PrintJson({{"groups", list}});
  } else {
    Table table({"GROUP", "BROADCAST", "MAX RETRIES", "CONSUME", "BROKERS"});
    for (const auto& [name, r] : groups) {
      table.AddRow({name, r.config.broadcast() ? "yes" : "no", std::to_string(r.config.max_retries()),
                    r.config.consume_enable() ? "enabled" : "disabled", std::to_string(r.brokers.size())});
    }
    table.Print();
  }
  return code;
}

int GroupProgress(AdminContext& ctx, const std::string& group, const std::string& topic) {
  auto addrs = ctx.BrokerAddrs();
  if (!addrs.ok()) return Fail(addrs.status());
  nlohmann::json queues = nlohmann::json::array();
  std::set<std::string> members;
  Table table({"TOPIC", "BROKER", "QUEUE", "BROKER OFFSET", "CONSUMER OFFSET", "LAG"});
  int64_t total_lag = 0;
  v1::Header request;
  request.set_code(v1::GROUP_PROGRESS);
  request.mutable_group_progress_request()->set_group(group);
  request.mutable_group_progress_request()->set_topic(topic);
  auto on_response = [&](const std::string& addr, const net::Frame& response) {
    const auto& progress = response.header.group_progress_response();
    for (const auto& m : progress.members()) members.insert(m);
    for (const auto& q : progress.queues()) {
      total_lag += q.lag();
      queues.push_back({{"topic", q.topic()},
                        {"broker", addr},
                        {"queue", q.queue_id()},
                        {"broker_offset", q.broker_offset()},
                        {"consumer_offset", q.consumer_offset()},
                        {"lag", q.lag()}});
      table.AddRow({q.topic(), addr, std::to_string(q.queue_id()), std::to_string(q.broker_offset()),
                    std::to_string(q.consumer_offset()), std::to_string(q.lag())});
    }
  };
  int code = ctx.ForEachBroker(*addrs, request, on_response, /*skip_not_found=*/true);
  if (ctx.json) {
    PrintJson({{"group", group}, {"queues", queues}, {"members", members}, {"total_lag", total_lag}});
  } else {
    table.Print();
    std::cout << fmt::format("total lag: {}\nmembers ({}):", total_lag, members.size()) << "\n";
    for (const auto& m : members) std::cout << "  " << m << "\n";
    std::cout.flush();
  }
  return code;
}

struct ResetArgs {
  std::string group;
  std::string topic;
  int64_t to_time = 0;
  std::string to;
};

int GroupResetOffset(AdminContext& ctx, const ResetArgs& args) {
  auto route = ctx.Route(args.topic);
  if (!route.ok()) return Fail(route.status());
  nlohmann::json queues = nlohmann::json::array();
  Table table({"TOPIC", "BROKER", "QUEUE", "NEW CONSUMER OFFSET"});
  int code = kExitOk;
  for (const auto& [name, addr] : route->broker_addrs) {
    v1::Header header;
    header.set_code(v1::RESET_OFFSET);
    auto* r = header.mutable_reset_offset_request();
    r->set_group(args.group);
    r->set_topic(args.topic);
    r->set_timestamp_ms(args.to_time);
    r->set_to(args.to);
    auto response = ctx.Invoke(addr, std::move(header));
    if (!response.ok()) {
      code = Fail(response.status());
      continue;
    }
    for (const auto& q : response->header.reset_offset_response().queues()) {
      queues.push_back({{"topic", q.topic().empty() ? args.topic : q.topic()},
                        {"broker", addr},
                        {"queue", q.queue_id()},
                        {"consumer_offset", q.consumer_offset()}});
      table.AddRow({args.topic, addr, std::to_string(q.queue_id()), std::to_string(q.consumer_offset())});
    }
  }
  if (ctx.json) {
    PrintJson({{"group", args.group}, {"topic", args.topic}, {"queues", queues}});
  } else {
    table.Print();
  }
  return code;
}

// The topic a dead letter was first sent to (its RETRY_TOPIC property).
std::string OriginTopicOf(const client::MessageView& m) {
  auto it = m.properties.find(std::string(prop::kRetryTopic));
  return it != m.properties.end() && !it->second.empty() ? it->second : m.topic;
}

// Lists the group's dead letters on every broker (DEAD_LETTER_LIST, page by page), at most
// `count` (0: all), each as consume prints a message plus its origin topic.
int GroupDlq(AdminContext& ctx, const std::string& group, int64_t count) {
  if (auto valid = ValidateGroupName(group); !valid.ok()) return Fail(valid);
  auto addrs = ctx.BrokerAddrs();
  if (!addrs.ok()) return Fail(addrs.status());
  constexpr int64_t kPage = 256;
  int64_t printed = 0;
  int code = kExitOk;
  for (const auto& addr : *addrs) {
    int64_t offset = 0;
    while (count == 0 || printed < count) {
      v1::Header header;
      header.set_code(v1::DEAD_LETTER_LIST);
      auto* req = header.mutable_dead_letter_list_request();
      req->set_group(group);
      req->set_start_offset(offset);
      req->set_max_messages(static_cast<int32_t>(count == 0 ? kPage : std::min(kPage, count - printed)));
      auto response = ctx.Invoke(addr, std::move(header));
      if (!response.ok()) {
        // NotFound: no dead-letter topic of this group on that broker.
        if (response.status().code() != vela::StatusCode::kNotFound) code = Fail(response.status().WithContext(addr));
        break;
      }
      const auto& page = response->header.dead_letter_list_response();
      auto messages = client::DecodeMessages(response->body, addr, page.message_count());
      if (!messages.ok()) {
        code = Fail(messages.status().WithContext(addr));
        break;
      }
      for (const auto& m : *messages) {
        if (count != 0 && printed >= count) break;
        ++printed;
        if (ctx.json) {
          nlohmann::json j = MessageJson(m);
          j["origin_topic"] = OriginTopicOf(m);
          PrintJson(j);
        } else {
          std::cout << MessageLine(m) << " origin_topic=" << OriginTopicOf(m) << " reconsume=" << m.reconsume_times
                    << std::endl;
        }
      }
      if (!page.more() || page.next_offset() <= offset) break;
      offset = page.next_offset();
    }
  }
  if (!ctx.json) std::cout << fmt::format("{} dead letters of group {}", printed, group) << std::endl;
  return code;
}

// Puts dead letters of the group (one id, or all) back into its retry topic on every broker
// that holds any (DEAD_LETTER_RESEND).
int GroupDlqResend(AdminContext& ctx, const std::string& group, const std::string& id, bool all) {
  if (auto valid = ValidateGroupName(group); !valid.ok()) return Fail(valid);
  auto addrs = ctx.BrokerAddrs();
  if (!addrs.ok()) return Fail(addrs.status());
  int64_t resent = 0;
  nlohmann::json ids = nlohmann::json::array();
  nlohmann::json brokers = nlohmann::json::array();
  int code = kExitOk;
  for (const auto& addr : *addrs) {
    v1::Header header;
    header.set_code(v1::DEAD_LETTER_RESEND);
    auto* req = header.mutable_dead_letter_resend_request();
    req->set_group(group);
    req->set_msg_id(id);
    req->set_all(all);
    auto response = ctx.Invoke(addr, std::move(header));
    if (!response.ok()) {
      // NotFound: nothing of this group (or with this id) to resend on that broker.
      if (response.status().code() != vela::StatusCode::kNotFound) code = Fail(response.status().WithContext(addr));
      continue;
    }
    const auto& r = response->header.dead_letter_resend_response();
    resent += r.resent();
    for (const auto& m : r.msg_ids()) ids.push_back(m);
    brokers.push_back({{"broker", addr}, {"resent", r.resent()}});
  }
  if (code == kExitOk && !all && resent == 0) {
    code = Fail(fmt::format("group {} has no dead letter with id {} left to resend on any broker", group, id));
  }
  if (ctx.json) {
    PrintJson({{"group", group}, {"resent", resent}, {"ids", ids}, {"brokers", brokers}});
  } else if (code == kExitOk || resent > 0) {
    std::cout << fmt::format("resent {} dead letters of group {} into %RETRY%{}", resent, group, group) << std::endl;
  }
  return code;
}

}  // namespace

void AddGroupCommands(CLI::App& app, AdminContext& ctx) {
  auto* group = app.add_subcommand("group", "consumer group administration");

  auto create_args = std::make_shared<GroupCreateArgs>();
  auto* create = group->add_subcommand("create", "create a consumer group on every broker");
  create->add_option("NAME", create_args->name, "group name")->required();
  create->add_flag("--broadcast", create_args->broadcast, "allow broadcast consumption");
  create->add_option("--max-retries", create_args->max_retries, "redeliveries before dead-lettering, 0..64 (default 16; 0: none)")
      ->check(CLI::Range(0, 64));
  auto* broker_opt = create->add_option("--broker", create_args->broker, "only this broker (host:port)");
  create->add_option("--cluster", create_args->cluster, "only the brokers of this cluster")->excludes(broker_opt);
  create->callback([&ctx, create_args] { ctx.action = [&ctx, create_args] { return GroupCreate(ctx, *create_args); }; });

  auto* list = group->add_subcommand("list", "list the groups of every broker");
  list->callback([&ctx] { ctx.action = [&ctx] { return GroupList(ctx); }; });

  auto name = std::make_shared<std::string>();
  auto topic = std::make_shared<std::string>();
  auto* progress = group->add_subcommand("progress", "per queue: broker offset, consumer offset, lag; and the members");
  progress->add_option("NAME", *name, "group name")->required();
  progress->add_option("--topic", *topic, "only this topic");
  progress->callback([&ctx, name, topic] { ctx.action = [&ctx, name, topic] { return GroupProgress(ctx, *name, *topic); }; });

  auto reset_args = std::make_shared<ResetArgs>();
  auto* reset = group->add_subcommand("reset-offset", "move a group's offsets on a topic to a time or an end");
  reset->add_option("NAME", reset_args->group, "group name")->required();
  reset->add_option("--topic", reset_args->topic, "topic")->required();
  auto* to_time = reset->add_option("--to-time", reset_args->to_time, "epoch milliseconds");
  auto* to = reset->add_option("--to", reset_args->to, "earliest|latest")->check(CLI::IsMember({"earliest", "latest"}));
  to_time->excludes(to);
  reset->callback([&ctx, reset_args, to_time, to] {
    if (to_time->count() == 0 && to->count() == 0) throw CLI::RequiredError("--to-time or --to");
    ctx.action = [&ctx, reset_args] { return GroupResetOffset(ctx, *reset_args); };
  });

  auto dlq_name = std::make_shared<std::string>();
  auto dlq_count = std::make_shared<int64_t>(0);
  auto* dlq = group->add_subcommand("dlq", "list a group's dead letters (%DLQ%<group>) on every broker");
  dlq->add_option("NAME", *dlq_name, "group name")->required();
  dlq->add_option("--count", *dlq_count, "at most this many (default: all)")->check(CLI::Range(int64_t{1}, INT64_MAX));
  dlq->callback([&ctx, dlq_name, dlq_count] {
    ctx.action = [&ctx, dlq_name, dlq_count] { return GroupDlq(ctx, *dlq_name, *dlq_count); };
  });

  auto resend_name = std::make_shared<std::string>();
  auto resend_id = std::make_shared<std::string>();
  auto resend_all = std::make_shared<bool>(false);
  auto* resend = group->add_subcommand(
      "dlq-resend", "put dead letters back into the group's retry topic (reconsume 0, no delay)");
  resend->add_option("NAME", *resend_name, "group name")->required();
  auto* id_opt = resend->add_option("--id", *resend_id, "the dead letter's unique id");
  auto* all_opt = resend->add_flag("--all", *resend_all, "every dead letter of the group not resent yet");
  id_opt->excludes(all_opt);
  resend->callback([&ctx, resend_name, resend_id, resend_all, id_opt, all_opt] {
    if (id_opt->count() == 0 && all_opt->count() == 0) throw CLI::RequiredError("--id or --all");
    if (id_opt->count() > 0 && resend_id->empty()) throw CLI::ValidationError("--id", "must not be empty");
    ctx.action = [&ctx, resend_name, resend_id, resend_all] {
      return GroupDlqResend(ctx, *resend_name, *resend_id, *resend_all);
    };
  });
}

}  // namespace vela::tools
