// Tests of the per-client token bucket (core/policy/rate_limiter.hh): exact counts and refill in
// milli-tokens without drift, the burst cap, IPv6 grouped by /64, IPv4-mapped addresses as
// IPv4, a clock that goes backwards, costs above 1 and above the burst, which slot an
// eviction takes, and a flood of 1,000,000 distinct addresses that allocates nothing and
// leaves a heavy client's limit exactly as it is without the flood.

#include "core/policy/rate_limiter.hh"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "core/enrich/client_address.hh"
#include "tests/support/counting_allocator.hh"

namespace pixelring {
namespace {

ip_address addr(std::string_view text) {
    ip_address a;
    EXPECT_TRUE(parse_ip_address(text, a)) << text;
    return a;
}

// A distinct address for each n: 10.0.0.0/8 for even n, 2001:db8:xxxx:xxxx::1 for odd n
// (each its own /64).
ip_address nth_address(uint32_t n) {
    ip_address a;
    if (n % 2 == 0) {
        const uint32_t v = n / 2;
        a.family = 4;
        a.bytes[0] = 10;
        a.bytes[1] = static_cast<uint8_t>(v >> 16);
        a.bytes[2] = static_cast<uint8_t>(v >> 8);
        a.bytes[3] = static_cast<uint8_t>(v);
    } else {
        a.family = 6;
        const uint8_t prefix[8] = {0x20,
                                   0x01,
                                   0x0d,
                                   0xb8,
                                   static_cast<uint8_t>(n >> 24),
                                   static_cast<uint8_t>(n >> 16),
                                   static_cast<uint8_t>(n >> 8),
                                   static_cast<uint8_t>(n)};
        std::memcpy(a.bytes, prefix, 8);
        a.bytes[15] = 1;
    }
    return a;
}

// How many cost-1 requests are allowed at now_ms before the first refusal (bounded).
int drain(rate_limiter& rl, const ip_address& a, uint64_t now_ms, int at_most = 100000) {
    int n = 0;
    while (n < at_most && rl.allow(a, now_ms))
        ++n;
    return n;
}

TEST(rate_limiter_test, exact_counts) {
    rate_limiter rl(10, 10, 1024);
    const ip_address a = addr("192.0.2.1");
    const uint64_t t = 5'000'000;
    for (int i = 0; i < 10; ++i)
        EXPECT_TRUE(rl.allow(a, t)) << i;
    EXPECT_FALSE(rl.allow(a, t)); // the 11th
    EXPECT_FALSE(rl.allow(a, t + 99));
    EXPECT_TRUE(rl.allow(a, t + 100)); // 100 ms at 10/s: one token
    EXPECT_FALSE(rl.allow(a, t + 100));
    EXPECT_FALSE(rl.allow(a, t + 199));
    EXPECT_TRUE(rl.allow(a, t + 200));
    EXPECT_FALSE(rl.allow(a, t + 200));
    EXPECT_EQ(drain(rl, a, t + 700), 5);
    EXPECT_EQ(rl.evictions(), 0u);
}

TEST(rate_limiter_test, refill_caps_at_burst) {
    rate_limiter rl(10, 5, 1024);
    EXPECT_EQ(rl.burst(), 5u);
    const ip_address a = addr("192.0.2.1");
    EXPECT_EQ(drain(rl, a, 1000), 5);
    EXPECT_EQ(drain(rl, a, 1000 + 60'000), 5); // a minute idle: still only the burst
    EXPECT_EQ(drain(rl, a, 1000 + 60'300), 3); // 300 ms later: 3 tokens, and not 300 ms more
}

TEST(rate_limiter_test, burst_zero_means_rate) {
    rate_limiter rl(7, 0, 8);
    EXPECT_EQ(rl.burst(), 7u);
    EXPECT_EQ(drain(rl, addr("192.0.2.1"), 0), 7);
}

TEST(rate_limiter_test, capacity_rounds_up_to_a_power_of_two) {
    EXPECT_EQ(rate_limiter(1, 1, 0).capacity(), 8u);
    EXPECT_EQ(rate_limiter(1, 1, 1000).capacity(), 1024u);
    EXPECT_EQ(rate_limiter(1, 1, 65536).capacity(), 65536u);
}

// Rates that do not divide 1000 ms: milli-tokens keep them exact over any number of steps.
TEST(rate_limiter_test, refill_has_no_drift) {
    for (const uint32_t rate : {1u, 3u, 7u, 333u, 1000u, 9999u}) {
        rate_limiter rl(rate, 2, 8);
        const ip_address a = addr("198.51.100.7");
        ASSERT_EQ(drain(rl, a, 0), 2);
        // One attempt per ms for 60 s. Each token is used in the ms it becomes whole, so the
        // bucket never reaches its cap of 2 (that would discard refill) up to 1000/s, and the
        // count is the tokens made in 60 s.
        uint64_t allowed = 0;
        for (uint64_t t = 1; t <= 60'000; ++t)
            allowed += rl.allow(a, t);
        const uint64_t made = uint64_t(rate) * 60; // rate * 60'000 ms / 1000
        EXPECT_EQ(allowed, rate <= 1000 ? made : 60'000u) << "rate " << rate;
    }
}

TEST(rate_limiter_test, ipv6_is_limited_per_64) {
    rate_limiter rl(5, 5, 1024);
    EXPECT_EQ(drain(rl, addr("2001:db8:1:2::1"), 1000), 5);
    // The same /64, other interface ids: the same bucket, now empty.
    EXPECT_FALSE(rl.allow(addr("2001:db8:1:2::2"), 1000));
    EXPECT_FALSE(rl.allow(addr("2001:db8:1:2:ffff:ffff:ffff:ffff"), 1000));
    // The next /64 and an unrelated one: their own buckets.
    EXPECT_EQ(drain(rl, addr("2001:db8:1:3::1"), 1000), 5);
    EXPECT_EQ(drain(rl, addr("2001:db8:1:2:1::"), 1000), 0); // still 2001:db8:1:2::/64
    EXPECT_EQ(drain(rl, addr("2001:db9:1:2::1"), 1000), 5);
}

TEST(rate_limiter_test, ipv4_mapped_is_the_ipv4_address) {
    rate_limiter rl(5, 5, 1024);
    EXPECT_EQ(drain(rl, addr("192.0.2.1"), 1000), 5);
    EXPECT_FALSE(rl.allow(addr("::ffff:192.0.2.1"), 1000)); // what a dual-stack socket reports
    EXPECT_EQ(drain(rl, addr("::ffff:192.0.2.2"), 1000), 5);
    EXPECT_FALSE(rl.allow(addr("192.0.2.2"), 1000));
    // IPv4 addresses are not grouped: the neighbour has its own bucket.
    EXPECT_EQ(drain(rl, addr("192.0.2.3"), 1000), 5);
    // An IPv6 /64 that starts with the same 4 bytes as an IPv4 address is another client.
    EXPECT_EQ(drain(rl, addr("c000:201::"), 1000), 5);
    // Only ::ffff:0:0/96 is IPv4: the IPv4-compatible form ::192.0.2.4 is an IPv6 address in
    // ::/64, and NAT64 (64:ff9b::/96) addresses are one /64 too.
    EXPECT_EQ(drain(rl, addr("::192.0.2.4"), 1000), 5);
    EXPECT_FALSE(rl.allow(addr("::1"), 1000)); // also in ::/64
}

TEST(rate_limiter_test, unknown_family_is_never_limited) {
    rate_limiter rl(1, 1, 8);
    const ip_address unknown;
    for (int i = 0; i < 100; ++i)
        ASSERT_TRUE(rl.allow(unknown, 0));
    EXPECT_EQ(drain(rl, addr("192.0.2.1"), 0), 1); // the table was not touched
}

TEST(rate_limiter_test, clock_backwards_adds_no_tokens) {
    rate_limiter rl(10, 10, 1024);
    const ip_address a = addr("192.0.2.1");
    EXPECT_EQ(drain(rl, a, 10'000), 10);
    // Back 5 s, and before the first call's time: nothing.
    EXPECT_FALSE(rl.allow(a, 5'000));
    EXPECT_FALSE(rl.allow(a, 0));
    EXPECT_FALSE(rl.allow(a, 10'000));
    // Forward again: only the time after 10'000 counts, once.
    EXPECT_EQ(drain(rl, a, 10'100), 1);
    EXPECT_FALSE(rl.allow(a, 9'000));
    EXPECT_EQ(drain(rl, a, 10'300), 2);
    // A new client seen with an earlier time than the others still starts full.
    EXPECT_EQ(drain(rl, addr("192.0.2.2"), 3'000), 10);
}

TEST(rate_limiter_test, cost_above_one) {
    rate_limiter rl(10, 10, 1024);
    const ip_address a = addr("192.0.2.1");
    EXPECT_TRUE(rl.allow(a, 0, 4));
    EXPECT_TRUE(rl.allow(a, 0, 4));
    EXPECT_FALSE(rl.allow(a, 0, 4)); // 2 left: refused, and nothing taken
    EXPECT_FALSE(rl.allow(a, 0, 3));
    EXPECT_TRUE(rl.allow(a, 0, 2));
    EXPECT_FALSE(rl.allow(a, 0, 1));
    EXPECT_FALSE(rl.allow(a, 299, 3));
    EXPECT_TRUE(rl.allow(a, 300, 3));
    EXPECT_TRUE(rl.allow(a, 300, 0)); // free, and does not need a token
}

TEST(rate_limiter_test, cost_above_burst_needs_a_full_bucket_and_pays_in_full) {
    rate_limiter rl(10, 10, 1024);
    const ip_address a = addr("192.0.2.1");
    EXPECT_TRUE(rl.allow(a, 0, 1));
    EXPECT_FALSE(rl.allow(a, 0, 25)); // 9 in the bucket: not full
    EXPECT_FALSE(rl.allow(a, 99, 25));
    EXPECT_TRUE(rl.allow(a, 100, 25)); // full: allowed, the bucket goes to 10 - 25 = -15
    // The next token is whole after 16 tokens' refill, 1.6 s.
    EXPECT_FALSE(rl.allow(a, 100, 1));
    EXPECT_FALSE(rl.allow(a, 1699, 1));
    EXPECT_TRUE(rl.allow(a, 1700, 1));
    EXPECT_FALSE(rl.allow(a, 1700, 1));
    // A new client may spend more than the burst at once, and then waits.
    const ip_address b = addr("192.0.2.2");
    EXPECT_TRUE(rl.allow(b, 2000, 1000));
    EXPECT_FALSE(rl.allow(b, 2000 + 99'099, 1));
    EXPECT_TRUE(rl.allow(b, 2000 + 99'100, 1));
}

// One group of 8 slots: the fullest bucket is the one given up, the others keep their state.
TEST(rate_limiter_test, eviction_takes_the_fullest_bucket) {
    rate_limiter rl(10, 10, 8);
    ASSERT_EQ(rl.capacity(), 8u);
    ip_address c[8];
    for (uint32_t i = 0; i < 8; ++i) {
        c[i] = nth_address(2 * i);
        for (uint32_t k = 0; k <= i; ++k) // c[i] spends i + 1 tokens
            ASSERT_TRUE(rl.allow(c[i], 0));
    }
    EXPECT_EQ(rl.evictions(), 0u);
    ASSERT_TRUE(rl.allow(nth_address(100), 0)); // takes c[0]'s slot (9 tokens left)
    EXPECT_EQ(rl.evictions(), 1u);
    EXPECT_EQ(rl.early_evictions(), 1u); // c[0] was not full
    for (uint32_t i = 1; i < 8; ++i)     // each checked by spending what it has left
        EXPECT_EQ(drain(rl, c[i], 0), static_cast<int>(9 - i)) << i;
    EXPECT_EQ(rl.evictions(), 1u); // none of them was new
    // c[0] comes back with a full bucket: the cost of an eviction, here 1 token. It displaces
    // the newcomer, the fullest of the group now (9 left; everybody else has 0).
    EXPECT_EQ(drain(rl, c[0], 0), 10);
    EXPECT_EQ(rl.evictions(), 2u);
    // A second later every bucket is full again: the next eviction is free.
    ASSERT_TRUE(rl.allow(nth_address(102), 1000));
    EXPECT_EQ(rl.evictions(), 3u);
    EXPECT_EQ(rl.early_evictions(), 2u);
}

// A heavy client that keeps its bucket empty is never the fullest, so no number of one-shot
// addresses makes the table forget it.
TEST(rate_limiter_test, churn_in_one_group_does_not_reset_a_heavy_client) {
    rate_limiter rl(10, 10, 8);
    const ip_address heavy = addr("203.0.113.9");
    EXPECT_EQ(drain(rl, heavy, 0), 10);
    int heavy_allowed = 0;
    for (uint32_t n = 0; n < 10'000; ++n) {
        ASSERT_TRUE(rl.allow(nth_address(n), n / 10)); // 10 new addresses per ms, for 1 s
        heavy_allowed += rl.allow(heavy, n / 10);
    }
    EXPECT_EQ(heavy_allowed, 9); // one token each 100 ms: at 100, 200, ..., 900
    EXPECT_EQ(rl.evictions(), 10'000u - 7u);
}

// 1,000,000 distinct addresses (half IPv4, half IPv6 /64s) through 65536 slots over 10 s,
// while a heavy client tries 10 times per ms: no allocation, every newcomer allowed, evictions
// counted, and the heavy client gets exactly what it gets without the flood.
TEST(rate_limiter_test, flood_of_distinct_addresses) {
    const uint32_t rate = 100;
    rate_limiter rl(rate, rate, 65536);
    rate_limiter alone(rate, rate, 65536); // the same heavy client, no flood
    const ip_address heavy = addr("2001:db8:ffff:ffff::1");

    const size_t probe = test::thread_allocations();
    delete new std::string(100, 'x'); // the counter sees allocations at all
    ASSERT_GT(test::thread_allocations(), probe);

    const size_t before = test::thread_allocations();
    uint64_t flood_refused = 0, heavy_allowed = 0, alone_allowed = 0;
    uint32_t n = 0;
    for (uint64_t t = 0; t < 10'000; ++t) {
        for (int i = 0; i < 100; ++i)
            flood_refused += !rl.allow(nth_address(n++), t);
        for (int i = 0; i < 10; ++i) {
            heavy_allowed += rl.allow(heavy, t);
            alone_allowed += alone.allow(heavy, t);
        }
    }
    const size_t allocations = test::thread_allocations() - before;
    std::printf("1M addresses: %llu evictions, %llu early, heavy client allowed %llu (alone "
                "%llu)\n",
                static_cast<unsigned long long>(rl.evictions()),
                static_cast<unsigned long long>(rl.early_evictions()),
                static_cast<unsigned long long>(heavy_allowed),
                static_cast<unsigned long long>(alone_allowed));
    EXPECT_EQ(n, 1'000'000u);
    EXPECT_EQ(allocations, 0u);
    EXPECT_EQ(flood_refused, 0u); // one request each: a new client starts full
    EXPECT_GE(rl.evictions(), 1'000'000u - 65536u);
    EXPECT_LE(rl.evictions(), 1'000'000u);
    // 100 newcomers per ms over 8192 groups, full again 10 ms after their one request: a group
    // sees 8 within 10 ms with probability about 1e-12, so every victim was full.
    EXPECT_EQ(rl.early_evictions(), 0u);
    // 100 at t = 0, then one every 10 ms up to t = 9990: 100 + 999.
    EXPECT_EQ(alone_allowed, 1099u);
    EXPECT_EQ(heavy_allowed, alone_allowed);
}

// A client that spent half its burst is emptier than any one-shot address, so it keeps its
// partly empty bucket through a flood of 100,000 addresses in 200 ms through 1024 slots.
TEST(rate_limiter_test, flood_does_not_refill_a_partly_empty_bucket) {
    rate_limiter rl(100, 100, 1024);
    const ip_address a = addr("198.51.100.1");
    for (int i = 0; i < 50; ++i)
        ASSERT_TRUE(rl.allow(a, 0));
    uint32_t n = 0;
    for (uint64_t t = 0; t < 200; ++t)
        for (int i = 0; i < 500; ++i)
            ASSERT_TRUE(rl.allow(nth_address(n++), t));
    EXPECT_GT(rl.evictions(), 90'000u);
    EXPECT_GT(rl.early_evictions(), 0u); // 4 newcomers per ms per group: victims not yet full
    EXPECT_EQ(drain(rl, a, 200), 70);    // 50 left + 200 ms at 100/s
}

} // namespace
} // namespace pixelring
