#include "core/policy/redirect.hh"

#include "core/base/ascii.hh"

#include <arpa/inet.h>
#include <sodium.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "core/event/event_params.hh"
#include "core/http/percent_decode.hh"
#include "core/http/request_parser.hh"

namespace pixelring {
namespace {

constexpr size_t min_secret_size = 16;
constexpr size_t max_host_size = 253;
constexpr size_t max_label_size = 63;
constexpr size_t mac_size = crypto_auth_hmacsha256_BYTES;

// A target split into its parts; views into the target, scheme and host not yet lower-cased.
struct target_parts {
    redirect_status status = redirect_status::ok;
    bool https = false;
    std::string_view host;
    std::string_view port; // digits without ':', empty when absent
    std::string_view rest; // "", or from the first '/', '?' or '#' after the authority on
};

bool is_alpha(unsigned char c) noexcept {
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}
bool is_digit(unsigned char c) noexcept {
    return c >= '0' && c <= '9';
}

// RFC 3986 scheme characters after the first letter.
bool is_scheme_char(unsigned char c) noexcept {
    return is_alpha(c) || is_digit(c) || c == '+' || c == '-' || c == '.';
}

// The host rule of the header: a DNS name or a bracketed IPv6 literal.
redirect_status check_host(std::string_view host) noexcept {
    if (host.empty()) return redirect_status::bad_host;
    for (char c : host)
        if (static_cast<unsigned char>(c) >= 0x80) return redirect_status::non_ascii_host;
    if (host.front() == '[') {
        // "[" IPv6 "]": hex digits, ':' and '.' (an embedded IPv4), as inet_pton reads them.
        char text[INET6_ADDRSTRLEN];
        if (host.size() < 4 || host.back() != ']' || host.size() - 2 >= sizeof text)
            return redirect_status::bad_host;
        const std::string_view inner = host.substr(1, host.size() - 2);
        for (char c : inner)
            if (!(detail::k_hex_values[static_cast<unsigned char>(c)] >= 0 || c == ':' || c == '.'))
                return redirect_status::bad_host;
        std::memcpy(text, inner.data(), inner.size());
        text[inner.size()] = '\0';
        unsigned char address[16];
        return inet_pton(AF_INET6, text, address) == 1 ? redirect_status::ok
                                                       : redirect_status::bad_host;
    }
    if (host.size() > max_host_size) return redirect_status::bad_host;
    size_t label = 0;
    for (char ch : host) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '.') {
            if (label == 0) return redirect_status::bad_host;
            label = 0;
        } else if (is_alpha(c) || is_digit(c) || c == '-' || c == '_') {
            if (++label > max_label_size) return redirect_status::bad_host;
        } else {
            return redirect_status::bad_host;
        }
    }
    return label == 0 ? redirect_status::bad_host : redirect_status::ok;
}

// Splits and validates a target as the header defines it. No decoding.
target_parts parse_target(std::string_view t) noexcept {
    target_parts p;
    const auto fail = [&p](redirect_status s) {
        p.status = s;
        return p;
    };
    if (t.empty()) return fail(redirect_status::missing_url);
    for (char ch : t) {
        const auto c = static_cast<unsigned char>(ch);
        if (c <= 0x20 || c == 0x7f) return fail(redirect_status::control_character);
        if (c == '\\') return fail(redirect_status::backslash);
    }

    size_t i = 0;
    if (!is_alpha(static_cast<unsigned char>(t[0]))) return fail(redirect_status::not_absolute);
    while (i < t.size() && is_scheme_char(static_cast<unsigned char>(t[i])))
        ++i;
    if (i == t.size() || t[i] != ':') return fail(redirect_status::not_absolute);
    const std::string_view scheme = t.substr(0, i);
    if (ascii_iequals(scheme, "https")) {
        p.https = true;
    } else if (!ascii_iequals(scheme, "http")) {
        return fail(redirect_status::bad_scheme);
    }
    if (t.substr(i + 1, 2) != "//") return fail(redirect_status::no_authority);
    i += 3;

    const size_t authority_end = std::min(t.find_first_of("/?#", i), t.size());
    const std::string_view authority = t.substr(i, authority_end - i);
    p.rest = t.substr(authority_end);
    if (authority.find('@') != std::string_view::npos) return fail(redirect_status::userinfo);

    // The port separator: the last ':' outside an IPv6 literal's brackets.
    size_t host_end = authority.size();
    if (!authority.empty() && authority.front() == '[') {
        const size_t close = authority.find(']');
        if (close == std::string_view::npos) return fail(redirect_status::bad_host);
        host_end = close + 1;
        if (host_end < authority.size() && authority[host_end] != ':')
            return fail(redirect_status::bad_host);
    } else {
        host_end = std::min(authority.find(':'), authority.size());
    }
    p.host = authority.substr(0, host_end);
    if (const auto s = check_host(p.host); s != redirect_status::ok) return fail(s);
    if (host_end < authority.size()) {
        p.port = authority.substr(host_end + 1);
        uint32_t value = 0;
        if (p.port.empty() || p.port.size() > 5) return fail(redirect_status::bad_port);
        for (char c : p.port) {
            if (!is_digit(static_cast<unsigned char>(c))) return fail(redirect_status::bad_port);
            value = value * 10 + static_cast<uint32_t>(c - '0');
        }
        if (value > 65535) return fail(redirect_status::bad_port);
    }
    return p;
}

