#include "core/client_address.hh"

// The RFC 9110 byte classes (tchar, OWS) shared with the request parser.
#include "core/http_chars.hh"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

namespace pixelring {
namespace {

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

// A port after a node name: 1 to 5 digits up to 65535, or RFC 7239's obfport "_" 1*(ALPHA /
// DIGIT / "." / "_" / "-").
bool is_port(std::string_view p) noexcept {
    if (p.empty()) return false;
    if (p[0] == '_') {
        if (p.size() == 1) return false;
        for (char c : p.substr(1))
            if (!(is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
                  c == '_' || c == '-'))
                return false;
        return true;
    }
    if (p.size() > 5) return false;
    unsigned v = 0;
    for (char c : p) {
        if (!is_digit(c)) return false;
        v = v * 10 + unsigned(c - '0');
    }
    return v <= 65535;
}

std::string_view trim_ows(std::string_view v) noexcept {
    while (!v.empty() && detail::is_ows(v.front()))
        v.remove_prefix(1);
    while (!v.empty() && detail::is_ows(v.back()))
        v.remove_suffix(1);
    return v;
}

char ascii_lower(char c) noexcept {
    return c >= 'A' && c <= 'Z' ? char(c | 0x20) : c;
}

// a equals lower (already lower case) ignoring ASCII case.
bool equals_lower(std::string_view a, std::string_view lower) noexcept {
    if (a.size() != lower.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != lower[i]) return false;
    return true;
}

// The rightmost-untrusted walk over list entries fed to it from right to left.
class chain_walk {
public:
    explicit chain_walk(const cidr_set& trusted) noexcept : trusted_(trusted) {}

    // One entry; returns whether the walk goes on to the entry at its left: it stops at an
    // untrusted address (the answer) and at an entry that is not an address.
    bool feed(bool parsed, const ip_address& addr) noexcept {
        if (!parsed) return false;
        answer_ = addr;
        have_answer_ = true;
        return trusted_.contains(addr);
    }

