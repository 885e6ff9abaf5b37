// Memory at scale (bench/README.md, Targets): the real collector holds 50,000 idle keep-alive
// connections in at most 256 MiB of resident memory. Each connection comes from one of several
// 127.0.0.x source addresses, sends one pixel request (so it has been through the parser once),
// reads the answer and then idles. The server's VmRSS and pixelring_connections_open are read with
// every connection open, and again after all are closed.
//
// Both processes need a descriptor per connection. The test raises RLIMIT_NOFILE (the
// collector inherits it); where the hard limit cannot be raised (no CAP_SYS_RESOURCE) it
// measures as many connections as the limit allows, asserts the RSS projected to 50,000
// and then exits 77 (skipped): the full claim was not verified on this machine.

#include <gtest/gtest.h>

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <netinet/in.h>
#include <sstream>
#include <string>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "tests/support/e2e_client.hh"
#include "tests/support/metrics_scrape.hh"
#include "tests/support/process_resources.hh"

using namespace pixelring::test;
using steady = std::chrono::steady_clock;

namespace {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr bool sanitized = true; // the collector is built with the same sanitizer
#else
constexpr bool sanitized = false;
#endif

constexpr uint32_t target_connections = 50000;
constexpr uint64_t rss_budget = 256ull << 20;
// Descriptors each process keeps for itself besides the connections (the collector: listeners,
// rings, admin, sink and spool files; the test: epoll, admin queries, stdio).
constexpr rlim_t fd_reserve = 512;
// Below this the measurement says little about 50,000.
constexpr uint32_t min_connections = 5000;

constexpr char pixel_request[] = "GET /track/open.gif?campaignID=idle HTTP/1.1\r\n"
                                 "Host: px.example.com\r\n\r\n";

// Length of the one complete response at the start of buf, or 0 while incomplete.
size_t complete_length(const std::string& buf) {
    size_t end = buf.find("\r\n\r\n");
    if (end == std::string::npos) return 0;
    size_t cl = buf.find("\r\nContent-Length: ");
    size_t body =
        cl != std::string::npos && cl < end ? std::strtoul(buf.c_str() + cl + 18, nullptr, 10) : 0;
    return buf.size() >= end + 4 + body ? end + 4 + body : 0;
}

enum class state : uint8_t { unopened, connecting, sent, idle };

// The client side: n non-blocking connections, at most window of them between connect and
// answer at once so the collector's accept queue never overflows.
class idle_clients {
public:
    idle_clients(uint32_t n, uint32_t per_source) : fds_(n, -1), state_(n), buf_(n) {
        per_source_ = per_source;
        epoll_ = epoll_create1(EPOLL_CLOEXEC);
    }
    ~idle_clients() {
        close_all();
        if (epoll_ >= 0) ::close(epoll_);
    }

    // Opens every connection and waits for each answer; false (with error()) on the first
    // refusal, wrong answer or at the deadline.
    bool open_all(int port, uint32_t window, steady::time_point deadline) {
        const uint32_t n = uint32_t(fds_.size());
        uint32_t next = 0, in_flight = 0;
        epoll_event events[1024];
        while (idle_ < n) {
            while (in_flight < window && next < n) {
                if (!start(next, port)) return false;
                ++next;
                ++in_flight;
            }
            if (steady::now() > deadline) {
                error_ = "deadline: " + std::to_string(idle_) + " answered, " +
                         std::to_string(in_flight) + " in flight";
                return false;
            }
            int got = epoll_wait(epoll_, events, 1024, 100);
            for (int i = 0; i < got; ++i) {
                uint32_t index = events[i].data.u32;
                if (!advance(index, events[i].events)) return false;
                if (state_[index] == state::idle) --in_flight;
            }
        }
        return true;
    }

    void close_all() {
        for (int& fd : fds_)
            if (fd >= 0) {
                ::close(fd);
                fd = -1;
            }
    }

    const std::string& error() const { return error_; }
    uint32_t sources() const { return uint32_t((fds_.size() + per_source_ - 1) / per_source_); }

private:
    bool fail(uint32_t index, const std::string& what) {
        error_ = "connection " + std::to_string(index) + " from " + source(index) + ": " + what;
        return false;
    }
    std::string source(uint32_t index) const {
        return "127.0.0." + std::to_string(2 + index / per_source_);
    }

    bool start(uint32_t index, int port) {
        std::string error;
        const int fd = connect_from(index / per_source_, port, error);
        if (fd < 0) return fail(index, error);
        fds_[index] = fd;
        epoll_event ev{};
        ev.events = EPOLLOUT | EPOLLIN;
        ev.data.u32 = index;
        if (epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) != 0)
            return fail(index, std::string("epoll_ctl: ") + std::strerror(errno));
        state_[index] = state::connecting;
        return true;
    }

