// JSON scalars on their source text: see json_scalars.hh.

#include "core/event/json_scalars.hh"

#include <algorithm>
#include <charconv>
#include <cstdint>

namespace pixelring {

namespace {

bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}

// Four hex digits at p, or -1. Reads at most 4 bytes; the caller's string is closed by a
// quote that is not a hex digit, and the padding covers the rest.
int32_t hex4(const char* p) noexcept {
    uint16_t v = 0;
    const auto [end, ec] = std::from_chars(p, p + 4, v, 16);
    return ec == std::errc() && end == p + 4 ? v : -1;
}

char* put_utf8(uint32_t cp, char* out) noexcept {
    if (cp < 0x80) {
        *out++ = static_cast<char>(cp);
    } else if (cp < 0x800) {
        *out++ = static_cast<char>(0xC0 | cp >> 6);
        *out++ = static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *out++ = static_cast<char>(0xE0 | cp >> 12);
        *out++ = static_cast<char>(0x80 | (cp >> 6 & 0x3F));
        *out++ = static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        *out++ = static_cast<char>(0xF0 | cp >> 18);
        *out++ = static_cast<char>(0x80 | (cp >> 12 & 0x3F));
        *out++ = static_cast<char>(0x80 | (cp >> 6 & 0x3F));
        *out++ = static_cast<char>(0x80 | (cp & 0x3F));
    }
    return out;
}

} // namespace

bool is_json_number(std::string_view s) noexcept {
    size_t i = 0;
    auto digits = [&] { // at least one
        const size_t from = i;
        while (i < s.size() && is_digit(s[i]))
            ++i;
        return i > from;
    };
    if (i < s.size() && s[i] == '-') ++i;
    if (i < s.size() && s[i] == '0') {
        ++i;
    } else if (!digits()) {
        return false;
    }
    if (i < s.size() && s[i] == '.' && (++i, !digits())) return false;
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
        if (!digits()) return false;
    }
    return i == s.size();
}

bool json_number_fits(std::string_view s) noexcept {
    if (s.find_first_of(".eE") == std::string_view::npos) {
        // An integer: at most the digits of 2^64 - 1 or of -2^63, compared as text (no
        // leading zeros in the grammar, so more digits is a larger number).
        const bool negative = s[0] == '-';
        const std::string_view digits = s.substr(negative ? 1 : 0);
        const std::string_view limit = negative ? "9223372036854775808" : "18446744073709551615";
        return digits.size() < limit.size() || (digits.size() == limit.size() && digits <= limit);
    }
    double value;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc::result_out_of_range) return true;
    // Out of range: an overflow, or an underflow, told apart by the decimal exponent of the
    // first significant digit (positive for anything of magnitude 1 or more).
    size_t i = s[0] == '-' ? 1 : 0;
    long magnitude = 0;
    bool significant = false;
    for (; i < s.size() && is_digit(s[i]); ++i) {
        if (s[i] != '0') significant = true;
        if (significant) ++magnitude;
    }
    if (i < s.size() && s[i] == '.') {
        for (++i; i < s.size() && is_digit(s[i]); ++i) {
            if (significant) continue;
            if (s[i] != '0')
                significant = true;
            else
                --magnitude;
        }
    }
    long exponent = 0;
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        const bool negative = s[i] == '-';
        if (s[i] == '+' || s[i] == '-') ++i;
        for (; i < s.size(); ++i)
            exponent = std::min(exponent * 10 + (s[i] - '0'), 100'000'000L);
        if (negative) exponent = -exponent;
    }
    return magnitude + exponent <= 0;
}

std::string_view trim_json_whitespace(std::string_view s) noexcept {
    while (!s.empty()) {
        const char c = s.back();
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        s.remove_suffix(1);
    }
    return s;
}

char* unescape_json_lenient(const char* p, char* out, const char** bad) noexcept {
    for (;;) {
        const char c = *p;
        if (c == '"') return out;
        if (c != '\\') {
            *out++ = c;
            ++p;
            continue;
        }
        static constexpr std::string_view escaped = "\"\\/bfnrt", meant = "\"\\/\b\f\n\r\t";
        if (const size_t k = escaped.find(p[1]); k != std::string_view::npos) {
            *out++ = meant[k];
            p += 2;
            continue;
        }
        if (p[1] != 'u') {
            *bad = p;
            return nullptr;
        }
        const int32_t cp = hex4(p + 2);
        if (cp < 0) {
            *bad = p;
            return nullptr;
        }
        p += 6;
        if (cp >= 0xD800 && cp <= 0xDBFF && p[0] == '\\' && p[1] == 'u') {
            const int32_t low = hex4(p + 2);
            if (low >= 0xDC00 && low <= 0xDFFF) {
                out = put_utf8(0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00), out);
                p += 6;
                continue;
            }
        }
        out = put_utf8(cp >= 0xD800 && cp <= 0xDFFF ? 0xFFFD : static_cast<uint32_t>(cp), out);
    }
}

} // namespace pixelring
