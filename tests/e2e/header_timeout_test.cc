// server.header_timeout_ms against the real binary on loopback. The header timeout measures
// how long the request being read has been arriving: a keep-alive connection that pipelines
// complete requests of any mix, back to back, for several timeouts gets every answer, while a
// head (or a beacon's body) that does not finish within the timeout gets 408 and a close, at
// the timeout measured from its first byte.

#include <gtest/gtest.h>

#include <chrono>
#include <poll.h>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/e2e_client.hh"

using namespace pixelring::test;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

std::string pixel() {
    return "GET /track/open.gif?campaignID=news-42 HTTP/1.1\r\nHost: px.example.com\r\n"
           "User-Agent: header-timeout-test\r\n\r\n";
}

std::string beacon() {
    const std::string body = R"({"action":"scroll","campaign":"news-42","params":{"depth":70}})";
    return "POST /e HTTP/1.1\r\nHost: px.example.com\r\nOrigin: https://example.com\r\n"
           "Content-Type: text/plain\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string preflight() {
    return "OPTIONS /e HTTP/1.1\r\nHost: px.example.com\r\nOrigin: https://example.com\r\n"
           "Access-Control-Request-Method: POST\r\n\r\n";
}

struct kind {
    std::string request;
    int status;
};

const kind pixel_kind{pixel(), 200};
const kind beacon_kind{beacon(), 204};
const kind preflight_kind{preflight(), 204};

// One keep-alive connection writes `depth` copies of mix per write and reads every answer
// before the next write, for `run_for`. Returns "" or the first problem.
std::string drive(int port, const std::vector<kind>& mix, int depth,
                  std::chrono::milliseconds run_for) {
    connection c(port);
    if (!c.ok()) return "no connection";
    std::string batch;
    for (int d = 0; d < depth; ++d)
        for (const kind& k : mix)
            batch += k.request;
    const size_t per_write = size_t(depth) * mix.size();
    const auto start = steady::now();
    size_t writes = 0;
    while (steady::now() - start < run_for) {
        c.send_all(batch);
        std::vector<std::string> got = c.read_responses(per_write, false, 5000);
        const auto at =
            std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - start).count();
        for (size_t i = 0; i < got.size(); ++i) {
            int status = parse_response(got[i]).status;
            int want = mix[i % mix.size()].status;
            if (status != want)
                return "write " + std::to_string(writes) + " at " + std::to_string(at) +
                       " ms, answer " + std::to_string(i) + ": want " + std::to_string(want) +
                       ", got " + std::to_string(status);
        }
        if (got.size() != per_write)
            return "write " + std::to_string(writes) + " at " + std::to_string(at) +
                   " ms: " + std::to_string(got.size()) + " answers of " +
                   std::to_string(per_write);
        ++writes;
    }
    return {};
}

long elapsed_ms(steady::time_point since) {
    return long(
        std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - since).count());
}

// True when the server has sent something (or closed): a trickling client stops there.
bool answered(connection& c) {
    pollfd p{c.fd(), POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
}

// The timer ticks every 250 ms; a sanitizer build on two busy cores adds its own delays.
constexpr long tick_ms = 250;
constexpr long slack_ms = 750;
// The server's clock is read in whole milliseconds, once per batch of completions.
constexpr long clock_ms = 2;

// The connection's one answer is a 408, the connection is closed after it, and the answer came
// at the timeout counted from `since` (the request's first byte), give or take the timer's
// tick.
void expect_408_at(connection& c, steady::time_point since, long timeout_ms) {
    std::vector<std::string> r = c.read_responses(1, false, 5000);
    const long at = elapsed_ms(since);
    ASSERT_EQ(r.size(), 1u) << "no answer within 5 s";
    EXPECT_EQ(parse_response(r[0]).status, 408) << r[0];
    EXPECT_TRUE(c.wait_closed());
    EXPECT_GE(at, timeout_ms - clock_ms);
    EXPECT_LE(at, timeout_ms + tick_ms + slack_ms);
}

} // namespace