    bool advance(uint32_t index, uint32_t events) {
        int fd = fds_[index];
        if (state_[index] == state::connecting) {
            int err = 0;
            socklen_t len = sizeof err;
            ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err != 0) return fail(index, std::string("connect: ") + std::strerror(err));
            if (!(events & EPOLLOUT)) return true;
            ssize_t sent = ::send(fd, pixel_request, sizeof pixel_request - 1, MSG_NOSIGNAL);
            if (sent != ssize_t(sizeof pixel_request - 1))
                return fail(index, std::string("send: ") + std::strerror(errno));
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.u32 = index;
            epoll_ctl(epoll_, EPOLL_CTL_MOD, fd, &ev);
            state_[index] = state::sent;
            return true;
        }
        if (state_[index] != state::sent) return true;
        char chunk[2048];
        ssize_t r = ::recv(fd, chunk, sizeof chunk, 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) return true;
        if (r <= 0)
            return fail(index, r == 0 ? "closed by the collector before the answer"
                                      : std::string("recv: ") + std::strerror(errno));
        std::string& buf = buf_[index];
        buf.append(chunk, size_t(r));
        size_t len = complete_length(buf);
        if (len == 0) return true;
        if (buf.rfind("HTTP/1.1 200 ", 0) != 0 ||
            buf.find("\r\nConnection: keep-alive\r\n") == std::string::npos || len != buf.size())
            return fail(index, "unexpected answer: " + buf.substr(0, 200));
        epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
        std::string().swap(buf);
        state_[index] = state::idle;
        ++idle_;
        return true;
    }

    std::vector<int> fds_;
    std::vector<state> state_;
    std::vector<std::string> buf_;
    uint32_t per_source_ = 1;
    int epoll_ = -1;
    uint32_t idle_ = 0;
    std::string error_;
};

