#pragma once
// Internal to core/: hex digit tables and %XX decoding shared by json_escape (which decodes
// while it escapes, core/json_escape.cc) and the event encoder (which compares decoded query
// keys and writes hex, core/event.cc). Not for other folders; the names live in
// pixelring::detail.

#include <array>
#include <cstdint>

namespace pixelring::detail {

inline constexpr char k_hex_digits[] = "0123456789abcdef";

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
