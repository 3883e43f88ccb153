// The SQL92 parser: tokens -> Program, with every compile-time check of docs/sql92.md.
// Recursive descent following the grammar, lowest precedence first.

#include <algorithm>
#include <limits>
#include <string>
#include <utility>

#include "filter/sql92.h"
#include "filter/sql92_lexer.h"

namespace vela::filter {
namespace {

using sql92::CompareOp;
using sql92::Node;
using sql92::NodeKind;
using sql92::Program;
using sql92::TextOp;
using sql92::Token;
using sql92::TokenKind;
using sql92::Value;

constexpr uint32_t kInvalid = std::numeric_limits<uint32_t>::max();

const char* CompareOpText(CompareOp op) {
  switch (op) {
    case CompareOp::kEq: return "=";
    case CompareOp::kNe: return "<>";
    case CompareOp::kLt: return "<";
    case CompareOp::kLe: return "<=";
    case CompareOp::kGt: return ">";
    case CompareOp::kGe: return ">=";
  }
  return "?";
}

// Converts a byte offset into a character (UTF-8 code point) offset.
int CharOffset(std::string_view text, uint32_t byte_offset) {
  int n = 0;
  size_t end = std::min<size_t>(byte_offset, text.size());
  for (size_t i = 0; i < end; ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++n;
  }
  if (byte_offset > text.size()) n += static_cast<int>(byte_offset - text.size());
  return n;
}

// Recursive-descent parser over a token vector; builds nodes into a Program and stops at the first
// error (message and byte offset). One instance per Compile call: not shared between threads.
class Parser {
 public:
  Parser(std::string_view source, const std::vector<Token>& tokens, Program* program)
      : source_(source), tokens_(tokens), program_(program) {}

  // Parses the whole input. Returns false with error_ set on failure.
  bool Parse() {
    uint32_t root = ParseOr();
    if (root == kInvalid) return false;
    if (Peek().kind != TokenKind::kEnd) {
      return Fail(Peek().offset, "unexpected " + Describe(Peek()) + " after a complete expression");
    }
    program_->root = root;
    return true;
  }

  const std::string& error_message() const { return error_message_; }
  uint32_t error_offset() const { return error_offset_; }

 private:
  const Token& Peek(size_t ahead = 0) const {
    size_t i = std::min(pos_ + ahead, tokens_.size() - 1);
    return tokens_[i];
  }
  const Token& Next() {
    const Token& t = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return t;
  }
  std::string Describe(const Token& t) const { return sql92::DescribeToken(t, source_); }

  bool Fail(uint32_t offset, std::string message) {
    if (error_message_.empty()) {
      error_message_ = std::move(message);
      error_offset_ = offset;
    }
    return false;
  }
  uint32_t FailNode(uint32_t offset, std::string message) {
    Fail(offset, std::move(message));
    return kInvalid;
  }

  // Enters one nesting level; false (with the error set) beyond the limit.
  bool Enter(uint32_t offset) {
    if (++depth_ > kMaxNestingDepth) {
      Fail(offset, "expression nested deeper than " + std::to_string(kMaxNestingDepth) + " levels");
      return false;
    }
    return true;
  }
  void Leave(int levels = 1) { depth_ -= levels; }

  uint32_t Add(Node node) {
    program_->nodes.push_back(std::move(node));
    return static_cast<uint32_t>(program_->nodes.size() - 1);
  }
  Node& At(uint32_t i) { return program_->nodes[i]; }

  bool IsLiteral(uint32_t i, Value::Kind kind) {
    return At(i).kind == NodeKind::kLiteral && At(i).literal.kind == kind;
  }
  bool IsNumberLiteral(uint32_t i) { return IsLiteral(i, Value::Kind::kInt) || IsLiteral(i, Value::Kind::kDouble); }

  // Ordering comparisons and BETWEEN refuse string and boolean literals.
  bool CheckOrderable(uint32_t operand, std::string_view op) {
    if (IsLiteral(operand, Value::Kind::kString)) {
      return Fail(At(operand).offset, std::string(op) + " cannot compare with a string literal");
    }
    if (IsLiteral(operand, Value::Kind::kBool)) {
      return Fail(At(operand).offset, std::string(op) + " cannot compare with a boolean literal");
    }
    return true;
  }

  // or := and ( OR and )*
  uint32_t ParseOr() { return ParseLogical(TokenKind::kOr); }
  // and := equality ( AND equality )*
  uint32_t ParseAnd() { return ParseLogical(TokenKind::kAnd); }

