#pragma once

// Internal: the compiled form of an SQL92 expression, produced by the parser (sql92_parser.cc)
// and walked by the evaluator (sql92_eval.cc). Not part of the filter API.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vela::filter::sql92 {

// A value during evaluation. Strings are views into the property block or into the program.
struct Value {
  enum class Kind : uint8_t { kNull, kBool, kInt, kDouble, kString };
  Kind kind = Kind::kNull;
  bool b = false;
  int64_t i = 0;
  double d = 0;
  std::string_view s;

  static Value Null() { return Value(); }
  static Value Bool(bool v) {
    Value x;
    x.kind = Kind::kBool;
    x.b = v;
    return x;
  }
};

enum class NodeKind : uint8_t {
  kLiteral,   // literal_ (strings: text)
  kProperty,  // text = property name
  kAnd,       // children (n-ary, left to right)
  kOr,        // children (n-ary, left to right)
  kNot,       // left
  kNegate,    // left; unary minus on anything but a number literal (folded) gives NULL
  kCompare,   // left cmp right
  kBetween,   // left BETWEEN mid AND right; negated for NOT BETWEEN
  kIn,        // property `text` IN in_list (sorted, unique); negated for NOT IN
  kTextMatch, // left CONTAINS/STARTSWITH/ENDSWITH `text`; negated for the NOT forms
  kIsNull,    // left IS NULL; negated for IS NOT NULL
};

enum class CompareOp : uint8_t { kEq, kNe, kLt, kLe, kGt, kGe };
enum class TextOp : uint8_t { kContains, kStartsWith, kEndsWith };

// One node of the expression tree. Nodes live in Program::nodes and refer to each other by index,
// so destroying a program never recurses.
struct Node {
  NodeKind kind = NodeKind::kLiteral;
  CompareOp cmp = CompareOp::kEq;
  TextOp text_op = TextOp::kContains;
  bool negated = false;
  uint32_t left = 0;
  uint32_t mid = 0;
  uint32_t right = 0;
  uint32_t offset = 0;  // byte offset of the node's first token in the source
  Value literal;        // kLiteral (for strings, `s` is empty: the text is in `text`)
  std::string text;     // property name, string literal or search string
  std::vector<uint32_t> children;      // kAnd, kOr
  std::vector<std::string> in_list;    // kIn
};

// The compiled expression: a tree of nodes, `root` at the top.
struct Program {
  std::vector<Node> nodes;
  uint32_t root = 0;
};

}  // namespace vela::filter::sql92
