// The SQL92 evaluator: three-valued logic and the conversion rules of docs/sql92.md.
// Walks the compiled tree; never allocates. A conversion failure sets Context::failed, after which
// every node returns at once and the whole result is "not matched".

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "common/record_format.h"
#include "filter/sql92.h"

namespace vela::filter {
namespace {

using sql92::CompareOp;
using sql92::Node;
using sql92::NodeKind;
using sql92::Program;
using sql92::TextOp;
using sql92::Value;
using Kind = sql92::Value::Kind;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Integer text: optional sign, then one or more digits, nothing else; must fit in int64.
bool TextToInt(std::string_view s, int64_t* out) {
  size_t i = 0;
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    i = 1;
  }
  if (i == s.size()) return false;
  uint64_t limit = negative ? (uint64_t{1} << 63) : static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  uint64_t v = 0;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (!IsDigit(c)) return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (limit - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = negative ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
  return true;
}

// Decimal text: optional sign, digits with an optional fraction (or a fraction alone), an
// optional exponent; no spaces, no NaN or Infinity; must not overflow a double.
bool TextToDouble(std::string_view s, double* out) {
  size_t i = 0;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) i = 1;
  size_t start = i;
  size_t mantissa_digits = 0;
  while (i < s.size() && IsDigit(s[i])) ++i, ++mantissa_digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && IsDigit(s[i])) ++i, ++mantissa_digits;
  }
  if (mantissa_digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t exp_digits = 0;
    while (i < s.size() && IsDigit(s[i])) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  if (i != s.size()) return false;
  // from_chars accepts a leading '-' but not '+'.
  const char* first = s.data() + (start == 1 && s[0] == '+' ? 1 : 0);
  const char* last = s.data() + s.size();
  double v = 0;
  auto [ptr, ec] = std::from_chars(first, last, v);
  if (ec == std::errc::result_out_of_range) {
    // Overflow fails; underflow (1e-400) is a legitimate tiny value.
    char buf[128];
    if (s.size() >= sizeof(buf)) return false;
    std::memcpy(buf, s.data(), s.size());
    buf[s.size()] = '\0';
    v = std::strtod(buf, nullptr);
    if (std::isinf(v)) return false;
  } else if (ec != std::errc() || ptr != last) {
    return false;
  }
  *out = v;
  return true;
}

bool TextIsTrue(std::string_view s) {
  if (s.size() != 4) return false;
  return (s[0] == 't' || s[0] == 'T') && (s[1] == 'r' || s[1] == 'R') && (s[2] == 'u' || s[2] == 'U') &&
         (s[3] == 'e' || s[3] == 'E');
}

