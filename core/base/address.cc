#include "core/base/address.hh"

#include "core/base/ascii.hh"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace pixelring {
namespace {

// 0 to 65535 in decimal, digits only; also reads a CIDR's prefix length.
bool parse_port(std::string_view text, uint16_t& port) {
    if (text.empty() || text.size() > 5) return false;
    unsigned value = 0;
    for (char ch : text) {
        if (ch < '0' || ch > '9') return false;
        value = value * 10 + static_cast<unsigned>(ch - '0');
    }
    if (value > 65535) return false;
    port = static_cast<uint16_t>(value);
    return true;
}

constexpr std::string_view address_expected =
    "expected an IPv4 or IPv6 address or CIDR such as 10.0.0.0/8, 192.0.2.1 or 2001:db8::/32";

// Longest textual IPv6 address inet_pton reads: 8 groups of 4 and 7 colons is 39, the
// ::ffff:255.255.255.255 form with an embedded IPv4 address can reach 45 (INET6_ADDRSTRLEN-1).
constexpr size_t max_address_text = 45;

uint32_t load_be32(const uint8_t* p) noexcept {
    return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

uint64_t load_be64(const uint8_t* p) noexcept {
    return uint64_t(load_be32(p)) << 32 | load_be32(p + 4);
}

uint32_t mask32(unsigned prefix) noexcept {
    return prefix == 0 ? 0 : ~uint32_t(0) << (32 - prefix);
}

uint64_t mask64(unsigned prefix) noexcept { // prefix 0..64
    return prefix == 0 ? 0 : ~uint64_t(0) << (64 - prefix);
}

bool is_mapped_ipv4(const uint8_t* b) noexcept {
    static constexpr uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(b, prefix, 12) == 0;
}

// Dotted-quad IPv4 as inet_pton reads it (exactly four decimal parts of 0 to 255, no
// leading zeros), read in place: inet_pton would need a NUL-terminated copy.
bool parse_ipv4(std::string_view text, uint8_t* out) noexcept {
    const size_t n = text.size();
    if (n < 7 || n > 15) return false;
    size_t i = 0;
    for (int part = 0; part < 4; ++part) {
        if (part > 0) {
            if (i == n || text[i] != '.') return false;
            ++i;
        }
        const size_t begin = i;
        unsigned v = 0;
        while (i < n && i - begin < 4 && text[i] >= '0' && text[i] <= '9')
            v = v * 10 + unsigned(text[i++] - '0');
        const size_t digits = i - begin;
        if (digits == 0 || digits > 3 || v > 255 || (digits > 1 && text[begin] == '0'))
            return false;
        out[part] = uint8_t(v);
    }
    return i == n;
}

bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}

// "value" with '"', '\' and control bytes escaped, for error messages.
std::string quoted(std::string_view v) {
    std::string out = "\"";
    for (char c : v) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            static constexpr char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[static_cast<unsigned char>(c) >> 4];
            out += hex[c & 0xf];
        } else {
            out += c;
        }
    }
    out += '"';
    return out;
}

} // namespace

bool parse_listen_address(const std::string& text, sockaddr_storage& out, unsigned& len) {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) return false;
    std::string host = text.substr(0, colon);
    uint16_t port;
    if (!parse_port(std::string_view(text).substr(colon + 1), port)) return false;
    std::memset(&out, 0, sizeof out);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
        if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &v6->sin6_addr) != 1)
            return false;
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        len = sizeof(sockaddr_in6);
        return true;
    }
    auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
    if (ascii_equals_lower(host, "localhost")) {
        v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK); // no resolver: localhost is 127.0.0.1
    } else if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) != 1) {
        return false;
    }
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof(sockaddr_in);
    return true;
}

bool parse_ip_address(std::string_view text, ip_address& out) noexcept {
    if (text.find(':') == std::string_view::npos) {
        if (!parse_ipv4(text, out.bytes)) return false;
        out.family = 4;
        return true;
    }
    // IPv6 with inet_pton: every RFC 4291 form, no zone ids. Copied to the stack first.
    if (text.size() > max_address_text) return false;
    char z[max_address_text + 1];
    std::memcpy(z, text.data(), text.size());
    z[text.size()] = '\0';
    if (inet_pton(AF_INET6, z, out.bytes) != 1) return false;
    out.family = 6;
    return true;
}

ip_address unmap_ipv4(const ip_address& addr) noexcept {
    if (addr.family != 6 || !is_mapped_ipv4(addr.bytes)) return addr;
    ip_address v4;
    v4.family = 4;
    std::memcpy(v4.bytes, addr.bytes + 12, 4);
    return v4;
}

