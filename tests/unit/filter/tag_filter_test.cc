#include "filter/tag_filter.h"

#include <gtest/gtest.h>

#include "common/message_record.h"
#include "support/test_support.h"

namespace vela::filter {
namespace {

TEST(TagExpressionTest, StarAndEmptyMatchAll) {
  for (const char* text : {"*", "", "  ", " * "}) {
    ASSERT_OK_AND_ASSIGN(auto expr, TagExpression::Parse(text));
    EXPECT_TRUE(expr.matches_all()) << text;
    EXPECT_TRUE(expr.tags().empty());
    EXPECT_TRUE(expr.MatchesHash(0));
    EXPECT_TRUE(expr.MatchesHash(TagHash("Anything")));
    EXPECT_TRUE(expr.Matches(""));
    EXPECT_TRUE(expr.Matches("TagA"));
    EXPECT_EQ(expr.ToString(), "*");
  }
}

TEST(TagExpressionTest, SingleTag) {
  ASSERT_OK_AND_ASSIGN(auto expr, TagExpression::Parse("TagA"));
  EXPECT_FALSE(expr.matches_all());
  EXPECT_EQ(expr.tags(), (std::vector<std::string>{"TagA"}));
  EXPECT_TRUE(expr.MatchesHash(TagHash("TagA")));
  EXPECT_FALSE(expr.MatchesHash(TagHash("TagB")));
  EXPECT_FALSE(expr.MatchesHash(0));
  EXPECT_TRUE(expr.Matches("TagA"));
  EXPECT_FALSE(expr.Matches("taga"));
  EXPECT_FALSE(expr.Matches("TagA "));
  EXPECT_FALSE(expr.Matches(""));
}

TEST(TagExpressionTest, SeveralTagsTrimmedAndDeduplicated) {
  ASSERT_OK_AND_ASSIGN(auto expr, TagExpression::Parse(" TagA || TagB||TagC ||  || TagA "));
  EXPECT_EQ(expr.tags(), (std::vector<std::string>{"TagA", "TagB", "TagC"}));
  for (const char* t : {"TagA", "TagB", "TagC"}) {
    EXPECT_TRUE(expr.MatchesHash(TagHash(t))) << t;
    EXPECT_TRUE(expr.Matches(t)) << t;
  }
  EXPECT_FALSE(expr.Matches("TagD"));
  EXPECT_FALSE(expr.MatchesHash(TagHash("TagD")));
  EXPECT_EQ(expr.ToString(), "TagA||TagB||TagC");
}

TEST(TagExpressionTest, ManyTagsUseSortedHashes) {
  std::string text;
  for (int i = 0; i < 50; ++i) text += "T" + std::to_string(i) + "||";
  ASSERT_OK_AND_ASSIGN(auto expr, TagExpression::Parse(text));
  EXPECT_EQ(expr.tags().size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_TRUE(expr.MatchesHash(TagHash("T" + std::to_string(i))));
  EXPECT_FALSE(expr.Matches("T50"));
}

TEST(TagExpressionTest, StarAmongTagsMatchesAll) {
  ASSERT_OK_AND_ASSIGN(auto expr, TagExpression::Parse("TagA || *"));
  EXPECT_TRUE(expr.matches_all());
}

TEST(TagExpressionTest, OnlySeparatorsIsRefused) {
  auto r = TagExpression::Parse(" || ||");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().subcode(), SubCode::kBadFilter);
}

TEST(TagExpressionTest, SingleBarIsPartOfTheTag) {
  ASSERT_OK_AND_ASSIGN(auto expr, TagExpression::Parse("A | B"));
  EXPECT_EQ(expr.tags(), (std::vector<std::string>{"A | B"}));
}

}  // namespace
}  // namespace vela::filter