// Writes the canonical form of valid parts into out. Returns its size, or 0 when it does not
// fit out_size.
size_t write_canonical(const target_parts& p, char* out, size_t out_size) noexcept {
    size_t n = 0;
    const auto put = [&](char c) {
        if (n < out_size) out[n] = c;
        ++n;
    };
    for (char c : std::string_view(p.https ? "https://" : "http://"))
        put(c);
    for (char c : p.host)
        put(ascii_lower(c));
    if (!p.port.empty()) {
        put(':');
        for (char c : p.port)
            put(c);
    }
    for (char ch : p.rest) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x80) {
            put(ch);
        } else {
            put('%');
            put("0123456789ABCDEF"[c >> 4]);
            put("0123456789ABCDEF"[c & 0xf]);
        }
    }
    return n <= out_size ? n : 0;
}

bool host_allowed(const redirect_policy& policy, std::string_view host) noexcept {
    for (const auto& allowed : policy.allow_hosts)
        if (ascii_iequals(host, allowed)) return true;
    return false;
}

// 64 hex digits, either case, into 32 bytes.
bool parse_signature(std::string_view hex, unsigned char out[mac_size]) noexcept {
    if (hex.size() != 2 * mac_size) return false;
    for (size_t i = 0; i < mac_size; ++i) {
        const int hi = detail::k_hex_values[static_cast<unsigned char>(hex[2 * i])];
        const int lo = detail::k_hex_values[static_cast<unsigned char>(hex[2 * i + 1])];
        if ((hi | lo) < 0) return false;
        out[i] = static_cast<unsigned char>(hi << 4 | lo);
    }
    return true;
}

// ---- the signed message (redirect.hh, "What is signed") ----------------------------------

constexpr std::string_view k_sign_version = {"pixelring-redirect-v2\0", 22};

// raw percent-decoded ('+' as a space when plus): its size, then fed to the MAC in chunks.
template <bool plus> size_t decoded_size(std::string_view raw) noexcept {
    const auto* p = reinterpret_cast<const uint8_t*>(raw.data());
    const auto* end = p + raw.size();
    size_t n = 0;
    for (; p < end; ++n)
        p += detail::read_byte<true, plus>(p, end).len;
    return n;
}

void mac_bytes(crypto_auth_hmacsha256_state& st, std::string_view bytes) noexcept {
    crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(bytes.data()),
                                  bytes.size());
}

void mac_length(crypto_auth_hmacsha256_state& st, size_t n) noexcept {
    const unsigned char be[4] = {static_cast<unsigned char>(n >> 24),
                                 static_cast<unsigned char>(n >> 16),
                                 static_cast<unsigned char>(n >> 8), static_cast<unsigned char>(n)};
    crypto_auth_hmacsha256_update(&st, be, sizeof be);
}

