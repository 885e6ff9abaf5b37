#pragma once
// Beacon bodies (POST /e, docs/endpoints.md): one JSON event or an array of them, as sent by
// navigator.sendBeacon (text/plain) or fetch (application/json). beacon_parser turns a
// complete body into one beacon_item per event, each accepted (views of its fields) or
// rejected with a reason; write_receipts writes the `?receipts=1` answer. The request path
// (net/) reads the body, calls parse once per request and encodes the accepted items.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/event/event.hh" // max_action_size

namespace pixelring {

// The body buffer must hold this many readable bytes after the body: simdjson reads ahead
// in 64-byte blocks (SIMDJSON_PADDING; beacon.cc checks the two agree). Their content does
// not matter and is never written.
inline constexpr size_t beacon_body_padding = 64;

// tracking.beacon_batch: items allowed in one array body. 50 covers a tracker that queues
// events for a few seconds; 1000 bounds what one request may cost.
inline constexpr uint32_t default_beacon_batch = 50;
inline constexpr uint32_t max_beacon_batch = 1000;

// Byte limits of one item's fields (after unescaping; the action's is max_action_size).
inline constexpr size_t max_beacon_param_key = 128; // params keys: 1..128
inline constexpr size_t max_beacon_client_ts = 64;  // ts: 1..64, kept verbatim

// Arrays and objects nested deeper than this (the top-level array is level 1) make the whole
// body a 400. A real beacon needs 4 (array, item, params, nothing deeper); unknown fields
// get room to grow. The bound also bounds the validator's recursion.
inline constexpr int max_beacon_depth = 32;

// Why an item was rejected. Each reason has one constant text (beacon_reject_text); reasons
// marked <key>/<field> name it in the receipt ("params.scroll is an object").
enum class beacon_reject : uint8_t {
    none,                // accepted
    item_not_object,     // "item not an object"
    action_missing,      // "action missing"
    action_not_string,   // "action not a string"
    action_empty,        // "action empty"
    action_too_long,     // "action longer than 128 bytes"
    action_not_allowed,  // "action not allowed"
    campaign_not_string, // "campaign not a string or null"
    url_not_string,      // "url not a string or null"
    referrer_not_string, // "referrer not a string or null"
    ts_wrong_type,       // "ts not a number, string or null"
    ts_bad_length,       // "ts empty or longer than 64 bytes"
    params_not_object,   // "params not an object or null"
    param_key_empty,     // "params key empty"
    param_key_too_long,  // "params key longer than 128 bytes"
    param_is_object,     // "params.<key> is an object"
    param_is_array,      // "params.<key> is an array"
    param_is_null,       // "params.<key> is null"
    param_repeated,      // "params.<key> repeated"
    too_many_params,     // "too many params" (more than max_event_params, 64)
    field_repeated,      // "<field> repeated" (a known top-level field given twice)
};
inline constexpr size_t beacon_reject_count = 21;

// The constant text of a reason, as in the list above ("accepted" for none). Suits a log
// line or a metrics label; the receipt fills in <key>/<field>.
std::string_view beacon_reject_text(beacon_reject reason) noexcept;

// One params member. Values are strings whatever their JSON type: a string unescaped, a
// number as its JSON source text ("1e3", "-0.5", "12345678901234567890"), a boolean as
// "true"/"false".
struct beacon_param {
    std::string_view key;
    std::string_view value;
};

enum class client_ts_kind : uint8_t { absent, number, string };

// One item of the body. Every view points into the body buffer, the parser's buffers or
// static text, and is valid until the parser's next parse call or its destruction, and while
// the body buffer lives. Strings are unescaped and valid UTF-8 (a lone surrogate escape such
// as "\ud800" becomes U+FFFD). When rejected, only reason and reason_detail are meaningful.
struct beacon_item {
    beacon_reject reason = beacon_reject::none;
    std::string_view reason_detail; // the params key or field name for <key>/<field> reasons
    std::string_view action;        // 1..128 bytes
    std::optional<std::string_view> campaign; // nullopt: absent or null
    std::optional<std::string_view> url;      // the page; nullopt: absent or null
    std::optional<std::string_view> referrer; // the previous page; nullopt: absent or null
    // The client's timestamp verbatim: the number's source text or the string's content.
    // Never the event's ts; goes to client_ts (a JSON number when kind is number).
    std::string_view client_ts;
    client_ts_kind client_ts_type = client_ts_kind::absent;
    std::span<const beacon_param> params; // at most max_event_params, in body order, no
                                          // repeated key

