#include "core/event/url_fields.hh"

#include "core/base/ascii.hh"

#include <array>
#include <cstdint>
#include <cstring>

#include <arpa/inet.h>

#include "core/http/http_chars.hh"
#include "core/http/percent_decode.hh"

namespace pixelring {
namespace {

using detail::decoded_byte;
using detail::read_byte;

// ---- utm ---------------------------------------------------------------------------------

constexpr std::string_view k_utm_prefix = "utm_";
constexpr size_t k_longest_utm_key = 12; // "utm_campaign"

// Whether s holds a byte that decoding could change.
bool has_percent_or_plus(std::string_view s) noexcept {
    const char* const end = s.data() + s.size();
    const auto is_escape = [](char c) { return c == '%' || c == '+'; };
#if defined(__SSE2__)
    return detail::find_first(
               s.data(), end,
               [](__m128i v) {
                   return _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('%')),
                                       _mm_cmpeq_epi8(v, _mm_set1_epi8('+')));
               },
               is_escape) != end;
#else
    for (const char c : s)
        if (is_escape(c)) return true;
    return false;
#endif
}

// raw percent-decoded with '+' as a space, if it fits in k_longest_utm_key bytes and starts
// with "utm_" (raw itself when nothing in it decodes, else a view of buf); else an empty view.
// Most keys fail on their first byte.
std::string_view decode_utm_key(std::string_view raw, char (&buf)[k_longest_utm_key]) noexcept {
    if (raw.size() < k_utm_prefix.size() || raw.size() > 3 * k_longest_utm_key) return {};
    // Without '%' or '+' the key decodes to itself: no copy, one compare of the prefix.
    if (raw.size() <= k_longest_utm_key && !has_percent_or_plus(raw)) {
        return raw.size() > k_utm_prefix.size() &&
                       std::memcmp(raw.data(), k_utm_prefix.data(), k_utm_prefix.size()) == 0
                   ? raw
                   : std::string_view{};
    }
    auto p = reinterpret_cast<const uint8_t*>(raw.data());
    const auto end = p + raw.size();
    size_t n = 0;
    while (p < end) {
        if (n == k_longest_utm_key) return {};
        const decoded_byte d = read_byte<true, true>(p, end);
        buf[n] = static_cast<char>(d.value);
        if (n < k_utm_prefix.size() && buf[n] != k_utm_prefix[n]) return {};
        ++n;
        p += d.len;
    }
    return n > k_utm_prefix.size() ? std::string_view{buf, n} : std::string_view{};
}

// The field of out that the decoded key names, with its index for the seen mask; nullptr
// for any other utm_ key. By length first, so that a key costs one compare of known size.
std::string_view* utm_slot(utm_fields& out, std::string_view key, unsigned& index) noexcept {
    const std::string_view name = key.substr(k_utm_prefix.size());
    switch (name.size()) {
    case 4:
        if (std::memcmp(name.data(), "term", 4) == 0) return index = 3, &out.term;
        return nullptr;
    case 6:
        if (std::memcmp(name.data(), "source", 6) == 0) return index = 0, &out.source;
        if (std::memcmp(name.data(), "medium", 6) == 0) return index = 1, &out.medium;
        return nullptr;
    case 7:
        if (std::memcmp(name.data(), "content", 7) == 0) return index = 4, &out.content;
        return nullptr;
    case 8:
        if (std::memcmp(name.data(), "campaign", 8) == 0) return index = 2, &out.campaign;
        return nullptr;
    default:
        return nullptr;
    }
}

// ---- host --------------------------------------------------------------------------------

// WHATWG URL "forbidden domain code points" among ASCII: C0 controls, space, DEL and
// "#%/:<>?@[\]^|".
constexpr std::array<bool, 256> make_forbidden_in_domain() {
    std::array<bool, 256> t{};
    for (int c = 0; c < 0x20; ++c)
        t[c] = true;
    for (const char c : std::string_view{" #%/:<>?@[\\]^|\x7f"})
        t[static_cast<uint8_t>(c)] = true;
    return t;
}
constexpr auto k_forbidden_in_domain = make_forbidden_in_domain();

constexpr size_t k_max_domain = 253;

