#pragma once

#include <cstddef>
#include <cstdint>

// CRC-32C (Castagnoli), as used by the store record format. Uses the SSE4.2 crc32 instruction
// when the processor has it (checked once at startup), on three interleaved streams for inputs
// of 192 bytes and more, and a table-driven fallback otherwise.
namespace vela::crc32c {

// Returns the CRC-32C of data[0, n) continuing from `crc` (0 for a fresh checksum).
uint32_t Extend(uint32_t crc, const void* data, size_t n);
inline uint32_t Value(const void* data, size_t n) { return Extend(0, data, n); }

// The portable implementation, exposed so tests can check both paths agree.
uint32_t ExtendPortable(uint32_t crc, const void* data, size_t n);
bool HardwareAccelerated();

}  // namespace vela::crc32c
