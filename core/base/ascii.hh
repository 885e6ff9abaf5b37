#pragma once
// ASCII case, the one place for it: HTTP field names, URL schemes and hosts, configuration
// words and certificate names compare without regard to ASCII case, and never by the C
// locale (std::tolower, strncasecmp), whose idea of a letter is not the protocols'. Inline,
// allocation-free, thread-safe.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace pixelring {

constexpr char ascii_lower(char c) noexcept {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c | 0x20) : c;
}

// a and b are equal ignoring ASCII case.
constexpr bool ascii_iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

// s equals lower, which is already lower case, ignoring the case of s.
constexpr bool ascii_equals_lower(std::string_view s, std::string_view lower) noexcept {
    if (s.size() != lower.size()) return false;
    for (size_t i = 0; i < s.size(); ++i)
        if (ascii_lower(s[i]) != lower[i]) return false;
    return true;
}

// s begins with lower_prefix, which is already lower case, ignoring the case of s.
constexpr bool ascii_starts_with_lower(std::string_view s, std::string_view lower_prefix) noexcept {
    return s.size() >= lower_prefix.size() &&
           ascii_equals_lower(s.substr(0, lower_prefix.size()), lower_prefix);
}

// s contains lower_needle, which is already lower case, ignoring the case of s. A plain scan,
// for header values of tens of bytes.
constexpr bool ascii_contains_lower(std::string_view s, std::string_view lower_needle) noexcept {
    if (lower_needle.size() > s.size()) return false;
    for (size_t i = 0; i + lower_needle.size() <= s.size(); ++i)
        if (ascii_equals_lower(s.substr(i, lower_needle.size()), lower_needle)) return true;
    return false;
}

// ascii_equals_lower a word at a time, for the request parser's field names and values, where
// it runs several times per request. Precondition: lower is at least four bytes, all
// lower-case letters and '-'. OR-ing 0x20 leaves those bytes as they are and maps onto them
// only their upper-case forms and control bytes (CR onto '-'), which a field name or value
// cannot hold. Compares words, the last one overlapping.
inline bool ascii_equals_lower_words(std::string_view s, std::string_view lower) noexcept {
    const size_t n = lower.size();
    if (s.size() != n) return false;
    const char* a = s.data();
    const char* b = lower.data();
    auto load4 = [](const char* p) {
        uint32_t w;
        std::memcpy(&w, p, 4);
        return w;
    };
    auto load8 = [](const char* p) {
        uint64_t w;
        std::memcpy(&w, p, 8);
        return w;
    };
    if (n < 8) {
        constexpr uint32_t fold = 0x20202020u;
        return ((load4(a) | fold) == load4(b)) & ((load4(a + n - 4) | fold) == load4(b + n - 4));
    }
    constexpr uint64_t fold = 0x2020202020202020ull;
    for (size_t i = 0; i + 8 < n; i += 8)
        if ((load8(a + i) | fold) != load8(b + i)) return false;
    return (load8(a + n - 8) | fold) == load8(b + n - 8);
}

} // namespace pixelring