// True for an empty port or up to five digits worth at most 65535.
bool is_port(std::string_view s) noexcept {
    if (s.size() > 5) return false;
    uint32_t value = 0;
    for (const char c : s) {
        if (c < '0' || c > '9') return false;
        value = value * 10 + static_cast<uint32_t>(c - '0');
    }
    return value <= 65535;
}

// "[...]" at the start of authority: the literal checked with inet_pton, lower-cased into
// out without brackets, and only a port after it.
std::string_view ipv6_host(std::string_view authority, char* out) noexcept {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return {};
    const std::string_view literal = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && (after.front() != ':' || !is_port(after.substr(1)))) return {};
    // INET6_ADDRSTRLEN (46) with the NUL; longer text is no address.
    if (literal.empty() || literal.size() >= 46) return {};
    // Only what an IPv6 address is written with: inet_pton stops at a NUL, so "::1\0<x>"
    // would pass it and be returned whole.
    for (size_t i = 0; i < literal.size(); ++i) {
        const char c = ascii_lower(literal[i]);
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == ':' || c == '.')) return {};
        out[i] = c;
    }
    out[literal.size()] = '\0';
    in6_addr ignored;
    if (inet_pton(AF_INET6, out, &ignored) != 1) return {};
    return {out, literal.size()};
}

// The authority of an absolute http(s) URL (the scheme case-insensitive) and what follows
// it; false for any other URL. The authority ends at '/', '?', '#' or '\', which browsers
// treat as '/' in http(s) URLs.
bool split_http_url(std::string_view url, std::string_view& authority,
                    std::string_view& after) noexcept {
    std::string_view rest;
    if (ascii_starts_with_lower(url, "http://")) {
        rest = url.substr(7);
    } else if (ascii_starts_with_lower(url, "https://")) {
        rest = url.substr(8);
    } else {
        return false;
    }
    const char* const end = rest.data() + rest.size();
    const auto ends_authority = [](char c) {
        return c == '/' || c == '?' || c == '#' || c == '\\';
    };
#if defined(__SSE2__)
    const char* const stop = detail::find_first(
        rest.data(), end,
        [](__m128i v) {
            return _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('/')),
                                             _mm_cmpeq_epi8(v, _mm_set1_epi8('?'))),
                                _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('#')),
                                             _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
        },
        ends_authority);
#else
    const char* stop = rest.data();
    while (stop != end && !ends_authority(*stop))
        ++stop;
#endif
    const auto authority_end = static_cast<size_t>(stop - rest.data());
    authority = rest.substr(0, authority_end);
    after = rest.substr(authority_end);
    return true;
}

// url_host of a URL that split_http_url split.
std::string_view host_of_authority(std::string_view authority, char* out) noexcept {
    if (detail::find_byte(authority, '@') != std::string_view::npos) // userinfo: rare
        authority.remove_prefix(authority.rfind('@') + 1);
    if (!authority.empty() && authority.front() == '[') return ipv6_host(authority, out);

    const size_t colon = detail::find_byte(authority, ':');
    if (colon != std::string_view::npos && !is_port(authority.substr(colon + 1))) return {};
    const std::string_view host = authority.substr(0, colon);
    if (detail::find_byte(host, '%') == std::string_view::npos) {
        // No escapes (nearly every Referer): each byte is itself, checked and lower-cased.
        if (host.size() > k_max_domain) return {};
        for (size_t i = 0; i < host.size(); ++i) {
            if (k_forbidden_in_domain[static_cast<uint8_t>(host[i])]) return {};
            out[i] = ascii_lower(host[i]);
        }
        return {out, host.size()};
    }
    auto p = reinterpret_cast<const uint8_t*>(host.data());
    const auto end = p + host.size();
    size_t n = 0;
    while (p < end) {
        if (n == k_max_domain) return {};
        const decoded_byte d = read_byte<true, false>(p, end);
        // A '%' left as it is (no two hex digits after it) is forbidden too.
        if (k_forbidden_in_domain[d.value]) return {};
        out[n++] = ascii_lower(static_cast<char>(d.value));
        p += d.len;
    }
    return {out, n};
}

// The length of url_path's path at the start of after (what follows the authority): up to the
// first '?' or '#'.
size_t path_length(std::string_view after) noexcept {
    const char* const end = after.data() + after.size();
    const auto ends_path = [](char c) { return c == '?' || c == '#'; };
#if defined(__SSE2__)
    const char* const stop = detail::find_first(
        after.data(), end,
        [](__m128i v) {
            return _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('?')),
                                _mm_cmpeq_epi8(v, _mm_set1_epi8('#')));
        },
        ends_path);
