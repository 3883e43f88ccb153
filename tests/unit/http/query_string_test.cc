#include "http/query_string.h"

#include <string>

#include <gtest/gtest.h>

namespace vela::http {
namespace {

TEST(QueryStringTest, DecodesPairsEscapesAndPlus) {
  auto q = ParseQueryString("topic=orders&key=a%20b+c&empty=&flag");
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->size(), 4u);
  EXPECT_EQ(q->at("topic"), "orders");
  EXPECT_EQ(q->at("key"), "a b c");
  EXPECT_EQ(q->at("empty"), "");
  EXPECT_EQ(q->at("flag"), "");
}

TEST(QueryStringTest, EmptyIsNoParameter) {
  auto q = ParseQueryString("");
  ASSERT_TRUE(q.ok());
  EXPECT_TRUE(q->empty());
}

TEST(QueryStringTest, RefusesMalformedInput) {
  const char* bad[] = {
      "a=%",        "a=%4",     "a=%zz",  "a=%4g",       // broken escapes
      "&a=1",       "a=1&",     "a=1&&b=2",              // empty pairs
      "=1",         "%3d=1",                             // no name (an escaped '=' decodes to a name "=")
      "a=1&a=2",                                         // twice
      "a=%00",      "a=%0a",    "a=%7f",                 // control bytes
  };
  for (const char* query : bad) {
    auto q = ParseQueryString(query);
    if (std::string(query) == "%3d=1") {
      // "=" is a legal (if odd) name once decoded; only a raw leading '=' has no name.
      EXPECT_TRUE(q.ok()) << query;
      continue;
    }
    EXPECT_FALSE(q.ok()) << "accepted: " << query;
    if (!q.ok()) {
      EXPECT_EQ(q.status().code(), StatusCode::kInvalidArgument);
    }
  }
}

TEST(QueryStringTest, RefusesTooManyParameters) {
  std::string query;
  for (size_t i = 0; i <= kMaxQueryParameters; ++i) query += (i ? "&p" : "p") + std::to_string(i) + "=1";
  auto q = ParseQueryString(query);
  EXPECT_FALSE(q.ok());
  query = query.substr(0, query.rfind('&'));
  EXPECT_TRUE(ParseQueryString(query).ok());
}

TEST(QueryStringTest, KeepsUtf8Bytes) {
  auto q = ParseQueryString("name=%E8%AE%A2%E5%8D%95");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->at("name"), "\xE8\xAE\xA2\xE5\x8D\x95");
}

}  // namespace
}  // namespace vela::http