// Every mix the header timeout once cut short, pipelined 8 rounds per write with the answer
// queue filling, for five times the timeout: every answer comes, none is a 408.
TEST(header_timeout, pipelined_mixes_run_for_several_timeouts) {
    constexpr int timeout_ms = 200;
    collector_process p({"server.header_timeout_ms=" + std::to_string(timeout_ms),
                         "server.workers=1", "server.max_requests_per_connection=10000000"});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    const std::vector<std::pair<std::string, std::vector<kind>>> mixes = {
        {"preflights", {preflight_kind}},
        {"beacons", {beacon_kind}},
        {"pixels", {pixel_kind}},
        {"beacon + preflight", {beacon_kind, preflight_kind}},
        {"beacon + pixel", {beacon_kind, pixel_kind}},
        {"preflight + pixel", {preflight_kind, pixel_kind}},
        {"beacon + preflight + pixel", {beacon_kind, preflight_kind, pixel_kind}},
    };
    for (const auto& [name, mix] : mixes)
        EXPECT_EQ(drive(p.port(), mix, 8, std::chrono::milliseconds(5 * timeout_ms)), "") << name;
}

// Heads that each finish after 60 % of the timeout, every write carrying the end of one
// request and the start of the next: each request is read within its own timeout, though the
// connection always holds part of a request, for 2.4 timeouts.
TEST(header_timeout, each_request_has_its_own_deadline) {
    constexpr int timeout_ms = 500;
    collector_process p(
        {"server.header_timeout_ms=" + std::to_string(timeout_ms), "server.workers=1"});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    connection c(p.port());
    ASSERT_TRUE(c.ok());
    const std::string r = pixel();
    const size_t half = r.size() / 2;
    c.send_all(r.substr(0, half));
    for (int i = 0; i < 4; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(timeout_ms * 6 / 10));
        c.send_all(r.substr(half) + r.substr(0, half));
        std::vector<std::string> got = c.read_responses(1, false, 3000);
        ASSERT_EQ(got.size(), 1u) << "request " << i;
        EXPECT_EQ(parse_response(got[0]).status, 200) << "request " << i;
    }
}

// A slow client still gets its 408 at the timeout, counted from the first byte of the request
// being read: a head that never ends, a head trickled a byte at a time, a beacon whose body
// trickles, and a head that starts after long pipelined runs that held requests back.
TEST(header_timeout, slow_requests_get_408_at_the_timeout) {
    constexpr long timeout_ms = 500;
    collector_process p({"server.header_timeout_ms=" + std::to_string(timeout_ms),
                         "server.workers=1", "server.max_requests_per_connection=10000000"});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    {
        SCOPED_TRACE("a head that never ends");
        connection c(p.port());
        auto start = steady::now();
        c.send_all("GET /track/a.gif HTTP/1.1\r\nHost: a\r\n");
        expect_408_at(c, start, timeout_ms);
    }
    {
        SCOPED_TRACE("a head trickled a byte every 20 ms");
        connection c(p.port());
        const std::string head =
            "GET /track/a.gif HTTP/1.1\r\nHost: a\r\nX-Pad: " + std::string(200, 'x') + "\r\n\r\n";
        auto start = steady::now();
        for (char ch : head) {
            if (answered(c) || elapsed_ms(start) > timeout_ms + tick_ms + slack_ms) break;
            c.send_all(std::string(1, ch));
            std::this_thread::sleep_for(20ms);
        }
        expect_408_at(c, start, timeout_ms);
    }
    {
        SCOPED_TRACE("a beacon whose body trickles");
        connection c(p.port());
        auto start = steady::now();
        c.send_all("POST /e HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\n"
                   "Content-Length: 400\r\n\r\n{\"action\":\"x\",\"pad\":\"");
        for (int i = 0; i < 300 && !answered(c); ++i) {
            if (elapsed_ms(start) > timeout_ms + tick_ms + slack_ms) break;
            std::this_thread::sleep_for(20ms);
            c.send_all("p");
        }
        expect_408_at(c, start, timeout_ms);
    }
    {
        SCOPED_TRACE("a head that starts after held-back pipelined runs");
        connection c(p.port());
        std::string batch;
        for (int d = 0; d < 8; ++d)
            batch += beacon() + preflight() + pixel();
        // Longer than the timeout, so a deadline left over from the runs would be past.
        auto runs = steady::now();
        while (elapsed_ms(runs) < 2 * timeout_ms) {
            c.send_all(batch);
            ASSERT_EQ(c.read_responses(24, false, 5000).size(), 24u);
        }
        auto start = steady::now();
        c.send_all("GET /track/a.gif HTTP/1.1\r\nHost: a\r\n");
        expect_408_at(c, start, timeout_ms);
    }
}
