// server.proxy_protocol and server.rate_limit end to end against the real collector: PROXY
// v1 and v2 headers from a trusted and an untrusted peer, malformed or missing headers
// (connection closed without an HTTP answer), and the per-client token bucket (pixels
// answered but dropped, beacons 429). Events are read back from the NDJSON file, counters
// from the admin /metrics.

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <cerrno>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/e2e_events.hh"
#include "tests/support/metrics_scrape.hh"
#include "tests/support/testdata.hh"

using namespace pixelring::test;

namespace {

const std::string city_db = "geoip.city_db=" + testdata_path("geoip/GeoIP2-City-Test.mmdb");
constexpr char trusted_loopback[] = R"(server.trusted_proxies=["127.0.0.1/32"])";
constexpr char marker_pixel[] =
    "GET /track/marker.gif?campaignID=marker HTTP/1.1\r\nHost: px.example.com\r\n\r\n";

long long proxy_outcome(const collector_process& p, const std::string& outcome) {
    return static_cast<long long>(
        metric(p, "pixelring_proxy_protocol_total{outcome=\"" + outcome + "\"}").value_or(-1));
}

std::string pixel(const std::string& action, const std::string& headers = "") {
    return "GET /track/" + action + ".gif?campaignID=c HTTP/1.1\r\nHost: px.example.com\r\n" +
           headers + "\r\n";
}

std::string beacon(const std::string& body, const std::string& target = "/e") {
    return "POST " + target +
           " HTTP/1.1\r\nHost: px.example.com\r\nContent-Type: text/plain\r\n"
           "Content-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
}

// A version 2 header: command 0x20 LOCAL or 0x21 PROXY, family/transport 0x11 TCP over
// IPv4, 0x21 TCP over IPv6, then the address block (and TLVs) as given.
std::string proxy_v2(uint8_t command, uint8_t family, const std::string& block) {
    std::string h("\r\n\r\n\0\r\nQUIT\n", 12);
    h += char(command);
    h += char(family);
    h += char(block.size() >> 8);
    h += char(block.size() & 0xff);
    return h + block;
}

std::string addr_bytes(int af, const char* text) {
    unsigned char b[16];
    EXPECT_EQ(inet_pton(af, text, b), 1) << text;
    return std::string(reinterpret_cast<char*>(b), af == AF_INET ? 4 : 16);
}

std::string port_bytes(uint16_t port) {
    return std::string{char(port >> 8), char(port & 0xff)};
}

std::string v2_tcp4(const char* source, const std::string& tlvs = "") {
    return proxy_v2(0x21, 0x11,
                    addr_bytes(AF_INET, source) + addr_bytes(AF_INET, "127.0.0.1") +
                        port_bytes(51000) + port_bytes(8080) + tlvs);
}

std::string v2_tcp6(const char* source) {
    return proxy_v2(0x21, 0x21,
                    addr_bytes(AF_INET6, source) + addr_bytes(AF_INET6, "::1") + port_bytes(51000) +
                        port_bytes(8080));
}

// Sends the pieces with a pause between them and reads n answers.
std::vector<http_response> talk(const collector_process& p, const std::vector<std::string>& pieces,
                                size_t n) {
    connection c(p.port());
    EXPECT_TRUE(c.ok());
    for (size_t i = 0; i < pieces.size(); ++i) {
        if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        c.send_all(pieces[i]);
    }
    std::vector<http_response> out;
    for (const auto& raw : c.read_responses(n))
        out.push_back(parse_response(raw));
    EXPECT_EQ(out.size(), n);
    return out;
}

// Reads until the peer closes (true) or timeout_ms passes (false); got holds every byte.
bool read_until_closed(int fd, std::string& got, int timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    char buf[4096];
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
        if (left <= 0) return false;
        pollfd pfd{fd, POLLIN, 0};
        if (poll(&pfd, 1, int(left)) <= 0) return false;
        ssize_t r = ::recv(fd, buf, sizeof buf, 0);
        if (r == 0 || (r < 0 && errno == ECONNRESET)) return true;
        if (r > 0) got.append(buf, size_t(r));
    }
}

} // namespace