// The length and the bytes of a value; decoded first when decode.
template <bool decode, bool plus>
void mac_value(crypto_auth_hmacsha256_state& st, std::string_view raw) noexcept {
    if constexpr (!decode) {
        mac_length(st, raw.size());
        mac_bytes(st, raw);
    } else {
        mac_length(st, decoded_size<plus>(raw));
        unsigned char chunk[256];
        size_t n = 0;
        const auto* p = reinterpret_cast<const uint8_t*>(raw.data());
        const auto* end = p + raw.size();
        while (p < end) {
            const auto b = detail::read_byte<true, plus>(p, end);
            chunk[n++] = b.value;
            p += b.len;
            if (n == sizeof chunk) {
                crypto_auth_hmacsha256_update(&st, chunk, n);
                n = 0;
            }
        }
        crypto_auth_hmacsha256_update(&st, chunk, n);
    }
}

// Everything before the target. decode: action and campaign are as received in a request
// (percent-encoded), else as the event records them (sign_url).
template <bool decode>
void mac_subject(crypto_auth_hmacsha256_state& st, std::string_view action, bool has_campaign,
                 std::string_view campaign) noexcept {
    mac_bytes(st, k_sign_version);
    mac_value<decode, false>(st, action);
    const unsigned char present = has_campaign ? 1 : 0;
    crypto_auth_hmacsha256_update(&st, &present, 1);
    if (has_campaign) mac_value<decode, true>(st, campaign);
}

std::string secret_error(std::string_view secret) {
    if (secret.size() >= min_secret_size) return {};
    return fmt::format("redirect.secret: expected at least {} bytes (32 random bytes "
                       "recommended, e.g. the output of `openssl rand -hex 32`), got {} bytes "
                       "(value not shown)",
                       min_secret_size, secret.size());
}

// Why an allow_hosts element is refused, in words that say what to write instead.
std::string_view allow_host_problem(std::string_view host) noexcept {
    if (host.find("://") != std::string_view::npos)
        return "a host without a scheme, e.g. \"good.example\" rather than "
               "\"https://good.example\"";
    if (host.find('/') != std::string_view::npos) return "a host without a path";
    if (host.find('@') != std::string_view::npos) return "a host without user information";
    if (host.find('*') != std::string_view::npos)
        return "an exact host (no wildcards: list each subdomain; good.example does not admit "
               "sub.good.example)";
    if (check_host(host) == redirect_status::non_ascii_host)
        return "the punycode form of an internationalised name (xn--…), e.g. "
               "\"xn--bcher-kva.example\" for bücher.example";
    if (host.front() != '[' && host.find(':') != std::string_view::npos)
        return "a host without a port (the host is admitted on any port)";
    return "a host name (ASCII letters, digits, '-', '_', single dots between labels) or a "
           "bracketed IPv6 address such as \"[2001:db8::1]\"";
}

void percent_encode(std::string_view s, std::string_view keep, std::string& out) {
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
            keep.find(ch) != std::string_view::npos) {
            out += ch;
        } else {
            out += '%';
            out += "0123456789ABCDEF"[c >> 4];
            out += "0123456789ABCDEF"[c & 0xf];
        }
    }
}

// Writes a canonical target as the value of the link's url parameter, as short as the server
// allows: it decodes the value exactly once ('+' kept) and writes the canonical form of the
// result again, so
//   - "%XX" for a byte 0x80-0xFF (upper-case hex, as write_canonical writes it) stays as it
//     is: decoded to the byte, it is written back as the same three characters;
//   - every other '%' becomes "%25" (a literal "%41" must not decode to "A");
//   - the characters a query may hold (RFC 3986: unreserved, sub-delims, ':', '@', '/', '?')
//     stay, except '&', which would end the parameter, and '+', which other readers take
//     for a space;
//   - the rest (" # < > [ ] ^ ` { | }) becomes %XX.
// A canonical target of printable ASCII without those therefore costs no more bytes in the
// link than it has, and every target whose canonical form fits max_redirect_target gives a
// link that fits the request line, unless it holds many of the characters that are encoded.
void encode_target(std::string_view canonical, std::string& out) {
    for (size_t i = 0; i < canonical.size(); ++i) {
        const char ch = canonical[i];
        const auto c = static_cast<unsigned char>(ch);
        const auto upper_hex = [&](size_t at) {
            return at < canonical.size() && ((canonical[at] >= '0' && canonical[at] <= '9') ||
                                             (canonical[at] >= 'A' && canonical[at] <= 'F'));
        };
        if (ch == '%' && upper_hex(i + 1) && upper_hex(i + 2) && canonical[i + 1] >= '8') {
            out.append(canonical.substr(i, 3));
            i += 2;
        } else if (is_alpha(c) || is_digit(c) ||
                   std::string_view("-._~!$'()*,;=:@/?").find(ch) != std::string_view::npos) {
            out += ch;
        } else {
            out += '%';
            out += "0123456789ABCDEF"[c >> 4];
            out += "0123456789ABCDEF"[c & 0xf];
        }
    }
}

} // namespace

