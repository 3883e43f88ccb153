// vela-admin transaction list, status, resolve, checker (docs/transactions.md).
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "client/transaction_producer_impl.h"
#include "common/clock.h"
#include "common/validation.h"
#include "tools/admin_context.h"
#include "vela/transaction.h"

namespace vela::tools {

namespace {

const char* OutcomeName(v1::EndTransactionOutcome outcome) {
  switch (outcome) {
    case v1::TX_END_COMMITTED: return "committed";
    case v1::TX_END_ROLLED_BACK: return "rolled_back";
    case v1::TX_END_ALREADY_COMMITTED: return "already_committed";
    case v1::TX_END_ALREADY_ROLLED_BACK: return "already_rolled_back";
    case v1::TX_END_LEFT_PENDING: return "left_pending";
    default: return "unknown";
  }
}

const char* ResolutionName(client::TransactionResolution resolution) {
  switch (resolution) {
    case client::TransactionResolution::kCommit: return "commit";
    case client::TransactionResolution::kRollback: return "rollback";
    case client::TransactionResolution::kUnknown: break;
  }
  return "unknown";
}

int TransactionList(AdminContext& ctx, const std::string& broker) {
  auto addrs = ctx.TargetBrokers(broker, "");
  if (!addrs.ok()) return Fail(addrs.status());
  v1::Header request;
  request.set_code(v1::TRANSACTION_LIST);
  nlohmann::json list = nlohmann::json::array();
  bool truncated = false;
  Table table({"TRANSACTION", "GROUP", "TOPICS", "MESSAGES", "FIRST STORED", "AGE (s)", "CHECKS", "STATE", "BROKER"});
  const int64_t now = NowEpochMs();
  const int code = ctx.ForEachBroker(*addrs, request, [&](const std::string& addr, const net::Frame& response) {
    const auto& r = response.header.transaction_list_response();
    truncated = truncated || r.truncated();
    for (const auto& t : r.transactions()) {
      const int64_t age_ms = t.first_store_ms() > 0 ? std::max<int64_t>(0, now - t.first_store_ms()) : 0;
      std::vector<std::string> topics(t.topics().begin(), t.topics().end());
      list.push_back({{"id", t.transaction_id()},
                      {"producer_group", t.producer_group()},
                      {"topics", topics},
                      {"messages", t.message_count()},
                      {"first_store_ms", t.first_store_ms()},
                      {"age_ms", age_ms},
                      {"checks", t.check_times()},
                      {"discarded", t.discarded()},
                      {"broker", addr}});
      table.AddRow({t.transaction_id(), t.producer_group(), fmt::format("{}", fmt::join(topics, ",")),
                    std::to_string(t.message_count()), FormatTime(t.first_store_ms()),
                    fmt::format("{:.1f}", static_cast<double>(age_ms) / 1000.0), std::to_string(t.check_times()),
                    t.discarded() ? "discarded" : "pending", addr});
    }
  });
  if (ctx.json) {
    PrintJson({{"transactions", list}, {"truncated", truncated}});
  } else {
    table.Print();
    if (truncated) std::cout << "(truncated: a broker holds more transactions than it lists)" << std::endl;
  }
  return code;
}

int TransactionStatus(AdminContext& ctx, const std::string& broker) {
  auto addrs = ctx.TargetBrokers(broker, "");
  if (!addrs.ok()) return Fail(addrs.status());
  v1::Header request;
  request.set_code(v1::TRANSACTION_STATUS);
  v1::TransactionStatusResponse sum;
  const int code = ctx.ForEachBroker(*addrs, request, [&](const std::string&, const net::Frame& response) {
    const auto& s = response.header.transaction_status_response();
    sum.set_pending(sum.pending() + s.pending());
    sum.set_oldest_pending_age_ms(std::max(sum.oldest_pending_age_ms(), s.oldest_pending_age_ms()));
    sum.set_committed(sum.committed() + s.committed());
    sum.set_rolled_back(sum.rolled_back() + s.rolled_back());
    sum.set_checks_sent(sum.checks_sent() + s.checks_sent());
    sum.set_discarded(sum.discarded() + s.discarded());
    sum.set_checks_without_producer(sum.checks_without_producer() + s.checks_without_producer());
  });
  if (ctx.json) {
    PrintJson({{"pending", sum.pending()},
               {"committed", sum.committed()},
               {"rolled_back", sum.rolled_back()},
               {"checks_sent", sum.checks_sent()},
               {"discarded", sum.discarded()},
               {"oldest_pending_age_ms", sum.oldest_pending_age_ms()},
               {"checks_without_producer", sum.checks_without_producer()}});
  } else {
    Table table({"PENDING", "OLDEST (s)", "COMMITTED", "ROLLED BACK", "CHECKS SENT", "DISCARDED", "NO PRODUCER"});
    table.AddRow({std::to_string(sum.pending()),
                  fmt::format("{:.1f}", static_cast<double>(sum.oldest_pending_age_ms()) / 1000.0),
                  std::to_string(sum.committed()), std::to_string(sum.rolled_back()),
                  std::to_string(sum.checks_sent()), std::to_string(sum.discarded()),
                  std::to_string(sum.checks_without_producer())});
    table.Print();
  }
  return code;
}

struct ResolveArgs {
  std::string id;
  bool commit = false;
  bool rollback = false;
  std::string broker;
  std::string producer_group = "vela-admin-tx";
};

// END_TRANSACTION{by_operator} to every broker asked: exit 0 once one broker resolved it the way
// asked (now or earlier), 1 with every broker's reason otherwise.
int TransactionResolve(AdminContext& ctx, const ResolveArgs& args) {
  if (auto valid = ValidateMessageId(args.id); !valid.ok()) return Fail(valid.WithContext("transaction id"));
  auto addrs = ctx.TargetBrokers(args.broker, "");
  if (!addrs.ok()) return Fail(addrs.status());
  if (addrs->empty()) return Fail("the cluster lists no broker");
  const client::TransactionResolution resolution =
      args.commit ? client::TransactionResolution::kCommit : client::TransactionResolution::kRollback;
  std::vector<std::string> reasons;
  for (const auto& addr : *addrs) {
    auto response = ctx.Invoke(addr, client::MakeEndTransaction(args.producer_group, args.id, {}, resolution,
                                                                /*from_check=*/false, /*by_operator=*/true));
    vela::Status status = client::EndTransactionOutcome(response, args.commit, args.id, addr);
    if (!status.ok()) {
      reasons.push_back(std::string(status.ToString()));
      continue;
    }
    const auto& r = response->header.end_transaction_response();
    if (ctx.json) {
      PrintJson({{"id", args.id},
                 {"resolution", ResolutionName(resolution)},
                 {"outcome", OutcomeName(r.outcome())},
                 {"messages", r.message_count()},
                 {"broker", addr}});
    } else {
      std::cout << fmt::format("transaction {} on {}: {} ({} message(s))", args.id, addr, OutcomeName(r.outcome()),
                               r.message_count())
                << std::endl;
    }
    return kExitOk;
  }
  return Fail(fmt::format("transaction {} was not {}: {}", args.id, args.commit ? "committed" : "rolled back",
                          fmt::join(reasons, "; ")));
}

struct CheckerArgs {
  std::string producer_group;
  std::string answer;
};

// A TransactionProducer of the group that answers every check-back with --answer, printing one
// JSON line per check, until --timeout seconds (default 30) pass without a check.
int TransactionChecker(AdminContext& ctx, const CheckerArgs& args) {
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    int64_t checks = 0;
    std::chrono::steady_clock::time_point last_activity = std::chrono::steady_clock::now();
  };
  auto state = std::make_shared<State>();
  const client::TransactionResolution answer = args.answer == "commit"     ? client::TransactionResolution::kCommit
                                               : args.answer == "rollback" ? client::TransactionResolution::kRollback
                                                                           : client::TransactionResolution::kUnknown;
  client::ClientConfig config;
  config.namesrv_addr = ctx.NamesrvAddrs();
  config.instance_name = "vela-admin-checker";
  auto producer = client::TransactionProducerBuilder()
                      .SetClientConfig(config)
                      .SetGroup(args.producer_group)
                      .SetChecker([state, answer](const client::MessageView& m) {
                        std::lock_guard lock(state->mu);
                        ++state->checks;
                        state->last_activity = std::chrono::steady_clock::now();
                        auto id = m.properties.find("__transactionId__");
                        PrintJson({{"id", id != m.properties.end() ? id->second : m.msg_id},
                                   {"msg_id", m.msg_id},
                                   {"topic", m.topic},
                                   {"answer", ResolutionName(answer)}});
                        state->cv.notify_all();
                        return answer;
                      })
                      .Build();
  if (!producer.ok()) return Fail(producer.status().ToString());
  const auto idle = std::chrono::milliseconds(ctx.timeout_s > 0 ? static_cast<int64_t>(ctx.timeout_s * 1000) : 30000);
  {
    std::unique_lock lock(state->mu);
    state->last_activity = std::chrono::steady_clock::now();
    while (true) {
      auto deadline = state->last_activity + idle;
      if (std::chrono::steady_clock::now() >= deadline) break;
      state->cv.wait_until(lock, deadline);
    }
  }
  (*producer)->Shutdown();
  std::lock_guard lock(state->mu);
  std::cerr << fmt::format("answered {} check(s) with {}", state->checks, args.answer) << std::endl;
  return kExitOk;
}

}  // namespace

