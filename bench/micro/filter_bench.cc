// Micro-benchmarks of the filter library: SQL92 evaluation over an encoded properties block (as
// the broker sees a stored message), SQL92 compilation, and the tag-hash pre-check.

#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "common/message_record.h"
#include "filter/sql92.h"
#include "filter/tag_filter.h"

namespace vela::filter {
namespace {

// A realistic small property block: system properties plus a few user ones.
std::string MakeBlock(const std::string& a, const std::string& b) {
  return EncodeProperties({{"TAGS", "TagA"},
                           {"KEYS", "order-1234 user-99"},
                           {"a", a},
                           {"b", b},
                           {"region", "hz"},
                           {"env", "prod"}});
}

void RunEval(benchmark::State& state, const char* text, const std::vector<std::string>& blocks) {
  auto expr = Sql92Expression::Compile(text, nullptr);
  if (expr == nullptr) {
    state.SkipWithError("compile failed");
    return;
  }
  std::vector<EncodedPropertySource> sources;
  for (const auto& b : blocks) sources.emplace_back(b);
  size_t i = 0;
  int64_t matched = 0;
  for (auto _ : state) {
    matched += expr->Matches(sources[i]);
    if (++i == sources.size()) i = 0;
  }
  benchmark::DoNotOptimize(matched);
  state.SetItemsProcessed(state.iterations());
}

void BM_Sql92_Eval_AndCompare(benchmark::State& state) {
  // Half the messages match, half fail on either side.
  std::vector<std::string> blocks = {MakeBlock("7", "x"), MakeBlock("3", "x"), MakeBlock("9", "y"),
                                     MakeBlock("12", "x")};
  RunEval(state, "a > 5 AND b = 'x'", blocks);
}
BENCHMARK(BM_Sql92_Eval_AndCompare);

void BM_Sql92_Eval_In10(benchmark::State& state) {
  std::vector<std::string> blocks = {MakeBlock("1", "v3"), MakeBlock("1", "v9"), MakeBlock("1", "zz"),
                                     MakeBlock("1", "v0")};
  RunEval(state, "b IN ('v0','v1','v2','v3','v4','v5','v6','v7','v8','v9')", blocks);
}
BENCHMARK(BM_Sql92_Eval_In10);

void BM_Sql92_Eval_Between(benchmark::State& state) {
  std::vector<std::string> blocks = {MakeBlock("50", "x"), MakeBlock("0", "x"), MakeBlock("150", "x"),
                                     MakeBlock("100", "x")};
  RunEval(state, "a BETWEEN 1 AND 100", blocks);
}
BENCHMARK(BM_Sql92_Eval_Between);

void BM_Sql92_Compile(benchmark::State& state) {
  const char* text = "(a > 5 AND b = 'x') OR region IN ('hz','sh','bj') AND env <> 'gray' AND c BETWEEN 1 AND 10";
  for (auto _ : state) {
    auto expr = Sql92Expression::Compile(text, nullptr);
    benchmark::DoNotOptimize(expr);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Sql92_Compile);

void BM_Tag_MatchHash(benchmark::State& state) {
  // state.range(0) tags in the subscription, checked against a mix of queue-entry hashes.
  std::string text;
  for (int i = 0; i < state.range(0); ++i) text += "Tag" + std::to_string(i) + " || ";
  auto expr = TagExpression::Parse(text);
  if (!expr.ok()) {
    state.SkipWithError("parse failed");
    return;
  }
  std::vector<int64_t> hashes;
  for (int i = 0; i < 16; ++i) hashes.push_back(TagHash("Tag" + std::to_string(i * 3)));
  size_t i = 0;
  int64_t matched = 0;
  for (auto _ : state) {
    matched += expr->MatchesHash(hashes[i]);
    i = (i + 1) & 15;
  }
  benchmark::DoNotOptimize(matched);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Tag_MatchHash)->Arg(1)->Arg(3)->Arg(16);

}  // namespace
}  // namespace vela::filter

BENCHMARK_MAIN();