std::string make_redirect_policy(std::string_view secret,
                                 const std::vector<std::string>& allow_hosts,
                                 redirect_policy& out) {
    if (sodium_init() < 0) return "libsodium could not be initialised (sodium_init failed)";
    out = redirect_policy{};
    if (!secret.empty()) {
        if (auto error = secret_error(secret); !error.empty()) return error;
        crypto_auth_hmacsha256_init(
            &out.keyed_mac, reinterpret_cast<const unsigned char*>(secret.data()), secret.size());
        out.signing = true;
    }
    for (const auto& host : allow_hosts) {
        if (host.empty() || check_host(host) != redirect_status::ok)
            return fmt::format("redirect.allow_hosts: bad element {:?}; expected {}", host,
                               host.empty() ? "a host name such as \"shop.example.com\""
                                            : allow_host_problem(host));
        std::string lowered;
        for (char c : host)
            lowered += ascii_lower(c);
        out.allow_hosts.push_back(std::move(lowered));
    }
    return {};
}

std::string_view redirect_status_text(redirect_status status) noexcept {
    switch (status) {
    case redirect_status::ok:
        return "ok";
    case redirect_status::off:
        return "redirects are off (no redirect.secret or allow_hosts)";
    case redirect_status::missing_url:
        return "url parameter missing or empty";
    case redirect_status::too_long:
        return "url too long";
    case redirect_status::control_character:
        return "url contains a control character or whitespace";
    case redirect_status::backslash:
        return "url contains a backslash";
    case redirect_status::not_absolute:
        return "url is not an absolute http or https URL";
    case redirect_status::bad_scheme:
        return "url scheme is not http or https";
    case redirect_status::no_authority:
        return "url has no // and host after the scheme";
    case redirect_status::userinfo:
        return "url has user information (@) before the host";
    case redirect_status::non_ascii_host:
        return "url host is not ASCII (use punycode)";
    case redirect_status::bad_host:
        return "url host is malformed";
    case redirect_status::bad_port:
        return "url port is malformed";
    case redirect_status::not_signed:
        return "url host is not allowed and sig is missing";
    case redirect_status::bad_signature:
        return "sig does not match url";
    case redirect_status::host_not_allowed:
        return "url host is not allowed";
    }
    return "unknown";
}

redirect_subject find_redirect_subject(std::string_view raw_action,
                                       std::string_view query) noexcept {
    redirect_subject subject;
    subject.action = raw_action;
    detail::param_pair param;
    while (detail::next_param(query, param)) {
        if (detail::decoded_equals<true>(param.key, "campaignID")) {
            subject.campaign = param.value;
            subject.has_campaign = true;
            break;
        }
    }
    return subject;
}

