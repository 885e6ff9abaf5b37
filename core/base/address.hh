#pragma once
// Addresses as the collector reads them: the client address of a request (ip_address), ranges
// of addresses (cidr, cidr_set: server.trusted_proxies), and the text forms in the
// configuration (listen addresses, CIDRs). Parsing allocates only where it returns a message;
// no resolver is asked and no socket is made. Pure functions, thread-safe.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

struct sockaddr_storage; // <sys/socket.h>, declared at global scope as there

namespace pixelring {

// A client address in network byte order. family is 4 or 6; 0 means unknown.
struct ip_address {
    uint8_t family = 0;
    uint8_t bytes[16] = {};
};

// "127.0.0.1:8080", "[::1]:0", "0.0.0.0:80", "localhost:8080" (always 127.0.0.1; no resolver
// is asked) into a socket address, len its size. The port is required, 0 to 65535. Returns
// false for anything else. Used by load_config to validate, and by net/ to bind.
bool parse_listen_address(const std::string& text, ::sockaddr_storage& out, unsigned& len);

// One range: the first `prefix` bits of bytes (4 or 16 of them); the bits after the prefix are
// zero.
struct cidr {
    uint8_t family = 0; // 4 or 6
    uint8_t prefix = 0; // 0..32 or 0..128
    uint8_t bytes[16] = {};

    bool operator==(const cidr&) const = default;
};

// Parses "10.0.0.0/8", "2001:db8::/32" or one address ("192.0.2.1" = /32, "::1" = /128): what
// what inet_pton accepts (inet_pton forms: no leading zeros in IPv4, no
// zone ids; a prefix length of 1 to 3 digits). Address bits beyond the prefix are cleared
// ("10.1.2.3/8" is 10.0.0.0/8). An IPv4-mapped IPv6 range with a prefix of 96 or more
// ("::ffff:10.0.0.0/104") becomes the IPv4 range it maps (10.0.0.0/8). On failure returns
// false and sets expected to what would be accepted, e.g. "a prefix length from 0 to 32 for
// IPv4". Start-up only.
bool parse_cidr(std::string_view text, cidr& out, std::string& expected);

// A set of address ranges with an allocation-free membership test. Built once at start-up,
// then read-only: a const cidr_set may be shared by every worker thread.
class cidr_set {
public:
    // Builds the set from the values of `key` (server.trusted_proxies). Returns an empty
    // string on success, else one message naming the key, the value and what is accepted:
    //   server.trusted_proxies = "10.0.0.0/33": expected a prefix length from 0 to 32 for IPv4
    // out is left unchanged on failure.
    static std::string parse(const std::vector<std::string>& texts, cidr_set& out,
                             std::string_view key = "server.trusted_proxies");

    // Adds one range. Start-up only.
    void add(const cidr& range);

    // Whether addr lies in one of the ranges. An IPv4-mapped IPv6 address (::ffff:a.b.c.d)
    // is tested as the IPv4 address a.b.c.d and also as itself against the IPv6 ranges (so
    // ::/0 contains it). Family 0 (unknown) is in no range. No allocation; a linear scan of
    // at most a few dozen masked compares, widest ranges first.
    bool contains(const ip_address& addr) const noexcept;

    bool empty() const noexcept { return v4_.empty() && v6_.empty(); }
    size_t size() const noexcept { return v4_.size() + v6_.size(); }

private:
    struct range4 {
        uint32_t network; // host byte order, masked
        uint32_t mask;
    };
    struct range6 {
        uint64_t network[2]; // host byte order, high word first, masked
        uint64_t mask[2];
    };
    std::vector<range4> v4_; // sorted by mask, widest first; no range inside another
    std::vector<range6> v6_;
};

// One address without port or brackets, as inet_pton reads it: IPv4 as exactly four decimal
// parts of 0 to 255 without leading zeros (parsed here, no copy), IPv6 in every RFC 4291 form
// but without a zone id (inet_pton on a stack copy). Not unmapped. No allocation.
bool parse_ip_address(std::string_view text, ip_address& out) noexcept;

// ::ffff:a.b.c.d becomes the IPv4 address a.b.c.d; any other address is returned as it is.
ip_address unmap_ipv4(const ip_address& addr) noexcept;

} // namespace pixelring
