// Memory of idle HTTPS connections: the real collector holds 10,000 keep-alive TLS 1.3
// connections (2,000 under a sanitizer), each through its handshake and one pixel request, then
// idle. OpenSSL's record buffers are released while a connection is idle (SSL_MODE_RELEASE_BUFFERS)
// and the worker's ciphertext buffer goes back to its pool, so what an idle connection keeps is its
// session state. The collector's VmRSS is read before and with every connection open; the
// growth per connection is printed and held to a budget (plain builds only: a sanitizer's
// shadow memory says nothing about the collector's own).
//
// The clients are the test's own: OpenSSL on non-blocking sockets, at most `window` of them
// between connect and answer at once.

#include <gtest/gtest.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <netinet/in.h>
#include <string>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include "tests/support/e2e_client.hh"
#include "tests/support/metrics_scrape.hh"
#include "tests/support/process_resources.hh"
#include "tests/support/temp_dir.hh"
#include "tests/support/tls_test_certs.hh"

using namespace pixelring::test;
using steady = std::chrono::steady_clock;

namespace {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr bool sanitized = true;
#else
constexpr bool sanitized = false;
#endif

// Under a sanitizer the budget is not checked (above) and 2,000 connections exercise the same
// code as 10,000 in a fifth of the time.
constexpr uint32_t target_connections = sanitized ? 2000 : 10000;
// What an idle HTTPS connection may keep in the collector: its slot (about 1 KiB, as a plain
// one) and OpenSSL's state for the session (the SSL object, the session, two AEAD contexts).
constexpr double per_connection_budget = 24 * 1024;
constexpr rlim_t fd_reserve = 512;

constexpr char pixel_request[] = "GET /track/open.gif?campaignID=idle-tls HTTP/1.1\r\n"
                                 "Host: px.example\r\n\r\n";

enum class state : uint8_t { unopened, connecting, handshaking, reading, idle };

class tls_clients {
public:
    tls_clients(uint32_t n, uint32_t per_source)
        : fds_(n, -1), ssl_(n, nullptr), state_(n), buf_(n), per_source_(per_source) {
        ctx_ = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_min_proto_version(ctx_, TLS1_3_VERSION);
        SSL_CTX_set_mode(ctx_, SSL_MODE_RELEASE_BUFFERS);
        SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_OFF);
        epoll_ = epoll_create1(EPOLL_CLOEXEC);
    }
    ~tls_clients() {
        close_all();
        SSL_CTX_free(ctx_);
        if (epoll_ >= 0) ::close(epoll_);
    }

    bool open_all(int port, uint32_t window, steady::time_point deadline) {
        const uint32_t n = uint32_t(fds_.size());
        uint32_t next = 0, in_flight = 0;
        epoll_event events[1024];
        while (idle_ < n) {
            while (in_flight < window && next < n) {
                if (!start(next++, port)) return false;
                ++in_flight;
            }
            if (steady::now() > deadline) {
                error_ = "deadline: " + std::to_string(idle_) + " idle, " +
                         std::to_string(in_flight) + " in flight";
                return false;
            }
            const int got = epoll_wait(epoll_, events, 1024, 100);
            for (int i = 0; i < got; ++i) {
                const uint32_t index = events[i].data.u32;
                if (!advance(index)) return false;
                if (state_[index] == state::idle) --in_flight;
            }
        }
        return true;
    }

    void close_all() {
        for (size_t i = 0; i < fds_.size(); ++i) {
            SSL_free(ssl_[i]);
            ssl_[i] = nullptr;
            if (fds_[i] >= 0) ::close(fds_[i]);
            fds_[i] = -1;
        }
    }
    const std::string& error() const { return error_; }

private:
    bool fail(uint32_t index, const std::string& what) {
        error_ = "connection " + std::to_string(index) + ": " + what;
        return false;
    }

