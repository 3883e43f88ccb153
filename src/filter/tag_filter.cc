#include "filter/tag_filter.h"

#include <algorithm>

#include "common/message_record.h"

namespace vela::filter {
namespace {

std::string_view Trim(std::string_view s) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<TagExpression> TagExpression::Parse(std::string_view expression) {
  TagExpression out;
  std::string_view rest = Trim(expression);
  if (rest.empty() || rest == "*") return out;
  out.matches_all_ = false;
  bool star = false;
  while (true) {
    size_t bar = rest.find("||");
    std::string_view tag = Trim(rest.substr(0, bar));
    if (tag == "*") {
      star = true;
    } else if (!tag.empty() && std::find(out.tags_.begin(), out.tags_.end(), tag) == out.tags_.end()) {
      out.tags_.emplace_back(tag);
    }
    if (bar == std::string_view::npos) break;
    rest = rest.substr(bar + 2);
  }
  if (star) return TagExpression();
  if (out.tags_.empty()) {
    return Status(StatusCode::kInvalidArgument,
                  "tag expression '" + std::string(expression) + "' names no tag (use '*' for all)",
                  SubCode::kBadFilter);
  }
  for (const auto& t : out.tags_) out.hashes_.push_back(TagHash(t));
  std::sort(out.hashes_.begin(), out.hashes_.end());
  out.hashes_.erase(std::unique(out.hashes_.begin(), out.hashes_.end()), out.hashes_.end());
  return out;
}

bool TagExpression::MatchesHash(int64_t tag_hash) const {
  if (matches_all_) return true;
  if (tag_hash == 0) return false;
  if (hashes_.size() <= 8) {
    for (int64_t h : hashes_) {
      if (h == tag_hash) return true;
    }
    return false;
  }
  return std::binary_search(hashes_.begin(), hashes_.end(), tag_hash);
}

bool TagExpression::Matches(std::string_view tag) const {
  if (matches_all_) return true;
  if (tag.empty()) return false;
  for (const auto& t : tags_) {
    if (t == tag) return true;
  }
  return false;
}

std::string TagExpression::ToString() const {
  if (matches_all_) return "*";
  std::string out;
  for (const auto& t : tags_) {
    if (!out.empty()) out += "||";
    out += t;
  }
  return out;
}

}  // namespace vela::filter
