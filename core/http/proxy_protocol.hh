#pragma once
// The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2) that a load
// balancer sends before the first byte of the proxied connection, parsed in the manner of
// picohttpparser: the caller owns the buffer, nothing is allocated, the answer is complete /
// need more / error, and a call with more bytes of the same connection simply parses again
// from buf[0] (a header is at most 107 bytes of text or 16 + length binary bytes whose
// fixed part is read at fixed offsets, so nothing is worth remembering between calls).
// Thread-safe: no state outside the arguments.

#include <cstddef>
#include <cstdint>

// ip_address (family 4 or 6, network byte order) and parse_status.
#include "core/base/address.hh"
#include "core/http/parse_status.hh"

namespace pixelring {

// Version 1 lines longer than this (CRLF included) are refused (the specification's worst
// case, "PROXY UNKNOWN" with two full IPv6 addresses and ports).
inline constexpr size_t proxy_v1_max_bytes = 107;
// The longest version 2 header: 16 fixed bytes and a 16-bit length.
inline constexpr size_t proxy_v2_max_bytes = 16 + 65535;

struct proxy_header {
    size_t consumed = 0; // header bytes; the proxied stream starts at buf[consumed]
    uint8_t version = 0; // 1 or 2
    // True when the header names no source to use: a v2 LOCAL command (the proxy's own health
    // check), v1 UNKNOWN, or v2 PROXY with an unspecified or AF_UNIX family or an unspecified
    // transport. The connection's own endpoints are then the addresses to use (the
    // specification's rule), and source/destination are unset (family 0).
    bool local = false;
    ip_address source;      // the client, as the proxy saw it; not unmapped from ::ffff:
    ip_address destination; // the address the client connected to
    uint16_t source_port = 0;
    uint16_t destination_port = 0;
    const char* error_reason = ""; // a short constant after error, e.g. "v1: bad source port"
};

// Parses the PROXY header at buf[0..len). complete: out is filled and out.consumed bytes
// belong to the header (v2 TLVs are skipped, not read). need_more: every byte so far agrees
// with a header; call again with more. error: out.error_reason says why; close the
// connection (the specification forbids guessing or falling back to plain HTTP). Bytes that
// cannot start a header — neither "PROXY " nor the v2 signature — are an error from the first
// differing byte; so is a v1 line without CRLF in its first 107 bytes, and a v2 header whose
// length field makes it longer than max_bytes (pass the receive buffer's size so that a
// header that could never fit is refused at once). Reads nothing at or past buf[len].
// No allocation, no exceptions.
parse_status parse_proxy_header(const char* buf, size_t len, proxy_header& out,
                                size_t max_bytes = proxy_v2_max_bytes) noexcept;

} // namespace pixelring
