#include "net/listener.hh"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include "core/base/address.hh"
#include "core/config/config.hh"

namespace pixelring {

namespace {

std::string errno_text(int err) {
    return std::strerror(err);
}

int open_one(const sockaddr_storage& addr, socklen_t len, bool reuseport, int backlog, int& err) {
    int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        err = errno;
        return -1;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuseport && ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        err = errno;
        ::close(fd);
        return -1;
    }
    if (addr.ss_family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    // Accepted sockets inherit it: no setsockopt per connection.
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0 ||
        ::listen(fd, backlog) != 0) {
        err = errno;
        ::close(fd);
        return -1;
    }
    return fd;
}

void set_port(sockaddr_storage& addr, uint16_t port) {
    if (addr.ss_family == AF_INET)
        reinterpret_cast<sockaddr_in&>(addr).sin_port = htons(port);
    else
        reinterpret_cast<sockaddr_in6&>(addr).sin6_port = htons(port);
}

} // namespace

ip_address peer_address(int fd) {
    ip_address peer;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return peer;
    if (ss.ss_family == AF_INET) {
        peer.family = 4;
        std::memcpy(peer.bytes, &reinterpret_cast<sockaddr_in&>(ss).sin_addr, 4);
    } else if (ss.ss_family == AF_INET6) {
        peer.family = 6;
        std::memcpy(peer.bytes, &reinterpret_cast<sockaddr_in6&>(ss).sin6_addr, 16);
    }
    // An IPv4 client of a dual-stack socket (a socket unit's ListenStream=8080 with
    // BindIPv6Only=both) is ::ffff:a.b.c.d: its event says a.b.c.d, as on an IPv4 socket.
    return unmap_ipv4(peer);
}

std::string local_address_text(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "?";
    char host[INET6_ADDRSTRLEN] = {};
    if (ss.ss_family == AF_INET) {
        auto& a = reinterpret_cast<sockaddr_in&>(ss);
        ::inet_ntop(AF_INET, &a.sin_addr, host, sizeof host);
        return fmt::format("{}:{}", host, ntohs(a.sin_port));
    }
    auto& a = reinterpret_cast<sockaddr_in6&>(ss);
    ::inet_ntop(AF_INET6, &a.sin6_addr, host, sizeof host);
    return fmt::format("[{}]:{}", host, ntohs(a.sin6_port));
}

std::string open_public_listeners(const std::vector<std::string>& addresses, unsigned workers,
                                  int backlog, public_listeners& out) {
    out.fds.assign(workers, {});
    out.bound.clear();
    for (const std::string& text : addresses) {
        sockaddr_storage addr{};
        unsigned len = 0;
        if (!parse_listen_address(text, addr, len))
            return fmt::format("server.listen: \"{}\" is not an address:port", text);
        // The workers' sockets share the port with SO_REUSEPORT, which would also let them
        // join a group another process holds. A plain bind first makes a taken port an
        // error instead of a silently shared one.
        uint16_t wanted = addr.ss_family == AF_INET
                              ? ntohs(reinterpret_cast<sockaddr_in&>(addr).sin_port)
                              : ntohs(reinterpret_cast<sockaddr_in6&>(addr).sin6_port);
        if (wanted != 0) {
            int err = 0;
            int probe = open_one(addr, socklen_t(len), false, 1, err);
            if (probe < 0)
                return fmt::format("cannot listen on {} (server.listen): {}", text,
                                   errno_text(err));
            ::close(probe);
        }
        for (unsigned w = 0; w < workers; ++w) {
            int err = 0;
            int fd = open_one(addr, socklen_t(len), true, backlog, err);
            if (fd < 0)
                return fmt::format("cannot listen on {} (server.listen): {}", text,
                                   errno_text(err));
            if (w == 0) {
                // Port 0: the kernel picked one; every other worker binds that same port.
                sockaddr_storage got{};
                socklen_t glen = sizeof got;
                ::getsockname(fd, reinterpret_cast<sockaddr*>(&got), &glen);
                uint16_t port = got.ss_family == AF_INET
                                    ? ntohs(reinterpret_cast<sockaddr_in&>(got).sin_port)
                                    : ntohs(reinterpret_cast<sockaddr_in6&>(got).sin6_port);
                set_port(addr, port);
                out.bound.push_back(local_address_text(fd));
            }
            out.fds[w].push_back(fd);
        }
    }
    return {};
}

std::string adopt_public_listeners(const std::vector<int>& fds, unsigned workers,
                                   public_listeners& out) {
    out.fds.assign(workers, {});
    out.bound.clear();
    std::string error;
    for (int fd : fds) {
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        out.bound.push_back(local_address_text(fd));
        for (unsigned w = 0; w < workers && error.empty(); ++w) {
            int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
            if (copy < 0)
                error = fmt::format("cannot use the listening socket {}: {}", out.bound.back(),
                                    errno_text(errno));
            else
                out.fds[w].push_back(copy);
        }
        ::close(fd);
    }
    if (!error.empty()) {
        for (auto& per_worker : out.fds)
            for (int fd : per_worker)
                ::close(fd);
        out.fds.assign(workers, {});
    }
    return error;
}

std::string open_admin_listener(const std::string& address, int& fd, std::string& bound) {
    sockaddr_storage addr{};
    unsigned len = 0;
    if (!parse_listen_address(address, addr, len))
        return fmt::format("admin.listen: \"{}\" is not an address:port", address);
    int err = 0;
    fd = open_one(addr, socklen_t(len), false, 64, err);
    if (fd < 0)
        return fmt::format("cannot listen on {} (admin.listen): {}", address, errno_text(err));
    bound = local_address_text(fd);
    return {};
}

} // namespace pixelring
