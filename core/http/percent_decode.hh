#pragma once
// Internal to core/: hex digit tables and %XX decoding shared by json_escape (which decodes
// while it escapes, core/event/json_escape.cc) and the event encoder (which compares decoded query
// keys, core/event/event_params.hh, and writes IPv6 addresses in hex, core/event/ip_text.cc). Not
// for other folders; the names live in pixelring::detail.

#include <array>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace pixelring::detail {

inline constexpr char k_hex_digits[] = "0123456789abcdef";

// 16 bytes as 32 lower-case hex digits (an event id, a visitor id). SSE2: each byte's nibbles
// side by side, then '0' + n, plus 39 more ('a' - '0' - 10) where n > 9.
inline void write_hex16(const uint8_t* in, char* out) noexcept {
#if defined(__SSE2__)
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in));
    const __m128i nibble = _mm_set1_epi8(0x0F);
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), nibble);
    const __m128i lo = _mm_and_si128(v, nibble);
    const auto to_hex = [](__m128i n) {
        const __m128i letters =
            _mm_and_si128(_mm_cmpgt_epi8(n, _mm_set1_epi8(9)), _mm_set1_epi8(39));
        return _mm_add_epi8(_mm_add_epi8(n, _mm_set1_epi8('0')), letters);
    };
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), to_hex(_mm_unpacklo_epi8(hi, lo)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 16), to_hex(_mm_unpackhi_epi8(hi, lo)));
#else
    for (int i = 0; i < 16; ++i) {
        out[2 * i] = k_hex_digits[in[i] >> 4];
        out[2 * i + 1] = k_hex_digits[in[i] & 15];
    }
#endif
}

constexpr std::array<int8_t, 256> make_hex_values() {
    std::array<int8_t, 256> t{};
    for (int c = 0; c < 256; ++c) {
        t[c] = c >= '0' && c <= '9'   ? static_cast<int8_t>(c - '0')
               : c >= 'a' && c <= 'f' ? static_cast<int8_t>(c - 'a' + 10)
               : c >= 'A' && c <= 'F' ? static_cast<int8_t>(c - 'A' + 10)
                                      : int8_t{-1};
    }
    return t;
}
inline constexpr auto k_hex_values = make_hex_values();

// One decoded byte and how many input bytes it took (1, or 3 for a %XX escape).
struct decoded_byte {
    uint8_t value;
    uint8_t len;
};

// The byte at p (p < end): a %XX escape decoded when decode, '+' as a space when plus, else
// the byte itself. A '%' without two hex digits after it is a literal '%'.
template <bool decode, bool plus>
inline decoded_byte read_byte(const uint8_t* p, const uint8_t* end) noexcept {
    const uint8_t c = *p;
    if constexpr (decode) {
        if (c == '%' && end - p >= 3) {
            const int hi = k_hex_values[p[1]];
            const int lo = k_hex_values[p[2]];
            if ((hi | lo) >= 0) return {static_cast<uint8_t>(hi << 4 | lo), 3};
        }
    }
    if constexpr (plus) {
        if (c == '+') return {' ', 1};
    }
    return {c, 1};
}

} // namespace pixelring::detail
