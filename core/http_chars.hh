#pragma once
// Internal to core/: the RFC 9110/9112 byte classes shared by the request parser
// (core/http_parser.cc) and the chunked decoder (core/chunked_decoder.cc). Not for other
// folders; the names live in pixelring::detail.

#include <array>
#include <cstdint>
#include <string_view>

namespace pixelring::detail {

// Byte classes of RFC 9110/9112, one table lookup per byte.
enum : uint8_t {
    cls_tchar = 1,  // token character
    cls_value = 2,  // field-value byte: HTAB, SP, VCHAR, obs-text
    cls_target = 4, // request-target byte: anything but controls, SP and DEL
    cls_hex = 8,
};

constexpr std::array<uint8_t, 256> make_http_classes() {
    std::array<uint8_t, 256> t{};
    for (int c = 0; c < 256; ++c) {
        const bool alnum =
            (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        const bool tsym =
            c != 0 && std::string_view("!#$%&'*+-.^_`|~").find(char(c)) != std::string_view::npos;
        if (alnum || tsym) t[c] |= cls_tchar;
        if (c == '\t' || (c >= 0x20 && c != 0x7f)) t[c] |= cls_value;
        if (c > 0x20 && c != 0x7f) t[c] |= cls_target;
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))
            t[c] |= cls_hex;
    }
    return t;
}

inline constexpr std::array<uint8_t, 256> http_classes = make_http_classes();

inline bool is(uint8_t cls, char c) {
    return (http_classes[uint8_t(c)] & cls) != 0;
}

// Optional whitespace (RFC 9110 §5.6.3): SP or HTAB.
inline bool is_ows(char c) {
    return c == ' ' || c == '\t';
}

} // namespace pixelring::detail