// ---- PROXY protocol -------------------------------------------------------------------------

TEST(proxy_protocol, needs_trusted_proxies) {
    run_result r = run_binary({"--set", "server.proxy_protocol=true", "--check-config"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("server.proxy_protocol = true needs server.trusted_proxies"),
              std::string::npos)
        << r.err;
    collector_process p({"server.proxy_protocol=true"});
    EXPECT_FALSE(p.started());
    EXPECT_NE(p.stderr_text().find("needs server.trusted_proxies"), std::string::npos)
        << p.stderr_text();
    r = run_binary(
        {"--set", "server.proxy_protocol=true", "--set", trusted_loopback, "--check-config"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(proxy_protocol, a_trusted_peer_gives_the_client_address) {
    REQUIRE_TESTDATA("geoip");
    collector_process p(
        {city_db, trusted_loopback, "server.proxy_protocol=true", "server.workers=1"});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    // v1 with two keep-alive requests behind it (and a forwarding header the proxied client
    // cannot use: it is not a trusted proxy).
    auto r = talk(p,
                  {"PROXY TCP4 89.160.20.112 127.0.0.1 51000 8080\r\n" + pixel("v1a") +
                   pixel("v1b", "X-Forwarded-For: 81.2.69.160\r\n")},
                  2);
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0].status, 200);
    EXPECT_EQ(r[1].status, 200);
    // v1 split in the middle of the line, the request in the same send as its end.
    r = talk(p, {"PROX", "Y TCP4 89.160.20.112 127.0.", "0.1 51000 8080\r\n" + pixel("v1split")},
             1);
    // v2 TCP4, cut inside the fixed part and inside the addresses.
    std::string v2 = v2_tcp4("89.160.20.128");
    r = talk(p, {v2.substr(0, 7), v2.substr(7, 12), v2.substr(19) + pixel("v2")}, 1);
    // v2 with TLVs after the addresses (skipped).
    std::string tlvs = std::string{char(0x04), char(0), char(3)} + "abc";
    r = talk(p, {v2_tcp4("89.160.20.112", tlvs) + pixel("v2tlv")}, 1);
    // v2 TCP6 with an IPv4-mapped source: the IPv4 client.
    r = talk(p, {v2_tcp6("::ffff:89.160.20.113") + pixel("v2mapped")}, 1);
    // v2 TCP6 with a real IPv6 source: truncated to /48.
    r = talk(p, {v2_tcp6("2001:db8:1234:5678::1") + pixel("v2six")}, 1);
    // v1 TCP6.
    r = talk(p, {"PROXY TCP6 2001:db8:1234:5678::2 ::1 51000 8080\r\n" + pixel("v1six")}, 1);
    // LOCAL (the balancer's health check) and UNKNOWN: the connection's own address.
    r = talk(p, {proxy_v2(0x20, 0x00, "") + pixel("v2local")}, 1);
    r = talk(p, {"PROXY UNKNOWN\r\n" + pixel("v1unknown")}, 1);
    // A beacon behind a v1 header.
    r = talk(p,
             {"PROXY TCP4 89.160.20.112 127.0.0.1 51000 8080\r\n" +
              beacon(R"({"action":"beacon","url":"https://shop.example.com/"})")},
             1);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].status, 204);

    auto ev = wait_events(p, 11);
    ASSERT_EQ(ev.size(), 11u);
    struct expect {
        const char* action;
        const char* ip;
        const char* country;
    };
    std::vector<expect> want = {
        {"v1a", "89.160.20.0", "SE"},
        {"v1b", "89.160.20.0", "SE"},
        {"v1split", "89.160.20.0", "SE"},
        {"v2", "89.160.20.0", "SE"},
        {"v2tlv", "89.160.20.0", "SE"},
        {"v2mapped", "89.160.20.0", "SE"},
        {"v2six", "2001:db8:1234::", "<absent>"},
        {"v1six", "2001:db8:1234::", "<absent>"},
        {"v2local", "127.0.0.0", "<absent>"},
        {"v1unknown", "127.0.0.0", "<absent>"},
        {"beacon", "89.160.20.0", "SE"},
    };
    for (size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(ev[i].str("action"), want[i].action);
        EXPECT_EQ(ev[i].str("ip"), want[i].ip) << want[i].action;
        EXPECT_EQ(ev[i].str("country"), want[i].country) << want[i].action;
    }
    EXPECT_EQ(proxy_outcome(p, "error"), 0);
    EXPECT_EQ(proxy_outcome(p, "untrusted"), 0);
    EXPECT_EQ(requests(p, "pixel", 200), 10);
}

TEST(proxy_protocol, an_untrusted_peer_is_parsed_and_ignored) {
    REQUIRE_TESTDATA("geoip");
    collector_process p({city_db, R"(server.trusted_proxies=["10.0.0.0/8"])",
                         "server.proxy_protocol=true", "server.workers=1"});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    auto r = talk(p, {"PROXY TCP4 89.160.20.112 127.0.0.1 51000 8080\r\n" + pixel("v1")}, 1);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].status, 200);
    r = talk(p, {v2_tcp4("89.160.20.112") + pixel("v2")}, 1);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].status, 200);
    r = talk(p, {proxy_v2(0x20, 0x00, "") + pixel("local")}, 1); // names no source
    ASSERT_EQ(r.size(), 1u);
    auto ev = wait_events(p, 3);
    ASSERT_EQ(ev.size(), 3u);
    for (const auto& e : ev) {
        EXPECT_EQ(e.str("ip"), "127.0.0.0") << e.str("action");
        EXPECT_EQ(e.str("country"), "<absent>") << e.str("action");
    }
    EXPECT_EQ(proxy_outcome(p, "untrusted"), 2);
    EXPECT_EQ(proxy_outcome(p, "error"), 0);
}

