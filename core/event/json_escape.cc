#include "core/event/json_escape.hh"

#include <array>
#include <cstring>

#include "core/http/percent_decode.hh"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace pixelring {
namespace {

using detail::decoded_byte;
using detail::k_hex_digits;
using detail::read_byte;

// ---- byte tables -------------------------------------------------------------------------

// Bytes that leave the plain-ASCII copy loop: always the ones JSON needs escaped or UTF-8
// validation must see; '%' and '+' only when the caller decodes them.
constexpr uint8_t k_stop_always = 1;
constexpr uint8_t k_stop_percent = 2;
constexpr uint8_t k_stop_plus = 4;

constexpr std::array<uint8_t, 256> make_byte_classes() {
    std::array<uint8_t, 256> t{};
    for (int c = 0; c < 256; ++c) {
        if (c < 0x20 || c == '"' || c == '\\' || c >= 0x7F) t[c] |= k_stop_always;
        if (c == '%') t[c] |= k_stop_percent;
        if (c == '+') t[c] |= k_stop_plus;
    }
    return t;
}
constexpr auto k_byte_classes = make_byte_classes();

// The JSON form of each ASCII byte: itself, a two-character escape, or \u00XX.
struct ascii_escape {
    uint8_t len;
    char text[6];
};

constexpr std::array<ascii_escape, 128> make_ascii_escapes() {
    std::array<ascii_escape, 128> t{};
    for (int c = 0; c < 128; ++c) {
        ascii_escape& e = t[c];
        char short_form = 0;
        switch (c) {
        case '"':
            short_form = '"';
            break;
        case '\\':
            short_form = '\\';
            break;
        case '\b':
            short_form = 'b';
            break;
        case '\f':
            short_form = 'f';
            break;
        case '\n':
            short_form = 'n';
            break;
        case '\r':
            short_form = 'r';
            break;
        case '\t':
            short_form = 't';
            break;
        default:
            break;
        }
        if (short_form != 0) {
            e = {2, {'\\', short_form}};
        } else if (c < 0x20 || c == 0x7F) {
            e = {6, {'\\', 'u', '0', '0', k_hex_digits[c >> 4], k_hex_digits[c & 15]}};
        } else {
            e = {1, {static_cast<char>(c)}};
        }
    }
    return t;
}
constexpr auto k_ascii_escapes = make_ascii_escapes();

constexpr char k_replacement[] = "\xEF\xBF\xBD"; // U+FFFD

// ---- escaping ----------------------------------------------------------------------------

#if defined(__SSE2__)
// 0xFF in each byte of v that leaves the plain copy loop (see k_byte_classes).
template <uint8_t stop> inline __m128i stop_bytes(__m128i v) noexcept {
    // Signed compare: bytes >= 0x80 are negative, so this also catches non-ASCII.
    __m128i special = _mm_cmplt_epi8(v, _mm_set1_epi8(0x20));
    special = _mm_or_si128(special, _mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
    special = _mm_or_si128(special, _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
    special = _mm_or_si128(special, _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7F)));
    if constexpr ((stop & k_stop_percent) != 0)
        special = _mm_or_si128(special, _mm_cmpeq_epi8(v, _mm_set1_epi8('%')));
    if constexpr ((stop & k_stop_plus) != 0)
        special = _mm_or_si128(special, _mm_cmpeq_epi8(v, _mm_set1_epi8('+')));
    return special;
}

inline uint32_t load_u32(const uint8_t* p) noexcept {
    uint32_t w;
    std::memcpy(&w, p, sizeof w);
    return w;
}
#endif

// Copies the run of bytes that JSON takes as they are; returns where the run stopped.
// The SSE2 loop stores 16 bytes before it knows how many of them are plain. That stays
// inside json_escape's 6 * size budget: output so far is at most 6 * input consumed, and the
// loop only runs while 16 input bytes remain. A tail of 4 to 15 bytes (most strings of an
// event are that short) is checked at once from two overlapping loads, the first and the last
// 8 (or 4) bytes, and stored whole: n more bytes at o fit the budget for the same reason.
// simd = false is the byte-at-a-time loop alone, the reference the tests hold the rest to.
template <uint8_t stop, bool simd>
inline const uint8_t* copy_plain_run(const uint8_t* p, const uint8_t* end, char*& o) noexcept {
#if defined(__SSE2__)
    if constexpr (simd) {
        while (end - p >= 16) {
            const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
            const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(stop_bytes<stop>(v)));
            _mm_storeu_si128(reinterpret_cast<__m128i*>(o), v);
            if (mask != 0) {
                const unsigned n = static_cast<unsigned>(__builtin_ctz(mask));
                o += n;
                return p + n;
            }
            p += 16;
            o += 16;
        }
        const auto n = static_cast<size_t>(end - p);
        if (n >= 8) {
            // Bytes 0..7 of v are p[0..8), bytes 8..15 are p[n-8..n).
            const __m128i head = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
            const __m128i tail = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(end - 8));
            const __m128i v = _mm_unpacklo_epi64(head, tail);
            const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(stop_bytes<stop>(v)));
            _mm_storel_epi64(reinterpret_cast<__m128i*>(o), head);
            _mm_storel_epi64(reinterpret_cast<__m128i*>(o + n - 8), tail);
            const size_t run = mask == 0 ? n
                               : (mask & 0xFF) != 0
                                   ? static_cast<size_t>(__builtin_ctz(mask))
                                   : n - 16 + static_cast<size_t>(__builtin_ctz(mask));
            o += run;
            return p + run;
        }
        if (n >= 4) {
            // Bytes 0..3 of v are p[0..4), bytes 4..7 are p[n-4..n); bytes 8..15 are ignored.
            const uint32_t head = load_u32(p);
            const uint32_t tail = load_u32(end - 4);
            const __m128i v = _mm_unpacklo_epi32(_mm_cvtsi32_si128(static_cast<int>(head)),
                                                 _mm_cvtsi32_si128(static_cast<int>(tail)));
            const unsigned mask =
                static_cast<unsigned>(_mm_movemask_epi8(stop_bytes<stop>(v))) & 0xFF;
            std::memcpy(o, &head, 4);
            std::memcpy(o + n - 4, &tail, 4);
            const size_t run = mask == 0 ? n
                               : (mask & 0xF) != 0
                                   ? static_cast<size_t>(__builtin_ctz(mask))
                                   : n - 8 + static_cast<size_t>(__builtin_ctz(mask));
            o += run;
            return p + run;
        }
    }
