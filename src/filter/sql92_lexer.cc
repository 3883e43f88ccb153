#include "filter/sql92_lexer.h"

#include <cmath>
#include <cstdlib>
#include <utility>

namespace vela::filter::sql92 {
namespace {

bool IsIdentStart(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == '$';
}
bool IsIdentPart(char c) { return IsIdentStart(c) || (c >= '0' && c <= '9'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 'a' + 'A');
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 'a' + 'A');
    if (x != y) return false;
  }
  return true;
}

struct Keyword {
  std::string_view name;
  TokenKind kind;
};
constexpr Keyword kKeywords[] = {
    {"AND", TokenKind::kAnd},           {"OR", TokenKind::kOr},
    {"NOT", TokenKind::kNot},           {"BETWEEN", TokenKind::kBetween},
    {"IN", TokenKind::kIn},             {"IS", TokenKind::kIs},
    {"NULL", TokenKind::kNull},         {"TRUE", TokenKind::kTrue},
    {"FALSE", TokenKind::kFalse},       {"CONTAINS", TokenKind::kContains},
    {"STARTSWITH", TokenKind::kStartsWith}, {"ENDSWITH", TokenKind::kEndsWith},
};

// Lexes a number starting at `pos` (a digit, or '.' followed by a digit).
bool LexNumber(std::string_view src, size_t pos, Token* tok, std::string* message) {
  size_t i = pos;
  size_t int_digits = 0;
  while (i < src.size() && IsDigit(src[i])) ++i, ++int_digits;
  bool is_decimal = false;
  if (i < src.size() && src[i] == '.') {
    is_decimal = true;
    ++i;
    size_t frac_digits = 0;
    while (i < src.size() && IsDigit(src[i])) ++i, ++frac_digits;
    if (int_digits == 0 && frac_digits == 0) {
      *message = "malformed number";
      return false;
    }
  }
  if (i < src.size() && (src[i] == 'e' || src[i] == 'E')) {
    size_t j = i + 1;
    if (j < src.size() && (src[j] == '+' || src[j] == '-')) ++j;
    size_t exp_digits = 0;
    while (j < src.size() && IsDigit(src[j])) ++j, ++exp_digits;
    if (exp_digits == 0) {
      *message = "malformed exponent in decimal literal";
      return false;
    }
    is_decimal = true;
    i = j;
  }
  std::string_view body = src.substr(pos, i - pos);
  if (is_decimal) {
    std::string copy(body);  // strtod needs a terminator; compile time only
    char* end = nullptr;
    double v = std::strtod(copy.c_str(), &end);
    if (end != copy.c_str() + copy.size()) {
      *message = "malformed decimal literal";
      return false;
    }
    if (std::isinf(v)) {
      *message = "decimal literal overflows a double";
      return false;
    }
    tok->kind = TokenKind::kDecimal;
    tok->decimal = v;
  } else {
    if (body.size() > 1 && body[0] == '0') {
      *message = "integer literal with a leading zero";
      return false;
    }
    uint64_t v = 0;
    constexpr uint64_t kLimit = uint64_t{1} << 63;  // |INT64_MIN|
    for (char c : body) {
      uint64_t d = static_cast<uint64_t>(c - '0');
      if (v > (kLimit - d) / 10) {
        *message = "integer literal out of the 64-bit range";
        return false;
      }
      v = v * 10 + d;
    }
    if (i < src.size() && (src[i] == 'L' || src[i] == 'l')) ++i;
    tok->kind = TokenKind::kInteger;
    tok->magnitude = v;
  }
  if (i < src.size() && (IsIdentPart(src[i]) || src[i] == '.')) {
    *message = "malformed number";
    return false;
  }
  tok->length = static_cast<uint32_t>(i - pos);
  return true;
}

}  // namespace

std::string DescribeToken(const Token& token, std::string_view source) {
  if (token.kind == TokenKind::kEnd) return "end of input";
  std::string_view raw = source.substr(token.offset, token.length);
  const bool cut = raw.size() > 40;
  // Built with append rather than operator+ chains: GCC 12 at -O3 reports a false -Wrestrict on those.
  std::string out;
  out.reserve(48);
  out.push_back('\'');
  out.append(raw.substr(0, 40));
  if (cut) out.append("...");
  out.push_back('\'');
  return out;
}