TEST(proxy_protocol, malformed_or_missing_headers_close_without_an_answer) {
    collector_process p({trusted_loopback, "server.proxy_protocol=true", "server.workers=1"});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    std::string v2 = v2_tcp4("89.160.20.112");
    std::string bad_version = v2;
    bad_version[12] = char(0x31); // version 3
    std::string bad_command = v2;
    bad_command[12] = char(0x2f);
    std::string short_block = proxy_v2(0x21, 0x11, std::string(4, '\x01')); // 12 needed
    std::vector<std::string> cases = {
        pixel("plain"), // plain HTTP, no header
        "PROXY TCP4 89.160.20.112 127.0.0.1 99999 8080\r\n" + pixel("badport"),
        "PROXY TCP4 garbage\r\n" + pixel("garbage"),
        "PROXY TCP4 89.160.20.112 127.0.0.1 51000 8080\n" + pixel("lfonly"),
        "PROXY TCP4 89.160.20.112 127.0.0.1 51000 8080 " + std::string(100, 'x') + "\r\n" +
            pixel("toolong"),
        "PROXY TCP6 89.160.20.112 127.0.0.1 51000 8080\r\n" + pixel("family"),
        "proxy TCP4 89.160.20.112 127.0.0.1 51000 8080\r\n" + pixel("lower"),
        bad_version + pixel("v3"),
        bad_command + pixel("cmd"),
        short_block + pixel("short"),
        "\r\n\r\n" + pixel("blank"),
    };
    for (const std::string& bytes : cases) {
        connection c(p.port());
        ASSERT_TRUE(c.ok());
        c.send_all(bytes);
        std::string got;
        EXPECT_TRUE(read_until_closed(c.fd(), got, 3000)) << bytes;
        EXPECT_EQ(got, "") << bytes;
    }
    EXPECT_EQ(proxy_outcome(p, "error"), long(cases.size()));
    EXPECT_EQ(proxy_outcome(p, "untrusted"), 0);
    // The listener still works, and none of the above made an event.
    auto r = talk(
        p, {"PROXY TCP4 89.160.20.112 127.0.0.1 51000 8080\r\n" + std::string(marker_pixel)}, 1);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].status, 200);
    auto ev = wait_events(p, 1);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].str("action"), "marker");
    EXPECT_EQ(requests(p, "pixel", 200), 1);
    EXPECT_EQ(requests(p, "invalid", 400), 0);
}

