// Tests for core/http/proxy_protocol: valid v1 and v2 headers field by field, every truncation
// point, corruptions, limits. Every input ends right before an unreadable guard page, so a
// parser that reads one byte past len crashes the test.

#include "core/http/proxy_protocol.hh"

#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <string_view>

#include "tests/support/counting_allocator.hh"
#include "tests/support/guarded_memory.hh"

namespace pixelring {
namespace {

using namespace std::string_literals;

struct result {
    parse_status status;
    proxy_header header;
    std::string reason;
};

result parse(std::string_view input, size_t max_bytes = proxy_v2_max_bytes) {
    test::guarded_buffer mem(input.size());
    result r;
    r.status = parse_proxy_header(mem.place(input), input.size(), r.header, max_bytes);
    r.reason = r.header.error_reason;
    return r;
}

std::string text(const ip_address& a) {
    char buf[INET6_ADDRSTRLEN] = "?";
    if (a.family == 4) inet_ntop(AF_INET, a.bytes, buf, sizeof buf);
    if (a.family == 6) inet_ntop(AF_INET6, a.bytes, buf, sizeof buf);
    return buf;
}

// A valid header: complete, and every proper prefix of it need_more.
result parse_valid(std::string_view header, std::string_view after = "") {
    const std::string input = std::string(header) + std::string(after);
    result r = parse(input);
    EXPECT_EQ(r.status, parse_status::complete) << r.reason;
    EXPECT_EQ(r.header.consumed, header.size());
    for (size_t k = 0; k < header.size(); ++k) {
        const result p = parse(header.substr(0, k));
        EXPECT_EQ(p.status, parse_status::need_more) << "prefix " << k << ": " << p.reason;
    }
    return r;
}

// The v2 header: signature, version/command, family/transport, length, then body.
std::string v2(uint8_t ver_cmd, uint8_t family_transport, std::string_view body, int length = -1) {
    const size_t len = length < 0 ? body.size() : size_t(length);
    std::string h("\r\n\r\n\0\r\nQUIT\n", 12);
    h += char(ver_cmd);
    h += char(family_transport);
    h += char(len >> 8);
    h += char(len & 0xff);
    h += body;
    return h;
}

std::string bytes_of(const char* address, int family) {
    unsigned char b[16];
    EXPECT_EQ(inet_pton(family, address, b), 1);
    return std::string(reinterpret_cast<char*>(b), family == AF_INET ? 4 : 16);
}

std::string port(uint16_t p) {
    return {char(p >> 8), char(p & 0xff)};
}

std::string v2_tcp4(const char* src, const char* dst, uint16_t sp, uint16_t dp,
                    std::string_view tlvs = "") {
    return v2(0x21, 0x11,
              bytes_of(src, AF_INET) + bytes_of(dst, AF_INET) + port(sp) + port(dp) +
                  std::string(tlvs));
}

std::string v2_tcp6(const char* src, const char* dst, uint16_t sp, uint16_t dp,
                    std::string_view tlvs = "") {
    return v2(0x21, 0x21,
              bytes_of(src, AF_INET6) + bytes_of(dst, AF_INET6) + port(sp) + port(dp) +
                  std::string(tlvs));
}

const std::string http_request_bytes = "GET /track/pageview.gif HTTP/1.1\r\nHost: a\r\n\r\n";

// ---------------------------------------------------------------- version 1

TEST(proxy_v1, tcp4) {
    const result r =
        parse_valid("PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n", http_request_bytes);
    EXPECT_EQ(r.header.version, 1);
    EXPECT_FALSE(r.header.local);
    EXPECT_EQ(text(r.header.source), "192.0.2.1");
    EXPECT_EQ(text(r.header.destination), "198.51.100.1");
    EXPECT_EQ(r.header.source_port, 56324);
    EXPECT_EQ(r.header.destination_port, 443);
}

TEST(proxy_v1, tcp6_and_extremes) {
    result r = parse_valid("PROXY TCP6 2001:db8::1 2001:db8::2 0 65535\r\n");
    EXPECT_EQ(text(r.header.source), "2001:db8::1");
    EXPECT_EQ(r.header.source.family, 6);
    EXPECT_EQ(text(r.header.destination), "2001:db8::2");
    EXPECT_EQ(r.header.source_port, 0);
    EXPECT_EQ(r.header.destination_port, 65535);

    // The longest TCP6 line, 104 bytes.
    const std::string f = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    const std::string longest = "PROXY TCP6 " + f + " " + f + " 65535 65535\r\n";
    ASSERT_EQ(longest.size(), 104u);
    r = parse_valid(longest, http_request_bytes);
    EXPECT_EQ(text(r.header.source), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");

    r = parse_valid("PROXY TCP4 255.255.255.255 0.0.0.0 65535 0\r\n");
    EXPECT_EQ(text(r.header.source), "255.255.255.255");
    // A mapped address is reported as sent; resolve_client_address unmaps it.
    r = parse_valid("PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n");
    EXPECT_EQ(r.header.source.family, 6);
}

TEST(proxy_v1, unknown) {
    result r = parse_valid("PROXY UNKNOWN\r\n", http_request_bytes);
    EXPECT_TRUE(r.header.local);
    EXPECT_EQ(r.header.version, 1);
    EXPECT_EQ(r.header.source.family, 0);

    // The rest of an UNKNOWN line is ignored; the worst case is exactly 107 bytes.
    const std::string f = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    const std::string worst = "PROXY UNKNOWN " + f + " " + f + " 65535 65535\r\n";
    ASSERT_EQ(worst.size(), proxy_v1_max_bytes);
    r = parse_valid(worst, http_request_bytes);
    EXPECT_TRUE(r.header.local);
    r = parse_valid("PROXY UNKNOWN whatever: it is ignored\r\n");
    EXPECT_TRUE(r.header.local);
}

TEST(proxy_v1, longer_than_107_bytes_is_an_error) {
    const std::string f = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    const std::string too_long = "PROXY UNKNOWN " + f + " " + f + " 65535 655350\r\n"; // 108
    ASSERT_EQ(too_long.size(), 108u);
    result r = parse(too_long);
    EXPECT_EQ(r.status, parse_status::error);
    EXPECT_EQ(r.reason, "v1: no CRLF in the first 107 bytes");
    // Without any CRLF: need_more up to 106 bytes, an error at 107.
    const std::string endless = "PROXY UNKNOWN " + std::string(200, 'a');
    EXPECT_EQ(parse(endless.substr(0, 106)).status, parse_status::need_more);
    EXPECT_EQ(parse(endless.substr(0, 107)).status, parse_status::error);
    EXPECT_EQ(parse(endless).status, parse_status::error);
    // CR as the 107th byte: its LF would be the 108th.
    EXPECT_EQ(parse(too_long.substr(0, 107)).status, parse_status::error);
}

TEST(proxy_v1, corruptions_are_errors) {
    const std::pair<std::string, std::string> rows[] = {
        {"PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\n", "v1: LF without CR"},
        {"PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\rX", "v1: CR without LF"},
        {"PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\r\n", "v1: CR without LF"},
        {"PROXY TCP5 192.0.2.1 198.51.100.1 56324 443\r\n",
         "v1: protocol is not TCP4, TCP6 or UNKNOWN"},
        {"PROXY tcp4 192.0.2.1 198.51.100.1 56324 443\r\n",
         "v1: protocol is not TCP4, TCP6 or UNKNOWN"},
        {"PROXY UNKNOWNX\r\n", "v1: protocol is not TCP4, TCP6 or UNKNOWN"},
        {"PROXY \r\n", "v1: protocol is not TCP4, TCP6 or UNKNOWN"},
        {"PROXY TCP4\r\n", "v1: protocol is not TCP4, TCP6 or UNKNOWN"},
        {"PROXY TCP4 2001:db8::1 198.51.100.1 56324 443\r\n", "v1: bad source address"},
        {"PROXY TCP6 192.0.2.1 2001:db8::2 56324 443\r\n", "v1: bad source address"},
        {"PROXY TCP6 2001:db8::1 192.0.2.1 56324 443\r\n", "v1: bad destination address"},
        {"PROXY TCP4 192.0.2.01 198.51.100.1 56324 443\r\n", "v1: bad source address"},
        {"PROXY TCP4 192.0.2.256 198.51.100.1 56324 443\r\n", "v1: bad source address"},
        {"PROXY TCP4  192.0.2.1 198.51.100.1 56324 443\r\n", "v1: bad source address"},
        {"PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", "v1: bad source address"},
        {"PROXY TCP4 192.0.2.1 198.51.100.1 056324 443\r\n", "v1: bad source port"},
        {"PROXY TCP4 192.0.2.1 198.51.100.1 65536 443\r\n", "v1: bad source port"},
        {"PROXY TCP4 192.0.2.1 198.51.100.1 -1 443\r\n", "v1: bad source port"},
        {"PROXY TCP4 192.0.2.1 198.51.100.1 56324 0443\r\n", "v1: bad destination port"},
        {"PROXY TCP4 192.0.2.1 198.51.100.1 56324 443 \r\n", "v1: bad destination port"},
        {"PROXY TCP4 192.0.2.1 198.51.100.1 56324 443 1\r\n", "v1: bad destination port"},
        {"PROXY TCP4 192.0.2.1 198.51.100.1 56324\r\n",
         "v1: expected source and destination addresses and ports"},
        {"PROXY TCP4 192.0.2.1\t198.51.100.1 56324 443\r\n",
         "v1: byte that is not printable US-ASCII"},
        {"PROXY TCP4 192.0.2.1\0 198.51.100.1 56324 443\r\n"s,
         "v1: byte that is not printable US-ASCII"},
        {"PROXY UNKNOWN \xff\r\n", "v1: byte that is not printable US-ASCII"},
        {"PROXY  TCP4 192.0.2.1 198.51.100.1 56324 443\r\n",
         "v1: protocol is not TCP4, TCP6 or UNKNOWN"},
        {"proxy TCP4 192.0.2.1 198.51.100.1 56324 443\r\n", "not a PROXY protocol header"},
        {"PROXYTCP4 192.0.2.1 198.51.100.1 56324 443\r\n", "not a PROXY protocol header"},
    };
    for (const auto& [input, reason] : rows) {
        const result r = parse(input);
        EXPECT_EQ(r.status, parse_status::error) << input;
        EXPECT_EQ(r.reason, reason) << input;
    }
}

// Garbage is refused from the first byte that cannot belong to a header, not after 107.
TEST(proxy, garbage_fails_fast) {
    EXPECT_EQ(parse("G").status, parse_status::error);
    EXPECT_EQ(parse("GET / HTTP/1.1\r\n").reason, "not a PROXY protocol header");
    EXPECT_EQ(parse("\x16\x03\x01\x02\x00").status, parse_status::error); // a TLS ClientHello
    EXPECT_EQ(parse("PRO").status, parse_status::need_more);
    EXPECT_EQ(parse("PROXi").status, parse_status::error);
    EXPECT_EQ(parse("PROXY X").status, parse_status::error);
    EXPECT_EQ(parse("PROXY TCP3").status, parse_status::error);
    EXPECT_EQ(parse("PROXY UNK").status, parse_status::need_more);
    EXPECT_EQ(parse("\r\n\r\n\0"s).status, parse_status::need_more);
    EXPECT_EQ(parse("\r\n\r\n\1"s).status, parse_status::error);
    EXPECT_EQ(parse("\r\n\r\n\0\r\nQUIT\n\x31"s).reason, "v2: version is not 2");
    EXPECT_EQ(parse("\r\n\r\n\0\r\nQUIT\n\x22"s).reason, "v2: command is neither LOCAL nor PROXY");
    EXPECT_EQ(parse("\r\n\r\n\0\r\nQUIT\n\x21\x41"s).reason,
              "v2: unknown address family or transport protocol");
    EXPECT_EQ(parse("").status, parse_status::need_more);
}

// Found by fuzzing: a line that waits only for its LF is judged before the LF comes. A wrong
// protocol word or a wrong address is refused at once instead of holding the connection
// until the header timeout.
TEST(proxy_v1, a_wrong_line_ending_in_cr_is_refused_before_the_lf) {
    EXPECT_EQ(parse("PROXY TCP*6 2001:db8.0.2.1 2.1 1 65\r").reason,
              "v1: protocol is not TCP4, TCP6 or UNKNOWN");
    EXPECT_EQ(parse("PROXY TCP6 2001:db8.0.2.1 2.1 1 65\r").reason, "v1: bad source address");
    EXPECT_EQ(parse("PROXY TCP4 192.0.2.1 198.51.100.1 56324 99999\r").reason,
              "v1: bad destination port");
    // A right line still waits for its LF.
    EXPECT_EQ(parse("PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r").status,
              parse_status::need_more);
    EXPECT_EQ(parse("PROXY UNKNOWN\r").status, parse_status::need_more);
}

// ---------------------------------------------------------------- version 2

TEST(proxy_v2, tcp4) {
    const std::string h = v2_tcp4("192.0.2.1", "198.51.100.1", 56324, 443);
    ASSERT_EQ(h.size(), 28u);
    const result r = parse_valid(h, http_request_bytes);
    EXPECT_EQ(r.header.version, 2);
    EXPECT_FALSE(r.header.local);
    EXPECT_EQ(text(r.header.source), "192.0.2.1");
    EXPECT_EQ(r.header.source.family, 4);
    EXPECT_EQ(text(r.header.destination), "198.51.100.1");
    EXPECT_EQ(r.header.source_port, 56324);
    EXPECT_EQ(r.header.destination_port, 443);
}

TEST(proxy_v2, tcp6_udp6_and_udp4) {
    result r = parse_valid(v2_tcp6("2001:db8::1", "2001:db8::2", 1, 65535), http_request_bytes);
    EXPECT_EQ(text(r.header.source), "2001:db8::1");
    EXPECT_EQ(r.header.source.family, 6);
    EXPECT_EQ(text(r.header.destination), "2001:db8::2");
    EXPECT_EQ(r.header.source_port, 1);
    EXPECT_EQ(r.header.destination_port, 65535);
    r = parse_valid(v2(0x21, 0x22,
                       bytes_of("2001:db8::5", AF_INET6) + bytes_of("2001:db8::6", AF_INET6) +
                           port(5) + port(6)));
    EXPECT_EQ(text(r.header.source), "2001:db8::5");
    r = parse_valid(
        v2(0x21, 0x12,
           bytes_of("192.0.2.5", AF_INET) + bytes_of("192.0.2.6", AF_INET) + port(5) + port(6)));
    EXPECT_EQ(text(r.header.source), "192.0.2.5");
}

TEST(proxy_v2, tlvs_are_skipped) {
    // PP2_TYPE_ALPN "h2", PP2_TYPE_AUTHORITY, an AWS VPC endpoint id (0xEA), PP2_TYPE_NOOP.
    const std::string tlvs = "\x01\x00\x02h2"s + "\x02\x00\x0fpx.example.com."s +
                             "\xea\x00\x16\x01vpce-0123456789abcdef"s + "\x04\x00\x00"s;
    result r =
        parse_valid(v2_tcp4("192.0.2.1", "198.51.100.1", 1000, 80, tlvs), http_request_bytes);
    EXPECT_EQ(r.header.consumed, 16 + 12 + tlvs.size());
    EXPECT_EQ(text(r.header.source), "192.0.2.1");
    r = parse_valid(v2_tcp6("2001:db8::1", "2001:db8::2", 1, 2, tlvs));
    EXPECT_EQ(r.header.consumed, 16 + 36 + tlvs.size());
    EXPECT_EQ(text(r.header.source), "2001:db8::1");
    // TLV bytes are never interpreted: a malformed TLV area is skipped as well.
    r = parse_valid(v2_tcp4("192.0.2.1", "198.51.100.1", 1000, 80, "\xff\xff"));
    EXPECT_EQ(r.header.consumed, 16 + 12 + 2u);
}

TEST(proxy_v2, local_and_unspecified_use_the_connection_endpoints) {
    // LOCAL with no address block (a health check).
    result r = parse_valid(v2(0x20, 0x00, ""), http_request_bytes);
    EXPECT_TRUE(r.header.local);
    EXPECT_EQ(r.header.version, 2);
    EXPECT_EQ(r.header.consumed, 16u);
    EXPECT_EQ(r.header.source.family, 0);
    // LOCAL with an address block: skipped and ignored, whatever its family byte says.
    r = parse_valid(
        v2(0x20, 0x11,
           bytes_of("192.0.2.1", AF_INET) + bytes_of("192.0.2.2", AF_INET) + port(1) + port(2)));
    EXPECT_TRUE(r.header.local);
    EXPECT_EQ(r.header.consumed, 28u);
    EXPECT_EQ(r.header.source.family, 0);
    r = parse_valid(v2(0x20, 0xff, "abc"));
    EXPECT_TRUE(r.header.local);
    // PROXY with AF_UNSPEC, AF_UNIX or an unspecified transport.
    r = parse_valid(v2(0x21, 0x00, ""));
    EXPECT_TRUE(r.header.local);
    r = parse_valid(v2(0x21, 0x31, std::string(216, '\0') + "tlv"));
    EXPECT_TRUE(r.header.local);
    EXPECT_EQ(r.header.consumed, 16u + 219);
    r = parse_valid(v2(0x21, 0x10, std::string(12, '\x7f')));
    EXPECT_TRUE(r.header.local);
    EXPECT_EQ(r.header.source.family, 0);
    r = parse_valid(v2(0x21, 0x20, ""));
    EXPECT_TRUE(r.header.local);
}

TEST(proxy_v2, corruptions_are_errors) {
    const std::string good = v2_tcp4("192.0.2.1", "198.51.100.1", 56324, 443);
    // Every byte of the signature, changed.
    for (size_t i = 0; i < 12; ++i) {
        std::string bad = good;
        bad[i] = char(bad[i] ^ 0x40);
        const result r = parse(bad);
        EXPECT_EQ(r.status, parse_status::error) << "signature byte " << i;
        // The error comes as soon as the changed byte is present.
        EXPECT_EQ(parse(std::string_view(bad).substr(0, i + 1)).status, parse_status::error)
            << "signature byte " << i;
    }
    const std::pair<std::string, std::string> rows[] = {
        {v2(0x11, 0x11, good.substr(16)), "v2: version is not 2"},
        {v2(0x31, 0x11, good.substr(16)), "v2: version is not 2"},
        {v2(0x22, 0x11, good.substr(16)), "v2: command is neither LOCAL nor PROXY"},
        {v2(0x2f, 0x11, good.substr(16)), "v2: command is neither LOCAL nor PROXY"},
        {v2(0x21, 0x41, good.substr(16)), "v2: unknown address family or transport protocol"},
        {v2(0x21, 0x13, good.substr(16)), "v2: unknown address family or transport protocol"},
        {v2(0x21, 0x11, good.substr(16, 11)), "v2: length shorter than the address block"},
        {v2(0x21, 0x21, good.substr(16)), "v2: length shorter than the address block"},
        {v2(0x21, 0x31, std::string(215, 'x')), "v2: length shorter than the address block"},
    };
    for (const auto& [input, reason] : rows) {
        const result r = parse(input);
        EXPECT_EQ(r.status, parse_status::error) << reason;
        EXPECT_EQ(r.reason, reason);
    }
    // A short length is refused from the fixed 16 bytes, before any address byte arrives.
    EXPECT_EQ(parse(v2(0x21, 0x21, "", 35)).reason, "v2: length shorter than the address block");
}

TEST(proxy_v2, length_beyond_the_receive_buffer_is_refused_at_once) {
    const std::string fixed = v2(0x21, 0x11, "", 5000); // 16 bytes announcing 5016
    result r = parse(fixed, 4096);
    EXPECT_EQ(r.status, parse_status::error);
    EXPECT_EQ(r.reason, "v2: header longer than the receive buffer");
    EXPECT_EQ(parse(fixed, 5016).status, parse_status::need_more);
    EXPECT_EQ(parse(fixed).status, parse_status::need_more);
    // The largest header the format allows.
    const std::string largest = v2_tcp4("192.0.2.1", "192.0.2.2", 1, 2, std::string(65523, 'x'));
    ASSERT_EQ(largest.size(), proxy_v2_max_bytes);
    r = parse(largest);
    EXPECT_EQ(r.status, parse_status::complete);
    EXPECT_EQ(r.header.consumed, proxy_v2_max_bytes);
    EXPECT_EQ(parse(largest, proxy_v2_max_bytes - 1).status, parse_status::error);
}

// Random bytes after each valid start, and random corruptions of valid headers, all ending
// at the guard page: never a crash, never complete with consumed beyond the input.
TEST(proxy, random_input_never_over_reads) {
    std::mt19937 rng(1);
    const std::string seeds[] = {
        "PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n",
        "PROXY TCP6 2001:db8::1 2001:db8::2 0 65535\r\n",
        "PROXY UNKNOWN\r\n",
        v2_tcp4("192.0.2.1", "198.51.100.1", 56324, 443, "\x01\x00\x02h2"s),
        v2_tcp6("2001:db8::1", "2001:db8::2", 1, 2),
        v2(0x20, 0x00, ""),
    };
    for (const std::string& seed : seeds) {
        for (int round = 0; round < 3000; ++round) {
            std::string s = seed;
            const int mode = round % 3;
            if (mode == 0) {
                s[rng() % s.size()] = char(rng());
            } else if (mode == 1) {
                s.resize(rng() % (s.size() + 1));
                while (rng() % 4)
                    s += char(rng());
            } else {
                for (int m = 0; m < 3; ++m)
                    s[rng() % s.size()] = " :.\r\n0f\x00\x21"[rng() % 9];
            }
            const result r = parse(s);
            if (r.status == parse_status::complete) {
                EXPECT_LE(r.header.consumed, s.size());
            }
            if (r.status == parse_status::error) {
                EXPECT_NE(r.reason, "");
            }
        }
    }
}

TEST(proxy, allocates_nothing) {
    const std::string inputs[] = {
        "PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n",
        "PROXY TCP6 2001:db8::1 2001:db8::2 0 65535\r\n",
        "PROXY UNKNOWN\r\n",
        "PROXY TCP4 192.0.2.1 198.51.100.1 56324 0443\r\n",
        v2_tcp6("2001:db8::1", "2001:db8::2", 1, 2, "\x01\x00\x02h2"s),
        v2(0x20, 0x00, ""),
        "GET / HTTP/1.1\r\n",
    };
    const size_t before = test::thread_allocations();
    size_t sink = 0;
    for (const std::string& in : inputs) {
        for (size_t k = 0; k <= in.size(); ++k) {
            proxy_header h;
            sink += size_t(parse_proxy_header(in.data(), k, h)) + h.consumed;
        }
    }
    EXPECT_EQ(test::thread_allocations(), before);
    EXPECT_GT(sink, 0u);
    // The counter is live: copying an input allocates.
    const std::string copy = inputs[0];
    EXPECT_GT(test::thread_allocations(), before);
}

// ---------------------------------------------------------------- cost

// This thread's CPU time: the machine may be shared, and wall time would count the waits.
double thread_cpu_ns() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) * 1e9 + double(ts.tv_nsec);
}

TEST(proxy, per_call_cost) {
    const std::string v1 = "PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n" + http_request_bytes;
    const std::string v2h = v2_tcp6("2001:db8::1", "2001:db8::2", 1, 2) + http_request_bytes;
    constexpr int n = 200000;
    auto time = [&](const std::string& input) {
        proxy_header h;
        size_t sink = 0;
        const double start = thread_cpu_ns();
        for (int i = 0; i < n; ++i) {
            parse_proxy_header(input.data(), input.size(), h);
            sink += h.consumed;
        }
        const double ns = (thread_cpu_ns() - start) / n;
        EXPECT_GT(sink, 0u);
        return ns;
    };
    const double v1_ns = time(v1);
    const double v2_ns = time(v2h);
    std::printf("parse_proxy_header: %.0f ns/call for a TCP4 v1 line, %.1f ns/call for a TCP6 v2 "
                "header\n",
                v1_ns, v2_ns);
    EXPECT_LT(v1_ns, 20000.0);
}

} // namespace
} // namespace pixelring