    bool start(uint32_t index, int port) {
        std::string error;
        const int fd = connect_from(index / per_source_, port, error);
        if (fd < 0) return fail(index, error);
        fds_[index] = fd;
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT;
        ev.data.u32 = index;
        if (epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) != 0)
            return fail(index, std::string("epoll_ctl: ") + std::strerror(errno));
        state_[index] = state::connecting;
        return true;
    }

    // Drives one connection as far as it goes without blocking.
    bool advance(uint32_t index) {
        const int fd = fds_[index];
        if (state_[index] == state::connecting) {
            int err = 0;
            socklen_t len = sizeof err;
            ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err != 0) return fail(index, std::string("connect: ") + std::strerror(err));
            SSL* ssl = SSL_new(ctx_);
            if (!ssl || SSL_set_fd(ssl, fd) != 1) return fail(index, "SSL_new");
            SSL_set_tlsext_host_name(ssl, "px.example");
            ssl_[index] = ssl;
            state_[index] = state::handshaking;
        }
        SSL* ssl = ssl_[index];
        if (state_[index] == state::handshaking) {
            const int r = SSL_connect(ssl);
            if (r != 1) return want(index, r, "handshake");
            if (SSL_write(ssl, pixel_request, int(sizeof pixel_request - 1)) !=
                int(sizeof pixel_request - 1))
                return fail(index, "SSL_write");
            state_[index] = state::reading;
        }
        if (state_[index] != state::reading) return true;
        char chunk[2048];
        int r;
        while ((r = SSL_read(ssl, chunk, sizeof chunk)) > 0)
            buf_[index].append(chunk, size_t(r));
        const std::string& got = buf_[index];
        const size_t end = got.find("\r\n\r\n");
        if (end == std::string::npos) return want(index, r, "answer");
        const size_t cl = got.find("\r\nContent-Length: ");
        const size_t body = cl < end ? std::strtoul(got.c_str() + cl + 18, nullptr, 10) : 0;
        if (got.size() < end + 4 + body) return want(index, r, "answer");
        if (got.rfind("HTTP/1.1 200 ", 0) != 0) return fail(index, "answer: " + got.substr(0, 100));
        epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
        std::string().swap(buf_[index]);
        state_[index] = state::idle;
        ++idle_;
        return true;
    }

    // r from an OpenSSL call that did not finish: fine when it waits for the socket.
    bool want(uint32_t index, int r, const char* what) {
        const int e = SSL_get_error(ssl_[index], r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return true;
        char text[256] = "closed";
        if (const unsigned long code = ERR_get_error()) ERR_error_string_n(code, text, sizeof text);
        ERR_clear_error();
        return fail(index, std::string(what) + ": " + text);
    }

    std::vector<int> fds_;
    std::vector<SSL*> ssl_;
    std::vector<state> state_;
    std::vector<std::string> buf_;
    uint32_t per_source_;
    SSL_CTX* ctx_ = nullptr;
    int epoll_ = -1;
    uint32_t idle_ = 0;
    std::string error_;
};

} // namespace

TEST(https_idle, ten_thousand_idle_tls_connections) {
    const rlim_t limit = raise_fd_limit(target_connections + fd_reserve);
    if (limit < target_connections + fd_reserve) {
        std::printf("SKIP: RLIMIT_NOFILE is %llu; %u connections need %llu descriptors in each "
                    "process\n",
                    (unsigned long long)limit, target_connections,
                    (unsigned long long)(target_connections + fd_reserve));
        std::exit(77);
    }
    temp_dir certs("pixelring-https-idle");
    test_ca ca(certs.str());
    const issued_certificate cert = ca.issue("px", {"px.example"});
    collector_process p({"server.tls_listen=127.0.0.1:0", "tls.cert=" + cert.chain,
                         "tls.key=" + cert.key, "server.max_connections=20000",
                         "server.idle_timeout_ms=600000", "server.header_timeout_ms=60000"});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    const std::string log = p.stderr_text();
    const size_t at = log.find(" https 127.0.0.1:");
    ASSERT_NE(at, std::string::npos) << log;
    const int port = std::atoi(log.c_str() + at + 17);

    {
        // Warm up: the pools, arenas and OpenSSL's tables every connection shares.
        tls_clients warm(8, 8);
        ASSERT_TRUE(warm.open_all(port, 8, steady::now() + std::chrono::seconds(20)))
            << warm.error();
    }
    ASSERT_EQ(wait_open(p.admin_port(), 0, 5000), 0);
    const memory before = read_memory(p.pid());

    const uint32_t per_source = std::min<uint32_t>(5000, ephemeral_ports() * 3 / 4);
    const uint32_t window = uint32_t(
        std::max(64, std::min({500, read_int("/proc/sys/net/core/somaxconn", 4096) / 2,
                               read_int("/proc/sys/net/ipv4/tcp_max_syn_backlog", 1024) / 2})));
    tls_clients clients(target_connections, per_source);
    const auto start = steady::now();
    ASSERT_TRUE(clients.open_all(port, window, start + std::chrono::seconds(sanitized ? 240 : 90)))
        << clients.error() << "; collector: " << p.stderr_text();
    const double open_s = std::chrono::duration<double>(steady::now() - start).count();
    EXPECT_EQ(wait_open(p.admin_port(), target_connections, 5000), (long long)target_connections);
    const memory loaded = read_memory(p.pid());
    const double per_conn = (double(loaded.rss) - double(before.rss)) / target_connections;
    std::printf("idle TLS 1.3 connections: %u, opened in %.1f s (handshake, one pixel each)\n",
                target_connections, open_s);
    std::printf("collector RSS: %.1f MiB before (anon %.1f), %.1f MiB with %u idle (anon %.1f): "
                "%.0f bytes per idle TLS connection\n",
                mib(before.rss), mib(before.anon), mib(loaded.rss), target_connections,
                mib(loaded.anon), per_conn);
    EXPECT_EQ(metric(p.admin_port(), "pixelring_tls_handshakes_total{result=\"full\"}"),
              (long long)target_connections + 8);
    if (!sanitized)
        EXPECT_LE(per_conn, per_connection_budget);
    else
        std::printf("budget not checked: the collector runs under a sanitizer\n");

    clients.close_all();
    EXPECT_EQ(wait_open(p.admin_port(), 0, 15000), 0);
    const memory after = read_memory(p.pid());
    std::printf("all closed: collector RSS %.1f MiB (anon %.1f)\n", mib(after.rss),
                mib(after.anon));
    EXPECT_EQ(p.stop(), 0) << p.stderr_text();
}
