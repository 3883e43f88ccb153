// The broker's subscription filters refuse over-long or over-deep SQL92 with BadFilter (status and
// text), never by failing the connection or the process.
#include "broker/subscription_filter.h"

#include <string>

#include <gtest/gtest.h>

#include "support/test_support.h"

namespace vela::broker {
namespace {

std::string LongExpression(size_t bytes) {
  std::string text = "a = 1";
  while (text.size() < bytes) text += " OR a = 1";
  return text;
}

TEST(SubscriptionFilterTest, HundredKilobyteSql92IsBadFilter) {
  filter::FilterCache cache;
  auto f = SubscriptionFilter::Create(v1::FILTER_SQL92, LongExpression(100 * 1024), true, cache, nullptr);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f.status().subcode(), SubCode::kBadFilter);
  EXPECT_NE(f.status().message().find("longer than 16384"), std::string_view::npos) << f.status().ToString();
}

TEST(SubscriptionFilterTest, DeepNestingIsBadFilter) {
  filter::FilterCache cache;
  std::string nested(8000, '(');  // appended, not concatenated: GCC 12 -Warray-bounds false positive
  nested.append("a = 1").append(8000, ')');
  auto f = SubscriptionFilter::Create(v1::FILTER_SQL92, nested, true, cache, nullptr);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().subcode(), SubCode::kBadFilter);
  EXPECT_NE(f.status().message().find("nested deeper than 64"), std::string_view::npos) << f.status().ToString();
}

TEST(SubscriptionFilterTest, ExpressionAtTheLimitIsAccepted) {
  filter::FilterCache cache;
  std::string text = LongExpression(16 * 1024 - 16);
  ASSERT_LE(text.size(), filter::kMaxExpressionLength);
  auto f = SubscriptionFilter::Create(v1::FILTER_SQL92, text, true, cache, nullptr);
  EXPECT_TRUE(f.ok()) << f.status().ToString();
}

}  // namespace
}  // namespace vela::broker
