// The table of SQL92 cases: expression, properties, and the expected outcome.

#include "filter/sql92.h"

#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace vela::filter {
namespace {

enum class Want { kTrue, kFalse, kNull, kConvFail, kError };
constexpr Want T = Want::kTrue;
constexpr Want F = Want::kFalse;
constexpr Want N = Want::kNull;
constexpr Want C = Want::kConvFail;  // conversion failure: not matched, flag set
constexpr Want E = Want::kError;     // refused at compile time, at `position`

struct Case {
  std::string expr;
  std::map<std::string, std::string> props;
  Want want;
  int position = -1;  // for kError
};

using P = std::map<std::string, std::string>;
const P kNone = {};

const std::vector<Case>& Cases() {
  static const std::vector<Case> cases = {
      // --- SQL92.md examples -------------------------------------------------------------
      {"env = 'gray'", {{"env", "gray"}}, T},
      {"env = 'gray'", kNone, N},
      {"env <> 'gray' OR env IS NULL", kNone, T},
      {"a BETWEEN 1 AND 10 AND region IN ('hz','sh')", {{"a", "4"}, {"region", "hz"}}, T},
      {"a > 5", {{"a", "3.0"}}, C},
      {"a > 5.0", {{"a", "6.5"}}, T},
      {"TAGS = 'TagA' AND NOT (vip IS NULL)", {{"TAGS", "TagA"}, {"vip", "1"}}, T},
      {"name STARTSWITH 'ab'", kNone, F},
      {"name NOT STARTSWITH 'ab'", kNone, F},

      // --- '=' -----------------------------------------------------------------------------
      {"a = 'x'", {{"a", "x"}}, T},
      {"a = 'x'", {{"a", "X"}}, F},
      {"a = 'x'", {{"a", "x "}}, F},
      {"a = ''", {{"a", ""}}, T},
      {"a = 3", {{"a", "3"}}, T},
      {"a = 3", {{"a", "4"}}, F},
      {"a = 3", kNone, N},
      {"a = 3", {{"a", "3.0"}}, C},
      {"a = 3", {{"a", " 3"}}, C},
      {"a = 3", {{"a", "abc"}}, C},
      {"a = 3", {{"a", ""}}, C},
      {"a = 3", {{"a", "+3"}}, T},
      {"a = -3", {{"a", "-3"}}, T},
      {"a = 3", {{"a", "99999999999999999999"}}, C},
      {"a = 3.0", {{"a", "3"}}, T},
      {"a = 3.0", {{"a", "3.00"}}, T},
      {"a = 3.5", {{"a", "3.4"}}, F},
      {"a = 3.5", {{"a", "x"}}, C},
      {"a = 1e3", {{"a", "1000"}}, T},
      {"a = TRUE", {{"a", "true"}}, T},
      {"a = TRUE", {{"a", "TrUe"}}, T},
      {"a = TRUE", {{"a", "yes"}}, F},
      {"a = FALSE", {{"a", "false"}}, T},
      {"a = FALSE", {{"a", "whatever"}}, T},
      {"a = FALSE", {{"a", "TRUE"}}, F},
      {"a = TRUE", kNone, N},
      {"a = b", {{"a", "x"}, {"b", "x"}}, T},
      {"a = b", {{"a", "1"}, {"b", "1.0"}}, F},
      {"a = b", {{"a", "x"}}, N},
      {"'x' = 'x'", kNone, T},
      {"1 = 1", kNone, T},
      {"1 = 1.0", kNone, T},
      {"TRUE = TRUE", kNone, T},
      {"TRUE = 1", kNone, C},
      {"a = NULL", kNone, E, 4},
      {"NULL = a", kNone, E, 0},
      {"9223372036854775807 = a", {{"a", "9223372036854775807"}}, T},
      {"a = -9223372036854775808", {{"a", "-9223372036854775808"}}, T},
      {"a = 9223372036854775808", kNone, E, 4},
      {"a = 5L", {{"a", "5"}}, T},
      {"a = 5l", {{"a", "5"}}, T},

      // --- '<>' and '!=' ----------------------------------------------------------------
      {"a <> 'x'", {{"a", "y"}}, T},
      {"a <> 'x'", {{"a", "x"}}, F},
      {"a <> 'x'", kNone, N},
      {"a != 'x'", {{"a", "y"}}, T},
      {"a != 'x'", {{"a", "x"}}, F},
      {"a <> 3", {{"a", "3.0"}}, C},
      {"a <> 3", {{"a", "4"}}, T},
      {"a <> NULL", kNone, E, 5},
      {"a != NULL", kNone, E, 5},

      // --- ordering --------------------------------------------------------------------
      {"a > 5", {{"a", "6"}}, T},
      {"a > 5", {{"a", "5"}}, F},
      {"a > 5", kNone, N},
      {"a > 5", {{"a", "abc"}}, C},
      {"a > 5", {{"a", "6.5"}}, C},
      {"a >= 5", {{"a", "5"}}, T},
      {"a >= 5", {{"a", "4"}}, F},
      {"a < 5", {{"a", "-10"}}, T},
      {"a < 5", {{"a", "5"}}, F},
      {"a < 5", kNone, N},
      {"a <= 5", {{"a", "5"}}, T},
      {"a <= 5", {{"a", "6"}}, F},
      {"a <= 5", {{"a", "x"}}, C},
      {"a > 5.0", {{"a", "5"}}, F},
      {"a > 5.0", {{"a", "5.01"}}, T},
      {"a > 5.0", {{"a", "1e1"}}, T},
      {"a > 5.0", {{"a", "ten"}}, C},
      {"a < .5", {{"a", "0.25"}}, T},
      {"a < 1.", {{"a", "0"}}, T},
      {"a > 1.5E-3", {{"a", "0.002"}}, T},
      {"a > -5", {{"a", "-4"}}, T},
      {"a > - 5", {{"a", "-6"}}, F},
      {"a > b", {{"a", "2"}, {"b", "1.5"}}, T},
      {"a > b", {{"a", "2"}, {"b", "x"}}, C},
      {"a > b", {{"a", "2"}}, N},
      {"a < b", {{"a", "10"}, {"b", "9"}}, F},  // numeric, not text order
      {"2 > 1", kNone, T},
      {"2 > 1.5", kNone, T},
      {"a > 'x'", kNone, E, 4},
      {"'x' < a", kNone, E, 0},
      {"a >= TRUE", kNone, E, 5},
      {"a <= FALSE", kNone, E, 5},
      {"a > NULL", {{"a", "1"}}, N},
      {"(a = 'x') > 1", {{"a", "x"}}, C},
      {"a > +5", {{"a", "6"}}, T},

      // --- BETWEEN ---------------------------------------------------------------------
      {"a BETWEEN 1 AND 10", {{"a", "1"}}, T},
      {"a BETWEEN 1 AND 10", {{"a", "10"}}, T},
      {"a BETWEEN 1 AND 10", {{"a", "11"}}, F},
      {"a BETWEEN 1 AND 10", {{"a", "0"}}, F},
      {"a BETWEEN 1 AND 10", kNone, N},
      {"a BETWEEN 1 AND 10", {{"a", "5.5"}}, C},
      {"a BETWEEN 1.0 AND 10", {{"a", "5.5"}}, C},  // 10 is an integer literal
      {"a BETWEEN 1.0 AND 10.0", {{"a", "5.5"}}, T},
      {"a BETWEEN -5 AND -1", {{"a", "-3"}}, T},
      {"a NOT BETWEEN 1 AND 10", {{"a", "11"}}, T},
      {"a NOT BETWEEN 1 AND 10", {{"a", "5"}}, F},
      {"a NOT BETWEEN 1 AND 10", kNone, N},
      {"a NOT BETWEEN 1 AND 10", {{"a", "x"}}, C},
      {"a BETWEEN 10 AND 1", kNone, E, 10},
      {"a BETWEEN 1.5 AND 1", kNone, E, 10},
      {"a BETWEEN 'a' AND 'z'", kNone, E, 10},
      {"a BETWEEN 1 AND TRUE", kNone, E, 16},
      {"a BETWEEN b AND c", {{"a", "5"}, {"b", "1"}, {"c", "9"}}, T},
      {"a BETWEEN b AND c", {{"a", "5"}, {"b", "1"}}, N},
      {"a BETWEEN b AND c", {{"a", "0"}, {"c", "9"}}, N},
      {"a BETWEEN b AND c", {{"a", "10"}, {"b", "1"}}, N},
      {"a BETWEEN b AND 4", {{"a", "10"}}, F},  // NULL AND false
      {"a BETWEEN 1 10", kNone, E, 12},
      {"a BETWEEN 1 AND 2 AND b = 'x'", {{"a", "1"}, {"b", "x"}}, T},

      // --- IN --------------------------------------------------------------------------
      {"a IN ('x', 'y')", {{"a", "y"}}, T},
      {"a IN ('x', 'y')", {{"a", "z"}}, F},
      {"a IN ('x', 'y')", kNone, N},
      {"a IN ('x')", {{"a", "X"}}, F},
      {"a IN ('1')", {{"a", "1"}}, T},
      {"a NOT IN ('x', 'y')", {{"a", "z"}}, T},
      {"a NOT IN ('x', 'y')", {{"a", "x"}}, F},
      {"a NOT IN ('x', 'y')", kNone, N},
      {"a IN ('a','b','c','d','e','f','g','h','i','j')", {{"a", "j"}}, T},
      {"a IN ('a','b','c','d','e','f','g','h','i','j')", {{"a", "k"}}, F},
      {"a IN ('a','b','c','d','e','f','g','h','i','j')", {{"a", ""}}, F},
      {"a IN ('')", {{"a", ""}}, T},
      {"a IN (1, 2)", kNone, E, 6},
      {"a IN ('x', 2)", kNone, E, 11},
      {"a IN ()", kNone, E, 6},
      {"a IN 'x'", kNone, E, 5},
      {"a IN ('x'", kNone, E, 9},
      {"'x' IN ('x')", kNone, E, 0},
      {"NOT a IN ('x')", kNone, E, 0},
      {"a IN ('it''s')", {{"a", "it's"}}, T},

      // --- CONTAINS / STARTSWITH / ENDSWITH --------------------------------------------
      {"a CONTAINS 'ell'", {{"a", "hello"}}, T},
      {"a CONTAINS 'xyz'", {{"a", "hello"}}, F},
      {"a CONTAINS 'ell'", kNone, F},
      {"a CONTAINS ''", {{"a", "hello"}}, F},
      {"a NOT CONTAINS 'ell'", {{"a", "hello"}}, F},
      {"a NOT CONTAINS 'xyz'", {{"a", "hello"}}, T},
      {"a NOT CONTAINS 'xyz'", kNone, F},
      {"a NOT CONTAINS ''", {{"a", "hello"}}, F},
      {"a STARTSWITH 'he'", {{"a", "hello"}}, T},
      {"a STARTSWITH 'lo'", {{"a", "hello"}}, F},
      {"a NOT STARTSWITH 'lo'", {{"a", "hello"}}, T},
      {"a ENDSWITH 'lo'", {{"a", "hello"}}, T},
      {"a ENDSWITH 'he'", {{"a", "hello"}}, F},
      {"a ENDSWITH 'lo'", kNone, F},
      {"a NOT ENDSWITH 'he'", {{"a", "hello"}}, T},
      {"a NOT ENDSWITH 'he'", kNone, F},
      {"a STARTSWITH 'hello world'", {{"a", "hello"}}, F},
      {"a contains 'E'", {{"a", "hello"}}, F},
      {"'hello' CONTAINS 'ell'", kNone, T},
      {"a CONTAINS 5", kNone, E, 11},
      {"a STARTSWITH b", kNone, E, 13},
      {"a ENDSWITH NULL", kNone, E, 11},
      {"NOT (a CONTAINS 'x')", kNone, T},  // false negated
      {"a CONTAINS 'x' IS NULL", kNone, F},

      // --- IS [NOT] NULL ---------------------------------------------------------------
      {"a IS NULL", kNone, T},
      {"a IS NULL", {{"a", ""}}, F},
      {"a IS NOT NULL", kNone, F},
      {"a IS NOT NULL", {{"a", "1"}}, T},
      {"a is not null", {{"a", "1"}}, T},
      {"(a = 1) IS NULL", kNone, T},
      {"NULL IS NULL", kNone, T},
      {"a IS 5", kNone, E, 5},
      {"a IS NOT", kNone, E, 8},

      // --- NOT, AND, OR: three-valued logic ------------------------------------------------
      {"NOT (a = 'x')", {{"a", "y"}}, T},
      {"NOT (a = 'x')", {{"a", "x"}}, F},
      {"NOT (a = 'x')", kNone, N},
      {"NOT NOT (a = 'x')", {{"a", "x"}}, T},
      {"a = 'x' AND b = 'y'", {{"a", "x"}, {"b", "y"}}, T},
      {"a = 'x' AND b = 'y'", {{"a", "x"}, {"b", "z"}}, F},
      {"a = 'x' AND b = 'y'", {{"a", "x"}}, N},
      {"a = 'x' AND b = 'y'", {{"b", "z"}}, F},  // NULL AND false = false
      {"a = 'x' OR b = 'y'", {{"b", "y"}}, T},  // NULL OR true = true
      {"a = 'x' OR b = 'y'", {{"b", "z"}}, N},
      {"a = 'x' OR b = 'y'", {{"a", "q"}, {"b", "z"}}, F},
      {"a = 'x' OR b > 5", {{"a", "x"}, {"b", "zz"}}, T},   // stops before the failure
      {"a = 'x' AND b > 5", {{"a", "q"}, {"b", "zz"}}, F},  // stops before the failure
      {"b > 5 OR a = 'x'", {{"a", "x"}, {"b", "zz"}}, C},   // failure first: not matched
      {"TRUE", kNone, T},
      {"FALSE", kNone, F},
      {"NULL", kNone, N},
      {"NOT TRUE", kNone, F},
      {"NOT NULL", kNone, N},
      {"TRUE AND NULL", kNone, N},
      {"FALSE AND NULL", kNone, F},
      {"TRUE OR NULL", kNone, T},
      {"FALSE OR NULL", kNone, N},

      // --- bare properties and literals as conditions -----------------------------------
      {"a", {{"a", "true"}}, F},
      {"a", kNone, N},
      {"NOT a", {{"a", "true"}}, T},
      {"NOT a", kNone, N},
      {"'true'", kNone, F},
      {"1", kNone, F},
      {"a AND TRUE", {{"a", "TRUE"}}, F},
      {"a OR TRUE", kNone, T},

      // --- precedence: NOT > comparisons > AND > OR --------------------------------------
      {"a = 'x' OR b = 'y' AND c = 'z'", {{"a", "x"}}, T},        // a OR (b AND c)
      {"a = 'x' OR b = 'y' AND c = 'z'", {{"b", "y"}}, N},        // NULL OR (true AND NULL)
      {"(a = 'x' OR b = 'y') AND c = 'z'", {{"a", "x"}, {"c", "q"}}, F},
      {"NOT a = 'x'", {{"a", "x"}}, F},   // (NOT a) = 'x': TRUE = 'x' -> false
      {"NOT a = 'true'", {{"a", "x"}}, T},  // (NOT a) = TRUE
      {"NOT a = 'x'", kNone, N},
      {"NOT a = 'x' OR TRUE", kNone, T},
      {"NOT (a = 'x') AND b = 'y'", {{"a", "q"}, {"b", "y"}}, T},
      {"a = 'x' AND NOT b = 'y' OR c IS NULL", {{"a", "x"}, {"b", "y"}}, T},
      {"a > 1 = TRUE", {{"a", "2"}}, T},  // (a > 1) = TRUE
      {"a = 1 = TRUE", {{"a", "1"}}, T},

      // --- unary minus and plus ----------------------------------------------------------
      {"-a = 5", {{"a", "-5"}}, N},
      {"-a IS NULL", {{"a", "5"}}, T},
      {"- -5 = 5", kNone, T},
      {"-(5) = -5", kNone, T},
      {"-(-9223372036854775808) = 1", kNone, E, 0},
      {"a = -1.5", {{"a", "-1.5"}}, T},
      {"+a = 'x'", {{"a", "x"}}, T},

      // --- lexical: keywords, quoting, comments, numbers ---------------------------------
      {"a = 'x' and b = 'y'", {{"a", "x"}, {"b", "y"}}, T},
      {"a = 'x' And b = 'y' oR c = 'z'", {{"c", "z"}}, T},
      {"A = 'x'", {{"a", "x"}}, N},  // names are case-sensitive
      {"$a_1 = 'x'", {{"$a_1", "x"}}, T},
      {"_x = 'y'", {{"_x", "y"}}, T},
      {"a = 'it''s'", {{"a", "it's"}}, T},
      {"a = ''''", {{"a", "'"}}, T},
      {"a = 'back\\slash'", {{"a", "back\\slash"}}, T},
      {"a = 'héllo'", {{"a", "héllo"}}, T},
      {"a = 'AND'", {{"a", "AND"}}, T},
      {"a = 'x' -- a comment", {{"a", "x"}}, T},
      {"a = -- comment\n 'x'", {{"a", "x"}}, T},
      {"a /* inline */ = 'x'", {{"a", "x"}}, T},
      {"/* lead */ a = 'x' /* tail */", {{"a", "x"}}, T},
      {"a = '/* not a comment */'", {{"a", "/* not a comment */"}}, T},
      {"a = 'x' /* open", kNone, E, 8},
      {"a = 'x", kNone, E, 4},
      {"a = 0.0", {{"a", "0"}}, T},
      {"a = 0", {{"a", "0"}}, T},
      {"a = 01", kNone, E, 4},
      {"a = 1e", kNone, E, 4},
      {"a = 1e400", kNone, E, 4},
      {"a = 1e-400", {{"a", "0"}}, T},
      {"a = 99999999999999999999", kNone, E, 4},
      {"a = 1.2.3", kNone, E, 4},
      {"a = 5x", kNone, E, 4},
      {"a = 'x' #", kNone, E, 8},
      {"a == 'x'", kNone, E, 3},
      {"a.b = 'x'", kNone, E, 1},
      {"a LIKE 'x'", kNone, E, 2},

      // --- structure errors -----------------------------------------------------------
      {"", kNone, E, 0},
      {"   ", kNone, E, 0},
      {"-- only a comment", kNone, E, 0},
      {"a = 'x' b = 'y'", kNone, E, 8},
      {"a = 'x')", kNone, E, 7},
      {"(a = 'x'", kNone, E, 8},
      {"a = 'x' AND", kNone, E, 11},
      {"AND a = 'x'", kNone, E, 0},
      {"a =", kNone, E, 3},
      {"a NOT b", kNone, E, 2},
      {"a = 'x' OR OR b", kNone, E, 11},
      {"()", kNone, E, 1},
      {"a = 'é' b", kNone, E, 8},  // positions count characters, not bytes

      // --- parentheses and nesting -------------------------------------------------------
      {"((((a = 'x'))))", {{"a", "x"}}, T},
      {"(a = 'x') AND ((b = 'y') OR (c = 'z'))", {{"a", "x"}, {"c", "z"}}, T},
      {"(a BETWEEN 1 AND 3) = TRUE", {{"a", "2"}}, T},
  };
  return cases;
}

std::string Describe(const Case& c) {
  std::string s = "expr: \"" + c.expr + "\" props: {";
  for (const auto& [k, v] : c.props) s += k + "=" + v + ";";
  return s + "}";
}

TEST(Sql92TableTest, HasAtLeast150Cases) { EXPECT_GE(Cases().size(), 150u); }

TEST(Sql92TableTest, EveryCaseGivesItsExpectedOutcome) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(Describe(c));
    FilterError error;
    auto expr = Sql92Expression::Compile(c.expr, &error);
    if (c.want == Want::kError) {
      EXPECT_EQ(expr, nullptr);
      EXPECT_FALSE(error.message.empty());
      EXPECT_EQ(error.position, c.position) << error.message;
      continue;
    }
    ASSERT_NE(expr, nullptr) << error.message << " at position " << error.position;
    MapPropertySource props(c.props);
    bool failed = true;
    Tristate got = expr->Evaluate(props, &failed);
    switch (c.want) {
      case Want::kTrue: EXPECT_EQ(got, Tristate::kTrue); break;
      case Want::kFalse: EXPECT_EQ(got, Tristate::kFalse); break;
      case Want::kNull: EXPECT_EQ(got, Tristate::kNull); break;
      case Want::kConvFail: EXPECT_EQ(got, Tristate::kNull); break;
      case Want::kError: break;
    }
    EXPECT_EQ(failed, c.want == Want::kConvFail);
    bool failed2 = false;
    EXPECT_EQ(expr->Matches(props, &failed2), c.want == Want::kTrue);
    EXPECT_EQ(failed2, failed);
  }
}

}  // namespace
}  // namespace vela::filter
