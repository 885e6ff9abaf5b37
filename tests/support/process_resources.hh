#pragma once
// What a process holds, for the tests that open thousands of connections against the
// collector: its resident memory (/proc/<pid>/status), its open connections (/metrics, read
// through metrics_scrape.hh), the kernel's accept-queue drops, the descriptor limit and the
// ephemeral port range; and connections from many loopback source addresses. Test code only.

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <netinet/in.h>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <thread>
#include <unistd.h>

#include "tests/support/e2e_client.hh"
#include "tests/support/metrics_scrape.hh"
#include "tests/support/shell_tools.hh"

namespace pixelring::test {

// A "Name:   123 kB" field of /proc/<pid>/status, in bytes; 0 when missing.
inline uint64_t status_bytes(pid_t pid, const char* field) {
    std::string s = slurp("/proc/" + std::to_string(pid) + "/status");
    size_t at = s.find(std::string("\n") + field + ":");
    if (at == std::string::npos) return 0;
    return std::strtoull(s.c_str() + at + std::strlen(field) + 2, nullptr, 10) * 1024;
}

struct memory {
    uint64_t rss = 0, anon = 0, file = 0;
};
inline memory read_memory(pid_t pid) {
    return {status_bytes(pid, "VmRSS"), status_bytes(pid, "RssAnon"), status_bytes(pid, "RssFile")};
}

inline double mib(uint64_t bytes) {
    return double(bytes) / double(1 << 20);
}

// Polls pixelring_connections_open every 50 ms until it equals want or timeout; returns the
// last value (-1 when the series is absent).
inline long long wait_open(int admin_port, long long want, int timeout_ms) {
    return static_cast<long long>(
        wait_metric(admin_port, "pixelring_connections_open", static_cast<double>(want),
                    std::chrono::milliseconds(timeout_ms), std::chrono::milliseconds(50))
            .value_or(-1));
}

// A TcpExt counter of /proc/net/netstat (ListenOverflows, ListenDrops): the kernel's count
// of connections dropped because an accept queue was full.
inline long long tcp_ext(const char* name) {
    std::ifstream in("/proc/net/netstat");
    std::string names, values;
    while (std::getline(in, names) && std::getline(in, values)) {
        if (names.rfind("TcpExt:", 0) != 0) continue;
        std::istringstream n(names), v(values);
        std::string key, val;
        while (n >> key && v >> val)
            if (key == name) return std::stoll(val);
    }
    return -1;
}

// Raises this process's descriptor limit towards want (the soft limit up to the hard one;
// the hard one too when the process may). Returns the soft limit now in force; children
// started afterwards inherit it.
inline rlim_t raise_fd_limit(rlim_t want) {
    rlimit r{};
    getrlimit(RLIMIT_NOFILE, &r);
    if (r.rlim_max != RLIM_INFINITY && r.rlim_max < want) {
        rlimit wider{want, want};
        if (setrlimit(RLIMIT_NOFILE, &wider) == 0) return want;
    }
    r.rlim_cur = r.rlim_max == RLIM_INFINITY ? want : std::min<rlim_t>(want, r.rlim_max);
    setrlimit(RLIMIT_NOFILE, &r);
    getrlimit(RLIMIT_NOFILE, &r);
    return r.rlim_cur;
}

// Ephemeral ports the kernel hands out per (source address, destination) pair.
inline uint32_t ephemeral_ports() {
    std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
    uint32_t lo = 0, hi = 0;
    if (!(in >> lo >> hi) || hi < lo) return 28232; // the kernel default 32768-60999
    return hi - lo + 1;
}

inline int read_int(const char* path, int fallback) {
    std::ifstream in(path);
    int v = 0;
    return in >> v ? v : fallback;
}

// A non-blocking connection to 127.0.0.1:port from 127.0.0.(2 + source), under way: its
// descriptor, or -1 with error saying which call failed. The port is chosen at connect(),
// per destination, not at bind(): each source address then offers the whole ephemeral range.
inline int connect_from(uint32_t source, int port, std::string& error) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error = std::string("socket: ") + std::strerror(errno);
        return -1;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1 + source);
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(uint16_t(port));
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const char* failed = nullptr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0)
        failed = "bind";
    else if (::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0 &&
             errno != EINPROGRESS)
        failed = "connect";
    if (!failed) return fd;
    error = std::string(failed) + ": " + std::strerror(errno);
    ::close(fd);
    return -1;
}

} // namespace pixelring::test