// -1, 0, 1.
template <typename T>
int Order(T a, T b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

bool ApplyOrder(CompareOp op, int c) {
  switch (op) {
    case CompareOp::kEq: return c == 0;
    case CompareOp::kNe: return c != 0;
    case CompareOp::kLt: return c < 0;
    case CompareOp::kLe: return c <= 0;
    case CompareOp::kGt: return c > 0;
    case CompareOp::kGe: return c >= 0;
  }
  return false;
}

bool IsEquality(CompareOp op) { return op == CompareOp::kEq || op == CompareOp::kNe; }
bool IsNumber(Kind k) { return k == Kind::kInt || k == Kind::kDouble; }
double AsDouble(const Value& v) { return v.kind == Kind::kInt ? static_cast<double>(v.i) : v.d; }

// A condition's truth: only the boolean TRUE is true; NULL stays unknown; any other value is false.
Tristate Truth(const Value& v) {
  if (v.kind == Kind::kBool) return v.b ? Tristate::kTrue : Tristate::kFalse;
  if (v.kind == Kind::kNull) return Tristate::kNull;
  return Tristate::kFalse;
}

Value FromTristate(Tristate t) {
  if (t == Tristate::kNull) return Value::Null();
  return Value::Bool(t == Tristate::kTrue);
}

// One evaluation of a program against one message: lives on the caller's stack for a single
// Evaluate call, so concurrent evaluations of the same program share nothing mutable.
class Evaluator {
 public:
  Evaluator(const Program& program, const PropertySource& props) : nodes_(program.nodes.data()), props_(props) {}

  Value Eval(uint32_t index) {
    const Node& n = nodes_[index];
    switch (n.kind) {
      case NodeKind::kLiteral:
      case NodeKind::kProperty:
        return Operand(n);
      case NodeKind::kAnd: {
        bool unknown = false;
        for (uint32_t child : n.children) {
          Tristate t = Truth(Eval(child));
          if (failed_) return Value::Null();
          if (t == Tristate::kFalse) return Value::Bool(false);
          if (t == Tristate::kNull) unknown = true;
        }
        return unknown ? Value::Null() : Value::Bool(true);
      }
      case NodeKind::kOr: {
        bool unknown = false;
        for (uint32_t child : n.children) {
          Tristate t = Truth(Eval(child));
          if (failed_) return Value::Null();
          if (t == Tristate::kTrue) return Value::Bool(true);
          if (t == Tristate::kNull) unknown = true;
        }
        return unknown ? Value::Null() : Value::Bool(false);
      }
      case NodeKind::kNot: {
        Tristate t = Truth(Eval(n.left));
        if (t == Tristate::kNull) return Value::Null();
        return Value::Bool(t == Tristate::kFalse);
      }
      case NodeKind::kNegate: {
        Value v = Eval(n.left);
        // Only literals are numbers, and the parser folds their negation; anything else is NULL.
        if (v.kind == Kind::kDouble) {
          v.d = -v.d;
          return v;
        }
        if (v.kind == Kind::kInt && v.i != std::numeric_limits<int64_t>::min()) {
          v.i = -v.i;
          return v;
        }
        return Value::Null();
      }
      case NodeKind::kCompare: {
        Value l = OperandOrEval(n.left);
        if (l.kind == Kind::kNull || failed_) return Value::Null();
        Value r = OperandOrEval(n.right);
        if (r.kind == Kind::kNull || failed_) return Value::Null();
        return FromTristate(Compare(l, r, n.cmp));
      }
      case NodeKind::kBetween: {
        Value x = OperandOrEval(n.left);
        if (x.kind == Kind::kNull || failed_) return Value::Null();
        // x >= low AND x <= high, left to right with three-valued AND.
        Value low = OperandOrEval(n.mid);
        if (failed_) return Value::Null();
        Tristate first = low.kind == Kind::kNull ? Tristate::kNull : Compare(x, low, CompareOp::kGe);
        if (failed_) return Value::Null();
        Tristate result;
        if (first == Tristate::kFalse) {
          result = Tristate::kFalse;
        } else {
          Value high = OperandOrEval(n.right);
          if (failed_) return Value::Null();
          Tristate second = high.kind == Kind::kNull ? Tristate::kNull : Compare(x, high, CompareOp::kLe);
          if (failed_) return Value::Null();
          if (second == Tristate::kFalse) {
            result = Tristate::kFalse;
          } else if (first == Tristate::kNull || second == Tristate::kNull) {
            result = Tristate::kNull;
          } else {
            result = Tristate::kTrue;
          }
        }
        if (n.negated && result != Tristate::kNull) return Value::Bool(result == Tristate::kFalse);
        return FromTristate(result);
      }
      case NodeKind::kIn: {
        std::string_view text;
        if (!props_.Get(n.text, &text)) return Value::Null();
        bool found;
        if (n.in_list.size() <= 8) {
          found = false;
          for (const std::string& s : n.in_list) {
            if (s == text) {
              found = true;
              break;
            }
          }
        } else {
          auto it = std::lower_bound(n.in_list.begin(), n.in_list.end(), text,
                                     [](const std::string& a, std::string_view b) { return std::string_view(a) < b; });
          found = it != n.in_list.end() && *it == text;
        }
        return Value::Bool(found != n.negated);
      }
      case NodeKind::kTextMatch: {
        Value v = OperandOrEval(n.left);
        if (failed_) return Value::Null();
        // Absent, not text, or an empty search string: false for both the plain and NOT forms.
        if (v.kind != Kind::kString || n.text.empty()) return Value::Bool(false);
        bool hit;
        switch (n.text_op) {
          case TextOp::kContains: hit = v.s.find(n.text) != std::string_view::npos; break;
          case TextOp::kStartsWith: hit = v.s.starts_with(n.text); break;
          case TextOp::kEndsWith: hit = v.s.ends_with(n.text); break;
          default: hit = false;
        }
        return Value::Bool(hit != n.negated);
      }
      case NodeKind::kIsNull: {
        Value v = OperandOrEval(n.left);
        if (failed_) return Value::Null();
        return Value::Bool((v.kind == Kind::kNull) != n.negated);
      }
    }
    return Value::Null();
  }

  bool failed() const { return failed_; }

 private:
  // Literal and property leaves without a recursive call.
  Value Operand(const Node& n) const {
    if (n.kind == NodeKind::kLiteral) {
      Value v = n.literal;
      if (v.kind == Kind::kString) v.s = n.text;
      return v;
    }
    Value v;
    if (props_.Get(n.text, &v.s)) v.kind = Kind::kString;
    return v;
  }
  Value OperandOrEval(uint32_t index) {
    const Node& n = nodes_[index];
    if (n.kind == NodeKind::kLiteral || n.kind == NodeKind::kProperty) return Operand(n);
    return Eval(index);
  }

  Tristate Fail() {
    failed_ = true;
    return Tristate::kNull;
  }
  static Tristate Of(bool b) { return b ? Tristate::kTrue : Tristate::kFalse; }

  // REQUIRES: neither side is NULL.
  Tristate Compare(const Value& l, const Value& r, CompareOp op) {
    if (l.kind == Kind::kString && r.kind == Kind::kString) {
      if (IsEquality(op)) return Of((l.s == r.s) == (op == CompareOp::kEq));
      double a, b;  // two properties: both as decimals
      if (!TextToDouble(l.s, &a) || !TextToDouble(r.s, &b)) return Fail();
      return Of(ApplyOrder(op, Order(a, b)));
    }
    if (l.kind == Kind::kString || r.kind == Kind::kString) {
      const Value& text = l.kind == Kind::kString ? l : r;
      const Value& other = l.kind == Kind::kString ? r : l;
      Value converted;
      if (other.kind == Kind::kInt) {
        converted.kind = Kind::kInt;
        if (!TextToInt(text.s, &converted.i)) return Fail();
      } else if (other.kind == Kind::kDouble) {
        converted.kind = Kind::kDouble;
        if (!TextToDouble(text.s, &converted.d)) return Fail();
      } else {  // boolean
        converted = Value::Bool(TextIsTrue(text.s));
      }
      return l.kind == Kind::kString ? Compare(converted, r, op) : Compare(l, converted, op);
    }
    if (IsNumber(l.kind) && IsNumber(r.kind)) {
      if (l.kind == Kind::kInt && r.kind == Kind::kInt) return Of(ApplyOrder(op, Order(l.i, r.i)));
      return Of(ApplyOrder(op, Order(AsDouble(l), AsDouble(r))));
    }
    if (l.kind == Kind::kBool && r.kind == Kind::kBool && IsEquality(op)) {
      return Of((l.b == r.b) == (op == CompareOp::kEq));
    }
    return Fail();  // a boolean against a number, or ordered
  }

  const Node* nodes_;
  const PropertySource& props_;
  bool failed_ = false;
};

}  // namespace

