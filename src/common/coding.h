#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

// Fixed-width integer coding. The wire frame uses big-endian lengths (DESIGN.md §5); the store
// record uses little-endian fields (docs/storage-format.md). All functions are pure.
namespace vela::coding {

inline void PutBigEndian32(char* p, uint32_t v) {
  v = __builtin_bswap32(v);
  std::memcpy(p, &v, 4);
}
inline uint32_t GetBigEndian32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return __builtin_bswap32(v);
}

// Big-endian 64-bit values sort as byte strings do: keys of ordered indexes (RocksDB).
inline void AppendBigEndian64(std::string* out, uint64_t v) {
  v = __builtin_bswap64(v);
  out->append(reinterpret_cast<const char*>(&v), 8);
}
inline uint64_t GetBigEndian64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return __builtin_bswap64(v);
}

inline void PutFixed16(char* p, uint16_t v) { std::memcpy(p, &v, 2); }
inline void PutFixed32(char* p, uint32_t v) { std::memcpy(p, &v, 4); }
inline void PutFixed64(char* p, uint64_t v) { std::memcpy(p, &v, 8); }
inline uint16_t GetFixed16(const char* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline uint32_t GetFixed32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t GetFixed64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

inline void AppendFixed32(std::string* out, uint32_t v) {
  char b[4];
  PutFixed32(b, v);
  out->append(b, 4);
}
inline void AppendFixed64(std::string* out, uint64_t v) {
  char b[8];
  PutFixed64(b, v);
  out->append(b, 8);
}

// Lowercase hex of `bytes`, and its inverse (returns false on odd length or a non-hex digit).
std::string ToHex(std::string_view bytes);
bool FromHex(std::string_view hex, std::string* out);

}  // namespace vela::coding
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "Vela's store format assumes a little-endian host");