  uint32_t ParseLogical(TokenKind op) {
    uint32_t first = op == TokenKind::kOr ? ParseAnd() : ParseEquality();
    if (first == kInvalid) return kInvalid;
    if (Peek().kind != op) return first;
    Node node;
    node.kind = op == TokenKind::kOr ? NodeKind::kOr : NodeKind::kAnd;
    node.offset = At(first).offset;
    node.children.push_back(first);
    while (Peek().kind == op) {
      Next();
      uint32_t next = op == TokenKind::kOr ? ParseAnd() : ParseEquality();
      if (next == kInvalid) return kInvalid;
      node.children.push_back(next);
    }
    return Add(std::move(node));
  }

  // equality := compare ( ( '=' | '<>' ) compare | IS [NOT] NULL )*
  uint32_t ParseEquality() {
    uint32_t left = ParseCompare();
    if (left == kInvalid) return kInvalid;
    int chained = 0;
    uint32_t result = left;
    while (true) {
      const Token& t = Peek();
      if (t.kind != TokenKind::kEq && t.kind != TokenKind::kNe && t.kind != TokenKind::kIs) break;
      if (chained > 0 && !Enter(t.offset)) return kInvalid;
      ++chained;
      Next();
      Node node;
      node.offset = At(left).offset;
      if (t.kind == TokenKind::kIs) {
        node.kind = NodeKind::kIsNull;
        if (Peek().kind == TokenKind::kNot) {
          Next();
          node.negated = true;
        }
        if (Peek().kind != TokenKind::kNull) {
          return FailNode(Peek().offset, "expected NULL after IS but found " + Describe(Peek()));
        }
        Next();
        node.left = left;
      } else {
        CompareOp op = t.kind == TokenKind::kEq ? CompareOp::kEq : CompareOp::kNe;
        uint32_t right = ParseCompare();
        if (right == kInvalid) return kInvalid;
        for (uint32_t side : {left, right}) {
          if (IsLiteral(side, Value::Kind::kNull)) {
            return FailNode(At(side).offset, std::string("'") + CompareOpText(op) +
                                                 " NULL' is never true; use IS " +
                                                 (op == CompareOp::kEq ? "NULL" : "NOT NULL"));
          }
        }
        node.kind = NodeKind::kCompare;
        node.cmp = op;
        node.left = left;
        node.right = right;
      }
      left = Add(std::move(node));
      result = left;
    }
    if (chained > 1) Leave(chained - 1);
    return result;
  }