// A header that never completes is malformed too: when the header timeout ends the
// connection, the peer (not speaking HTTP) gets no HTTP answer, and it counts as an error.
TEST(proxy_protocol, an_incomplete_header_times_out_without_an_http_answer) {
    collector_process p({trusted_loopback, "server.proxy_protocol=true", "server.workers=1",
                         "server.header_timeout_ms=300"});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    std::string v2 = v2_tcp4("89.160.20.112");
    for (const std::string& part :
         {std::string("PROXY TCP4 89.160.20.112 127.0"), v2.substr(0, 20)}) {
        connection c(p.port());
        ASSERT_TRUE(c.ok());
        c.send_all(part);
        std::string got;
        EXPECT_TRUE(read_until_closed(c.fd(), got, 3000)) << part;
        EXPECT_EQ(got, "") << "answered in HTTP before the PROXY header ended: " << part;
    }
    EXPECT_EQ(proxy_outcome(p, "error"), 2);
    EXPECT_EQ(requests(p, "invalid", 408), 0);
}

// ---- rate limit -----------------------------------------------------------------------------

TEST(rate_limit, pixels_are_answered_but_dropped_and_beacons_get_429) {
    collector_process p({"server.rate_limit=3", "server.workers=1", trusted_loopback,
                         R"(redirect.allow_hosts=["good.example"])"});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    // Everything in one burst, well within the 333 ms one token takes to come back.
    connection c(p.port());
    std::string burst;
    for (int i = 0; i < 6; ++i)
        burst += pixel("p" + std::to_string(i));
    burst += beacon(R"({"action":"b1"})");
    burst += beacon(R"([{"action":"b2"},{"action":"b3"}])", "/e?receipts=1");
    burst += beacon(R"({"nothing":"accepted"})", "/e?receipts=1"); // no accepted item: no cost
    burst += "GET /tr/v1/action/rest HTTP/1.1\r\nHost: px.example.com\r\n\r\n";
    burst += "GET /r/redir?url=https://good.example/ HTTP/1.1\r\nHost: px.example.com\r\n\r\n";
    // Another client (behind the trusted proxy) has its own bucket.
    burst += pixel("other", "X-Forwarded-For: 89.160.20.112\r\n");
    c.send_all(burst);
    auto raw = c.read_responses(12);
    ASSERT_EQ(raw.size(), 12u);
    for (int i = 0; i < 6; ++i) {
        http_response r = parse_response(raw[size_t(i)]);
        EXPECT_EQ(r.status, 200) << i;
        EXPECT_EQ(r.headers["content-type"], "image/gif") << i;
    }
    for (size_t i : {6u, 7u}) {
        http_response r = parse_response(raw[i]);
        EXPECT_EQ(r.status, 429) << i;
        EXPECT_EQ(r.headers["retry-after"], "1") << i;
        EXPECT_EQ(r.headers["content-type"], "application/json") << i;
        json_value err;
        std::string error;
        EXPECT_TRUE(json_reader::parse(r.body, err, error)) << r.body;
        EXPECT_NE(err.str("error"), "<absent>") << r.body;
        EXPECT_EQ(r.headers["connection"], "keep-alive");
    }
    http_response none = parse_response(raw[8]);
    EXPECT_EQ(none.status, 200);
    EXPECT_EQ(none.body, R"([{"status":"rejected","reason":"action missing"}])");
    EXPECT_EQ(parse_response(raw[9]).status, 204);
    http_response redirect = parse_response(raw[10]);
    EXPECT_EQ(redirect.status, 302);
    EXPECT_EQ(redirect.headers["location"], "https://good.example/");
    EXPECT_EQ(parse_response(raw[11]).status, 200);

    auto ev = wait_events(p, 4);
    ASSERT_EQ(ev.size(), 4u);
    EXPECT_EQ(ev[0].str("action"), "p0");
    EXPECT_EQ(ev[1].str("action"), "p1");
    EXPECT_EQ(ev[2].str("action"), "p2");
    EXPECT_EQ(ev[3].str("action"), "other");
    EXPECT_EQ(ev[3].str("ip"), "89.160.20.0");
    // 3 pixels, 1 + 2 beacon items, the rest and the redirect event.
    EXPECT_EQ(metric(p, "pixelring_events_dropped_total{reason=\"rate_limited\"}"), 8);
    EXPECT_EQ(metric(p, "pixelring_events_total{outcome=\"accepted\"}"), 4);
    EXPECT_EQ(requests(p, "beacon", 429), 2);
    EXPECT_EQ(requests(p, "pixel", 200), 7);

    // A second later the bucket is full again: 3 tokens, no more.
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    c.send_all(beacon(R"([{"action":"q1"},{"action":"q2"}])") + pixel("q3") + pixel("q4"));
    raw = c.read_responses(3);
    ASSERT_EQ(raw.size(), 3u);
    EXPECT_EQ(parse_response(raw[0]).status, 204);
    EXPECT_EQ(parse_response(raw[1]).status, 200);
    EXPECT_EQ(parse_response(raw[2]).status, 200);
    ev = wait_events(p, 7);
    ASSERT_EQ(ev.size(), 7u);
    EXPECT_EQ(ev[4].str("action"), "q1");
    EXPECT_EQ(ev[5].str("action"), "q2");
    EXPECT_EQ(ev[6].str("action"), "q3");
    EXPECT_EQ(metric(p, "pixelring_events_dropped_total{reason=\"rate_limited\"}"), 9);

    // A batch larger than the burst is taken when the bucket is full (never refused for
    // ever), and then the client owes the difference.
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    c.send_all(beacon(R"([{"action":"r1"},{"action":"r2"},{"action":"r3"},{"action":"r4"}])") +
               pixel("r5"));
    raw = c.read_responses(2);
    ASSERT_EQ(raw.size(), 2u);
    EXPECT_EQ(parse_response(raw[0]).status, 204);
    ev = wait_events(p, 11);
    ASSERT_EQ(ev.size(), 11u);
    EXPECT_EQ(ev[10].str("action"), "r4");
    EXPECT_EQ(metric(p, "pixelring_events_dropped_total{reason=\"rate_limited\"}"), 10);
}