bool Tokenize(std::string_view src, std::vector<Token>* tokens, std::string* message, uint32_t* offset) {
  tokens->clear();
  size_t i = 0;
  auto fail = [&](size_t at, std::string m) {
    *message = std::move(m);
    *offset = static_cast<uint32_t>(at);
    return false;
  };
  while (true) {
    // Whitespace and comments.
    while (i < src.size()) {
      if (IsSpace(src[i])) {
        ++i;
      } else if (src[i] == '-' && i + 1 < src.size() && src[i + 1] == '-') {
        while (i < src.size() && src[i] != '\n') ++i;
      } else if (src[i] == '/' && i + 1 < src.size() && src[i + 1] == '*') {
        size_t end = src.find("*/", i + 2);
        if (end == std::string_view::npos) return fail(i, "unterminated comment");
        i = end + 2;
      } else {
        break;
      }
    }
    Token tok;
    tok.offset = static_cast<uint32_t>(i);
    if (i >= src.size()) {
      tok.kind = TokenKind::kEnd;
      tokens->push_back(std::move(tok));
      return true;
    }
    char c = src[i];
    if (IsIdentStart(c)) {
      size_t j = i;
      while (j < src.size() && IsIdentPart(src[j])) ++j;
      std::string_view word = src.substr(i, j - i);
      tok.kind = TokenKind::kIdentifier;
      for (const auto& kw : kKeywords) {
        if (EqualsIgnoreCase(word, kw.name)) {
          tok.kind = kw.kind;
          break;
        }
      }
      if (tok.kind == TokenKind::kIdentifier) tok.text = std::string(word);
      tok.length = static_cast<uint32_t>(j - i);
      i = j;
    } else if (c == '\'') {
      size_t j = i + 1;
      std::string value;
      while (true) {
        if (j >= src.size()) return fail(i, "unterminated string literal");
        if (src[j] == '\'') {
          if (j + 1 < src.size() && src[j + 1] == '\'') {
            value.push_back('\'');
            j += 2;
            continue;
          }
          ++j;
          break;
        }
        value.push_back(src[j]);
        ++j;
      }
      tok.kind = TokenKind::kString;
      tok.text = std::move(value);
      tok.length = static_cast<uint32_t>(j - i);
      i = j;
    } else if (IsDigit(c) || (c == '.' && i + 1 < src.size() && IsDigit(src[i + 1]))) {
      std::string m;
      if (!LexNumber(src, i, &tok, &m)) return fail(i, std::move(m));
      i += tok.length;
    } else {
      size_t len = 1;
      switch (c) {
        case '=': tok.kind = TokenKind::kEq; break;
        case '(': tok.kind = TokenKind::kLParen; break;
        case ')': tok.kind = TokenKind::kRParen; break;
        case ',': tok.kind = TokenKind::kComma; break;
        case '+': tok.kind = TokenKind::kPlus; break;
        case '-': tok.kind = TokenKind::kMinus; break;
        case '<':
          if (i + 1 < src.size() && src[i + 1] == '>') {
            tok.kind = TokenKind::kNe;
            len = 2;
          } else if (i + 1 < src.size() && src[i + 1] == '=') {
            tok.kind = TokenKind::kLe;
            len = 2;
          } else {
            tok.kind = TokenKind::kLt;
          }
          break;
        case '>':
          if (i + 1 < src.size() && src[i + 1] == '=') {
            tok.kind = TokenKind::kGe;
            len = 2;
          } else {
            tok.kind = TokenKind::kGt;
          }
          break;
        case '!':
          if (i + 1 < src.size() && src[i + 1] == '=') {
            tok.kind = TokenKind::kNe;
            len = 2;
            break;
          }
          [[fallthrough]];
        default: {
          unsigned char u = static_cast<unsigned char>(c);
          if (u >= 0x20 && u < 0x7f) return fail(i, std::string("unexpected character '") + c + "'");
          char hex[8];
          static constexpr char kDigits[] = "0123456789abcdef";
          hex[0] = '0';
          hex[1] = 'x';
          hex[2] = kDigits[u >> 4];
          hex[3] = kDigits[u & 15];
          return fail(i, std::string("unexpected character ") + std::string(hex, 4));
        }
      }
      tok.length = static_cast<uint32_t>(len);
      i += len;
    }
    tokens->push_back(std::move(tok));
  }
}

}  // namespace vela::filter::sql92
