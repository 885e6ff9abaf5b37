#pragma once
// Internal to core/: the client address as the event's "ip" member writes it, for
// core/event/encoder.cc.

#include <cstddef>

#include "core/event/event.hh"

namespace pixelring::detail {

// Longest address text: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".
constexpr size_t k_ip_text_max = 39;

// Writes the address as configured into buf[k_ip_text_max]; returns its length, 0 when the
// address is unknown. IPv4-mapped IPv6 (::ffff:a.b.c.d) is treated as the IPv4 address.
size_t format_client_ip(const ip_address& addr, ip_privacy privacy, char* buf) noexcept;

} // namespace pixelring::detail
