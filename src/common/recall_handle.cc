#include "common/recall_handle.h"

#include <array>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

namespace vela {
namespace {

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::string_view kVersion = "r1";

// Unpadded base64url of `in`, written in place (one allocation: this runs per timer receipt).
std::string Base64Url(std::string_view in) {
  std::string out((in.size() * 8 + 5) / 6, '\0');
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  char* o = out.data();
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    *o++ = kAlphabet[v >> 18];
    *o++ = kAlphabet[(v >> 12) & 0x3f];
    *o++ = kAlphabet[(v >> 6) & 0x3f];
    *o++ = kAlphabet[v & 0x3f];
  }
  if (const size_t left = in.size() - i; left > 0) {
    const uint32_t v = (uint32_t{p[i]} << 16) | (left == 2 ? uint32_t{p[i + 1]} << 8 : 0);
    *o++ = kAlphabet[v >> 18];
    *o++ = kAlphabet[(v >> 12) & 0x3f];
    if (left == 2) *o++ = kAlphabet[(v >> 6) & 0x3f];
  }
  return out;
}

bool FromBase64Url(std::string_view in, std::string* out) {
  std::array<int, 256> value{};
  value.fill(-1);
  for (size_t i = 0; i < kAlphabet.size(); ++i) value[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int>(i);
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    if (value[c] < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(value[c]);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return true;
}

}  // namespace

// Layout before encoding: "r1" NUL broker NUL due_ms(decimal) NUL msg_id.
std::string EncodeRecallHandle(std::string_view broker_name, int64_t due_ms, std::string_view msg_id) {
  // Built without formatting: one handle per timer message sent.
  char due[24];
  const auto due_size = static_cast<size_t>(std::to_chars(due, due + sizeof due, due_ms).ptr - due);
  const size_t size = kVersion.size() + broker_name.size() + due_size + msg_id.size() + 3;
  char stack[256];
  std::string heap;
  char* raw = stack;
  if (size > sizeof stack) {
    heap.resize(size);
    raw = heap.data();
  }
  char* o = raw;
  auto put = [&o](std::string_view part) {
    std::memcpy(o, part.data(), part.size());
    o += part.size();
  };
  put(kVersion);
  *o++ = '\0';
  put(broker_name);
  *o++ = '\0';
  put({due, due_size});
  *o++ = '\0';
  put(msg_id);
  return Base64Url({raw, size});
}

std::string EncodeRecallHandle(const RecallHandle& handle) {
  return EncodeRecallHandle(handle.broker_name, handle.due_ms, handle.msg_id);
}

Result<RecallHandle> DecodeRecallHandle(std::string_view text) {
  auto refuse = [&] {
    return Status::InvalidArgument(fmt::format("recall handle '{}' is not one a broker issued",
                                               text.substr(0, std::min<size_t>(text.size(), 80))));
  };
  std::string raw;
  if (text.empty() || text.size() > 1024 || !FromBase64Url(text, &raw)) return refuse();
  std::string_view rest = raw;
  std::string_view parts[4];
  for (int i = 0; i < 3; ++i) {
    const auto nul = rest.find('\0');
    if (nul == std::string_view::npos) return refuse();
    parts[i] = rest.substr(0, nul);
    rest.remove_prefix(nul + 1);
  }
  parts[3] = rest;
  if (parts[0] != kVersion || parts[1].empty() || parts[2].empty() || parts[3].empty() ||
      parts[2].size() > 18) {
    return refuse();
  }
  RecallHandle h;
  for (char c : parts[2]) {
    if (c < '0' || c > '9') return refuse();
    h.due_ms = h.due_ms * 10 + (c - '0');
  }
  h.broker_name = std::string(parts[1]);
  h.msg_id = std::string(parts[3]);
  return h;
}

}  // namespace vela