  // compare := unary ( ( '>' | '>=' | '<' | '<=' ) unary | [NOT] BETWEEN unary AND unary
  //                  | [NOT] IN '(' string ( ',' string )* ')'
  //                  | [NOT] ( CONTAINS | STARTSWITH | ENDSWITH ) string )*
  uint32_t ParseCompare() {
    uint32_t left = ParseUnary();
    if (left == kInvalid) return kInvalid;
    int chained = 0;
    while (true) {
      const Token& t = Peek();
      bool negated = false;
      TokenKind kind = t.kind;
      if (kind == TokenKind::kNot) {
        TokenKind after = Peek(1).kind;
        if (after != TokenKind::kBetween && after != TokenKind::kIn && after != TokenKind::kContains &&
            after != TokenKind::kStartsWith && after != TokenKind::kEndsWith) {
          break;  // not ours: the caller reports it
        }
        negated = true;
        kind = after;
      }
      Node node;
      node.offset = At(left).offset;
      node.negated = negated;
      switch (kind) {
        case TokenKind::kGt:
        case TokenKind::kGe:
        case TokenKind::kLt:
        case TokenKind::kLe: {
          if (chained > 0 && !Enter(t.offset)) return kInvalid;
          ++chained;
          Next();
          node.kind = NodeKind::kCompare;
          node.cmp = kind == TokenKind::kGt   ? CompareOp::kGt
                     : kind == TokenKind::kGe ? CompareOp::kGe
                     : kind == TokenKind::kLt ? CompareOp::kLt
                                              : CompareOp::kLe;
          uint32_t right = ParseUnary();
          if (right == kInvalid) return kInvalid;
          std::string op = std::string("'") + CompareOpText(node.cmp) + "'";
          if (!CheckOrderable(left, op) || !CheckOrderable(right, op)) return kInvalid;
          node.left = left;
          node.right = right;
          break;
        }
        case TokenKind::kBetween: {
          if (chained > 0 && !Enter(t.offset)) return kInvalid;
          ++chained;
          if (negated) Next();
          Next();
          node.kind = NodeKind::kBetween;
          uint32_t low = ParseUnary();
          if (low == kInvalid) return kInvalid;
          if (Peek().kind != TokenKind::kAnd) {
            return FailNode(Peek().offset, "expected AND in BETWEEN but found " + Describe(Peek()));
          }
          Next();
          uint32_t high = ParseUnary();
          if (high == kInvalid) return kInvalid;
          if (!CheckOrderable(left, "BETWEEN") || !CheckOrderable(low, "BETWEEN") ||
              !CheckOrderable(high, "BETWEEN")) {
            return kInvalid;
          }
          if (IsNumberLiteral(low) && IsNumberLiteral(high)) {
            const Value& lo = At(low).literal;
            const Value& hi = At(high).literal;
            bool inverted = (lo.kind == Value::Kind::kInt && hi.kind == Value::Kind::kInt)
                                ? lo.i > hi.i
                                : (lo.kind == Value::Kind::kInt ? static_cast<double>(lo.i) : lo.d) >
                                      (hi.kind == Value::Kind::kInt ? static_cast<double>(hi.i) : hi.d);
            if (inverted) {
              return FailNode(At(low).offset, "BETWEEN lower bound is greater than its upper bound");
            }
          }
          node.left = left;
          node.mid = low;
          node.right = high;
          break;
        }
        case TokenKind::kIn: {
          if (chained > 0 && !Enter(t.offset)) return kInvalid;
          ++chained;
          if (negated) Next();
          Next();
          if (At(left).kind != NodeKind::kProperty) {
            return FailNode(At(left).offset, "IN needs a property on its left");
          }
          node.kind = NodeKind::kIn;
          node.text = At(left).text;
          node.left = left;
          if (Peek().kind != TokenKind::kLParen) {
            return FailNode(Peek().offset, "expected '(' after IN but found " + Describe(Peek()));
          }
          Next();
          while (true) {
            if (Peek().kind != TokenKind::kString) {
              return FailNode(Peek().offset, "IN list accepts only string literals, found " + Describe(Peek()));
            }
            node.in_list.push_back(Next().text);
            if (Peek().kind == TokenKind::kComma) {
              Next();
              continue;
            }
            if (Peek().kind == TokenKind::kRParen) {
              Next();
              break;
            }
            return FailNode(Peek().offset, "expected ',' or ')' in IN list but found " + Describe(Peek()));
          }
          std::sort(node.in_list.begin(), node.in_list.end());
          node.in_list.erase(std::unique(node.in_list.begin(), node.in_list.end()), node.in_list.end());
          break;
        }
        case TokenKind::kContains:
        case TokenKind::kStartsWith:
        case TokenKind::kEndsWith: {
          if (chained > 0 && !Enter(t.offset)) return kInvalid;
          ++chained;
          if (negated) Next();
          const Token& op = Next();
          node.kind = NodeKind::kTextMatch;
          node.text_op = kind == TokenKind::kContains     ? TextOp::kContains
                         : kind == TokenKind::kStartsWith ? TextOp::kStartsWith
                                                          : TextOp::kEndsWith;
          if (Peek().kind != TokenKind::kString) {
            return FailNode(Peek().offset,
                            Describe(op) + " accepts only a string literal, found " + Describe(Peek()));
          }
          node.text = Next().text;
          node.left = left;
          break;
        }
        default:
          if (chained > 1) Leave(chained - 1);
          return left;
      }
      left = Add(std::move(node));
    }
    if (chained > 1) Leave(chained - 1);
    return left;
  }

  // unary := ( '+' | '-' | NOT ) unary | primary
  uint32_t ParseUnary() {
    const Token& t = Peek();
    if (t.kind != TokenKind::kPlus && t.kind != TokenKind::kMinus && t.kind != TokenKind::kNot) {
      return ParsePrimary(false);
    }
    if (!Enter(t.offset)) return kInvalid;
    Next();
    uint32_t result;
    if (t.kind == TokenKind::kMinus && Peek().kind == TokenKind::kInteger) {
      // -9223372036854775808 is in range although its magnitude alone is not.
      result = ParsePrimary(true);
      if (result != kInvalid) At(result).offset = t.offset;
    } else {
      uint32_t operand = ParseUnary();
      if (operand == kInvalid) return kInvalid;
      if (t.kind == TokenKind::kPlus) {
        result = operand;
      } else if (t.kind == TokenKind::kMinus && IsLiteral(operand, Value::Kind::kInt)) {
        Value& v = At(operand).literal;
        if (v.i == std::numeric_limits<int64_t>::min()) {
          return FailNode(t.offset, "integer literal out of the 64-bit range");
        }
        v.i = -v.i;
        At(operand).offset = t.offset;
        result = operand;
      } else if (t.kind == TokenKind::kMinus && IsLiteral(operand, Value::Kind::kDouble)) {
        At(operand).literal.d = -At(operand).literal.d;
        At(operand).offset = t.offset;
        result = operand;
      } else {
        Node node;
        node.kind = t.kind == TokenKind::kNot ? NodeKind::kNot : NodeKind::kNegate;
        node.offset = t.offset;
        node.left = operand;
        result = Add(std::move(node));
      }
    }
    Leave();
    return result;
  }

