#include "core/enrich/client_address.hh"

#include "core/base/ascii.hh"

// The RFC 9110 byte classes (tchar, OWS) shared with the request parser.
#include "core/http/http_chars.hh"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

namespace pixelring {
namespace {

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
        if (ascii_equals_lower(name, "for")) {
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
        return ascii_equals_lower(name, "forwarded") ? header_kind::forwarded : header_kind::other;
    case 14:
        return ascii_equals_lower(name, "true-client-ip") ? header_kind::true_client_ip
                                                          : header_kind::other;
    case 15:
        return ascii_equals_lower(name, "x-forwarded-for") ? header_kind::x_forwarded_for
                                                           : header_kind::other;
    case 16:
        return ascii_equals_lower(name, "cf-connecting-ip") ? header_kind::cf_connecting_ip
                                                            : header_kind::other;
    default:
        return header_kind::other;
    }
}

} // namespace

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
