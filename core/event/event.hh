#pragma once
// The event model (docs/event.md, schema version 1) and its JSON encoder. The encoder writes
// one JSON object straight into caller-owned memory (a ring slot): no allocation, no
// exceptions, and the output is valid UTF-8 JSON whatever bytes the request carried.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

// json_escape, which the encoder uses for every string it writes.
#include "core/event/json_escape.hh"
// ip_address, the client address an event carries.
#include "core/base/address.hh"
// pixel_enrichment, geo_fields, agent_info: the enrichment members an event may carry.
#include "core/event/enrichment_fields.hh"

namespace pixelring {

enum class ip_privacy : uint8_t { truncate, full, none };

// The longest action an entry may name, and the longest the list compares: with a list
// configured, a pixel, /tr/v1/ or redirect action longer than this (percent-decoded) matches
// nothing. A beacon item's action is rejected beyond it, list or not (core/event/beacon.hh).
inline constexpr size_t max_action_size = 128;

// Which actions may make an event: tracking.allowed_events, implemented by action_allowlist
// (core/policy/action_allowlist.hh). The beacon parser asks it per item, so that an item the
// list refuses is rejected with its reason while the body is read.
class action_filter {
public:
    // True when action may make an event (byte-exact, case-sensitive). No allocation.
    virtual bool allows(std::string_view action) const noexcept = 0;
    // True when every action may: the parser then skips the question.
    virtual bool allows_any() const noexcept = 0;

protected:
    ~action_filter() = default;
};

// Length of a visitor id: 16 bytes as lower-case hex, not NUL-terminated.
inline constexpr size_t visitor_id_size = 32;

// What a pixel, rest or redirect event is made of (docs/endpoints.md, docs/event.md).
enum class event_type : uint8_t { pixel, rest, redirect };

// What a tracking-pixel, /tr/v1/ or /r/ request contributes to its event. Every view points
// into the request buffer; fields are raw as received (still percent-encoded where they were).
struct pixel_hit {
    std::string_view action;     // between "/track/" and ".gif"/".png", percent-encoded
    std::string_view query;      // raw query string without '?', may be empty
    std::string_view referer;    // raw Referer value, empty when absent
    std::string_view user_agent; // raw User-Agent value, empty when absent
    std::string_view host;       // raw Host value, empty when absent
    ip_address client;
    // nullptr: no enrichment fields and no dnt member (the event with tracking.enrich off).
    const pixel_enrichment* enrichment = nullptr;
    // DNT: 1 or Sec-GPC: 1 under privacy.honor_dnt: no visitor, ip or ua, with or without
    // enrichment (with it, also "dnt":true).
    bool tracking_refused = false;
    // pixel: GET /track/<action>.gif|png?query.
    // rest: GET /tr/v1/<tuples>; query holds the tuples (the path after "/tr/v1/", without
    //   any '?...'), action is ignored. See encode_pixel_event and valid_rest_tuples.
    // redirect: GET /r/<action>?url=..&sig=..; as a pixel, plus target.
    event_type type = event_type::pixel;
    // redirect: the canonical target (the Location sent), written as "target":"..." right
    // after "referrer" (null when empty). Ignored for the other types.
    std::string_view target;
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

// The inverse of format_timestamp: the Unix milliseconds of a 24-byte
// "YYYY-MM-DDTHH:MM:SS.mmmZ"; nullopt for anything else (wrong shape, month 13, hour 24...).
std::optional<uint64_t> parse_timestamp(std::string_view text) noexcept;

// The 24 bytes of an event's "ts", where every event the encoder writes has them (right after
// its "v" and "id"); empty when event does not start the encoder's way.
std::string_view event_timestamp_text(std::string_view event) noexcept;

// At most this many params members are written; later distinct keys are dropped. Bounds the
// encoder's stack and its repeated-key check (which compares each key with the earlier ones).
inline constexpr size_t max_event_params = 64;

// What the encoder changed in an event on the way, for the caller's counters. Both are also
// visible in the event itself (a url without "user@", "params_truncated":true).
struct encode_notes {
    bool userinfo_removed = false; // url or referrer had user information, not written
    bool params_truncated = false; // more than max_event_params distinct params keys
};

// Upper bound of encode_pixel_event's output for this hit (with its enrichment), whatever its
// type; reserve this much. Constant time: about 6 bytes per input byte (12 per Referer byte)
// plus the fixed skeleton.
size_t max_pixel_event_size(const pixel_hit& hit, const encode_options& opt) noexcept;

// Writes the hit's event as one JSON object without a trailing newline into out, which holds
// at least max_pixel_event_size(hit, opt) bytes. Returns the bytes written; the rest of the
// reserved space may have been used as scratch.
// Fields, in this order: v, id, ts, type ("pixel", "rest" or "redirect"), action, campaign
// (from campaignID), params (every other query parameter; a repeated key keeps its first
// value; at most max_event_params of them), params_truncated (true, only when distinct keys
// beyond max_event_params were dropped), url/path/page_host (from Referer, null when
// absent; url without user information: split_userinfo of core/event/url_fields.hh; path and
// page_host also null when the Referer is not an absolute http(s) URL with a valid host:
// url_host and url_path of core/event/url_fields.hh), referrer (null), target
// (redirect only), then with hit.enrichment: utm (object of the source, medium, campaign,
// term and content that are set; absent when none is), visitor; ip (per opt.ip; absent when
// none or the family is unknown); with hit.enrichment: country, region, city, asn (a
// number), as_org; ua (absent when opt.user_agent is false or no User-Agent was sent); with
// hit.enrichment: agent, device, browser, os, dnt (true or false); host, collector.
// Enrichment members whose value is missing are left out (see pixel_enrichment); with dnt,
// visitor, ip and ua are always left out.
// Query keys and values (utm values too) are percent-decoded with '+' as a space; the action
// and the Referer path are percent-decoded without it. Keys count as repeated when their
// escaped forms are equal, so the object never holds a duplicate name.
// type=redirect: as a pixel, except that the url and sig parameters (every one of them, keys
// compared after percent-decoding) are not copied into params, and "target" is written.
// type=rest: hit.query holds the tuples "k1/v1/k2/v2..." and hit.action is ignored. Each
// segment is percent-decoded without '+' as a space. The first key "action" gives the
// action ("event" when there is none or its value is empty); the first key "campaignID" or
// "campaign" gives the campaign; every other pair goes to params by the query's rules
// (first value of a repeated key, max_event_params, escaping). Keys are compared after
// percent-decoding. Invalid tuples (see valid_rest_tuples) still give valid JSON: a last key
// without a value gets "", an empty key is written as "".
// notes, when not nullptr, is set to what was changed on the way.
// Reentrant; the only shared state is format_timestamp's per-thread cache.
size_t encode_pixel_event(const pixel_hit& hit, const encode_options& opt, const event_id& id,
                          uint64_t unix_ms, char* out, encode_notes* notes = nullptr) noexcept;

// A rest request may carry this many pairs: max_event_params params, an action and a
// campaign.
inline constexpr size_t max_rest_pairs = max_event_params + 2;

// Whether the tuples of GET /tr/v1/<tuples> (the path after "/tr/v1/", raw, without '?...')
// make a rest event; the worker answers 400 when not. True when, split at every '/', there
// are 2 to 2 * max_rest_pairs segments, an even number, and every key (segments 1, 3, 5, ...
// counting from 1) is non-empty. Values may be empty ("k//k2/v" is k="" and k2="v";
// "k/" is k=""). So "", "k", "k/v/" (a trailing '/' starts an empty key), "/k/v" and
// "k/v//v2" are false. Bytes are not checked: the encoder escapes whatever is there.
bool valid_rest_tuples(std::string_view tuples) noexcept;

// The campaign the encoder writes for this hit, raw as received (still percent-encoded), or
// "" when there is none: the first campaignID query parameter of a pixel or redirect (key
// compared after percent-decoding), the first campaignID or campaign pair of a rest hit.
// For the visitor's site (enrich_visitor in core/enrich/enrichment.hh).
std::string_view raw_campaign(const pixel_hit& hit) noexcept;

// ---- beacons -----------------------------------------------------------------------------

struct beacon_item;  // core/event/beacon.hh
struct beacon_param; // core/event/beacon.hh

// One accepted item of a POST /e body, with what the request adds.
struct beacon_hit {
    const beacon_item* item = nullptr; // accepted; its views valid during the calls
    std::string_view user_agent;       // raw User-Agent value, empty when absent
    std::string_view host;             // raw Host value, empty when absent
    ip_address client;
    // As for pixels; the utm object comes from item->url.
    const pixel_enrichment* enrichment = nullptr;
    bool tracking_refused = false; // as for pixels
};

// Upper bound of encode_beacon_event's output; reserve this much. Linear in the item's
// params count, else constant time.
size_t max_beacon_event_size(const beacon_hit& hit, const encode_options& opt) noexcept;

// Writes the type=beacon event as one JSON object without a trailing newline into out, which
// holds at least max_beacon_event_size(hit, opt) bytes; returns the bytes written.
// Members, in the pixel's order: v, id, ts, type ("beacon"), action, campaign (null when
// absent), params (an object, as given: string values), url/path/page_host (from item->url
// by the pixel's Referer rules; all three null when url is absent or empty), referrer
// (item->referrer, null when absent or empty; url and referrer without user information),
// then with hit.enrichment: utm (from
// item->url); client_ts (only when the item has one: the number's source text as a JSON
// number, or a JSON string; a "number" that is not a valid JSON number is written as a
// string); visitor, ip, geo, ua, agent, device, browser, os, dnt, host, collector as for a
// pixel.
// The item's strings are already unescaped: action, campaign, params, url and referrer are
// written as given (json_escape, no percent-decoding). path and the utm values are parts of
// a URL, and are percent-decoded as a pixel's are (path without '+' as a space, utm with it),
// so that a page gets the same path from a pixel and from a beacon. A params key that escapes
// like an earlier one is dropped; at most max_event_params are written (the beacon parser
// refuses an item with more). notes as for encode_pixel_event.
size_t encode_beacon_event(const beacon_hit& hit, const encode_options& opt, const event_id& id,
                           uint64_t unix_ms, char* out, encode_notes* notes = nullptr) noexcept;

// The same two steps by hit type, for a caller that records either (net/worker's
// record_event).
inline size_t max_event_size(const pixel_hit& hit, const encode_options& opt) noexcept {
    return max_pixel_event_size(hit, opt);
}
inline size_t max_event_size(const beacon_hit& hit, const encode_options& opt) noexcept {
    return max_beacon_event_size(hit, opt);
}
inline size_t encode_event(const pixel_hit& hit, const encode_options& opt, const event_id& id,
                           uint64_t unix_ms, char* out, encode_notes* notes = nullptr) noexcept {
    return encode_pixel_event(hit, opt, id, unix_ms, out, notes);
}
inline size_t encode_event(const beacon_hit& hit, const encode_options& opt, const event_id& id,
                           uint64_t unix_ms, char* out, encode_notes* notes = nullptr) noexcept {
    return encode_beacon_event(hit, opt, id, unix_ms, out, notes);
}

// ---- internal ----------------------------------------------------------------------------

// Internal to core/event/encoder.cc (the writer and what each event type is made of) and
// core/event/event_id.cc (ids and timestamps): the parts of one event, as the writer takes
// them. Not for other callers.
namespace detail {

enum class params_format : uint8_t {
    query,  // "k=v&k2=v2": '&'-separated, split at the first '=', %XX and '+' decoded
    tuples, // "k/v/k2/v2": '/'-separated pairs, %XX decoded ('+' kept)
    items,  // a beacon_param array, written as given
};

enum class client_ts_format : uint8_t { absent, number, string };

struct event_parts {
    std::string_view type;   // "pixel", "rest", "redirect", "beacon"
    std::string_view action; // escaped; %XX-decoded (never '+') when action_decode
    bool action_decode = false;
    // When set, the first param with this key gives the action instead, when its value is
    // not empty (decoded by the params' rules); no param with this key goes to params.
    std::string_view action_key;
    // The first param whose key is one of these gives the campaign (decoded by the params'
    // rules); none of them goes to params.
    std::string_view campaign_keys[2];
    size_t campaign_key_count = 0;
    // Without campaign keys: the campaign, written as given; has_campaign false writes null.
    bool has_campaign = false;
    std::string_view campaign;
    params_format params = params_format::query;
    std::string_view params_text;        // query and tuples
    const beacon_param* items = nullptr; // items
    size_t item_count = 0;
    // More keys that never go to params; keys of query and tuples params are compared after
    // decoding.
    std::string_view skip_keys[2];
    size_t skip_count = 0;
    std::string_view page_url; // url, path, page_host and utm; empty: the three are null
    bool has_referrer = false; // false: "referrer":null
    std::string_view referrer; // written as given
    bool has_target = false;   // writes "target" (null when target is empty)
    std::string_view target;   // written as given
    client_ts_format client_ts = client_ts_format::absent;
    std::string_view client_ts_text; // a number's text must be a valid JSON number
    std::string_view user_agent;
    std::string_view host;
    ip_address client;
    const pixel_enrichment* enrichment = nullptr;
    bool tracking_refused = false; // no visitor, ip or ua
};

// The output's bound for these parts. The values taken from params (action, campaign) are
// paid for by the params' bytes; action is counted whole even then. Linear in item_count,
// constant time otherwise.
size_t event_size(const event_parts& parts, const encode_options& opt) noexcept;

// event_size of the parts encoder.cc makes of a pixel, rest or redirect hit, worked out
// from the hit: max_pixel_event_size without building the parts, whose zeroing (a 344-byte
// rep stos) cost more than the sum. type and action are the parts' type word and action.
size_t hit_event_size(const pixel_hit& hit, std::string_view type, std::string_view action,
                      const encode_options& opt) noexcept;

// Writes the event into out, which holds at least event_size(parts, opt) bytes; fills notes.
size_t write_event(const event_parts& parts, const encode_options& opt, const event_id& id,
                   uint64_t unix_ms, char* out, encode_notes& notes) noexcept;

} // namespace detail

} // namespace pixelring
