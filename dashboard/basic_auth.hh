#pragma once
// HTTP Basic authentication (RFC 7617) of the dashboard: admin.user and admin.password (or
// NanoTrack's DASHBOARD_USER and DASHBOARD_PASSWORD). The credentials sent are compared with
// the configured ones through BLAKE2b digests of both and sodium_memcmp, so that the time
// taken says nothing about how much of them matched, nor about their length.

#include <array>
#include <string_view>

namespace pixelring {

class basic_auth {
public:
    // Empty user and password: no credentials configured (enabled() is false).
    basic_auth(std::string_view user, std::string_view password);
    bool enabled() const noexcept { return enabled_; }
    // authorization: the Authorization field as sent (empty when absent).
    bool allows(std::string_view authorization) const noexcept;

private:
    bool enabled_;
    std::array<unsigned char, 32> expected_{};
};

// True for an admin listener address on loopback: 127.0.0.0/8, ::1 or localhost.
bool is_loopback_listen(std::string_view bound_address);

} // namespace pixelring
