// How connections end, against the real binary: after the last answer the server shuts its
// side down and waits for the client's close (lingering close), so that an answer is never
// destroyed by a reset when the client had already sent more; and on SIGTERM a keep-alive
// connection is still served for server's stop_idle_ms, its next answer saying
// Connection: close, so that clients move to the next process instead of seeing an error.

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <string>
#include <sys/socket.h>
#include <thread>

#include "tests/support/e2e_client.hh"

using namespace pixelring::test;
using namespace std::chrono_literals;

namespace {

std::string pixel(const std::string& campaign) {
    return "GET /track/open.gif?campaignID=" + campaign +
           " HTTP/1.1\r\nHost: px.example.com\r\n\r\n";
}

// Everything the server sends until it closes, read after a pause that lets a reset arrive
// first; reset is set when the connection was reset instead of closed.
std::string read_until_close(connection& c, bool& reset) {
    std::this_thread::sleep_for(300ms);
    std::string got;
    reset = false;
    char buf[4096];
    for (;;) {
        ssize_t n = ::recv(c.fd(), buf, sizeof buf, 0);
        if (n > 0) {
            got.append(buf, size_t(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        reset = n < 0 && errno == ECONNRESET;
        return got;
    }
}

} // namespace

// A beacon too large for server.max_body_bytes is answered 413 at once, while the client is
// still uploading its body. The server shuts its side down after the answer and reads (and
// drops) the rest: the client finishes its upload without a reset. Over a real network a reset
// there would also destroy the 413 still on its way.
TEST(graceful_stop, answer_then_lingering_close_while_the_client_still_sends) {
    collector_process p({"server.workers=1"});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    connection c(p.port());
    ASSERT_TRUE(c.ok());
    c.send_all("POST /e HTTP/1.1\r\nHost: px.example.com\r\nContent-Type: text/plain\r\n"
               "Content-Length: 10000000\r\n\r\n");
    auto r = c.read_responses(1);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(parse_response(r[0]).status, 413);
    EXPECT_TRUE(c.wait_closed()) << "the server's side is shut down after the answer";
    // The upload goes on: 40 pieces of 16 KiB, 10 ms apart, every one accepted.
    const std::string piece(16384, 'x');
    for (int i = 0; i < 40; ++i) {
        ssize_t n = ::send(c.fd(), piece.data(), piece.size(), MSG_NOSIGNAL);
        ASSERT_EQ(n, ssize_t(piece.size())) << "piece " << i << ": " << std::strerror(errno);
        std::this_thread::sleep_for(10ms);
    }
}

// SIGTERM while a keep-alive connection is idle: a request sent 200 ms later is still
// answered, with Connection: close, and the connection then ends cleanly; the collector
// exits 0 with every answered request's event written.
TEST(graceful_stop, keep_alive_connection_is_served_after_sigterm) {
    collector_process p({"server.workers=1"});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    connection c(p.port());
    ASSERT_TRUE(c.ok());
    c.send_all(pixel("before"));
    auto r = c.read_responses(1);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(parse_response(r[0]).headers["connection"], "keep-alive");

    p.signal(SIGTERM);
    std::this_thread::sleep_for(200ms);
    c.send_all(pixel("after"));
    bool reset = false;
    const std::string got = read_until_close(c, reset);
    EXPECT_FALSE(reset);
    ASSERT_EQ(got.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << got;
    EXPECT_NE(got.find("Connection: close\r\n"), std::string::npos) << got;

    EXPECT_EQ(p.stop(), 0) << p.stderr_text();
    auto lines = read_lines(p.events_path());
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_NE(lines[1].find(R"("campaign":"after")"), std::string::npos) << lines[1];
}

// An idle keep-alive connection does not hold the stop for long: closed after stop_idle_ms
// (1 s), the process exits well within its grace period.
TEST(graceful_stop, idle_connections_end_the_stop_quickly) {
    collector_process p({"server.workers=1"});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    connection c(p.port());
    ASSERT_TRUE(c.ok());
    c.send_all(pixel("idle"));
    ASSERT_EQ(c.read_responses(1).size(), 1u);
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(p.stop(), 0) << p.stderr_text();
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_GE(took, 900ms);
    EXPECT_LT(took, 4000ms);
    EXPECT_TRUE(c.wait_closed());
}
