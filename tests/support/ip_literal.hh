#pragma once
// ip("192.0.2.1"), ip("2001:db8::1"): an ip_address from a literal in a test, read by the
// collector's own parser (core/base/address.hh); a literal it refuses fails the test.

#include <gtest/gtest.h>

#include "core/base/address.hh"

namespace pixelring::test {

inline ip_address ip(const char* text) {
    ip_address a;
    EXPECT_TRUE(parse_ip_address(text, a)) << text;
    return a;
}

} // namespace pixelring::test
