#include "http/query_string.h"

#include <fmt/format.h>

namespace vela::http {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<std::string> DecodeQueryComponent(std::string_view component) {
  std::string out;
  out.reserve(component.size());
  for (size_t i = 0; i < component.size(); ++i) {
    const char c = component[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= component.size()) {
        return Status::InvalidArgument(fmt::format("bad percent escape at the end of '{}'", component));
      }
      const int hi = HexValue(component[i + 1]);
      const int lo = HexValue(component[i + 2]);
      if (hi < 0 || lo < 0) {
        return Status::InvalidArgument(fmt::format("bad percent escape '{}' in '{}'", component.substr(i, 3), component));
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  for (unsigned char c : out) {
    if (c < 0x20 || c == 0x7f) return Status::InvalidArgument("control character in a query parameter");
  }
  return out;
}

Result<std::map<std::string, std::string, std::less<>>> ParseQueryString(std::string_view query) {
  std::map<std::string, std::string, std::less<>> params;
  if (query.empty()) return params;
  size_t start = 0;
  while (start <= query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    const std::string_view pair = query.substr(start, end - start);
    if (pair.empty()) return Status::InvalidArgument("empty query parameter (stray '&')");
    const size_t eq = pair.find('=');
    if (eq == 0) return Status::InvalidArgument(fmt::format("query parameter without a name: '{}'", pair));
    VELA_ASSIGN_OR_RETURN(std::string name, DecodeQueryComponent(pair.substr(0, eq)));
    std::string value;
    if (eq != std::string_view::npos) {
      VELA_ASSIGN_OR_RETURN(value, DecodeQueryComponent(pair.substr(eq + 1)));
    }
    if (name.empty()) return Status::InvalidArgument("query parameter without a name");
    if (params.size() >= kMaxQueryParameters) {
      return Status::InvalidArgument(fmt::format("more than {} query parameters", kMaxQueryParameters));
    }
    if (!params.emplace(std::move(name), std::move(value)).second) {
      return Status::InvalidArgument(fmt::format("query parameter '{}' given twice", pair.substr(0, eq)));
    }
    start = end + 1;
  }
  return params;
}

}  // namespace vela::http
