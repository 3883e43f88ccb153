// vela-admin filter check: evaluates a subscription expression against one sample message, with
// no server.
#include <iostream>

#include <fmt/format.h>

#include "common/message_record.h"
#include "filter/sql92.h"
#include "filter/tag_filter.h"
#include "tools/admin_context.h"

namespace vela::tools {

namespace {

struct CheckArgs {
  std::string sql;
  std::string tag;
  std::vector<std::string> props;
  std::string tag_of_message;
};

int Invalid(AdminContext& ctx, const std::string& error, int position) {
  if (ctx.json) PrintJson({{"valid", false}, {"error", error}, {"position", position}});
  std::cout.flush();
  std::cerr << fmt::format("error: {} at position {}", error, position) << std::endl;
  return kExitFailed;
}

int Result(AdminContext& ctx, bool result, bool conversion_failed) {
  if (ctx.json) {
    nlohmann::json doc = {{"valid", true}, {"result", result}};
    if (conversion_failed) doc["conversion_failed"] = true;
    PrintJson(doc);
  } else {
    std::cout << (result ? "true" : "false") << std::endl;
    if (conversion_failed) std::cerr << "note: a property did not convert to the compared type" << std::endl;
  }
  return kExitOk;
}

int FilterCheck(AdminContext& ctx, const CheckArgs& args, bool is_sql) {
  filter::MapPropertySource props;
  for (const auto& kv : args.props) {
    std::string k, v;
    if (!SplitKeyValue(kv, &k, &v)) return Fail(fmt::format("--prop wants key=value, got '{}'", kv));
    props.Set(k, v);
  }
  if (!args.tag_of_message.empty()) props.Set(std::string(prop::kTags), args.tag_of_message);
  if (!is_sql) {
    auto expr = filter::TagExpression::Parse(args.tag);
    if (!expr.ok()) return Invalid(ctx, std::string(expr.status().message()), 0);
    return Result(ctx, expr->Matches(args.tag_of_message), false);
  }
  filter::FilterError error;
  auto expr = filter::Sql92Expression::Compile(args.sql, &error);
  if (!expr) return Invalid(ctx, error.message, error.position);
  bool conversion_failed = false;
  bool matched = expr->Matches(props, &conversion_failed);
  return Result(ctx, matched, conversion_failed);
}

}  // namespace

void AddFilterCommands(CLI::App& app, AdminContext& ctx) {
  auto* filter_cmd = app.add_subcommand("filter", "subscription expressions");
  auto args = std::make_shared<CheckArgs>();
  auto* check = filter_cmd->add_subcommand("check", "evaluate an expression against one sample message");
  auto* sql = check->add_option("--sql", args->sql, "SQL92 expression");
  auto* tag = check->add_option("--tag", args->tag, "tag expression");
  sql->excludes(tag);
  check->add_option("--prop", args->props, "a property of the sample message k=v (repeatable)");
  check->add_option("--tag-of-message", args->tag_of_message, "the sample message's tag");
  check->callback([&ctx, args, sql, tag] {
    if (sql->count() == 0 && tag->count() == 0) throw CLI::RequiredError("--sql or --tag");
    const bool is_sql = sql->count() > 0;
    ctx.action = [&ctx, args, is_sql] { return FilterCheck(ctx, *args, is_sql); };
  });
}

}  // namespace vela::tools
