#pragma once

// Internal: the tokenizer of the SQL92 filter language (docs/sql92.md, "Lexical rules").

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vela::filter::sql92 {

enum class TokenKind : uint8_t {
  kEnd,
  kIdentifier,
  kString,
  kInteger,
  kDecimal,
  kAnd,
  kOr,
  kNot,
  kBetween,
  kIn,
  kIs,
  kNull,
  kTrue,
  kFalse,
  kContains,
  kStartsWith,
  kEndsWith,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kLParen,
  kRParen,
  kComma,
  kPlus,
  kMinus,
};

// One lexical token: its kind and where it stands in the source text.
struct Token {
  TokenKind kind = TokenKind::kEnd;
  uint32_t offset = 0;      // byte offset in the source
  uint32_t length = 0;      // bytes in the source
  std::string text;         // identifier name, or decoded string literal
  uint64_t magnitude = 0;   // kInteger: the unsigned value (may be 2^63, valid only after '-')
  double decimal = 0;       // kDecimal
};

// How a token reads in an error message: "'AND'", "'x'", "end of input".
std::string DescribeToken(const Token& token, std::string_view source);

// Splits `source` into tokens, ending with one kEnd token. On a lexical error returns false and
// sets *message and *offset (bytes). Integer literals above 2^63 and decimals that overflow a
// double are lexical errors.
bool Tokenize(std::string_view source, std::vector<Token>* tokens, std::string* message, uint32_t* offset);

}  // namespace vela::filter::sql92
