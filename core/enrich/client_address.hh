#pragma once
// The client address of a request behind CDNs, load balancers and reverse proxies.
// Start-up: server.trusted_proxies becomes a cidr_set (parsing allocates, once). Hot path:
// resolve_client_address takes the connection's peer, that set and the request's fields and
// returns the address to put in the event; it allocates nothing, throws nothing, reads only
// its arguments and is safe to call from every worker thread at once on a shared const set.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// ip_address, cidr_set and parse_ip_address; http_field / http_request.
#include "core/base/address.hh"
#include "core/http/request_parser.hh"

namespace pixelring {

// Reads one address as it appears in forwarding headers: "192.0.2.1", "192.0.2.1:4711",
// "2001:db8::1", "[2001:db8::1]" or "[2001:db8::1]:4711" (a port of 1 to 5 digits, at most
// 65535, or an RFC 7239 obfuscated port "_abc"). IPv4-mapped IPv6 becomes IPv4. Returns false
// for anything else, including "unknown" and obfuscated identifiers ("_hidden"). No allocation.
bool parse_forwarded_node(std::string_view text, ip_address& out) noexcept;

// Where resolve_client_address found the address.
enum class client_address_source : uint8_t {
    peer,            // the connection's peer (untrusted, or no forwarding field present)
    forwarded,       // Forwarded: for= (RFC 7239)
    x_forwarded_for, // X-Forwarded-For
    cf_connecting_ip,
    true_client_ip,
};

struct resolved_client_address {
    ip_address address;
    client_address_source source = client_address_source::peer;
};

// The client address of one request.
//
// peer is the TCP peer, or the source of an accepted PROXY protocol header. When peer is not
// in trusted, the answer is peer and no field is read: headers from untrusted peers are never
// believed, whatever they say. When peer is trusted, the first of these fields that is present
// decides, and the others are ignored:
//
//   1. X-Forwarded-For   every hop appends the address of its own peer. Walked from the
//                        rightmost entry leftwards: entries in trusted are skipped and the
//                        first one that is not is the client. Several field lines form one
//                        list, in order (RFC 9110 §5.3).
//   2. Forwarded         RFC 7239 for= of each element, walked the same way. Quoted IPv6 with
//                        a port ("[2001:db8::1]:4711"), any case of "for".
//   3. CF-Connecting-IP  one address, set by Cloudflare (the last field line counts).
//   4. True-Client-IP    one address, set by Akamai and Cloudflare Enterprise (the last line).
//
// Why this order: trusted_proxies says which peers to believe, not which header each of them
// maintains, so the header every common proxy maintains must come first. X-Forwarded-For is
// appended to by nginx, HAProxy, Envoy, AWS/GCP/Azure load balancers, Cloudflare, Fastly,
// Akamai and CloudFront, and the rightmost-untrusted walk cannot be steered by what the client
// put at the left. Few of them write Forwarded or the single-address fields, and a proxy that
// does not maintain a field passes the client's own copy through: ranking CF-Connecting-IP
// first would let any client behind nginx choose its address. Behind Cloudflare the XFF walk
// gives the same address as CF-Connecting-IP once Cloudflare's ranges are trusted. A proxy
// that maintains only one of the later fields must strip X-Forwarded-For (and Forwarded).
//
// A list entry that is not an address ("unknown", an obfuscated "_id", a missing for=,
// garbage) ends the walk: the hop that wrote it did not know its client, so nothing to its
// left can be believed. The answer is then the last trusted address walked, or the peer when
// the first entry walked already was one. When every entry is trusted, the leftmost is the
// answer. Empty list elements are skipped. A single-address field that does not hold exactly
// one address gives the peer. IPv4-mapped IPv6 answers are returned as IPv4 (also the peer).
// No allocation, no exceptions, never reads outside the fields' views.
resolved_client_address resolve_client_address(const ip_address& peer, const cidr_set& trusted,
                                               std::span<const http_field> fields) noexcept;

inline resolved_client_address resolve_client_address(const ip_address& peer,
                                                      const cidr_set& trusted,
                                                      const http_request& request) noexcept {
    return resolve_client_address(peer, trusted, {request.fields, request.field_count});
}

} // namespace pixelring
