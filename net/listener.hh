#pragma once
// Listening sockets, opened on the main thread before the workers start. No io_uring here:
// the workers arm multishot accept on these descriptors.

#include <string>
#include <vector>

#include "core/base/address.hh"

namespace pixelring {

struct public_listeners {
    // fds[w][a]: worker w's SO_REUSEPORT socket for address a.
    std::vector<std::vector<int>> fds;
    // The addresses as bound, with the port the kernel picked for port 0 ("127.0.0.1:41234").
    std::vector<std::string> bound;
};

// For each address, one SO_REUSEPORT socket per worker, all on the same port (a port 0 is
// resolved by the first bind and reused by the others). IPv6 sockets are IPV6_V6ONLY so that
// "[::]:8080" and "0.0.0.0:8080" can both be listed. They are TCP_NODELAY, which the
// accepted sockets inherit. Returns an empty string or an error
// naming the address and strerror.
std::string open_public_listeners(const std::vector<std::string>& addresses, unsigned workers,
                                  int backlog, public_listeners& out);

// Listening sockets opened by someone else (systemd's socket activation), shared by every
// worker: each worker gets its own duplicate of each socket, so that it can close its copy,
// and arms its multishot accept on it; connections not yet accepted stay queued in the socket
// when the workers stop. The sockets are made TCP_NODELAY like ours. fds are closed (only the
// duplicates remain). Returns an empty string or an error.
std::string adopt_public_listeners(const std::vector<int>& fds, unsigned workers,
                                   public_listeners& out);

// One blocking-accept socket for the admin server. Returns an empty string or an error.
std::string open_admin_listener(const std::string& address, int& fd, std::string& bound);

// The peer of a connected socket (getpeername); family 0 when it cannot be read.
ip_address peer_address(int fd);

// "127.0.0.1:8080" / "[::1]:8080" for a bound socket.
std::string local_address_text(int fd);

} // namespace pixelring
