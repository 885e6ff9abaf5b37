#include "core/http/proxy_protocol.hh"

// parse_ip_address, shared with the forwarding-field parser.
#include "core/base/address.hh"

#include <algorithm>
#include <cstring>
#include <string_view>

namespace pixelring {
namespace {

constexpr std::string_view v1_prefix = "PROXY ";
constexpr std::string_view v2_signature{"\r\n\r\n\0\r\nQUIT\n", 12};
constexpr size_t v2_fixed_bytes = 16;

parse_status fail(proxy_header& out, const char* reason) noexcept {
    out.error_reason = reason;
    return parse_status::error;
}

// The first min(len, what.size()) bytes of buf equal what's.
bool agrees(const char* buf, size_t len, std::string_view what) noexcept {
    return std::memcmp(buf, what.data(), std::min(len, what.size())) == 0;
}

// A v1 port: decimal 0 to 65535 without leading zeros.
bool parse_v1_port(std::string_view text, uint16_t& port) noexcept {
    if (text.empty() || text.size() > 5 || (text[0] == '0' && text.size() > 1)) return false;
    unsigned v = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + unsigned(c - '0');
    }
    if (v > 65535) return false;
    port = uint16_t(v);
    return true;
}

// A v1 address of the family the line announced. parse_ip_address refuses leading zeros in
// IPv4, as the specification asks.
bool parse_v1_address(std::string_view text, bool v6, ip_address& out) noexcept {
    return parse_ip_address(text, out) && out.family == (v6 ? 6 : 4);
}

// The line between "PROXY " and CRLF.
parse_status parse_v1_line(std::string_view line, proxy_header& out) noexcept {
    if (line.starts_with("UNKNOWN") && (line.size() == 7 || line[7] == ' ')) {
        out.local = true; // the rest of the line is ignored, as the specification says
        return parse_status::complete;
    }
    bool v6;
    if (line.starts_with("TCP4 "))
        v6 = false;
    else if (line.starts_with("TCP6 "))
        v6 = true;
    else
        return fail(out, "v1: protocol is not TCP4, TCP6 or UNKNOWN");
    line.remove_prefix(5);

    std::string_view part[4];
    for (int k = 0; k < 4; ++k) {
        const size_t space = k < 3 ? line.find(' ') : std::string_view::npos;
        if (k < 3 && space == std::string_view::npos)
            return fail(out, "v1: expected source and destination addresses and ports");
        part[k] = line.substr(0, space);
        if (k < 3) line.remove_prefix(space + 1);
    }
    if (!parse_v1_address(part[0], v6, out.source)) return fail(out, "v1: bad source address");
    if (!parse_v1_address(part[1], v6, out.destination))
        return fail(out, "v1: bad destination address");
    if (!parse_v1_port(part[2], out.source_port)) return fail(out, "v1: bad source port");
    if (!parse_v1_port(part[3], out.destination_port)) return fail(out, "v1: bad destination port");
    return parse_status::complete;
}

parse_status parse_v1(const char* buf, size_t len, proxy_header& out) noexcept {
    if (!agrees(buf, len, v1_prefix)) return fail(out, "not a PROXY protocol header");
    // Refuse an impossible protocol word first, whatever follows it: a line that cannot be
    // valid never waits for more bytes.
    if (len > v1_prefix.size()) {
        const char* p = buf + v1_prefix.size();
        const size_t n = len - v1_prefix.size();
        if (!agrees(p, n, "TCP4 ") && !agrees(p, n, "TCP6 ") && !agrees(p, n, "UNKNOWN"))
            return fail(out, "v1: protocol is not TCP4, TCP6 or UNKNOWN");
    }
    const size_t scan = std::min(len, proxy_v1_max_bytes);
    for (size_t i = v1_prefix.size(); i < scan; ++i) {
        const char c = buf[i];
        if (c == '\r') {
            if (i + 2 > proxy_v1_max_bytes) break; // the LF would be byte 108
            if (i + 1 == len) {
                // Only the LF is missing: a line that is wrong already is refused now.
                proxy_header line_check;
                const std::string_view line(buf + v1_prefix.size(), i - v1_prefix.size());
                if (parse_v1_line(line, line_check) == parse_status::error) {
                    out = line_check;
                    return parse_status::error;
                }
                return parse_status::need_more;
            }
            if (buf[i + 1] != '\n') return fail(out, "v1: CR without LF");
            out.version = 1;
            out.consumed = i + 2;
            const std::string_view line(buf + v1_prefix.size(), i - v1_prefix.size());
            return parse_v1_line(line, out);
        }
        if (c == '\n') return fail(out, "v1: LF without CR");
        if (c < 0x20 || c > 0x7e) return fail(out, "v1: byte that is not printable US-ASCII");
    }
    if (len >= proxy_v1_max_bytes) return fail(out, "v1: no CRLF in the first 107 bytes");
    return parse_status::need_more;
}

uint16_t load_be16(const char* p) noexcept {
    return uint16_t(uint16_t(uint8_t(p[0])) << 8 | uint8_t(p[1]));
}

parse_status parse_v2(const char* buf, size_t len, proxy_header& out, size_t max_bytes) noexcept {
    if (!agrees(buf, len, v2_signature)) return fail(out, "not a PROXY protocol header");
    if (len > 12 && (uint8_t(buf[12]) >> 4) != 2) return fail(out, "v2: version is not 2");
    if (len > 12 && (uint8_t(buf[12]) & 0xf) > 1)
        return fail(out, "v2: command is neither LOCAL nor PROXY");
    // A LOCAL command's family byte is ignored (the specification: "discard the protocol
    // block including the family"); a PROXY command's must be one of the defined values.
    const bool command_proxy = len > 12 && (uint8_t(buf[12]) & 0xf) == 1;
    const uint8_t family = len > 13 ? uint8_t(buf[13]) >> 4 : 0;
    const uint8_t transport = len > 13 ? uint8_t(buf[13]) & 0xf : 0;
    if (command_proxy && (family > 3 || transport > 2))
        return fail(out, "v2: unknown address family or transport protocol");
    if (len < v2_fixed_bytes) return parse_status::need_more;

    const size_t length = load_be16(buf + 14);
    const size_t total = v2_fixed_bytes + length;
    if (total > max_bytes) return fail(out, "v2: header longer than the receive buffer");
    // Address block sizes of AF_INET, AF_INET6 and AF_UNIX (two addresses, two ports). With an
    // unspecified transport the addresses are ignored, so their size is not checked either.
    static constexpr size_t address_bytes[4] = {0, 12, 36, 216};
    if (command_proxy && transport != 0 && length < address_bytes[family])
        return fail(out, "v2: length shorter than the address block");
    if (len < total) return parse_status::need_more;

    out.version = 2;
    out.consumed = total;
    if (!command_proxy || family == 0 || family == 3 || transport == 0) {
        out.local = true; // use the connection's own endpoints; address bytes ignored
        return parse_status::complete;
    }
    const char* a = buf + v2_fixed_bytes;
    const size_t width = family == 1 ? 4 : 16;
    out.source.family = out.destination.family = family == 1 ? 4 : 6;
    std::memcpy(out.source.bytes, a, width);
    std::memcpy(out.destination.bytes, a + width, width);
    out.source_port = load_be16(a + 2 * width);
    out.destination_port = load_be16(a + 2 * width + 2);
    return parse_status::complete; // TLVs, if any, end at total and are not read
}

} // namespace

parse_status parse_proxy_header(const char* buf, size_t len, proxy_header& out,
                                size_t max_bytes) noexcept {
    out = proxy_header{};
    if (len == 0) return parse_status::need_more;
    if (buf[0] == 'P') return parse_v1(buf, len, out);
    if (buf[0] == '\r') return parse_v2(buf, len, out, max_bytes);
    return fail(out, "not a PROXY protocol header");
}

} // namespace pixelring
