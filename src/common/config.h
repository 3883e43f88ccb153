#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace vela {

// Config holds `key = value` settings read from a file (conf/broker.conf style: `#` comments,
// blank lines ignored) with later `--set key=value` overrides winning. Keys are case-sensitive
// and use RocketMQ's names where the meaning matches. Typed getters fail with InvalidArgument
// naming the key when a value does not parse. Thread-compatible.
class Config {
 public:
  // Parses `path`; a missing or unreadable file is an error.
  static Result<Config> LoadFile(const std::string& path);
  // Parses text in the file format; `origin` names it in error messages.
  static Result<Config> Parse(std::string_view text, std::string_view origin);

  // Applies "key=value" (as given to --set). Fails on a string without '='.
  Status ApplyOverride(std::string_view key_equals_value);
  void Set(std::string key, std::string value) { values_[std::move(key)] = std::move(value); }

  bool Has(std::string_view key) const { return values_.count(std::string(key)) != 0; }
  std::string GetString(std::string_view key, std::string_view fallback) const;
  Result<int64_t> GetInt(std::string_view key, int64_t fallback) const;
  // Accepts plain integers and the suffixes k, m, g (powers of 1024), e.g. "4m".
  Result<int64_t> GetBytes(std::string_view key, int64_t fallback) const;
  Result<double> GetDouble(std::string_view key, double fallback) const;
  Result<bool> GetBool(std::string_view key, bool fallback) const;

  const std::map<std::string, std::string, std::less<>>& values() const { return values_; }

  // Keys no getter has read: after a daemon has read every setting it knows, these are
  // misspellings or settings it does not implement.
  std::vector<std::string> UnreadKeys() const;
  // InvalidArgument naming every unread key ("<what> does not know the setting(s) ..."), or OK.
  Status RefuseUnreadKeys(std::string_view what) const;

 private:
  std::map<std::string, std::string, std::less<>> values_;
  mutable std::set<std::string, std::less<>> read_keys_;  // every key a getter was asked for
};

}  // namespace vela