  // primary := literal | property | '(' expr ')'
  uint32_t ParsePrimary(bool negative) {
    const Token& t = Peek();
    Node node;
    node.kind = NodeKind::kLiteral;
    node.offset = t.offset;
    switch (t.kind) {
      case TokenKind::kIdentifier:
        node.kind = NodeKind::kProperty;
        node.text = t.text;
        break;
      case TokenKind::kString:
        node.literal.kind = Value::Kind::kString;
        node.text = t.text;
        break;
      case TokenKind::kInteger: {
        constexpr uint64_t kMaxPositive = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
        node.literal.kind = Value::Kind::kInt;
        if (negative) {
          node.literal.i = t.magnitude > kMaxPositive ? std::numeric_limits<int64_t>::min()
                                                      : -static_cast<int64_t>(t.magnitude);
        } else {
          if (t.magnitude > kMaxPositive) return FailNode(t.offset, "integer literal out of the 64-bit range");
          node.literal.i = static_cast<int64_t>(t.magnitude);
        }
        break;
      }
      case TokenKind::kDecimal:
        node.literal.kind = Value::Kind::kDouble;
        node.literal.d = t.decimal;
        break;
      case TokenKind::kTrue:
      case TokenKind::kFalse:
        node.literal = Value::Bool(t.kind == TokenKind::kTrue);
        break;
      case TokenKind::kNull:
        node.literal = Value::Null();
        break;
      case TokenKind::kLParen: {
        if (!Enter(t.offset)) return kInvalid;
        Next();
        uint32_t inner = ParseOr();
        if (inner == kInvalid) return kInvalid;
        if (Peek().kind != TokenKind::kRParen) {
          return FailNode(Peek().offset, "expected ')' but found " + Describe(Peek()));
        }
        Next();
        Leave();
        return inner;
      }
      default:
        return FailNode(t.offset, "expected a value, a property or '(' but found " + Describe(t));
    }
    Next();
    return Add(std::move(node));
  }

  std::string_view source_;
  const std::vector<Token>& tokens_;
  Program* program_;
  size_t pos_ = 0;
  int depth_ = 0;
  std::string error_message_;
  uint32_t error_offset_ = 0;
};

}  // namespace

std::shared_ptr<const Sql92Expression> Sql92Expression::Compile(std::string_view text, FilterError* error) {
  auto set_error = [&](std::string message, uint32_t byte_offset) {
    if (error != nullptr) {
      error->message = std::move(message);
      error->position = CharOffset(text, byte_offset);
    }
  };
  if (text.size() > kMaxExpressionLength) {
    set_error("expression longer than " + std::to_string(kMaxExpressionLength) + " bytes",
              static_cast<uint32_t>(kMaxExpressionLength));
    return nullptr;
  }
  std::vector<Token> tokens;
  std::string message;
  uint32_t offset = 0;
  if (!sql92::Tokenize(text, &tokens, &message, &offset)) {
    set_error(std::move(message), offset);
    return nullptr;
  }
  if (tokens.size() == 1) {
    set_error("empty expression", 0);
    return nullptr;
  }
  Program program;
  program.nodes.reserve(tokens.size());
  Parser parser(text, tokens, &program);
  if (!parser.Parse()) {
    set_error(parser.error_message(), parser.error_offset());
    return nullptr;
  }
  return std::shared_ptr<const Sql92Expression>(new Sql92Expression(std::string(text), std::move(program)));
}

Result<std::shared_ptr<const Sql92Expression>> Sql92Expression::Compile(std::string_view text) {
  FilterError error;
  auto expr = Compile(text, &error);
  if (expr == nullptr) {
    return Status(StatusCode::kInvalidArgument, error.message + " at position " + std::to_string(error.position),
                  SubCode::kBadFilter);
  }
  return expr;
}

Sql92Expression::Sql92Expression(std::string text, sql92::Program program)
    : text_(std::move(text)), program_(std::move(program)) {
  for (const Node& n : program_.nodes) {
    if (n.kind == NodeKind::kProperty) property_names_.push_back(n.text);
  }
  std::sort(property_names_.begin(), property_names_.end());
  property_names_.erase(std::unique(property_names_.begin(), property_names_.end()), property_names_.end());
}

}  // namespace vela::filter
