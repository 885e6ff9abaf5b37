#pragma once
// Internal to core/: the RFC 9110/9112 byte classes shared by the request parser
// (core/http/request_parser.cc) and the chunked decoder (core/http/chunked_decoder.cc), and
// find_byte, the inline memchr with which the parser, the event encoder and
// core/event/url_fields.cc split request text. Not for other folders; the names live in
// pixelring::detail.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

// The first byte in [p, end) that matches, or end: what memchr does, inline and for any
// byte set. vector(v) gives 0xFF in each byte of v that matches (SSE2), byte(c) the same for
// one byte (the fallback without SSE2 and inputs under 4 bytes). The strings split per request
// (a query at '&' and '=', a header line at LF, a URL at '?' and '#') are tens of bytes, where
// the call to libc's memchr cost more than the search (perf: __memchr_evex was 2.3% of the
// worker's samples, called some 20 times per pixel hit). 16 bytes at a time, the last block
// overlapping the one before; 4 to 15 bytes from two overlapping loads. Reads only [p, end).
template <class Vector, class Byte>
inline const char* find_first(const char* p, const char* end, Vector vector, Byte byte) noexcept {
#if defined(__SSE2__)
    const auto n = static_cast<size_t>(end - p);
    if (n >= 16) {
        while (end - p > 16) {
            const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
            const auto m = static_cast<unsigned>(_mm_movemask_epi8(vector(v)));
            if (m != 0) return p + __builtin_ctz(m);
            p += 16;
        }
        // [end - 16, p) matched nothing: the first match in this block is at or after p.
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(end - 16));
        const auto m = static_cast<unsigned>(_mm_movemask_epi8(vector(v)));
        return m != 0 ? end - 16 + __builtin_ctz(m) : end;
    }
    if (n >= 8) {
        // Bytes 0..7 are p[0..8), bytes 8..15 are end[-8..0).
        const __m128i v =
            _mm_unpacklo_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)),
                               _mm_loadl_epi64(reinterpret_cast<const __m128i*>(end - 8)));
        const auto m = static_cast<unsigned>(_mm_movemask_epi8(vector(v)));
        if (m == 0) return end;
        return (m & 0xFF) != 0 ? p + __builtin_ctz(m) : end - 16 + __builtin_ctz(m);
    }
    if (n >= 4) {
        // Bytes 0..3 are p[0..4), bytes 4..7 are end[-4..0); the zeros after them are ignored.
        int head, tail;
        std::memcpy(&head, p, 4);
        std::memcpy(&tail, end - 4, 4);
        const __m128i v = _mm_unpacklo_epi32(_mm_cvtsi32_si128(head), _mm_cvtsi32_si128(tail));
        const auto m = static_cast<unsigned>(_mm_movemask_epi8(vector(v))) & 0xFF;
        if (m == 0) return end;
        return (m & 0xF) != 0 ? p + __builtin_ctz(m) : end - 8 + __builtin_ctz(m);
    }
#endif
    for (; p != end; ++p)
        if (byte(*p)) return p;
    return end;
}

// The first c in [p, end), or end.
inline const char* find_byte(const char* p, const char* end, char c) noexcept {
#if defined(__SSE2__)
    const __m128i needle = _mm_set1_epi8(c);
    return find_first(
        p, end, [needle](__m128i v) { return _mm_cmpeq_epi8(v, needle); },
        [c](char b) { return b == c; });
#else
    if (p == end) return end;
    const void* found = std::memchr(p, c, static_cast<size_t>(end - p));
    return found != nullptr ? static_cast<const char*>(found) : end;
#endif
}

// s.find(c) by find_byte: the index of the first c, or std::string_view::npos.
inline size_t find_byte(std::string_view s, char c) noexcept {
    const char* const end = s.data() + s.size();
    const char* const at = find_byte(s.data(), end, c);
    return at == end ? std::string_view::npos : static_cast<size_t>(at - s.data());
}

} // namespace pixelring::detail