    bool accepted() const noexcept { return reason == beacon_reject::none; }
};

// What makes the whole body unusable, with no items. Each has an HTTP status and a JSON
// error body (beacon_result::error_body).
enum class beacon_body_error : uint8_t {
    none,
    empty,                // 400 {"error":"empty body"}
    invalid_json,         // 400 {"error":"invalid JSON at byte N: bad number"} (or without
                          //     "at byte N" where simdjson does not tell the place)
    too_deep,             // 400 {"error":"JSON nested deeper than 32 levels"}
    not_object_or_array,  // 400 {"error":"body is not a JSON object or array"}
    no_items,             // 400 {"error":"empty array"}
    too_many_items,       // 413 {"error":"more than N items in a batch"}
    too_large,            // 413 {"error":"body larger than N bytes"}
    insufficient_padding, // 500 {"error":"internal error"}: the caller broke the contract
};

// The outcome of one parse. Views into the parser: valid until its next parse call.
class beacon_result {
public:
    beacon_body_error error() const noexcept { return error_; }
    // 400, 413 or 500 for a body error; 0 when the body held items (the caller answers 204,
    // or 200 with receipts).
    uint16_t http_status() const noexcept;
    // {"error":"..."} for a body error, empty otherwise. ASCII; no escaping needed.
    std::string_view error_body() const noexcept { return error_body_; }

    std::span<const beacon_item> items() const noexcept { return items_; }
    auto begin() const noexcept { return items_.begin(); }
    auto end() const noexcept { return items_.end(); }
    size_t size() const noexcept { return items_.size(); }
    size_t accepted_count() const noexcept { return accepted_; }
    bool is_array() const noexcept { return is_array_; } // the body was an array

private:
    friend class beacon_parser;
    std::span<const beacon_item> items_;
    std::string_view error_body_;
    size_t accepted_ = 0;
    beacon_body_error error_ = beacon_body_error::none;
    bool is_array_ = false;
};

struct beacon_limits {
    size_t max_body_bytes = 65536;             // server.max_body_bytes
    uint32_t max_items = default_beacon_batch; // tracking.beacon_batch, 1..max_beacon_batch
};

// Parses beacon bodies with simdjson's On Demand API. One per worker thread, reused for
// every request; not thread-safe. The constructor (start-up) allocates every buffer for a
// body of max_body_bytes and max_items items, so parse allocates nothing, from the first
// call on. The allowlist is kept by pointer and must outlive the parser (nullptr: any).
//
// What is accepted: the body is one JSON value (RFC 8259, UTF-8, fully validated, nothing
// but whitespace after it): an object, or an array of 1..max_items objects. Per item:
//   action    string, required, 1..128 bytes, allowed by the allowlist
//   campaign  string or null        url, referrer  string or null
//   params    object or null; values string, number or boolean (nested object, array or
//             null: the item is rejected); at most 64 members, keys 1..128 bytes, no key
//             twice
//   ts        number or string of 1..64 bytes, or null: kept verbatim as client_ts
// Any other member is ignored (forward compatibility), though its value must be valid JSON.
// A known member given twice rejects the item. An item's first problem in body order is its
// reason; "action missing" and "action not allowed" are checked after its last member.
class beacon_parser {
public:
    beacon_parser(const beacon_limits& limits, const action_filter* allowed);
    ~beacon_parser();
    beacon_parser(beacon_parser&&) noexcept;
    beacon_parser& operator=(beacon_parser&&) noexcept;

    // body[0..len) is the whole body (Content-Length read or chunks decoded). The buffer
    // must be at least len + beacon_body_padding bytes long: capacity is that length. Not
    // written. No allocation, no exceptions. The result's views are valid until the next
    // call and while body lives.
    beacon_result parse(const char* body, size_t len, size_t capacity) noexcept;

    struct state; // defined in beacon.cc

private:
    std::unique_ptr<state> state_;
};

// Upper bound of write_receipts' output for a result of this many items.
inline constexpr size_t max_receipt_item_bytes = 56 + 6 * max_beacon_param_key;
static_assert(max_receipt_item_bytes >= 40 + 128, "a dropped item's receipt fits");
inline constexpr size_t max_receipts_size(size_t items) noexcept {
    return 2 + items * max_receipt_item_bytes + 16;
}

// Writes the `?receipts=1` body, one entry per item in body order:
//   [{"status":"accepted"},{"status":"rejected","reason":"params.x is an object"}]
// Of the accepted items only the first `kept` were kept (became events); the others were
// dropped by the server (no room left, the sink cannot keep events) and are written
//   {"status":"dropped","reason":"<dropped_reason>"}
// dropped_reason is JSON-safe text of at most max_dropped_reason_size bytes.
// Needs cap >= max_receipts_size(result.size()); returns the bytes written, or 0 when cap
// is smaller (nothing useful written). For a result with a body error it writes "[]"; the
// caller answers with error_body() instead. No allocation.
inline constexpr size_t max_dropped_reason_size = 128;
size_t write_receipts(const beacon_result& result, char* out, size_t cap, size_t kept = SIZE_MAX,
                      std::string_view dropped_reason = {}) noexcept;

} // namespace pixelring
