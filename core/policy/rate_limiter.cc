// The per-client token bucket of server.rate_limit: GCRA over an 8-way set-associative table
// keyed by SipHash-2-4 (libsodium crypto_shorthash). See rate_limiter.hh for the design.

#include "core/policy/rate_limiter.hh"

#include <sodium.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <new>
#include <stdexcept>

namespace pixelring {

namespace {

struct slot {
    uint64_t tag; // the client's hash, 0: empty
    uint64_t tat; // theoretical arrival time, ticks of 1/rate ms since the origin
};

// now - origin in ticks saturates here, far from overflow whatever cost and burst add.
constexpr uint64_t max_ticks = uint64_t(1) << 62;

} // namespace

// Two cache lines: one group is one probe sequence.
struct alignas(64) rate_limiter::group {
    slot slots[group_size];
};
static_assert(sizeof(rate_limiter::group) == 128);

rate_limiter::rate_limiter(uint32_t rate, uint32_t burst, uint32_t capacity) {
    static_assert(crypto_shorthash_KEYBYTES == sizeof key_);
    if (sodium_init() < 0) throw std::runtime_error("libsodium could not be initialised");
    randombytes_buf(key_, sizeof key_);
    rate_ = std::max<uint32_t>(rate, 1);
    burst_ = burst ? burst : rate_;
    burst_ticks_ = uint64_t(burst_) * 1000;
    const uint32_t slots =
        std::bit_ceil(std::clamp<uint32_t>(capacity, group_size, uint32_t(1) << 31));
    mask_ = slots - 1;
    group_mask_ = slots / group_size - 1;
    groups_ = std::make_unique<group[]>(slots / group_size); // zeroed: every slot empty
}

rate_limiter::~rate_limiter() = default;
rate_limiter::rate_limiter(rate_limiter&&) noexcept = default;
rate_limiter& rate_limiter::operator=(rate_limiter&&) noexcept = default;

bool rate_limiter::allow(const ip_address& client, uint64_t now_ms, uint32_t cost) noexcept {
    // The hash input: the family, then the IPv4 address or the IPv6 /64 (zeros after an IPv4
    // address, so 192.0.2.1 and the /64 c000:201:: differ by the family byte alone).
    static constexpr uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    unsigned char in[9] = {};
    if (client.family == 4) {
        in[0] = 4;
        std::memcpy(in + 1, client.bytes, 4);
    } else if (client.family == 6 &&
               std::memcmp(client.bytes, v4_mapped_prefix, sizeof v4_mapped_prefix) == 0) {
        in[0] = 4;
        std::memcpy(in + 1, client.bytes + 12, 4);
    } else if (client.family == 6) {
        in[0] = 6;
        std::memcpy(in + 1, client.bytes, 8);
    } else {
        return true; // unknown address: nobody to charge
    }
    uint64_t hash;
    static_assert(crypto_shorthash_BYTES == sizeof hash);
    crypto_shorthash(reinterpret_cast<unsigned char*>(&hash), in, sizeof in, key_);
    const uint64_t tag = hash | 1; // never 0, the empty mark; 63 bits still tell clients apart

    if (!started_) {
        started_ = true;
        origin_ms_ = now_ms;
    }
    const uint64_t elapsed = now_ms > origin_ms_ ? now_ms - origin_ms_ : 0;
    const uint64_t now = elapsed < max_ticks / rate_ ? elapsed * rate_ : max_ticks;
    const uint64_t cost_ticks = uint64_t(cost) * 1000;

    // The client's slot, else the slot to take: an empty one, else the fullest bucket.
    slot* const slots = groups_[(hash >> 1) & group_mask_].slots;
    slot* found = nullptr;
    slot* victim = &slots[0];
    for (uint32_t i = 0; i < group_size; ++i) {
        slot& s = slots[i];
        if (s.tag == tag) {
            found = &s;
            break;
        }
        if (victim->tag != 0 && (s.tag == 0 || s.tat < victim->tat)) victim = &s;
    }
    uint64_t tat;
    if (found) {
        tat = std::max(found->tat, now);
    } else {
        tat = now; // a new client starts with a full bucket
    }
    // Allowed when the bucket still holds cost: tat + cost - now <= burst, or, for a cost
    // above the burst, when the bucket is full (tat == now).
    const uint64_t next = tat + cost_ticks;
    if (next - now > std::max(burst_ticks_, cost_ticks)) return false;
    if (!found) {
        if (victim->tag != 0) {
            ++evictions_;
            early_evictions_ += victim->tat > now;
        }
        victim->tag = tag;
        found = victim;
    }
    found->tat = next;
    return true;
}

} // namespace pixelring
