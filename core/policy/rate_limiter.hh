#pragma once
// server.rate_limit (docs/enrichment.md): a token bucket per client address, one rate_limiter per
// worker thread. Over the limit a pixel is still answered (its event counted as
// dropped{reason="rate_limited"}) and a beacon gets 429; that policy is the caller's.
//
// Who is a client: an IPv4 address, or the /64 of an IPv6 address (one host, or one LAN,
// owns a /64 and SLAAC privacy addresses rotate inside it, so per /128 a single host would
// get as many buckets as it cares to make addresses). An IPv4-mapped IPv6 address
// (::ffff:a.b.c.d, what a dual-stack socket reports) is the IPv4 address a.b.c.d, as in the
// visitor hash and GeoIP. An address of family 0 (unknown) is never limited.
//
// The bucket, exactly: capacity `burst` tokens, refilled at `rate` tokens per second, a new
// client starts full, a request costs `cost` tokens. Kept in milli-tokens, in which the refill
// is exactly `rate` per millisecond: integer arithmetic, no rounding, no drift. Stored as GCRA
// (the ITU's Generic Cell Rate Algorithm, the same bucket): per client one 64-bit "theoretical
// arrival time" tat in ticks of 1/rate ms (one tick = one milli-token of refill); the bucket
// holds burst*1000 - max(0, tat - now) milli-tokens. A refused request changes nothing. A
// cost above burst is allowed only when the bucket is full, and then takes it below zero,
// to burst - cost tokens, from which it refills at rate: a beacon batch larger than the burst
// is not refused for ever, and still pays in full. A clock that goes backwards adds no
// tokens: time is measured against tat, which never moves back, so an earlier now only makes
// the bucket look emptier until the clock catches up, and the time between is not counted
// twice.
//
// The table: capacity slots in groups of 8 (two cache lines); a client lives in the one group
// its keyed hash names (an 8-way set-associative table: open addressing with a probe length
// of 8, never longer). Slots hold 63 bits of the 64-bit hash, not the address: two clients
// share a bucket only if their SipHash-2-4 values agree in those 63 bits; at 65536 slots
// (13 bits name the group) a new client meets such a twin about once in 2^47 lookups, and
// the harm is two clients on one bucket. The hash key is random per instance (libsodium), so a
// client cannot choose addresses that land in one group or share another's bucket.
//
// When a new client finds its group full, the slot whose bucket is fullest (smallest tat)
// is taken. Evicting a full bucket loses nothing (the client would start full again), so a
// flood of distinct addresses costs no memory and changes nobody's limit while the victims
// are full. The trade-off: with more active clients than slots, an evicted client whose
// bucket was not full comes back with a full one. A heavy client keeps its bucket near
// empty, so it is evicted only when all 7 others in its group are emptier still: addresses
// that each spent more than it did. One request per address (the cheap flood) leaves a bucket
// nearly full, which never displaces an emptier one. Clients stay tracked while they are among the
// 8 emptiest of their group, not by recency: a client that came back after an eviction has
// gained at most the tokens it had spent, once per eviction. Sizing: only clients whose
// buckets are not full need a slot (early_evictions() counts the others' losses), those seen
// within the last burst/rate seconds; groups fill unevenly, so give it about twice that.

#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/base/address.hh" // ip_address

namespace pixelring {

class rate_limiter {
public:
    // Clients in one group; capacity is a multiple of it.
    static constexpr uint32_t group_size = 8;

    // Start-up. rate: tokens per second per client (server.rate_limit, > 0; 0 is taken as 1).
    // burst: bucket size in tokens; 0 means rate. capacity: clients tracked at once, rounded
    // up to a power of two of at least group_size (65536 slots are 1 MiB). Allocates the
    // whole table here, never afterwards; calls sodium_init() and draws the hash key. Throws
    // std::bad_alloc, or std::runtime_error when libsodium cannot be initialised.
    rate_limiter(uint32_t rate, uint32_t burst, uint32_t capacity);
    ~rate_limiter();
    rate_limiter(rate_limiter&&) noexcept;
    rate_limiter& operator=(rate_limiter&&) noexcept;

    // Hot path, the owning worker only (not thread-safe). Takes `cost` tokens from client's
    // bucket at now_ms (monotonic milliseconds; the first call's value is the origin, any
    // earlier value counts as the origin). True: allowed and taken; false: refused, nothing
    // taken. No allocation, no exceptions, no system call, O(1): one SipHash and one group of
    // 8 slots.
    bool allow(const ip_address& client, uint64_t now_ms, uint32_t cost = 1) noexcept;

    // Clients dropped from the table to make room for another (since construction): more
    // distinct clients than slots, harmless in itself (see early_evictions).
    uint64_t evictions() const noexcept { return evictions_; }
    // Of those, the ones whose bucket was not full yet: only these cost anything (that client
    // comes back with the tokens it had spent). Evicting a full bucket is free, so this is the
    // count that says capacity is too small: it must cover the clients whose buckets are not
    // full, those seen within the last burst/rate seconds, not every client.
    uint64_t early_evictions() const noexcept { return early_evictions_; }

    uint32_t rate() const noexcept { return rate_; }
    uint32_t burst() const noexcept { return burst_; }
    uint32_t capacity() const noexcept { return mask_ + 1; }

    struct group; // defined in rate_limiter.cc

private:
    std::unique_ptr<group[]> groups_;
    uint64_t evictions_ = 0;
    uint64_t early_evictions_ = 0;
    uint64_t origin_ms_ = 0;
    uint64_t burst_ticks_ = 0; // burst * 1000
    uint32_t rate_ = 1;
    uint32_t burst_ = 1;
    uint32_t mask_ = 0;       // capacity - 1
    uint32_t group_mask_ = 0; // capacity / group_size - 1
    bool started_ = false;
    unsigned char key_[16] = {}; // crypto_shorthash_KEYBYTES
};

} // namespace pixelring