redirect_check check_redirect(const redirect_policy& policy, std::string_view raw_url,
                              std::string_view raw_sig, const redirect_subject& subject, char* out,
                              size_t out_size) noexcept {
    if (!policy.enabled()) return {redirect_status::off, 0};

    // Exactly one percent-decoding, '+' kept: a '+' read as a space could only be refused.
    char decoded[max_redirect_target];
    size_t n = 0;
    const auto* p = reinterpret_cast<const uint8_t*>(raw_url.data());
    const auto* end = p + raw_url.size();
    while (p < end) {
        if (n == sizeof decoded) return {redirect_status::too_long, 0};
        const auto b = detail::read_byte<true, false>(p, end);
        decoded[n++] = static_cast<char>(b.value);
        p += b.len;
    }

    const target_parts parts = parse_target({decoded, n});
    if (parts.status != redirect_status::ok) return {parts.status, 0};
    const size_t size = write_canonical(parts, out, out_size);
    if (size == 0) return {redirect_status::too_long, 0};

    if (host_allowed(policy, parts.host)) return {redirect_status::ok, size};
    if (!policy.signing) return {redirect_status::host_not_allowed, 0};
    if (raw_sig.empty()) return {redirect_status::not_signed, 0};
    unsigned char expected[mac_size], given[mac_size];
    if (!parse_signature(raw_sig, given)) return {redirect_status::bad_signature, 0};
    crypto_auth_hmacsha256_state st = policy.keyed_mac;
    mac_subject<true>(st, subject.action, subject.has_campaign, subject.campaign);
    crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(out), size);
    crypto_auth_hmacsha256_final(&st, expected);
    if (sodium_memcmp(expected, given, mac_size) != 0) return {redirect_status::bad_signature, 0};
    return {redirect_status::ok, size};
}

signed_link sign_url(std::string_view secret, std::string_view url, std::string_view action,
                     std::optional<std::string_view> campaign, std::string_view base) {
    if (sodium_init() < 0) return {{}, "libsodium could not be initialised (sodium_init failed)"};
    if (secret.empty())
        return {{}, "redirect.secret is not set; signing a link needs it (at least 16 bytes)"};
    if (auto error = secret_error(secret); !error.empty()) return {{}, error};
    if (action.empty()) return {{}, "action: expected a non-empty name, e.g. \"click\""};

    const target_parts parts = parse_target(url);
    if (parts.status != redirect_status::ok)
        return {{},
                fmt::format("URL {:?}: {}; expected an absolute http:// or https:// URL with an "
                            "ASCII host (punycode for IDN), no user information, no backslash, "
                            "whitespace or control characters",
                            url, redirect_status_text(parts.status))};
    std::string canonical(3 * url.size() + 8, '\0');
    canonical.resize(write_canonical(parts, canonical.data(), canonical.size()));
    // The server decodes the link's url parameter once and refuses a result longer than
    // max_redirect_target, so that is the size to measure: the URL as written, with the %XX
    // escapes of non-ASCII bytes counted as one byte.
    std::string value;
    encode_target(canonical, value);
    if (const size_t decoded = decoded_size<false>(value); decoded > max_redirect_target)
        return {{},
                fmt::format("URL {:?}…: too long: {} bytes once %XX escapes of non-ASCII "
                            "bytes are decoded, the server accepts at most {}",
                            url.substr(0, 60), decoded, max_redirect_target)};

    unsigned char mac[mac_size];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(secret.data()),
                                secret.size());
    mac_subject<false>(st, action, campaign.has_value(), campaign.value_or(std::string_view{}));
    crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(canonical.data()),
                                  canonical.size());
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof st);

    signed_link result;
    std::string& link = result.link;
    link = base;
    while (!link.empty() && link.back() == '/')
        link.pop_back();
    const size_t path_at = link.size();
    link += "/r/";
    percent_encode(action, ":@", link);
    link += "?url=";
    link += value;
    if (campaign) {
        link += "&campaignID=";
        percent_encode(*campaign, "", link);
    }
    link += "&sig=";
    for (unsigned char b : mac) {
        link += detail::k_hex_digits[b >> 4];
        link += detail::k_hex_digits[b & 0xf];
    }
    // The request line "GET " + path and query + " HTTP/1.1" must fit the parser's limit, or
    // the link would be answered 414. encode_target keeps that from happening to a target the
    // server admits, unless it holds many characters that must be encoded.
    const size_t request_line = 4 + (link.size() - path_at) + 9;
    if (request_line > http_limits{}.max_request_line) {
        result.link.clear();
        result.error = fmt::format("URL {:?}…: the signed link would make a request line of {} "
                                   "bytes, the server accepts at most {}; use a shorter URL",
                                   url.substr(0, 60), request_line, http_limits{}.max_request_line);
    }
    return result;
}

} // namespace pixelring