// Opens n idle connections against a fresh collector, measures and closes them. The
// collector and the clients are gone when it returns.
void hold_idle_connections(uint32_t n) {
    // 5,000 per source address (ten for 50,000): connect()'s search for a free port slows
    // as one (source, destination) pair fills its range; 19,000 connections took 8.8 s from
    // one address and 1.0 s from four. Never more than three quarters of the range.
    const uint32_t per_source = std::min<uint32_t>(5000, ephemeral_ports() * 3 / 4);
    // Between connect and answer: well under the listen backlog (4096, capped by somaxconn)
    // and the SYN backlog, so no SYN is dropped and retried a second later.
    const int somaxconn = read_int("/proc/sys/net/core/somaxconn", 4096);
    const int syn_backlog = read_int("/proc/sys/net/ipv4/tcp_max_syn_backlog", 1024);
    const uint32_t window =
        uint32_t(std::max(64, std::min({1000, somaxconn / 2, syn_backlog / 2})));

    collector_process p({"server.max_connections=60000", "server.idle_timeout_ms=600000",
                         "server.header_timeout_ms=60000"});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    {
        // Warm up: one request through each worker's path touches the pools and arenas that
        // every connection shares, so the baseline holds them.
        for (int i = 0; i < 4; ++i) {
            connection c(p.port());
            ASSERT_TRUE(c.ok());
            c.send_all(pixel_request);
            ASSERT_EQ(c.read_responses(1).size(), 1u);
        }
    }
    ASSERT_EQ(wait_open(p.admin_port(), 0, 5000), 0);
    const memory before = read_memory(p.pid());
    const long long overflows_before = tcp_ext("ListenOverflows");

    idle_clients clients(n, per_source);
    const auto open_start = steady::now();
    const bool opened = clients.open_all(p.port(), window, open_start + std::chrono::seconds(40));
    const double open_s = std::chrono::duration<double>(steady::now() - open_start).count();
    const long long overflows = tcp_ext("ListenOverflows") - overflows_before;
    ASSERT_TRUE(opened) << clients.error() << " (ListenOverflows +" << overflows
                        << "; collector stderr: " << p.stderr_text() << ")";

    const long long open = wait_open(p.admin_port(), n, 5000);
    const long long sink_bytes =
        static_cast<long long>(metric(p.admin_port(), "pixelring_sink_bytes_total").value_or(-1));
    const memory loaded = read_memory(p.pid());
    const double per_conn = double(loaded.rss - before.rss) / n;
    const uint64_t projected = before.rss + uint64_t(per_conn * target_connections);
    std::printf("idle connections: %u from %u source addresses in %.2f s (window %u, "
                "ListenOverflows +%lld)\n",
                n, clients.sources(), open_s, window, overflows);
    std::printf("collector RSS: %.1f MiB before (anon %.1f, file %.1f), %.1f MiB with %u open "
                "(anon %.1f, file %.1f): %.0f bytes per connection\n",
                mib(before.rss), mib(before.anon), mib(before.file), mib(loaded.rss), n,
                mib(loaded.anon), mib(loaded.file), per_conn);
    // Part of the growth is not held by connections: the SPSC ring pages the n events
    // touched on their way to the sink (bounded by the rings' capacity, reused once wrapped).
    std::printf("events: %.0f bytes each through the rings (touched once, at most "
                "server.ring_bytes per worker)\n",
                double(sink_bytes) / double(n + 4));
    EXPECT_EQ(open, (long long)n);
    // A sanitizer's shadow memory (TSan: several KiB per connection) says nothing about the
    // collector's own: the figures are printed, the budget is checked in plain builds only.
    if (n == target_connections) {
        if (!sanitized) {
            EXPECT_LE(loaded.rss, rss_budget) << mib(loaded.rss) << " MiB";
        }
    } else {
        std::printf("collector RSS projected to %u connections: %.1f MiB\n", target_connections,
                    mib(projected));
        if (!sanitized) {
            EXPECT_LE(projected, rss_budget) << mib(projected) << " MiB projected";
        }
    }
    // A collector that has run a while has touched every page of its rings; with them all
    // resident the connections must still fit.
    const long long ring_capacity = static_cast<long long>(
        metric(p.admin_port(), "pixelring_ring_capacity_bytes").value_or(-1));
    const double slot_bytes = per_conn - double(sink_bytes) / double(n + 4);
    const uint64_t steady_state =
        before.rss + uint64_t(2 * ring_capacity) + uint64_t(slot_bytes * target_connections);
    std::printf("held per connection (growth less event bytes): %.0f bytes; with both rings "
                "resident, %u connections: %.1f MiB\n",
                slot_bytes, target_connections, mib(steady_state));
    if (!sanitized) {
        EXPECT_LE(steady_state, rss_budget) << mib(steady_state) << " MiB with full rings";
    } else {
        std::printf("RSS budget not checked: the collector runs under a sanitizer\n");
    }

    const auto close_start = steady::now();
    clients.close_all();
    const long long after_open = wait_open(p.admin_port(), 0, 15000);
    const double close_s = std::chrono::duration<double>(steady::now() - close_start).count();
    const memory after = read_memory(p.pid());
    std::printf("all closed in %.2f s: %lld open, collector RSS %.1f MiB (anon %.1f)\n", close_s,
                after_open, mib(after.rss), mib(after.anon));
    EXPECT_EQ(after_open, 0);
    EXPECT_EQ(metric(p.admin_port(), "pixelring_connections_rejected_total"), 0);
    EXPECT_EQ(metric(p.admin_port(), "pixelring_connections_accepted_total"), (long long)n + 4)
        << "these and the four warm-up connections";
    EXPECT_EQ(p.stop(), 0) << p.stderr_text();
}

} // namespace

TEST(idle_connections, fifty_thousand_idle_keep_alive_connections_fit_in_256_mib) {
    const auto test_start = steady::now();
    // Each process holds one descriptor per connection plus its own.
    const rlim_t limit = raise_fd_limit(target_connections + fd_reserve);
    uint32_t n = target_connections;
    if (limit < target_connections + fd_reserve) n = uint32_t((limit - fd_reserve) / 1000 * 1000);
    rlimit hard{};
    getrlimit(RLIMIT_NOFILE, &hard);
    if (n < min_connections) {
        std::printf("SKIP: RLIMIT_NOFILE is %llu (hard %llu) and cannot be raised: %u "
                    "connections need %llu descriptors in each process\n",
                    (unsigned long long)limit, (unsigned long long)hard.rlim_max,
                    target_connections, (unsigned long long)(target_connections + fd_reserve));
        std::exit(77);
    }
    hold_idle_connections(n);
    std::printf("total %.2f s\n",
                std::chrono::duration<double>(steady::now() - test_start).count());

    if (n < target_connections && !HasFailure()) {
        std::printf("SKIP: %u connections need %llu descriptors per process; RLIMIT_NOFILE "
                    "hard limit is %llu and this process may not raise it (CAP_SYS_RESOURCE). "
                    "Measured %u and projected instead.\n",
                    target_connections, (unsigned long long)(target_connections + fd_reserve),
                    (unsigned long long)hard.rlim_max, n);
        std::fflush(stdout);
        std::exit(77);
    }
}
