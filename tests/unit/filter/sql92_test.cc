#include "filter/sql92.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/message_record.h"
#include "filter/filter_cache.h"
#include "support/test_support.h"

namespace vela::filter {
namespace {

std::shared_ptr<const Sql92Expression> MustCompile(std::string_view text) {
  FilterError error;
  auto expr = Sql92Expression::Compile(text, &error);
  EXPECT_NE(expr, nullptr) << text << ": " << error.message << " at position " << error.position;
  return expr;
}

TEST(Sql92ExpressionTest, ResultCompileReportsBadFilterWithPosition) {
  auto result = Sql92Expression::Compile("a = 'x' b");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(result.status().subcode(), SubCode::kBadFilter);
  EXPECT_EQ(result.status().message(), "unexpected 'b' after a complete expression at position 8");
}

TEST(Sql92ExpressionTest, ResultCompileKeepsText) {
  ASSERT_OK_AND_ASSIGN(auto expr, Sql92Expression::Compile("a > 5 AND b = 'x'"));
  EXPECT_EQ(expr->text(), "a > 5 AND b = 'x'");
  EXPECT_EQ(expr->property_names(), (std::vector<std::string>{"a", "b"}));
}

TEST(Sql92ExpressionTest, CompileAcceptsNullErrorPointer) {
  EXPECT_EQ(Sql92Expression::Compile("a = ", nullptr), nullptr);
  EXPECT_NE(Sql92Expression::Compile("a = 1", nullptr), nullptr);
}

TEST(Sql92ExpressionTest, ErrorMessagesSayWhat) {
  struct {
    const char* text;
    const char* fragment;
  } cases[] = {
      {"a = NULL", "IS NULL"},
      {"a > 'x'", "string literal"},
      {"a BETWEEN 9 AND 1", "lower bound"},
      {"a IN (1)", "string literals"},
      {"'x' IN ('x')", "property"},
      {"a = 99999999999999999999", "64-bit"},
      {"a = 1e999", "overflows"},
      {"a = 'x", "unterminated string"},
      {"a /*", "unterminated comment"},
      {"a = 1 )", "after a complete expression"},
  };
  for (const auto& c : cases) {
    FilterError error;
    EXPECT_EQ(Sql92Expression::Compile(c.text, &error), nullptr) << c.text;
    EXPECT_NE(error.message.find(c.fragment), std::string::npos) << c.text << " -> " << error.message;
  }
}

TEST(Sql92ExpressionTest, RefusesExpressionLongerThanLimit) {
  std::string text = "a = '" + std::string(kMaxExpressionLength, 'x') + "'";
  FilterError error;
  EXPECT_EQ(Sql92Expression::Compile(text, &error), nullptr);
  EXPECT_NE(error.message.find("longer than 16384"), std::string::npos);
  EXPECT_EQ(error.position, static_cast<int>(kMaxExpressionLength));
}

TEST(Sql92ExpressionTest, AcceptsExpressionAtLengthLimit) {
  std::string text = "a = '";
  text += std::string(kMaxExpressionLength - text.size() - 1, 'x') + "'";
  ASSERT_EQ(text.size(), kMaxExpressionLength);
  EXPECT_NE(Sql92Expression::Compile(text, nullptr), nullptr);
}

std::string Nested(int depth) {
  return std::string(depth, '(') + "a = 'x'" + std::string(depth, ')');
}

TEST(Sql92ExpressionTest, AcceptsNestingUpToLimit) {
  auto expr = MustCompile(Nested(kMaxNestingDepth));
  ASSERT_NE(expr, nullptr);
  EXPECT_TRUE(expr->Matches(MapPropertySource({{"a", "x"}})));
}

TEST(Sql92ExpressionTest, RefusesNestingBeyondLimit) {
  FilterError error;
  EXPECT_EQ(Sql92Expression::Compile(Nested(kMaxNestingDepth + 1), &error), nullptr);
  EXPECT_NE(error.message.find("nested deeper than 64"), std::string::npos);
  EXPECT_EQ(error.position, kMaxNestingDepth);
  // Thousands of parentheses fail cleanly, without exhausting the stack.
  EXPECT_EQ(Sql92Expression::Compile(Nested(5000), &error), nullptr);
}

TEST(Sql92ExpressionTest, RefusesDeepUnaryChains) {
  std::string nots;
  for (int i = 0; i < 1000; ++i) nots += "NOT ";
  FilterError error;
  EXPECT_EQ(Sql92Expression::Compile(nots + "a", &error), nullptr);
  EXPECT_NE(error.message.find("nested"), std::string::npos);
  std::string spaced;
  for (int i = 0; i < 1000; ++i) spaced += "- ";
  EXPECT_EQ(Sql92Expression::Compile(spaced + "5 = a", &error), nullptr);
}

TEST(Sql92ExpressionTest, RefusesLongComparisonChains) {
  std::string chain = "a";
  for (int i = 0; i < 200; ++i) chain += " = a";
  EXPECT_EQ(Sql92Expression::Compile(chain, nullptr), nullptr);
}

TEST(Sql92ExpressionTest, LongAndChainIsFlatAndFine) {
  std::string text = "a = 'x'";
  for (int i = 0; i < 1300; ++i) text += " AND a = 'x'";
  ASSERT_LE(text.size(), kMaxExpressionLength);
  auto expr = MustCompile(text);
  ASSERT_NE(expr, nullptr);
  EXPECT_TRUE(expr->Matches(MapPropertySource({{"a", "x"}})));
  EXPECT_FALSE(expr->Matches(MapPropertySource({{"a", "y"}})));
}

TEST(Sql92ExpressionTest, DeepMixedNestingEvaluates) {
  // (a = '0' OR (a = '1' OR (... (a = '40' AND TRUE) ...)))
  std::string text;
  const int n = 40;
  for (int i = 0; i < n; ++i) text += "(a = '" + std::to_string(i) + "' OR ";
  text += "(a = '" + std::to_string(n) + "' AND TRUE)";
  text += std::string(n, ')');
  auto expr = MustCompile(text);
  ASSERT_NE(expr, nullptr);
  for (int i = 0; i <= n; ++i) {
    EXPECT_TRUE(expr->Matches(MapPropertySource({{"a", std::to_string(i)}}))) << i;
  }
  EXPECT_FALSE(expr->Matches(MapPropertySource({{"a", "x"}})));
  EXPECT_EQ(expr->Evaluate(MapPropertySource()), Tristate::kNull);
}

TEST(Sql92ExpressionTest, EvaluatesOverEncodedProperties) {
  std::string block = EncodeProperties({{"TAGS", "TagA"}, {"KEYS", "k1 k2"}, {"a", "7"}, {"b", "x"}, {"empty", ""}});
  EncodedPropertySource props(block);
  EXPECT_TRUE(MustCompile("a > 5 AND b = 'x'")->Matches(props));
  EXPECT_TRUE(MustCompile("TAGS = 'TagA'")->Matches(props));
  EXPECT_TRUE(MustCompile("KEYS CONTAINS 'k2'")->Matches(props));
  EXPECT_TRUE(MustCompile("empty = ''")->Matches(props));
  EXPECT_TRUE(MustCompile("missing IS NULL")->Matches(props));
  EXPECT_FALSE(MustCompile("TAG = 'TagA'")->Matches(props));  // no prefix matching of names
  EXPECT_FALSE(MustCompile("A > 5")->Matches(props));
}

TEST(EncodedPropertySourceTest, FindsEveryPairAndNothingElse) {
  std::string block = EncodeProperties({{"k", "v"}, {"key", "value"}, {"ke", ""}});
  EncodedPropertySource props(block);
  std::string_view v;
  ASSERT_TRUE(props.Get("k", &v));
  EXPECT_EQ(v, "v");
  ASSERT_TRUE(props.Get("key", &v));
  EXPECT_EQ(v, "value");
  ASSERT_TRUE(props.Get("ke", &v));
  EXPECT_EQ(v, "");
  EXPECT_FALSE(props.Get("kex", &v));
  EXPECT_FALSE(props.Get("", &v));
  EXPECT_FALSE(EncodedPropertySource("").Get("k", &v));
  // A malformed tail (no name separator) is skipped.
  EXPECT_FALSE(EncodedPropertySource("junk").Get("junk", &v));
}

TEST(Sql92ExpressionTest, ConversionFailureFlagIsResetOnSuccess) {
  auto expr = MustCompile("a > 5");
  bool failed = true;
  EXPECT_TRUE(expr->Matches(MapPropertySource({{"a", "6"}}), &failed));
  EXPECT_FALSE(failed);
  EXPECT_FALSE(expr->Matches(MapPropertySource({{"a", "x"}}), &failed));
  EXPECT_TRUE(failed);
  EXPECT_FALSE(expr->Matches(MapPropertySource({{"a", "x"}})));  // null flag pointer is fine
}

TEST(Sql92ExpressionTest, ConcurrentEvaluationIsSafe) {
  auto expr = MustCompile("a BETWEEN 1 AND 100 AND region IN ('hz', 'sh') AND NOT (b CONTAINS 'bad')");
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20000; ++i) {
        int a = (i + t) % 200;
        MapPropertySource props({{"a", std::to_string(a)}, {"region", (i % 2) ? "hz" : "bj"}, {"b", "ok"}});
        bool want = a >= 1 && a <= 100 && (i % 2);
        if (expr->Matches(props) != want) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(FilterCacheTest, CompilesOnceAndSharesTheExpression) {
  FilterCache cache(4);
  ASSERT_OK_AND_ASSIGN(auto first, cache.GetOrCompile("a = 1"));
  ASSERT_OK_AND_ASSIGN(auto second, cache.GetOrCompile("a = 1"));
  EXPECT_EQ(first.get(), second.get());
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.misses(), 1u);
  EXPECT_EQ(cache.Lookup("a = 1").get(), first.get());
  EXPECT_EQ(cache.Lookup("a = 2"), nullptr);
}

TEST(FilterCacheTest, EvictsLeastRecentlyUsed) {
  FilterCache cache(2);
  ASSERT_TRUE(cache.GetOrCompile("a = 1").ok());
  ASSERT_TRUE(cache.GetOrCompile("a = 2").ok());
  ASSERT_NE(cache.Lookup("a = 1"), nullptr);  // touch: "a = 2" is now the oldest
  ASSERT_TRUE(cache.GetOrCompile("a = 3").ok());
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_NE(cache.Lookup("a = 1"), nullptr);
  EXPECT_EQ(cache.Lookup("a = 2"), nullptr);
  EXPECT_NE(cache.Lookup("a = 3"), nullptr);
  cache.Clear();
  EXPECT_EQ(cache.size(), 0u);
}

TEST(FilterCacheTest, DoesNotCacheErrors) {
  FilterCache cache;
  auto bad = cache.GetOrCompile("a = ");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().subcode(), SubCode::kBadFilter);
  EXPECT_EQ(cache.size(), 0u);
}

TEST(FilterCacheTest, ConcurrentUseIsSafe) {
  FilterCache cache(8);
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        auto r = cache.GetOrCompile("a = " + std::to_string((i * 7 + t) % 16));
        if (!r.ok() || !(*r)->Matches(MapPropertySource({{"a", std::to_string((i * 7 + t) % 16)}}))) ++errors;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_LE(cache.size(), 8u);
}

}  // namespace
}  // namespace vela::filter