    // The untrusted address found, else the last trusted one walked; false when neither.
    bool answer(ip_address& out) const noexcept {
        if (have_answer_) out = answer_;
        return have_answer_;
    }

private:
    const cidr_set& trusted_;
    ip_address answer_;
    bool have_answer_ = false;
};

// Walks one X-Forwarded-For value from its last entry to its first. Returns false when the
// walk ended inside it.
bool walk_x_forwarded_for(std::string_view value, chain_walk& walk) noexcept {
    size_t end = value.size();
    while (true) {
        const size_t comma = end == 0 ? std::string_view::npos : value.rfind(',', end - 1);
        const size_t begin = comma == std::string_view::npos ? 0 : comma + 1;
        const std::string_view entry = trim_ows(value.substr(begin, end - begin));
        if (!entry.empty()) {
            ip_address addr;
            const bool parsed = parse_forwarded_node(entry, addr);
            if (!walk.feed(parsed, addr)) return false;
        }
        if (comma == std::string_view::npos) return true;
        end = comma;
    }
}

// The for= node of one Forwarded element (RFC 7239 §4): pairs separated by ';', each
// token "=" (token / quoted-string); OWS around pairs is tolerated. False when the element
// is malformed, has no for= or two of them, or its node is not an address.
bool forwarded_element_for(std::string_view e, ip_address& out) noexcept {
    std::string_view node;
    bool found = false;
    size_t i = 0;
    const size_t n = e.size();
    while (i < n) {
        while (i < n && detail::is_ows(e[i]))
            ++i;
        if (i < n && e[i] == ';') { // empty pair
            ++i;
            continue;
        }
        if (i == n) break;
        const size_t name_begin = i;
        while (i < n && detail::is(detail::cls_tchar, e[i]))
            ++i;
        const std::string_view name = e.substr(name_begin, i - name_begin);
        if (name.empty() || i == n || e[i] != '=') return false;
        ++i;
        std::string_view value;
        if (i < n && e[i] == '"') {
            const size_t value_begin = ++i;
            while (i < n && e[i] != '"')
                i += e[i] == '\\' ? 2 : 1;
            if (i >= n) return false; // unterminated quoted-string
            value = e.substr(value_begin, i - value_begin);
            ++i;
        } else {
            // token; ':', '[' and ']' tolerated for unquoted "for=192.0.2.1:80" as sent by
            // some proxies although RFC 7239 wants it quoted.
            const size_t value_begin = i;
            while (i < n && (detail::is(detail::cls_tchar, e[i]) || e[i] == ':' || e[i] == '[' ||
                             e[i] == ']'))
                ++i;
            value = e.substr(value_begin, i - value_begin);
        }
        while (i < n && detail::is_ows(e[i]))
            ++i;
        if (i < n) {
            if (e[i] != ';') return false;
            ++i;
        }
        if (equals_lower(name, "for")) {
            if (found) return false; // RFC 7239 §4: a parameter at most once per element
            found = true;
            node = value;
        }
    }
    return found && parse_forwarded_node(node, out);
}

// Walks one Forwarded value from its last element to its first. Elements are split at
// commas outside quoted-strings, scanning from the right: what trusted hops appended is at
// the right and well-formed, so a client's unbalanced quote at the left cannot hide it.
bool walk_forwarded(std::string_view value, chain_walk& walk) noexcept {
    size_t end = value.size();
    while (true) {
        size_t i = end;
        bool quoted = false;
        while (i > 0) {
            const char c = value[i - 1];
            if (c == '"')
                quoted = !quoted;
            else if (c == ',' && !quoted)
                break;
            --i;
        }
        const std::string_view element = trim_ows(value.substr(i, end - i));
        if (!element.empty()) {
            ip_address addr;
            const bool parsed = forwarded_element_for(element, addr);
            if (!walk.feed(parsed, addr)) return false;
        }
        if (i == 0) return true;
        end = i - 1;
    }
}

enum class header_kind : uint8_t {
    other,
    x_forwarded_for,
    forwarded,
    cf_connecting_ip,
    true_client_ip
};

header_kind classify(std::string_view name) noexcept {
    switch (name.size()) {
    case 9:
        return equals_lower(name, "forwarded") ? header_kind::forwarded : header_kind::other;
    case 14:
        return equals_lower(name, "true-client-ip") ? header_kind::true_client_ip
                                                    : header_kind::other;
    case 15:
        return equals_lower(name, "x-forwarded-for") ? header_kind::x_forwarded_for
                                                     : header_kind::other;
    case 16:
        return equals_lower(name, "cf-connecting-ip") ? header_kind::cf_connecting_ip
                                                      : header_kind::other;
    default:
        return header_kind::other;
    }
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

bool parse_forwarded_node(std::string_view text, ip_address& out) noexcept {
    std::string_view address = text;
    if (!text.empty() && text[0] == '[') {
        const size_t close = text.find(']');
        if (close == std::string_view::npos) return false;
        address = text.substr(1, close - 1);
        const std::string_view rest = text.substr(close + 1);
        if (!rest.empty() && (rest[0] != ':' || !is_port(rest.substr(1)))) return false;
        if (address.find(':') == std::string_view::npos) return false; // "[192.0.2.1]"
    } else {
        const size_t colon = text.find(':');
        if (colon != std::string_view::npos &&
            text.find(':', colon + 1) == std::string_view::npos) {
            address = text.substr(0, colon); // "192.0.2.1:4711"
            if (!is_port(text.substr(colon + 1))) return false;
            if (address.find('.') == std::string_view::npos) return false;
        }
    }
    ip_address parsed;
    if (!parse_ip_address(address, parsed)) return false;
    out = unmap_ipv4(parsed);
    return true;
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

resolved_client_address resolve_client_address(const ip_address& peer, const cidr_set& trusted,
                                               std::span<const http_field> fields) noexcept {
    resolved_client_address result{unmap_ipv4(peer), client_address_source::peer};
    if (!trusted.contains(peer)) return result;

    // One pass to see which fields are present: the list fields keep the span of their lines,
    // the single-address ones their last line.
    size_t xff_first = 0, xff_end = 0, fwd_first = 0, fwd_end = 0;
    const http_field* cf = nullptr;
    const http_field* tci = nullptr;
    for (size_t i = 0; i < fields.size(); ++i) {
        switch (classify(fields[i].name)) {
        case header_kind::x_forwarded_for:
            if (xff_end == 0) xff_first = i;
            xff_end = i + 1;
            break;
        case header_kind::forwarded:
            if (fwd_end == 0) fwd_first = i;
            fwd_end = i + 1;
            break;
        case header_kind::cf_connecting_ip:
            cf = &fields[i];
            break;
        case header_kind::true_client_ip:
            tci = &fields[i];
            break;
        case header_kind::other:
            break;
        }
    }

    const bool has_xff = xff_end != 0;
    if (has_xff || fwd_end != 0) {
        const header_kind kind = has_xff ? header_kind::x_forwarded_for : header_kind::forwarded;
        const size_t first = has_xff ? xff_first : fwd_first;
        chain_walk walk(trusted);
        for (size_t i = has_xff ? xff_end : fwd_end; i-- > first;) {
            if (classify(fields[i].name) != kind) continue;
            const bool go_on = kind == header_kind::x_forwarded_for
                                   ? walk_x_forwarded_for(fields[i].value, walk)
                                   : walk_forwarded(fields[i].value, walk);
            if (!go_on) break;
        }
        if (walk.answer(result.address))
            result.source =
                has_xff ? client_address_source::x_forwarded_for : client_address_source::forwarded;
        return result;
    }

    const http_field* single = cf ? cf : tci;
    if (single != nullptr) {
        ip_address addr;
        if (parse_forwarded_node(trim_ows(single->value), addr)) {
            result.address = addr;
            result.source = cf ? client_address_source::cf_connecting_ip
                               : client_address_source::true_client_ip;
        }
    }
    return result;
}

} // namespace pixelring
