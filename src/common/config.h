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
// naming the key when a value does not parse. Every value remembers where it came from (the file
// and line, a flag, the environment) and every getter records the default it was asked with, so
// the effective settings can be listed with their sources (`vela-broker --print-config`).
// Thread-compatible.
class Config {
 public:
  // One setting as the program sees it: its value and where that came from ("default",
  // "file conf/broker.conf:12", "flag --set", "flag --listen", "environment VELA_NAMESRV").
  struct Effective {
    std::string key;
    std::string value;
    std::string source;
  };

  // Parses `path`; a missing or unreadable file is an error.
  static Result<Config> LoadFile(const std::string& path);
  // Parses text in the file format; `origin` names it in error messages.
  static Result<Config> Parse(std::string_view text, std::string_view origin);

  // Applies "key=value" (as given to --set). Fails on a string without '='.
  Status ApplyOverride(std::string_view key_equals_value);
  // Sets a value; `source` says where it came from (see Effective).
  void Set(std::string key, std::string value, std::string source = "flag") {
    values_[std::move(key)] = Value{std::move(value), std::move(source)};
  }

  bool Has(std::string_view key) const { return values_.count(std::string(key)) != 0; }
  std::string GetString(std::string_view key, std::string_view fallback) const;
  Result<int64_t> GetInt(std::string_view key, int64_t fallback) const;
  // Accepts plain integers and the suffixes k, m, g (powers of 1024), e.g. "4m".
  Result<int64_t> GetBytes(std::string_view key, int64_t fallback) const;
  Result<double> GetDouble(std::string_view key, double fallback) const;
  Result<bool> GetBool(std::string_view key, bool fallback) const;

  // Keys no getter has read: after a daemon has read every setting it knows, these are
  // misspellings or settings it does not implement.
  std::vector<std::string> UnreadKeys() const;
  // InvalidArgument naming every unread key with the nearest key a getter was asked for, e.g.
  // "vela-broker: unknown setting flushDiskTyp (file b.conf:3); did you mean flushDiskType?", or OK.
  Status RefuseUnreadKeys(std::string_view what) const;
  // The read key closest to `key` by edit distance (at most a third of its length, at least 2
  // edits allowed; case differences count as half), or "" when none is that close.
  std::string NearestKnownKey(std::string_view key) const;

  // Every setting a getter was asked for, sorted by key, with its value (the default when not
  // set) and source; then the unread keys that are set, with source suffixed " (unknown)".
  std::vector<Effective> EffectiveSettings() const;

 private:
  struct Value {
    std::string text;
    std::string source;
  };
  // Records that `key` was read, with the default the getter would use.
  void NoteRead(std::string_view key, std::string fallback) const;

  std::map<std::string, Value, std::less<>> values_;
  // Every key a getter was asked for, with the default it was asked with.
  mutable std::map<std::string, std::string, std::less<>> read_keys_;
};

}  // namespace vela