#else
    const char* stop = after.data();
    while (stop != end && !ends_path(*stop))
        ++stop;
#endif
    return static_cast<size_t>(stop - after.data());
}

// The utm parameters of a query (the text after '?', before any '#'): extract_utm's loop.
utm_fields utm_of_query(std::string_view rest) noexcept {
    utm_fields out;
    // Bit i set: the i-th field was seen, so a later repeat is ignored even after an empty
    // first value.
    unsigned seen = 0;
    while (!rest.empty()) {
        const size_t amp = detail::find_byte(rest, '&');
        const std::string_view piece = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
        const size_t eq = detail::find_byte(piece, '=');
        char buf[k_longest_utm_key];
        const std::string_view key = decode_utm_key(piece.substr(0, eq), buf);
        if (key.empty()) continue;
        unsigned index;
        std::string_view* const slot = utm_slot(out, key, index);
        if (slot == nullptr) continue;
        const unsigned bit = 1u << index;
        if ((seen & bit) != 0) continue;
        seen |= bit;
        *slot = eq == std::string_view::npos ? std::string_view{} : piece.substr(eq + 1);
    }
    return out;
}

} // namespace

utm_fields extract_utm(std::string_view url) noexcept {
    url = url.substr(0, detail::find_byte(url, '#'));
    const size_t question = detail::find_byte(url, '?');
    if (question == std::string_view::npos) return {};
    return utm_of_query(url.substr(question + 1));
}

std::string_view url_host(std::string_view url, char* out) noexcept {
    std::string_view authority;
    std::string_view after;
    if (!split_http_url(url, authority, after)) return {};
    return host_of_authority(authority, out);
}

bool split_userinfo(std::string_view url, std::string_view& head, std::string_view& tail) noexcept {
    head = url;
    tail = {};
    size_t start = 0;
    if (url.starts_with("//")) {
        start = 2;
    } else {
        const auto is_alpha = [](char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; };
        if (url.empty() || !is_alpha(url[0])) return false;
        size_t i = 1;
        while (i < url.size() && (is_alpha(url[i]) || (url[i] >= '0' && url[i] <= '9') ||
                                  url[i] == '+' || url[i] == '-' || url[i] == '.'))
            ++i;
        if (url.substr(i, 3) != "://") return false;
        start = i + 3;
    }
    const std::string_view rest = url.substr(start);
    const std::string_view authority = rest.substr(0, rest.find_first_of("/?#\\"));
    const size_t at = authority.rfind('@');
    if (at == std::string_view::npos) return false;
    head = url.substr(0, start);
    tail = rest.substr(at + 1);
    return true;
}

std::string_view url_path(std::string_view url) noexcept {
    std::string_view authority;
    std::string_view after;
    if (!split_http_url(url, authority, after)) return {};
    return after.substr(0, path_length(after));
}

page_url_fields split_page_url(std::string_view url, char* host_out, bool with_utm) noexcept {
    page_url_fields out;
    std::string_view authority;
    std::string_view after;
    if (!split_http_url(url, authority, after)) {
        if (with_utm) out.utm = extract_utm(url);
        return out;
    }
    out.host = host_of_authority(authority, host_out);
    const size_t path_end = path_length(after);
    out.path = after.substr(0, path_end);
    // The authority holds no '?' or '#', so the first of them in url is the one at path_end:
    // a query when it is '?' (up to the first '#' after it), none when it is '#'.
    if (with_utm && path_end < after.size() && after[path_end] == '?') {
        std::string_view query = after.substr(path_end + 1);
        out.utm = utm_of_query(query.substr(0, detail::find_byte(query, '#')));
    }
    return out;
}

} // namespace pixelring

namespace pixelring {

std::string_view query_param(std::string_view query, std::string_view name) noexcept {
    while (!query.empty()) {
        size_t amp = detail::find_byte(query, '&');
        std::string_view pair = query.substr(0, amp);
        if (pair.size() > name.size() && pair.substr(0, name.size()) == name &&
            pair[name.size()] == '=')
            return pair.substr(name.size() + 1);
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return {};
}

} // namespace pixelring
