#pragma once
// CRC32C (Castagnoli, the iSCSI CRC of RFC 3720): the checksum of spool records. SSE4.2's
// crc32 instruction when the CPU has it (checked once, at the first call), a table otherwise.
// Pure functions: any thread, no allocation.

#include <cstddef>
#include <cstdint>

namespace pixelring {

// The CRC32C of data[0..n) continuing from crc, the CRC of the bytes before them (0 for
// none): crc32c(0, "123456789", 9) == 0xE3069283, and
// crc32c(crc32c(0, a, na), b, nb) == crc32c(0, a + b, na + nb). The pre- and post-inversion
// happen inside.
uint32_t crc32c(uint32_t crc, const void* data, size_t n) noexcept;

// The two implementations behind crc32c(), for tests and benchmarks. crc32c_hardware may be
// called only when crc32c_hardware_available().
uint32_t crc32c_software(uint32_t crc, const void* data, size_t n) noexcept;
uint32_t crc32c_hardware(uint32_t crc, const void* data, size_t n) noexcept;
bool crc32c_hardware_available() noexcept;

} // namespace pixelring
