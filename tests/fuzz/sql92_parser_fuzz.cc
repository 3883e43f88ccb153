// libFuzzer target: compiles arbitrary text as an SQL92 filter and, when it compiles, evaluates it
// against a few property sets (over both property sources). Checks the invariants that must hold
// for any input: no crash, a position inside the text on error, and agreement between Matches,
// Evaluate and the two property sources.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "common/message_record.h"
#include "filter/sql92.h"
#include "filter/tag_filter.h"

namespace {

using vela::filter::EncodedPropertySource;
using vela::filter::FilterError;
using vela::filter::MapPropertySource;
using vela::filter::Sql92Expression;
using vela::filter::Tristate;

void Check(bool cond) {
  if (!cond) std::abort();
}

void EvaluateBoth(const Sql92Expression& expr, const vela::Properties& props) {
  std::map<std::string, std::string> map;
  for (const auto& [k, v] : props) map.emplace(k, v);
  MapPropertySource from_map(map);
  std::string block = vela::EncodeProperties(props);
  EncodedPropertySource from_block(block);
  bool failed_map = false;
  bool failed_block = false;
  Tristate a = expr.Evaluate(from_map, &failed_map);
  Tristate b = expr.Evaluate(from_block, &failed_block);
  Check(a == b && failed_map == failed_block);
  if (failed_map) Check(a == Tristate::kNull);
  Check(expr.Matches(from_map) == (a == Tristate::kTrue));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  FilterError error;
  auto expr = Sql92Expression::Compile(text, &error);
  if (expr == nullptr) {
    Check(!error.message.empty());
    Check(error.position >= 0 && static_cast<size_t>(error.position) <= size);
  } else {
    Check(expr->text() == text);
    EvaluateBoth(*expr, {});
    EvaluateBoth(*expr, {{"a", "7"}, {"b", "x"}, {"c", "3.5"}, {"TAGS", "TagA"}, {"KEYS", "k1 k2"}});
    EvaluateBoth(*expr, {{"a", "abc"}, {"b", "true"}, {"c", "-9223372036854775808"}, {"env", "gray"},
                         {"region", ""}, {"x", "1e308"}});
  }
  // The same bytes as a tag expression.
  auto tags = vela::filter::TagExpression::Parse(text);
  if (tags.ok()) {
    for (const auto& t : tags->tags()) Check(tags->Matches(t) && tags->MatchesHash(vela::TagHash(t)));
  }
  return 0;
}
