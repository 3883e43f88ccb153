#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace vela::filter {

// A subscription's tag expression: "*" or "" (every message), one tag ("TagA"), or several
// ("TagA || TagB || TagC"). Spaces around tags are trimmed and empty tags between "||" are
// ignored; a "*" among the tags also means every message. The broker checks MatchesHash against
// the consume-queue entry first (no record read) and Matches against the record's tag after.
// Immutable after Parse: thread-safe.
class TagExpression {
 public:
  // Parses `expression`. Fails with kInvalidArgument / SubCode::kBadFilter when it holds only
  // separators ("||") and so names no tag.
  static Result<TagExpression> Parse(std::string_view expression);

  // True for "*" and "": every message matches, tagged or not.
  bool matches_all() const { return matches_all_; }
  // Cheap pre-check on a consume-queue entry's tag hash (common/message_record.h TagHash; 0 means
  // the message has no tag). May give false positives (hash collisions), never false negatives.
  bool MatchesHash(int64_t tag_hash) const;
  // Exact check on a record's tag ("" when it has none).
  bool Matches(std::string_view tag) const;
  // The tags, in the order written, without duplicates; empty when matches_all().
  const std::vector<std::string>& tags() const { return tags_; }
  // The canonical text: "*" or the tags joined by "||".
  std::string ToString() const;

 private:
  TagExpression() = default;

  bool matches_all_ = true;
  std::vector<std::string> tags_;
  std::vector<int64_t> hashes_;  // sorted, unique
};

}  // namespace vela::filter
