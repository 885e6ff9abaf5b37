// Socket activation against the real binary: systemd's own systemd-socket-activate opens the
// listening sockets and starts pixelring on the first connection, passing them as a socket
// unit would (LISTEN_FDS, LISTEN_FDNAMES). pixelring serves on them instead of server.listen
// and admin.listen, an IPv4 client of a dual-stack socket is recorded as IPv4, connections
// that wait in the socket's queue are served, and a socket with another name is refused with
// a message naming it.

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <chrono>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "tests/support/e2e_client.hh"
#include "tests/support/json_reader.hh"

using namespace pixelring::test;
using namespace std::chrono_literals;

namespace {

constexpr char activate[] = "/usr/bin/systemd-socket-activate";

// A free loopback TCP port (systemd-socket-activate does not take port 0).
int free_port(bool ipv6 = false) {
    int fd = ::socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int port = 0;
    sockaddr_storage ss{};
    socklen_t len;
    if (ipv6) {
        auto& a = reinterpret_cast<sockaddr_in6&>(ss);
        a.sin6_family = AF_INET6;
        a.sin6_addr = in6addr_any;
        len = sizeof a;
    } else {
        auto& a = reinterpret_cast<sockaddr_in&>(ss);
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof a;
    }
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
        port = ntohs(ipv6 ? reinterpret_cast<sockaddr_in6&>(ss).sin6_port
                          : reinterpret_cast<sockaddr_in&>(ss).sin_port);
    ::close(fd);
    return port;
}

std::string pixel(const std::string& campaign) {
    return "GET /track/open.gif?campaignID=" + campaign +
           " HTTP/1.1\r\nHost: px.example.com\r\n\r\n";
}

// Waits until systemd-socket-activate says it listens (it starts the collector on the first
// connection).
bool wait_listening(const collector_process& p, size_t sockets) {
    for (int i = 0; i < 500; ++i) {
        const std::string err = p.stderr_text();
        size_t n = 0;
        for (size_t at = err.find("Listening on"); at != std::string::npos;
             at = err.find("Listening on", at + 1))
            ++n;
        if (n >= sockets) return true;
        std::this_thread::sleep_for(10ms);
    }
    return false;
}

std::vector<std::string> wait_lines(const collector_process& p, size_t n) {
    std::vector<std::string> lines;
    for (int i = 0; i < 300; ++i) {
        lines = read_lines(p.events_path());
        if (lines.size() >= n) break;
        std::this_thread::sleep_for(10ms);
    }
    return lines;
}

} // namespace

TEST(socket_activation, serves_on_the_sockets_systemd_passes) {
    if (::access(activate, X_OK) != 0) GTEST_SKIP() << "no " << activate;
    const int pub = free_port(/*ipv6=*/true), admin = free_port();
    ASSERT_GT(pub, 0);
    ASSERT_GT(admin, 0);
    // [::]:PORT is dual-stack (systemd-socket-activate leaves IPV6_V6ONLY off).
    collector_process p({"server.workers=2"}, {},
                        {activate, "-l", "[::]:" + std::to_string(pub), "-l",
                         "127.0.0.1:" + std::to_string(admin), "--fdname=public:admin"});
    ASSERT_TRUE(wait_listening(p, 2)) << p.stderr_text();

    // Connections made before pixelring runs wait in the socket's queue; the first one makes
    // systemd-socket-activate start it.
    std::vector<std::unique_ptr<connection>> early;
    for (int i = 0; i < 3; ++i) {
        early.push_back(std::make_unique<connection>(pub));
        ASSERT_TRUE(early.back()->ok());
        early.back()->send_all(pixel("early"));
    }
    ASSERT_TRUE(p.wait_ready()) << p.stderr_text();
    EXPECT_EQ(p.port(), pub) << "the start line names the inherited socket";
    EXPECT_EQ(p.admin_port(), admin);
    EXPECT_NE(p.stderr_text().find("(sockets from systemd)"), std::string::npos) << p.stderr_text();
    for (auto& c : early) {
        auto r = c->read_responses(1);
        ASSERT_EQ(r.size(), 1u);
        EXPECT_EQ(parse_response(r[0]).status, 200);
    }

    // An IPv4 client of the dual-stack socket: its event says 127.0.0.0 (truncated /24),
    // not the mapped ::ffff:127.0.0.1.
    connection v4(pub);
    ASSERT_TRUE(v4.ok());
    v4.send_all(pixel("v4"));
    ASSERT_EQ(v4.read_responses(1).size(), 1u);
    connection v6(pub, /*ipv6=*/true);
    ASSERT_TRUE(v6.ok());
    v6.send_all(pixel("v6"));
    ASSERT_EQ(v6.read_responses(1).size(), 1u);

    // The admin listener is the passed one.
    const std::string metrics = admin_get(admin, "/metrics");
    EXPECT_NE(metrics.find("pixelring_events_total{outcome=\"accepted\"} 5"), std::string::npos)
        << metrics;

    EXPECT_EQ(p.stop(), 0) << p.stderr_text();
    auto lines = wait_lines(p, 5);
    ASSERT_EQ(lines.size(), 5u);
    int early_events = 0;
    for (const std::string& line : lines) {
        json_value v;
        std::string error;
        ASSERT_TRUE(json_reader::parse(line, v, error)) << error;
        const std::string campaign = v.str("campaign");
        if (campaign == "early") ++early_events;
        if (campaign == "v4") {
            EXPECT_EQ(v.str("ip"), "127.0.0.0") << line;
        } else if (campaign == "v6") {
            EXPECT_EQ(v.str("ip"), "::") << line;
        }
    }
    EXPECT_EQ(early_events, 3);
}

TEST(socket_activation, a_socket_with_another_name_is_refused) {
    if (::access(activate, X_OK) != 0) GTEST_SKIP() << "no " << activate;
    const int port = free_port();
    ASSERT_GT(port, 0);
    collector_process p({}, {},
                        {activate, "-l", "127.0.0.1:" + std::to_string(port), "--fdname=web"});
    ASSERT_TRUE(wait_listening(p, 1)) << p.stderr_text();
    connection c(port);
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE(c.wait_closed(10000));
    EXPECT_EQ(p.stop(10000), 1) << p.stderr_text();
    EXPECT_NE(p.stderr_text().find("systemd passed a socket named \"web\": pixelring takes "
                                   "FileDescriptorName=public"),
              std::string::npos)
        << p.stderr_text();
}
