#include "common/config.h"

#include <algorithm>
#include <cctype>
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
    config.values_[std::string(key)] =
        Value{std::string(Trim(line.substr(eq + 1))), fmt::format("file {}:{}", origin, line_no)};
  }
  return config;
}

Status Config::ApplyOverride(std::string_view kv) {
  auto eq = kv.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return Status::InvalidArgument(fmt::format("override '{}' is not key=value", kv));
  }
  values_[std::string(Trim(kv.substr(0, eq)))] = Value{std::string(Trim(kv.substr(eq + 1))), "flag --set"};
  return Status::OK();
}

void Config::NoteRead(std::string_view key, std::string fallback) const {
  read_keys_.try_emplace(std::string(key), std::move(fallback));
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
  std::string text;
  for (const auto& key : unread) {
    if (!text.empty()) text += "; ";
    text += fmt::format("{}: unknown setting {} ({})", what, key, values_.find(key)->second.source);
    std::string nearest = NearestKnownKey(key);
    if (!nearest.empty()) {
      text += fmt::format("; did you mean {}?", nearest);
    } else {
      text += ": not a setting of this version";
    }
  }
  return Status::InvalidArgument(text);
}

namespace {

// Edit distance (insert, delete, substitute, swap of neighbours) in half steps: a substitution
// that only changes letter case costs 1, every other edit 2.
int HalfEditDistance(std::string_view a, std::string_view b) {
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<int>> d(n + 1, std::vector<int>(m + 1, 0));
  for (size_t i = 0; i <= n; ++i) d[i][0] = static_cast<int>(2 * i);
  for (size_t j = 0; j <= m; ++j) d[0][j] = static_cast<int>(2 * j);
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      int sub = 2;
      if (a[i - 1] == b[j - 1]) {
        sub = 0;
      } else if (std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                 std::tolower(static_cast<unsigned char>(b[j - 1]))) {
        sub = 1;
      }
      d[i][j] = std::min({d[i - 1][j] + 2, d[i][j - 1] + 2, d[i - 1][j - 1] + sub});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 2);
      }
    }
  }
  return d[n][m];
}

}  // namespace

std::string Config::NearestKnownKey(std::string_view key) const {
  const int allowed = 2 * std::max<int>(2, static_cast<int>(key.size()) / 3);
  std::string best;
  int best_distance = allowed + 1;
  for (const auto& [known, fallback] : read_keys_) {
    int distance = HalfEditDistance(key, known);
    if (distance < best_distance) {
      best_distance = distance;
      best = known;
    }
  }
  return best;
}

std::vector<Config::Effective> Config::EffectiveSettings() const {
  std::vector<Effective> out;
  for (const auto& [key, fallback] : read_keys_) {
    auto it = values_.find(key);
    if (it == values_.end()) {
      out.push_back({key, fallback, "default"});
    } else {
      out.push_back({key, it->second.text, it->second.source});
    }
  }
  for (const auto& key : UnreadKeys()) {
    const Value& v = values_.find(key)->second;
    out.push_back({key, v.text, v.source + " (unknown)"});
  }
  return out;
}

std::string Config::GetString(std::string_view key, std::string_view fallback) const {
  auto it = values_.find(key);
  NoteRead(key, std::string(fallback));
  return it == values_.end() ? std::string(fallback) : it->second.text;
}

Result<int64_t> Config::GetInt(std::string_view key, int64_t fallback) const {
  auto it = values_.find(key);
  NoteRead(key, std::to_string(fallback));
  if (it == values_.end()) return fallback;
  int64_t v = 0;
  const auto& s = it->second.text;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) {
    return Status::InvalidArgument(fmt::format("setting {} = '{}' is not an integer", key, s));
  }
  return v;
}

Result<int64_t> Config::GetBytes(std::string_view key, int64_t fallback) const {
  auto it = values_.find(key);
  NoteRead(key, std::to_string(fallback));
  if (it == values_.end()) return fallback;
  std::string s = it->second.text;
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
    return Status::InvalidArgument(fmt::format("setting {} = '{}' is not a byte size", key, it->second.text));
  }
  return v * mult;
}

Result<double> Config::GetDouble(std::string_view key, double fallback) const {
  auto it = values_.find(key);
  NoteRead(key, fmt::format("{}", fallback));
  if (it == values_.end()) return fallback;
  try {
    size_t used = 0;
    double v = std::stod(it->second.text, &used);
    if (used == it->second.text.size()) return v;
  } catch (...) {
  }
  return Status::InvalidArgument(fmt::format("setting {} = '{}' is not a number", key, it->second.text));
}

Result<bool> Config::GetBool(std::string_view key, bool fallback) const {
  auto it = values_.find(key);
  NoteRead(key, fallback ? "true" : "false");
  if (it == values_.end()) return fallback;
  const std::string& s = it->second.text;
  if (s == "true" || s == "1" || s == "yes") return true;
  if (s == "false" || s == "0" || s == "no") return false;
  return Status::InvalidArgument(fmt::format("setting {} = '{}' is not true or false", key, s));
}

}  // namespace vela
