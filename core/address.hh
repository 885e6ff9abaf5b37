#pragma once
// The text forms of addresses in the configuration: listen addresses and trusted-proxy CIDRs.
// Parsing only: no resolver is asked and no socket is made. Pure functions, thread-safe.

#include <string>

struct sockaddr_storage; // <sys/socket.h>, declared at global scope as there

namespace pixelring {

// "127.0.0.1:8080", "[::1]:0", "0.0.0.0:80", "localhost:8080" (always 127.0.0.1; no resolver
// is asked) into a socket address, len its size. The port is required, 0 to 65535. Returns
// false for anything else. Used by load_config to validate, and by net/ to bind.
bool parse_listen_address(const std::string& text, ::sockaddr_storage& out, unsigned& len);

// "10.0.0.0/8", "2001:db8::/32", or one address without a prefix length ("192.0.2.1"): an
// IPv4 or IPv6 address and a prefix length of at most 32 or 128. Used by load_config to
// validate server.trusted_proxies.
bool is_cidr(const std::string& text);

} // namespace pixelring
