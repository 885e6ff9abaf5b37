#include "sinks/kafka/crc32c.hh"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace pixelring {
namespace {

constexpr uint32_t k_poly_reflected = 0x82F63B78; // 0x1EDC6F41, bit-reversed

// Slicing-by-8: table[k][b] is the CRC of byte b followed by k zero bytes, so eight bytes
// take eight lookups and no loop-carried shift per byte.
using crc_tables = std::array<std::array<uint32_t, 256>, 8>;

constexpr crc_tables make_tables() {
    crc_tables t{};
    for (uint32_t b = 0; b < 256; ++b) {
        uint32_t c = b;
        for (int bit = 0; bit < 8; ++bit)
            c = (c >> 1) ^ (k_poly_reflected & (0u - (c & 1)));
        t[0][b] = c;
    }
    for (size_t k = 1; k < 8; ++k)
        for (uint32_t b = 0; b < 256; ++b)
            t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xFF];
    return t;
}

constexpr crc_tables k_tables = make_tables();

uint32_t load_le32(const unsigned char* p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

using crc_function = uint32_t (*)(uint32_t, const void*, size_t) noexcept;

crc_function choose_implementation() {
    return crc32c_hardware_available() ? crc32c_hardware : crc32c_software;
}

} // namespace

uint32_t crc32c_software(uint32_t crc, const void* data, size_t n) noexcept {
    const auto* p = static_cast<const unsigned char*>(data);
    uint32_t c = ~crc;
    for (; n >= 8; n -= 8, p += 8) {
        const uint32_t lo = c ^ load_le32(p);
        const uint32_t hi = load_le32(p + 4);
        c = k_tables[7][lo & 0xFF] ^ k_tables[6][(lo >> 8) & 0xFF] ^
            k_tables[5][(lo >> 16) & 0xFF] ^ k_tables[4][lo >> 24] ^ k_tables[3][hi & 0xFF] ^
            k_tables[2][(hi >> 8) & 0xFF] ^ k_tables[1][(hi >> 16) & 0xFF] ^ k_tables[0][hi >> 24];
    }
    for (; n > 0; --n, ++p)
        c = (c >> 8) ^ k_tables[0][(c ^ *p) & 0xFF];
    return ~c;
}

#if defined(__x86_64__)

// Compiled for SSE4.2 whatever the build's -march; reached only after the runtime check.
__attribute__((target("sse4.2"))) uint32_t crc32c_hardware(uint32_t crc, const void* data,
                                                           size_t n) noexcept {
    const auto* p = static_cast<const unsigned char*>(data);
    uint64_t c = ~crc;
    for (; n > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0; --n, ++p)
        c = _mm_crc32_u8(uint32_t(c), *p);
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t word;
        std::memcpy(&word, p, 8);
        c = _mm_crc32_u64(c, word);
    }
    for (; n > 0; --n, ++p)
        c = _mm_crc32_u8(uint32_t(c), *p);
    return ~uint32_t(c);
}

bool crc32c_hardware_available() noexcept {
    return __builtin_cpu_supports("sse4.2");
}

#else

uint32_t crc32c_hardware(uint32_t crc, const void* data, size_t n) noexcept {
    return crc32c_software(crc, data, n);
}

bool crc32c_hardware_available() noexcept {
    return false;
}

#endif

uint32_t crc32c(uint32_t crc, const void* data, size_t n) noexcept {
    static const crc_function implementation = choose_implementation();
    return implementation(crc, data, n);
}

} // namespace pixelring