bool parse_cidr(std::string_view text, cidr& out, std::string& expected) {
    const size_t slash = text.find('/');
    const std::string_view address = text.substr(0, slash);
    ip_address parsed;
    if (!parse_ip_address(address, parsed)) {
        expected = address_expected;
        return false;
    }
    const unsigned max_prefix = parsed.family == 4 ? 32 : 128;
    unsigned prefix = max_prefix;
    if (slash != std::string_view::npos) {
        const std::string_view digits = text.substr(slash + 1);
        prefix = 0;
        bool ok = !digits.empty() && digits.size() <= 3;
        for (char c : digits) {
            ok = ok && is_digit(c);
            prefix = prefix * 10 + unsigned(c - '0');
        }
        if (!ok || prefix > max_prefix) {
            expected = parsed.family == 4 ? "expected a prefix length from 0 to 32 for IPv4"
                                          : "expected a prefix length from 0 to 128 for IPv6";
            return false;
        }
    }
    cidr c;
    if (parsed.family == 6 && prefix >= 96 && is_mapped_ipv4(parsed.bytes)) {
        c.family = 4;
        c.prefix = uint8_t(prefix - 96);
        std::memcpy(c.bytes, parsed.bytes + 12, 4);
    } else {
        c.family = parsed.family;
        c.prefix = uint8_t(prefix);
        std::memcpy(c.bytes, parsed.bytes, 16);
    }
    // Clear the bits after the prefix.
    const unsigned total = c.family == 4 ? 4 : 16;
    for (unsigned b = 0; b < total; ++b) {
        const unsigned first_bit = b * 8;
        if (first_bit >= c.prefix)
            c.bytes[b] = 0;
        else if (c.prefix - first_bit < 8)
            c.bytes[b] &= uint8_t(0xff << (8 - (c.prefix - first_bit)));
    }
    out = c;
    return true;
}

void cidr_set::add(const cidr& range) {
    if (range.family == 4) {
        const uint32_t mask = mask32(range.prefix);
        const range4 r{load_be32(range.bytes) & mask, mask};
        for (const range4& have : v4_)
            if ((r.network & have.mask) == have.network && (have.mask & ~r.mask) == 0) return;
        std::erase_if(v4_, [&](const range4& have) {
            return (have.network & r.mask) == r.network && (r.mask & ~have.mask) == 0;
        });
        v4_.push_back(r);
        std::sort(v4_.begin(), v4_.end(),
                  [](const range4& a, const range4& b) { return a.mask < b.mask; });
    } else if (range.family == 6) {
        const unsigned p = range.prefix;
        const range6 r{{load_be64(range.bytes) & mask64(std::min(p, 64u)),
                        load_be64(range.bytes + 8) & mask64(p > 64 ? p - 64 : 0)},
                       {mask64(std::min(p, 64u)), mask64(p > 64 ? p - 64 : 0)}};
        auto inside = [](const range6& inner, const range6& outer) {
            return (inner.network[0] & outer.mask[0]) == outer.network[0] &&
                   (inner.network[1] & outer.mask[1]) == outer.network[1] &&
                   (outer.mask[0] & ~inner.mask[0]) == 0 && (outer.mask[1] & ~inner.mask[1]) == 0;
        };
        for (const range6& have : v6_)
            if (inside(r, have)) return;
        std::erase_if(v6_, [&](const range6& have) { return inside(have, r); });
        v6_.push_back(r);
        std::sort(v6_.begin(), v6_.end(), [](const range6& a, const range6& b) {
            return a.mask[0] != b.mask[0] ? a.mask[0] < b.mask[0] : a.mask[1] < b.mask[1];
        });
    }
}

std::string cidr_set::parse(const std::vector<std::string>& texts, cidr_set& out,
                            std::string_view key) {
    cidr_set set;
    for (const std::string& text : texts) {
        cidr c;
        std::string expected;
        if (!parse_cidr(text, c, expected))
            return std::string(key) + " = " + quoted(text) + ": " + expected;
        set.add(c);
    }
    out = std::move(set);
    return {};
}

bool cidr_set::contains(const ip_address& addr) const noexcept {
    if (addr.family == 4 || (addr.family == 6 && is_mapped_ipv4(addr.bytes))) {
        const uint32_t a = load_be32(addr.family == 4 ? addr.bytes : addr.bytes + 12);
        for (const range4& r : v4_)
            if ((a & r.mask) == r.network) return true;
        if (addr.family == 4) return false;
    }
    if (addr.family != 6) return false;
    const uint64_t hi = load_be64(addr.bytes);
    const uint64_t lo = load_be64(addr.bytes + 8);
    for (const range6& r : v6_)
        if ((hi & r.mask[0]) == r.network[0] && (lo & r.mask[1]) == r.network[1]) return true;
    return false;
}

} // namespace pixelring