void AddTransactionCommands(CLI::App& app, AdminContext& ctx) {
  auto* transaction = app.add_subcommand("transaction", "transactional messages: pending, counts, resolve, checker");

  auto list_broker = std::make_shared<std::string>();
  auto* list = transaction->add_subcommand("list", "pending and discarded transactions, oldest first");
  list->add_option("--broker", *list_broker, "one broker (default: every broker)");
  list->callback([&ctx, list_broker] { ctx.action = [&ctx, list_broker] { return TransactionList(ctx, *list_broker); }; });

  auto status_broker = std::make_shared<std::string>();
  auto* status = transaction->add_subcommand("status", "pending half messages, commits, rollbacks, checks, discarded");
  status->add_option("--broker", *status_broker, "one broker (default: every broker)");
  status->callback(
      [&ctx, status_broker] { ctx.action = [&ctx, status_broker] { return TransactionStatus(ctx, *status_broker); }; });

  auto resolve_args = std::make_shared<ResolveArgs>();
  auto* resolve = transaction->add_subcommand(
      "resolve", "commit or roll back a transaction by hand (also one discarded after transactionCheckMax checks)");
  resolve->add_option("ID", resolve_args->id, "transaction id (the unique id of its first message)")->required();
  auto* commit = resolve->add_flag("--commit", resolve_args->commit, "publish its messages");
  auto* rollback = resolve->add_flag("--rollback", resolve_args->rollback, "drop its messages");
  commit->excludes(rollback);
  resolve->add_option("--broker", resolve_args->broker, "one broker (default: every broker of the cluster)");
  resolve->add_option("--producer-group", resolve_args->producer_group,
                      "producer group named in the request (default vela-admin-tx; an operator's resolution is "
                      "accepted for any group)");
  resolve->callback([&ctx, resolve_args] {
    if (!resolve_args->commit && !resolve_args->rollback) {
      throw CLI::RequiredError("--commit or --rollback");
    }
    ctx.action = [&ctx, resolve_args] { return TransactionResolve(ctx, *resolve_args); };
  });

  auto checker_args = std::make_shared<CheckerArgs>();
  auto* checker = transaction->add_subcommand(
      "checker", "answer the group's check-backs with --answer, one JSON line per check, until --timeout seconds "
                 "(default 30) pass without a check");
  checker->add_option("--producer-group", checker_args->producer_group, "producer group")->required();
  checker->add_option("--answer", checker_args->answer, "commit|rollback|unknown")
      ->required()
      ->check(CLI::IsMember({"commit", "rollback", "unknown"}));
  checker->callback([&ctx, checker_args] {
    ctx.action = [&ctx, checker_args] { return TransactionChecker(ctx, *checker_args); };
  });
}

}  // namespace vela::tools
