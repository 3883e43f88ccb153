#include "common/config.h"

#include <charconv>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace vela {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<Config> Config::LoadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound(fmt::format("cannot open config file {}", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return Parse(ss.str(), path);
}

Result<Config> Config::Parse(std::string_view text, std::string_view origin) {
  Config config;
  int line_no = 0;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    line = Trim(line);
    if (line.empty() || line.front() == '#') continue;
    auto eq = line.find('=');
    if (eq == std::string_view::npos) {
      return Status::InvalidArgument(fmt::format("{}:{}: expected key = value, got '{}'", origin, line_no, line));
    }
    auto key = Trim(line.substr(0, eq));
    if (key.empty()) return Status::InvalidArgument(fmt::format("{}:{}: empty key", origin, line_no));
    config.values_[std::string(key)] = std::string(Trim(line.substr(eq + 1)));
  }
  return config;
}

Status Config::ApplyOverride(std::string_view kv) {
  auto eq = kv.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return Status::InvalidArgument(fmt::format("override '{}' is not key=value", kv));
  }
  values_[std::string(Trim(kv.substr(0, eq)))] = std::string(Trim(kv.substr(eq + 1)));
  return Status::OK();
}

std::vector<std::string> Config::UnreadKeys() const {
  std::vector<std::string> out;
  for (const auto& [key, value] : values_) {
    if (!read_keys_.contains(key)) out.push_back(key);
  }
  return out;
}

Status Config::RefuseUnreadKeys(std::string_view what) const {
  auto unread = UnreadKeys();
  if (unread.empty()) return Status::OK();
  std::string names;
  for (const auto& k : unread) names += (names.empty() ? "" : ", ") + k;
  return Status::InvalidArgument(std::string(what) + " does not know the setting(s) " + names +
                                 " (a misspelling, or a setting this version does not implement)");
}

std::string Config::GetString(std::string_view key, std::string_view fallback) const {
  auto it = values_.find(key);
  read_keys_.emplace(key);
  return it == values_.end() ? std::string(fallback) : it->second;
}

Result<int64_t> Config::GetInt(std::string_view key, int64_t fallback) const {
  auto it = values_.find(key);
  read_keys_.emplace(key);
  if (it == values_.end()) return fallback;
  int64_t v = 0;
  const auto& s = it->second;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) {
    return Status::InvalidArgument(fmt::format("setting {} = '{}' is not an integer", key, s));
  }
  return v;
}

Result<int64_t> Config::GetBytes(std::string_view key, int64_t fallback) const {
  auto it = values_.find(key);
  read_keys_.emplace(key);
  if (it == values_.end()) return fallback;
  std::string s = it->second;
  int64_t mult = 1;
  if (!s.empty()) {
    char c = static_cast<char>(std::tolower(static_cast<unsigned char>(s.back())));
    if (c == 'k') mult = 1024;
    if (c == 'm') mult = 1024 * 1024;
    if (c == 'g') mult = 1024LL * 1024 * 1024;
    if (mult != 1) s.pop_back();
  }
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) {
    return Status::InvalidArgument(fmt::format("setting {} = '{}' is not a byte size", key, it->second));
  }
  return v * mult;
}

Result<double> Config::GetDouble(std::string_view key, double fallback) const {
  auto it = values_.find(key);
  read_keys_.emplace(key);
  if (it == values_.end()) return fallback;
  try {
    size_t used = 0;
    double v = std::stod(it->second, &used);
    if (used == it->second.size()) return v;
  } catch (...) {
  }
  return Status::InvalidArgument(fmt::format("setting {} = '{}' is not a number", key, it->second));
}

Result<bool> Config::GetBool(std::string_view key, bool fallback) const {
  auto it = values_.find(key);
  read_keys_.emplace(key);
  if (it == values_.end()) return fallback;
  if (it->second == "true" || it->second == "1" || it->second == "yes") return true;
  if (it->second == "false" || it->second == "0" || it->second == "no") return false;
  return Status::InvalidArgument(fmt::format("setting {} = '{}' is not true or false", key, it->second));
}

}  // namespace vela
