#pragma once
// The event model (DESIGN.md §3, schema version 1) and its JSON encoder. The encoder writes
// one JSON object straight into caller-owned memory (a ring slot): no allocation, no
// exceptions, and the output is valid UTF-8 JSON whatever bytes the request carried.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

// json_escape, which the encoder uses for every string it writes.
#include "core/json_escape.hh"

namespace pixelring {

// A client address in network byte order. family is 4 or 6; 0 means unknown.
struct ip_address {
    uint8_t family = 0;
    uint8_t bytes[16] = {};
};

enum class ip_privacy : uint8_t { truncate, full, none };

struct geo_fields; // core/geoip.hh
struct agent_info; // core/user_agent.hh

// The enrichment fields of an event (DESIGN.md §3, issue 4 items 5 to 7). The caller (the
// worker) does the lookups — GeoIP, agent classification, the visitor hash, the DNT test —
// and the encoder only formats what it is given; the one thing it works out itself is the
// utm object, a pure scan of the Referer. Views and pointees belong to the caller and must
// stay valid for the max_pixel_event_size and encode_pixel_event calls.
struct pixel_enrichment {
    // The visitor id (visitor_hasher::visitor_id, visitor_id_size hex digits); empty: absent.
    std::string_view visitor;
    // country, region, city, asn, as_org; nullptr, an empty string or asn 0 leaves that member
    // out. Strings are escaped (they are UTF-8 from an external file) and each is cut to
    // max_geo_text_size bytes.
    const geo_fields* geo = nullptr;
    // agent and device always, browser and os when not empty; nullptr leaves all four out.
    const agent_info* agent = nullptr;
    // Tracking was refused (tracking_refused) and privacy.honor_dnt is on: "dnt":true and no
    // visitor, ip or ua whatever the rest of this struct and encode_options say.
    bool dnt = false;
    // The utm object from the Referer's query (extract_utm); false leaves it out.
    bool utm = true;
};

// Longer country, region, city and as_org strings are cut to this many bytes (at a UTF-8
// character boundary), so that the event's size bound does not depend on the database file.
// Real names are far shorter: the longest English name in the MaxMind City test database is
// 27 bytes, the longest AS organization in the ASN test database 57.
inline constexpr size_t max_geo_text_size = 128;

// What a tracking-pixel request contributes to its event. Every view points into the
// request buffer; fields are raw as received (still percent-encoded where they were).
struct pixel_hit {
    std::string_view action;     // between "/track/" and ".gif"/".png", percent-encoded
    std::string_view query;      // raw query string without '?', may be empty
    std::string_view referer;    // raw Referer value, empty when absent
    std::string_view user_agent; // raw User-Agent value, empty when absent
    std::string_view host;       // raw Host value, empty when absent
    ip_address client;
    // nullptr: no enrichment fields and no dnt member (the event as before issue 4).
    const pixel_enrichment* enrichment = nullptr;
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
// rand_a (12 bits) is a counter that starts at a random value below 0x800 in each new ms
// (RFC 9562 §6.2, method 1), so 62 bits are random. More than 2048 ids in one ms, or a
// clock that steps back, let the embedded time run ahead of the clock until it catches up.
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

// "2026-11-22T10:35:00.123Z" into out[0..24). Times after 9999-12-31T23:59:59.999Z are
// written as that. Caches the date per thread, so it takes no lock and allocates nothing.
void format_timestamp(uint64_t unix_ms, char* out) noexcept;

// At most this many params members are written; later distinct keys are dropped. Bounds the
// encoder's stack and its repeated-key check (which compares each key with the earlier ones).
inline constexpr size_t max_event_params = 64;

// Upper bound of encode_pixel_event's output for this hit (with its enrichment); reserve this
// much. Constant time: about 6 bytes per input byte (12 per Referer byte) plus the fixed
// skeleton.
size_t max_pixel_event_size(const pixel_hit& hit, const encode_options& opt) noexcept;

// Writes the type=pixel event as one JSON object without a trailing newline into out, which
// holds at least max_pixel_event_size(hit, opt) bytes. Returns the bytes written; the rest of
// the reserved space may have been used as scratch.
// Fields, in this order: v, id, ts, type, action, campaign (from campaignID), params (every
// other query parameter; a repeated key keeps its first value; at most max_event_params of
// them), url/path/page_host (from Referer, null when absent; path and page_host also null
// when the Referer is not an absolute http(s) URL with a valid host: url_host and url_path
// of core/url_fields.hh), referrer (null), then with hit.enrichment: utm (object of the
// source, medium, campaign, term and content that are set; absent when none is), visitor;
// ip (per opt.ip; absent when none or the family is unknown); with hit.enrichment: country,
// region, city, asn (a number), as_org; ua (absent when opt.user_agent is false or no
// User-Agent was sent); with hit.enrichment: agent, device, browser, os, dnt (true or
// false); host, collector. Enrichment members whose value is missing are left out (see
// pixel_enrichment); with dnt, visitor, ip and ua are always left out.
// Query keys and values (utm values too) are percent-decoded with '+' as a space; the action
// and the Referer path are percent-decoded without it. Keys count as repeated when their
// escaped forms are equal, so the object never holds a duplicate name.
// Reentrant; the only shared state is format_timestamp's per-thread cache.
size_t encode_pixel_event(const pixel_hit& hit, const encode_options& opt, const event_id& id,
                          uint64_t unix_ms, char* out) noexcept;

} // namespace pixelring
