#pragma once

#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace vela::testing {

// A strict reader of the Prometheus text exposition format (version 0.0.4), for tests: every line
// is `# HELP name text`, `# TYPE name type` or a sample `name{label="value",...} value`; names and
// label names valid; label values with only the three escapes; a family's TYPE once and before
// its samples; each sample belongs to a declared family (a histogram's as name_bucket with `le`,
// name_sum, name_count); no series twice; histogram buckets cumulative with +Inf equal to count.
// Parse returns false with `error` naming the first offending line.
class PrometheusText {
 public:
  struct Sample {
    std::string name;
    std::map<std::string, std::string> labels;
    double value = 0;
  };

  bool Parse(const std::string& text, std::string* error) {
    if (text.empty() || text.back() != '\n') return Fail(error, 0, "the text must end with a newline");
    std::istringstream in(text);
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
      ++number;
      if (line.empty()) return Fail(error, number, "empty line");
      if (line[0] == '#') {
        if (!ParseComment(line, error, number)) return false;
        continue;
      }
      Sample sample;
      if (!ParseSample(line, &sample, error, number)) return false;
      const std::string family = FamilyOf(sample);
      if (family.empty()) return Fail(error, number, "sample of no declared family: " + line);
      std::string key = sample.name;
      for (const auto& [k, v] : sample.labels) key += "|" + k + "=" + v;
      if (!keys_.insert(key).second) return Fail(error, number, "series given twice: " + line);
      samples_.push_back(std::move(sample));
    }
    return CheckHistograms(error);
  }

  const std::vector<Sample>& samples() const { return samples_; }
  const std::map<std::string, std::string>& types() const { return types_; }

  // The sum of the samples named `name` whose labels include every one of `match`.
  double Sum(const std::string& name, const std::map<std::string, std::string>& match = {}) const {
    double total = 0;
    for (const auto& s : samples_) {
      if (s.name != name) continue;
      bool ok = true;
      for (const auto& [k, v] : match) {
        auto it = s.labels.find(k);
        if (it == s.labels.end() || it->second != v) ok = false;
      }
      if (ok) total += s.value;
    }
    return total;
  }
  size_t Count(const std::string& name, const std::map<std::string, std::string>& match = {}) const {
    size_t n = 0;
    for (const auto& s : samples_) {
      if (s.name != name) continue;
      bool ok = true;
      for (const auto& [k, v] : match) {
        auto it = s.labels.find(k);
        if (it == s.labels.end() || it->second != v) ok = false;
      }
      if (ok) ++n;
    }
    return n;
  }

  static bool ValidMetricName(const std::string& s) {
    if (s.empty()) return false;
    for (size_t i = 0; i < s.size(); ++i) {
      const char c = s[i];
      const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
      if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
    }
    return true;
  }
  static bool ValidLabelName(const std::string& s) {
    return ValidMetricName(s) && s.find(':') == std::string::npos && s.rfind("__", 0) != 0;
  }

 private:
  static bool Fail(std::string* error, int line, const std::string& what) {
    *error = "line " + std::to_string(line) + ": " + what;
    return false;
  }

  bool ParseComment(const std::string& line, std::string* error, int number) {
    std::istringstream in(line);
    std::string hash, kind, name;
    in >> hash >> kind >> name;
    if (hash != "#" || (kind != "HELP" && kind != "TYPE")) return Fail(error, number, "not HELP or TYPE: " + line);
    if (!ValidMetricName(name)) return Fail(error, number, "invalid metric name: " + name);
    if (kind == "HELP") {
      if (!helps_.insert(name).second) return Fail(error, number, "HELP twice for " + name);
      return true;
    }
    std::string type, extra;
    in >> type;
    if (in >> extra) return Fail(error, number, "text after the type: " + line);
    static const std::set<std::string> kTypes = {"counter", "gauge", "histogram", "summary", "untyped"};
    if (!kTypes.count(type)) return Fail(error, number, "unknown type: " + type);
    if (types_.count(name)) return Fail(error, number, "TYPE twice for " + name);
    for (const auto& s : samples_) {
      if (s.name == name || s.name.rfind(name + "_", 0) == 0) {
        if (FamilyOf(s) == name) return Fail(error, number, "TYPE after samples of " + name);
      }
    }
    types_[name] = type;
    return true;
  }

  bool ParseSample(const std::string& line, Sample* out, std::string* error, int number) const {
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    out->name = line.substr(0, i);
    if (!ValidMetricName(out->name)) return Fail(error, number, "invalid metric name: " + line);
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (true) {
        size_t eq = line.find('=', i);
        if (eq == std::string::npos) return Fail(error, number, "label without '=': " + line);
        std::string label = line.substr(i, eq - i);
        if (!ValidLabelName(label)) return Fail(error, number, "invalid label name '" + label + "': " + line);
        if (eq + 1 >= line.size() || line[eq + 1] != '"') return Fail(error, number, "unquoted label value: " + line);
        i = eq + 2;
        std::string value;
        while (true) {
          if (i >= line.size()) return Fail(error, number, "unterminated label value: " + line);
          const char c = line[i++];
          if (c == '"') break;
          if (c == '\\') {
            if (i >= line.size()) return Fail(error, number, "dangling escape: " + line);
            const char e = line[i++];
            if (e == 'n') {
              value += '\n';
            } else if (e == '\\' || e == '"') {
              value += e;
            } else {
              return Fail(error, number, "bad escape: " + line);
            }
          } else {
            value += c;
          }
        }
        if (!out->labels.emplace(label, value).second) return Fail(error, number, "label twice: " + line);
        if (i < line.size() && line[i] == ',') {
          ++i;
          continue;
        }
        if (i < line.size() && line[i] == '}') {
          ++i;
          break;
        }
        return Fail(error, number, "expected ',' or '}': " + line);
      }
    }
    if (i >= line.size() || line[i] != ' ') return Fail(error, number, "no space before the value: " + line);
    std::string rest = line.substr(i + 1);
    std::string value_text = rest.substr(0, rest.find(' '));
    if (value_text == "+Inf") {
      out->value = INFINITY;
    } else if (value_text == "-Inf") {
      out->value = -INFINITY;
    } else if (value_text == "NaN") {
      out->value = NAN;
    } else {
      char* end = nullptr;
      out->value = std::strtod(value_text.c_str(), &end);
      if (value_text.empty() || *end != '\0') return Fail(error, number, "bad value '" + value_text + "': " + line);
    }
    if (rest.find(' ') != std::string::npos) {  // a timestamp: an integer
      const std::string ts = rest.substr(rest.find(' ') + 1);
      if (ts.empty() || ts.find_first_not_of("-0123456789") != std::string::npos) {
        return Fail(error, number, "bad timestamp: " + line);
      }
    }
    return true;
  }

  // The declared family a sample belongs to, or "".
  std::string FamilyOf(const Sample& s) const {
    if (auto it = types_.find(s.name); it != types_.end() && it->second != "histogram") return s.name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string sfx = suffix;
      if (s.name.size() > sfx.size() && s.name.compare(s.name.size() - sfx.size(), sfx.size(), sfx) == 0) {
        const std::string base = s.name.substr(0, s.name.size() - sfx.size());
        auto it = types_.find(base);
        if (it != types_.end() && it->second == "histogram") {
          if (sfx == "_bucket" && !s.labels.count("le")) return "";
          return base;
        }
      }
    }
    return "";
  }

  bool CheckHistograms(std::string* error) const {
    for (const auto& [family, type] : types_) {
      if (type != "histogram") continue;
      // Per series (labels without le): buckets in order, cumulative, +Inf == count.
      std::map<std::map<std::string, std::string>, std::vector<std::pair<double, double>>> buckets;
      std::map<std::map<std::string, std::string>, double> counts;
      for (const auto& s : samples_) {
        if (s.name == family + "_bucket") {
          auto labels = s.labels;
          const std::string le = labels["le"];
          labels.erase("le");
          buckets[labels].emplace_back(le == "+Inf" ? INFINITY : std::strtod(le.c_str(), nullptr), s.value);
        } else if (s.name == family + "_count") {
          counts[s.labels] = s.value;
        }
      }
      for (const auto& [labels, list] : buckets) {
        for (size_t i = 1; i < list.size(); ++i) {
          if (!(list[i - 1].first < list[i].first) || list[i - 1].second > list[i].second) {
            *error = family + ": buckets not increasing or not cumulative";
            return false;
          }
        }
        if (list.empty() || !std::isinf(list.back().first) || !counts.count(labels) ||
            counts.at(labels) != list.back().second) {
          *error = family + ": the +Inf bucket is missing or differs from the count";
          return false;
        }
      }
    }
    return true;
  }

  std::map<std::string, std::string> types_;
  std::set<std::string> helps_;
  std::set<std::string> keys_;
  std::vector<Sample> samples_;
};

}  // namespace vela::testing
