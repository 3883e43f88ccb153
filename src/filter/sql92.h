#pragma once

#include <cstddef>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "filter/sql92_program.h"

namespace vela::filter {

// Where and why an SQL92 expression was refused. `position` is a 0-based offset in the
// expression, counted in characters (UTF-8 code points), pointing at the offending token.
struct FilterError {
  std::string message;
  int position = 0;
};

// Read-only view of one message's properties, as the SQL92 evaluator sees them. Implementations
// must not allocate in Get on the hot path. Thread-safety is the implementation's; the two below
// are thread-compatible (const use from many threads is safe).
class PropertySource {
 public:
  virtual ~PropertySource() = default;
  // Sets *value to the text of property `name` (exact spelling) and returns true, or returns
  // false when the message has no such property. *value stays valid as long as the source does.
  virtual bool Get(std::string_view name, std::string_view* value) const = 0;
};

// Properties read straight from an encoded properties block (common/message_record.h: key 0x01
// value 0x02 pairs). System properties (TAGS, KEYS, ...) are ordinary pairs there. Each Get scans
// the block (blocks are short). The block must outlive this object. Thread-compatible.
class EncodedPropertySource final : public PropertySource {
 public:
  explicit EncodedPropertySource(std::string_view encoded) : encoded_(encoded) {}
  bool Get(std::string_view name, std::string_view* value) const override;

 private:
  std::string_view encoded_;
};

// Properties held in a map; for tests, the CLI (`vela-admin filter check`) and SDK-side checks.
// Owns its copy of the map. Thread-compatible.
class MapPropertySource final : public PropertySource {
 public:
  MapPropertySource() = default;
  explicit MapPropertySource(const std::map<std::string, std::string>& props);
  MapPropertySource(std::initializer_list<std::pair<const std::string, std::string>> props) : props_(props) {}
  void Set(std::string name, std::string value);
  bool Get(std::string_view name, std::string_view* value) const override;

 private:
  std::map<std::string, std::string, std::less<>> props_;
};

enum class Tristate { kFalse, kTrue, kNull };

std::string_view TristateName(Tristate t);  // "false", "true", "null"

// Limits enforced by Compile (documented in docs/sql92.md).
inline constexpr size_t kMaxExpressionLength = 16 * 1024;  // bytes
// Levels of nesting: each parenthesis, each unary operator (NOT, -, +) and each comparison chained
// onto another comparison (`a = b = c`) counts one level.
inline constexpr int kMaxNestingDepth = 64;

// A compiled SQL92 property filter (the language of /docs/sql92.md). Built once per subscription
// by Compile (usually through FilterCache) and shared by every pull of that subscription.
// Immutable after Compile, so thread-safe: any number of threads may evaluate it concurrently.
// Evaluation never allocates and never throws.
class Sql92Expression {
 public:
  // Compiles `text`. On failure returns nullptr and fills *error (message and position); `error`
  // may be null. Never throws. Cost is linear in the length of the text.
  static std::shared_ptr<const Sql92Expression> Compile(std::string_view text, FilterError* error);
  // As above; a failure is kInvalidArgument with SubCode::kBadFilter and the message
  // "<message> at position <N>".
  static Result<std::shared_ptr<const Sql92Expression>> Compile(std::string_view text);

  // True only when the expression evaluates to TRUE. A conversion failure (a property whose text
  // does not convert to the type it is compared with) makes the result false and, when
  // `conversion_failed` is non-null, sets it to true (else it is set to false).
  bool Matches(const PropertySource& props, bool* conversion_failed = nullptr) const;
  // The three-valued result. On a conversion failure, evaluation stops and returns kNull, and
  // *conversion_failed (when non-null) is set to true.
  Tristate Evaluate(const PropertySource& props, bool* conversion_failed = nullptr) const;

  // The source text as given to Compile.
  const std::string& text() const { return text_; }
  // The property names the expression reads, sorted and unique (for diagnostics and tooling).
  const std::vector<std::string>& property_names() const { return property_names_; }

 private:
  Sql92Expression(std::string text, sql92::Program program);

  std::string text_;
  sql92::Program program_;
  std::vector<std::string> property_names_;
};

}  // namespace vela::filter
