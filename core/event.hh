#pragma once
// The event model (DESIGN.md §3, schema version 1) and its JSON encoder. The encoder writes
// one JSON object straight into caller-owned memory (a ring slot): no allocation, no
// exceptions, and the output is valid UTF-8 JSON whatever bytes the request carried.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace pixelring {

// A client address in network byte order. family is 4 or 6; 0 means unknown.
struct ip_address {
    uint8_t family = 0;
    uint8_t bytes[16] = {};
};

enum class ip_privacy : uint8_t { truncate, full, none };

// What a tracking-pixel request contributes to its event. Every view points into the
// request buffer; fields are raw as received (still percent-encoded where they were).
struct pixel_hit {
    std::string_view action;     // between "/track/" and ".gif"/".png", percent-encoded
    std::string_view query;      // raw query string without '?', may be empty
    std::string_view referer;    // raw Referer value, empty when absent
    std::string_view user_agent; // raw User-Agent value, empty when absent
    std::string_view host;       // raw Host value, empty when absent
    ip_address client;
};

// Per-collector settings of the encoder, fixed at start-up.
struct encode_options {
    ip_privacy ip = ip_privacy::truncate;
    bool user_agent = true;
    std::string_view collector; // collector.name
};

// A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, version 7, 74 random bits.
using event_id = std::array<uint8_t, 16>;

// Produces UUIDv7 values that are strictly increasing within one generator, also when
// several are made in the same millisecond. One per worker thread; not thread-safe.
class uuidv7_generator {
public:
    explicit uuidv7_generator(uint64_t seed) noexcept;
    event_id next(uint64_t unix_ms) noexcept;

private:
    uint64_t state_[2];
    uint64_t last_ms_ = 0;
    uint16_t counter_ = 0; // 12-bit rand_a used as a monotonic counter within one ms
};

// "0192f7a4-6c1e-7d2a-9b1e-3f5c2d7e8a90" into out[0..36).
void format_uuid(const event_id& id, char* out) noexcept;

// "2026-11-22T10:35:00.123Z" into out[0..24).
void format_timestamp(uint64_t unix_ms, char* out) noexcept;

// Upper bound of encode_pixel_event's output for this hit; reserve this much.
size_t max_pixel_event_size(const pixel_hit& hit, const encode_options& opt) noexcept;

// Writes the type=pixel event as one JSON object without a trailing newline into out, which
// holds at least max_pixel_event_size(hit, opt) bytes. Returns the bytes written.
// Fields: v, id, ts, type, action, campaign (from campaignID), params (every other query
// parameter; a repeated key keeps its first value), url/path/page_host (from Referer, null
// when absent), referrer (null), ip (per opt.ip; absent when none), ua (absent when
// opt.user_agent is false or no User-Agent was sent), host, collector.
size_t encode_pixel_event(const pixel_hit& hit, const encode_options& opt, const event_id& id,
                          uint64_t unix_ms, char* out) noexcept;

// Appends s as the body of a JSON string (no quotes) to out, escaping '"', '\\' and control
// bytes and replacing every invalid UTF-8 sequence with U+FFFD. When percent_decode is set,
// %XX escapes are decoded first (and '+' in a query becomes a space when plus_is_space); a
// '%' not followed by two hex digits is kept as a literal '%'. Decoded bytes are validated
// as UTF-8 like the rest, so %ED%A0%80 (a lone surrogate) becomes U+FFFD. out needs
// 6 * s.size() bytes at most. Returns bytes written.
size_t json_escape(std::string_view s, char* out, bool percent_decode = false,
                   bool plus_is_space = false) noexcept;

} // namespace pixelring
