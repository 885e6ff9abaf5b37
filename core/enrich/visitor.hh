#pragma once
// The visitor field of an event (docs/event.md): a pseudonymous id that is
// stable for one visitor on one site for one UTC day and unlinkable across days: SipHash-2-4
// with 128-bit output (libsodium's crypto_shorthash_siphashx24) keyed by a daily salt that
// libsodium's BLAKE2b (crypto_generichash) derives. Also the DNT / Sec-GPC test.
//
// Definitions (the bytes, so that another implementation can reproduce them):
//   u32le(n)   4-byte little-endian length; u64le(n) likewise with 8 bytes.
//   day        floor(unix_ms / 86'400'000): the UTC day number; the salt changes at 00:00 UTC.
//   root key   32 bytes from which every day's salt is derived:
//                fleet mode (privacy.visitor_secret set): BLAKE2b-256(message = "pixelring
//                visitor_secret v1" || secret), so every collector with the same secret has
//                the same root key and hence the same salt for a day;
//                process mode (no secret): 32 bytes from randombytes_buf, made once per
//                process and held in memory only (see visitor_key::from_config).
//   salt(day)  BLAKE2b-128(key = root key, message = "pixelring visitor salt v2" || u64le(day)):
//              16 bytes, the SipHash key.
//   address    IPv4: its 4 bytes; IPv6: its first 8 bytes (the /64, so the privacy extension's
//              changing interface ids do not change the visitor); an IPv4-mapped IPv6 address
//              (::ffff:a.b.c.d, what a dual-stack socket reports) counts as the IPv4 address.
//   id         SipHash-2-4-128(key = salt(day), message = u32le(|site|) || site ||
//              u8(4 or 6) || address || u32le(|ua|) || ua), i.e. crypto_shorthash_siphashx24
//              of that message, written as 32 lower-case hex digits.
// Every variable-length field carries its length, so ("ab", "c") and ("a", "bc") differ.
// SipHash is a PRF under its key, so the id says nothing
// about its inputs to whoever lacks the day's salt, and ids of different days are unlinkable.
// The message is hashed as it streams (an own incremental SipHash, checked against libsodium's
// one-shot function by tests/unit/visitor_test.cc), so a long User-Agent needs no buffer.
//
// Before 1.0, ids changed once: until enrichment got a CPU budget they were BLAKE2b-128 of
// u8(32) || salt || the same fields, with a 32-byte "salt v1". The switch cut the call from
// ~320 ns to ~100 ns (bench/bench_enrichment.cc, Chrome User-Agent, 2-core EPYC dev VM):
// BLAKE2b compresses whole 128-byte blocks, and a typical message of 130 to 200 bytes took two
// of them. Ids are per day anyway, so only the day of an upgrade sees two ids for one visitor.
// 16 bytes rather than 8: two visitors of a site on one day share an id with probability
// about n^2 / 2^129, negligible at any traffic; 8 bytes would collide around 4 billion.

#include <cstdint>
#include <string>
#include <string_view>

#include "core/base/address.hh" // ip_address
#include "core/event/event.hh"  // visitor_id_size

namespace pixelring {

// The root key of the daily salts. A value: copy it into every worker's visitor_hasher.
struct visitor_key {
    uint8_t bytes[32] = {};

    // Start-up, any thread. With a non-empty privacy.visitor_secret: the fleet root key
    // derived from it; the secret must be at least 16 bytes (it is guessable otherwise, and
    // with it every past and future salt). With an empty secret: the process's random root
    // key. Returns "" on success, else an error naming the key and what is accepted (never
    // the secret itself). Calls sodium_init().
    //
    // Process mode, and why one random key is "a random salt per day held in memory only":
    // the key is made once per process by randombytes_buf (a function-local static, so every
    // call in one process, on any thread, returns the same key) and is never written
    // anywhere. Each day's salt is a PRF of the day under it, so it is as unpredictable as a
    // salt drawn at random that day, and every worker derives the same salt for the same day
    // without sharing mutable state: no lock, no atomic, no rotation race between workers.
    // A restart forgets the key, so ids do not survive a restart (as a per-day random salt
    // would not). The one difference from drawing and discarding a salt each day: while the
    // process runs, whoever can read its memory can recompute earlier days' salts — the same
    // exposure fleet mode always has through the secret.
    static std::string from_config(std::string_view visitor_secret, visitor_key& out);
};

// Per worker thread: owns the current day's salt. Not thread-safe; one per worker, no locks.
class visitor_hasher {
public:
    explicit visitor_hasher(const visitor_key& key) noexcept;
    ~visitor_hasher();
    visitor_hasher(const visitor_hasher&) = delete;
    visitor_hasher& operator=(const visitor_hasher&) = delete;

    // Hot path: writes the visitor id of (day of unix_ms, site, client, ua) as
    // visitor_id_size hex digits into out. site is the campaign, else the page host (bytes
    // as given: the caller lower-cases a host). Recomputes the salt itself when the UTC day
    // of unix_ms differs from the last call's (also backwards: each day's salt is a function
    // of the day). Allocates nothing. Returns false, leaving out untouched, when
    // client.family is neither 4 nor 6: an id of site and user agent alone would merge
    // unrelated visitors, so the event goes without one.
    bool visitor_id(uint64_t unix_ms, std::string_view site, const ip_address& client,
                    std::string_view ua, char out[visitor_id_size]) noexcept;

private:
    void rotate(uint64_t day) noexcept;

    uint8_t root_[32];
    uint8_t salt_[16];          // the SipHash key of day_
    uint64_t day_ = UINT64_MAX; // day of salt_; UINT64_MAX before the first call
};

// True when the request refuses tracking: a DNT header of exactly "1" or a Sec-GPC header of
// exactly "1", after trimming spaces and tabs; an absent header is passed as "". Whether a
// refusal is honoured (privacy.honor_dnt) and what it drops is the caller's business.
bool tracking_refused(std::string_view dnt, std::string_view sec_gpc) noexcept;

} // namespace pixelring
