#include "common/message_id.h"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <ctime>

#include "common/coding.h"
#include "common/message_record.h"

namespace vela {
namespace {

uint32_t LocalIpv4() {
  uint32_t ip = 0x0100007f;  // 127.0.0.1
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return ip;
  for (auto* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET) continue;
    uint32_t candidate = reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr.s_addr;
    if ((candidate & 0xff) == 127) continue;
    ip = candidate;
    break;
  }
  freeifaddrs(list);
  return ip;
}

struct IdPrefix {
  char bytes[10];
  IdPrefix() {
    uint32_t ip = LocalIpv4();
    auto pid = static_cast<uint16_t>(getpid());
    auto start = static_cast<uint32_t>(time(nullptr));
    std::memcpy(bytes, &ip, 4);
    std::memcpy(bytes + 4, &pid, 2);
    std::memcpy(bytes + 6, &start, 4);
  }
};

}  // namespace

std::string NewMessageId() {
  static const IdPrefix prefix;
  static std::atomic<uint64_t> counter{0};
  uint64_t n = counter.fetch_add(1, std::memory_order_relaxed);
  char raw[16];
  std::memcpy(raw, prefix.bytes, 10);
  for (int i = 0; i < 6; ++i) raw[10 + i] = static_cast<char>((n >> (8 * (5 - i))) & 0xff);
  return coding::ToHex(std::string_view(raw, 16));
}

std::string MakeOffsetId(uint64_t packed_store_host, int64_t physical_offset) {
  char raw[16];
  coding::PutFixed64(raw, packed_store_host);
  auto off = static_cast<uint64_t>(physical_offset);
  for (int i = 0; i < 8; ++i) raw[8 + i] = static_cast<char>((off >> (8 * (7 - i))) & 0xff);
  return coding::ToHex(std::string_view(raw, 16));
}

Result<OffsetId> ParseOffsetId(std::string_view id) {
  std::string raw;
  if (id.size() != 32 || !coding::FromHex(id, &raw)) {
    return Status::InvalidArgument("an offset id is 32 hex digits");
  }
  // The packed host is IPv4 (4 bytes) + port (2) + 2 zero bytes; a unique id has its generator's
  // start time there, so this rules out all but about one unique id in 65536.
  const uint64_t host = coding::GetFixed64(raw.data());
  if ((host >> 48) != 0 || (host & 0xffffffffu) == 0 || ((host >> 32) & 0xffff) == 0) {
    return Status::InvalidArgument("not an offset id: its first 8 bytes are not an IPv4 address and port");
  }
  OffsetId out;
  out.broker_addr = UnpackHost(host);
  uint64_t off = 0;
  for (int i = 0; i < 8; ++i) off = off << 8 | static_cast<unsigned char>(raw[8 + i]);
  out.physical_offset = static_cast<int64_t>(off);
  return out;
}

}  // namespace vela