#endif
    while (p < end && (k_byte_classes[*p] & stop) == 0)
        *o++ = static_cast<char>(*p++);
    return p;
}

template <bool decode, bool plus, bool simd>
size_t escape_impl(const uint8_t* p, const uint8_t* const end, char* const out) noexcept {
    constexpr uint8_t stop =
        k_stop_always | (decode ? k_stop_percent : 0) | (plus ? k_stop_plus : 0);
    char* o = out;
    while (p < end) {
        p = copy_plain_run<stop, simd>(p, end, o);
        if (p == end) break;

        const decoded_byte lead = read_byte<decode, plus>(p, end);
        if (lead.value < 0x80) {
            const ascii_escape& e = k_ascii_escapes[lead.value];
            std::memcpy(o, e.text, sizeof e.text); // fixed size; the budget covers 6 bytes
            o += e.len;
            p += lead.len;
            continue;
        }

        // A multi-byte sequence. Allowed second bytes narrow for E0, ED, F0 and F4 so that
        // overlong forms, surrogates and code points above U+10FFFF are rejected (Unicode
        // Table 3-7). A failing byte is not consumed: each maximal invalid subpart becomes
        // one U+FFFD and scanning restarts at the byte that broke it.
        const uint8_t b = lead.value;
        int need = 0;
        uint8_t lo = 0x80;
        uint8_t hi = 0xBF;
        if (b >= 0xC2 && b <= 0xDF) {
            need = 1;
        } else if (b >= 0xE0 && b <= 0xEF) {
            need = 2;
            if (b == 0xE0) lo = 0xA0;
            if (b == 0xED) hi = 0x9F;
        } else if (b >= 0xF0 && b <= 0xF4) {
            need = 3;
            if (b == 0xF0) lo = 0x90;
            if (b == 0xF4) hi = 0x8F;
        }
        uint8_t seq[4] = {b, 0, 0, 0};
        const uint8_t* q = p + lead.len;
        int got = 0;
        while (got < need && q < end) {
            const decoded_byte next = read_byte<decode, plus>(q, end);
            if (next.value < lo || next.value > hi) break;
            seq[++got] = next.value;
            q += next.len;
            lo = 0x80;
            hi = 0xBF;
        }
        p = q;
        if (need == 0 || got < need) {
            std::memcpy(o, k_replacement, 3);
            o += 3;
        } else if (b == 0xE2 && seq[1] == 0x80 && (seq[2] == 0xA8 || seq[2] == 0xA9)) {
            // U+2028/U+2029 are legal in JSON but end a line in pre-ES2019 JavaScript.
            std::memcpy(o, seq[2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
            o += 6;
        } else {
            std::memcpy(o, seq, sizeof seq); // fixed size; at least 2 input bytes, 12 budget
            o += need + 1;
        }
    }
    return static_cast<size_t>(o - out);
}

template <bool simd>
size_t escape_dispatch(std::string_view s, char* out, bool percent_decode,
                       bool plus_is_space) noexcept {
    const auto p = reinterpret_cast<const uint8_t*>(s.data());
    const auto end = p + s.size();
    if (percent_decode) {
        return plus_is_space ? escape_impl<true, true, simd>(p, end, out)
                             : escape_impl<true, false, simd>(p, end, out);
    }
    return plus_is_space ? escape_impl<false, true, simd>(p, end, out)
                         : escape_impl<false, false, simd>(p, end, out);
}

} // namespace

size_t json_escape(std::string_view s, char* out, bool percent_decode,
                   bool plus_is_space) noexcept {
    return escape_dispatch<true>(s, out, percent_decode, plus_is_space);
}

size_t detail::json_escape_bytewise(std::string_view s, char* out, bool percent_decode,
                                    bool plus_is_space) noexcept {
    return escape_dispatch<false>(s, out, percent_decode, plus_is_space);
}

} // namespace pixelring