TEST(rate_limit, the_client_behind_a_proxy_header_has_its_own_bucket) {
    collector_process p({"server.rate_limit=2", "server.workers=1", trusted_loopback,
                         "server.proxy_protocol=true"});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    for (const char* source : {"89.160.20.112", "89.160.20.113"}) {
        auto r = talk(p,
                      {"PROXY TCP4 " + std::string(source) + " 127.0.0.1 51000 8080\r\n" +
                       pixel("a") + pixel("b") + pixel("c")},
                      3);
        ASSERT_EQ(r.size(), 3u);
        for (const auto& one : r)
            EXPECT_EQ(one.status, 200);
    }
    auto ev = wait_events(p, 4);
    ASSERT_EQ(ev.size(), 4u);
    EXPECT_EQ(metric(p, "pixelring_events_dropped_total{reason=\"rate_limited\"}"), 2);
}

TEST(rate_limit, off_by_default) {
    collector_process p({"server.workers=1"});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    connection c(p.port());
    std::string burst;
    for (int i = 0; i < 50; ++i)
        burst += pixel("p");
    c.send_all(burst);
    EXPECT_EQ(c.read_responses(50).size(), 50u);
    EXPECT_EQ(wait_events(p, 50).size(), 50u);
    EXPECT_EQ(metric(p, "pixelring_events_dropped_total{reason=\"rate_limited\"}"), 0);
}