std::string_view TristateName(Tristate t) {
  switch (t) {
    case Tristate::kFalse: return "false";
    case Tristate::kTrue: return "true";
    case Tristate::kNull: return "null";
  }
  return "?";
}

Tristate Sql92Expression::Evaluate(const PropertySource& props, bool* conversion_failed) const {
  Evaluator ev(program_, props);
  Value v = ev.Eval(program_.root);
  if (conversion_failed != nullptr) *conversion_failed = ev.failed();
  if (ev.failed()) return Tristate::kNull;
  return Truth(v);
}

bool Sql92Expression::Matches(const PropertySource& props, bool* conversion_failed) const {
  return Evaluate(props, conversion_failed) == Tristate::kTrue;
}

bool EncodedPropertySource::Get(std::string_view name, std::string_view* value) const {
  const char* p = encoded_.data();
  const char* end = p + encoded_.size();
  while (p < end) {
    const char* pair_end = static_cast<const char*>(std::memchr(p, record::kPropPairSep, end - p));
    if (pair_end == nullptr) pair_end = end;
    const char* sep = static_cast<const char*>(std::memchr(p, record::kPropNameSep, pair_end - p));
    if (sep != nullptr && std::string_view(p, static_cast<size_t>(sep - p)) == name) {
      *value = std::string_view(sep + 1, static_cast<size_t>(pair_end - sep - 1));
      return true;
    }
    p = pair_end + 1;
  }
  return false;
}

MapPropertySource::MapPropertySource(const std::map<std::string, std::string>& props)
    : props_(props.begin(), props.end()) {}

void MapPropertySource::Set(std::string name, std::string value) { props_[std::move(name)] = std::move(value); }

bool MapPropertySource::Get(std::string_view name, std::string_view* value) const {
  auto it = props_.find(name);
  if (it == props_.end()) return false;
  *value = it->second;
  return true;
}

}  // namespace vela::filter
