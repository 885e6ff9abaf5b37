// The input is a whole POST /e body. The harness hands it to beacon_parser (core/event/beacon.hh)
// as net/worker/worker_requests.cc's respond_beacon does, with one parser reused for every body and
// the default limits (server.max_body_bytes 64 KiB, tracking.beacon_batch 50), but in a heap
// buffer of exactly the body plus beacon_body_padding bytes, capacity saying so: simdjson may
// read the padding, ASan reports a byte beyond it. The padding holds a byte picked from the
// input, since its content must not matter. Checked: a body error has its documented status
// and a JSON error body, and is refused by simdjson's DOM parser too when it says "invalid
// JSON"; every accepted item keeps the documented limits (action 1..128 bytes, UTF-8 strings,
// at most 64 params with distinct keys of 1..128 bytes, ts 1..64 bytes, a numeric ts that a
// strict JSON reader takes); the receipts fit max_receipts_size and are a JSON array with one
// entry per item; and each accepted item encodes (encode_beacon_event, into exactly
// max_beacon_event_size bytes) to a JSON object that simdjson reads back with no member
// twice. A second parser with tracking.allowed_events set must reject exactly the items
// whose action it does not allow.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "core/enrich/user_agent.hh"
#include "core/event/beacon.hh"
#include "core/event/event.hh"
#include "core/event/json_scalars.hh"
#include "core/policy/action_allowlist.hh"
#include "fuzz/fuzz_support.hh"

namespace pixelring {
namespace {

using fuzz::escaped;

void check_item(const beacon_item& item) {
    if (!item.accepted()) {
        FUZZ_CHECK(static_cast<size_t>(item.reason) < beacon_reject_count, "reason %d",
                   int(item.reason));
        return;
    }
    FUZZ_CHECK(!item.action.empty() && item.action.size() <= max_action_size, "action of %zu bytes",
               item.action.size());
    FUZZ_CHECK(fuzz::is_valid_utf8(item.action), "action not UTF-8: %s",
               escaped(item.action).c_str());
    for (const auto* field : {&item.campaign, &item.url, &item.referrer})
        if (*field)
            FUZZ_CHECK(fuzz::is_valid_utf8(**field), "string not UTF-8: %s",
                       escaped(**field).c_str());
    FUZZ_CHECK(item.params.size() <= max_event_params, "%zu params", item.params.size());
    for (size_t i = 0; i < item.params.size(); ++i) {
        const beacon_param& p = item.params[i];
        FUZZ_CHECK(!p.key.empty() && p.key.size() <= max_beacon_param_key, "params key of %zu",
                   p.key.size());
        FUZZ_CHECK(fuzz::is_valid_utf8(p.key) && fuzz::is_valid_utf8(p.value),
                   "params member not UTF-8: %s", escaped(p.key).c_str());
        for (size_t j = 0; j < i; ++j)
            FUZZ_CHECK(item.params[j].key != p.key, "params key %s repeated",
                       escaped(p.key).c_str());
    }
    switch (item.client_ts_type) {
    case client_ts_kind::absent:
        FUZZ_CHECK(item.client_ts.empty(), "absent ts with text");
        break;
    case client_ts_kind::string:
        FUZZ_CHECK(fuzz::is_valid_utf8(item.client_ts), "ts not UTF-8");
        [[fallthrough]];
    case client_ts_kind::number:
        FUZZ_CHECK(!item.client_ts.empty() && item.client_ts.size() <= max_beacon_client_ts,
                   "ts of %zu bytes", item.client_ts.size());
        break;
    }
    if (item.client_ts_type == client_ts_kind::number) {
        // Kept as a JSON number in the event: a strict reader must take it on its own.
        FUZZ_CHECK(is_json_number(item.client_ts), "numeric ts %s is no JSON number",
                   escaped(item.client_ts).c_str());
        FUZZ_CHECK(fuzz::parse_json_or_abort(item.client_ts, "the numeric ts").is_number(),
                   "numeric ts %s is no number", escaped(item.client_ts).c_str());
    }
}

// The event the worker would write for the item, read back by a strict JSON reader.
void check_encoding(const beacon_item& item, const pixel_enrichment* enrichment,
                    const encode_options& opt) {
    beacon_hit hit{.item = &item,
                   .user_agent = "Mozilla/5.0 (X11; Linux x86_64)",
                   .host = "px.example.com",
                   .client = {.family = 4, .bytes = {203, 0, 113, 9}},
                   .enrichment = enrichment};
    const size_t bound = max_beacon_event_size(hit, opt);
    fuzz::exact_buffer out(std::string_view(std::string(bound, '\0')));
    const event_id id{0x01, 0x92, 0xf7, 0xa4, 0x6c, 0x1e, 0x7d, 0x2a,
                      0x9b, 0x1e, 0x3f, 0x5c, 0x2d, 0x7e, 0x8a, 0x90};
    const size_t n = encode_beacon_event(hit, opt, id, 1795000000000, out.data());
    FUZZ_CHECK(n <= bound, "beacon event of %zu bytes, bound %zu", n, bound);
    const std::string_view event(out.data(), n);
    const auto root = fuzz::parse_json_object_or_abort(event, "the beacon event");
    fuzz::check_unique_keys(root, "the beacon event");
    simdjson::dom::object params;
    if (!root["params"].get(params)) fuzz::check_unique_keys(params, "the beacon event's params");
    const bool has_ts = !root["client_ts"].error();
    FUZZ_CHECK(has_ts == (item.client_ts_type != client_ts_kind::absent),
               "client_ts present: %d, item's ts kind %d", int(has_ts), int(item.client_ts_type));
}

struct parsers {
    beacon_limits limits{};
    action_allowlist allowed;
    beacon_parser any{limits, nullptr};
    beacon_parser listed{limits, build_list()};
    agent_info agent{.label = agent_label::browser,
                     .browser = "Firefox",
                     .os = "Linux",
                     .device = device_kind::desktop};
    pixel_enrichment enrichment{.visitor = "0123456789abcdef0123456789abcdef", .agent = &agent};
    encode_options options{.ip = ip_privacy::full, .collector = "edge-1"};

    const action_allowlist* build_list() {
        const std::string error =
            action_allowlist::build({"pageview", "click", "email-*"}, allowed);
        FUZZ_CHECK(error.empty(), "%s", error.c_str());
        return &allowed;
    }
};

} // namespace
} // namespace pixelring

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace pixelring;
    static parsers p;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const char pad = "\0\"{[\\ 9"[fuzz::input_hash(input) % 7];
    fuzz::exact_buffer body(input, beacon_body_padding, pad);
    const beacon_result result = p.any.parse(body.data(), body.size(), body.capacity());

    if (result.error() != beacon_body_error::none) {
        FUZZ_CHECK(result.error() != beacon_body_error::insufficient_padding,
                   "insufficient padding claimed with %zu of %zu", body.capacity(), body.size());
        const uint16_t status = result.http_status();
        FUZZ_CHECK(status == 400 || status == 413, "body error status %u", unsigned(status));
        FUZZ_CHECK(result.size() == 0 && result.accepted_count() == 0, "items with a body error");
        fuzz::parse_json_object_or_abort(result.error_body(), "the error body");
        if (result.error() == beacon_body_error::invalid_json) {
            simdjson::dom::parser dom;
            simdjson::dom::element root;
            FUZZ_CHECK(dom.parse(simdjson::padded_string(input)).get(root) != simdjson::SUCCESS,
                       "\"%s\" for a body simdjson's DOM parser reads: %s",
                       std::string(result.error_body()).c_str(), escaped(input).c_str());
        }
    } else {
        FUZZ_CHECK(result.http_status() == 0 && result.error_body().empty(),
                   "no error, but a body");
        FUZZ_CHECK(result.size() >= 1 && result.size() <= p.limits.max_items, "%zu items",
                   result.size());
        FUZZ_CHECK(result.is_array() || result.size() == 1, "an object body with %zu items",
                   result.size());
        size_t accepted = 0;
        for (const beacon_item& item : result) {
            check_item(item);
            accepted += item.accepted();
        }
        FUZZ_CHECK(accepted == result.accepted_count(), "accepted_count %zu of %zu",
                   result.accepted_count(), accepted);
        for (const beacon_item& item : result) {
            if (!item.accepted()) continue;
            check_encoding(item, nullptr, encode_options{.collector = "edge-1"});
            check_encoding(item, &p.enrichment, p.options);
        }
    }

    // Receipts: exactly max_receipts_size bytes are enough, one fewer is refused.
    const size_t cap = max_receipts_size(result.size());
    fuzz::exact_buffer receipts(std::string_view(std::string(cap, '\0')));
    const size_t n = write_receipts(result, receipts.data(), cap);
    FUZZ_CHECK(n > 0 && n <= cap, "receipts of %zu bytes, cap %zu", n, cap);
    simdjson::dom::array array;
    FUZZ_CHECK(!fuzz::parse_json_or_abort({receipts.data(), n}, "the receipts").get(array),
               "the receipts are not an array");
    FUZZ_CHECK(array.size() == result.size(), "%zu receipts for %zu items", array.size(),
               result.size());
    FUZZ_CHECK(write_receipts(result, receipts.data(), cap - 1) == 0,
               "receipts written into less than max_receipts_size");

    // tracking.allowed_events rejects items by action and changes nothing else.
    fuzz::exact_buffer again(input, beacon_body_padding, pad);
    const beacon_result listed = p.listed.parse(again.data(), again.size(), again.capacity());
    FUZZ_CHECK(listed.error() == result.error() && listed.size() == result.size(),
               "the allowlist changed the body's outcome");
    for (size_t i = 0; i < listed.size(); ++i) {
        const beacon_item& a = result.items()[i];
        const beacon_item& b = listed.items()[i];
        if (b.accepted()) {
            FUZZ_CHECK(a.accepted() && a.action == b.action && p.allowed.allows(b.action),
                       "item %zu accepted only with the allowlist", i);
        } else if (!a.accepted()) {
            FUZZ_CHECK(b.reason == a.reason, "item %zu: %s without the allowlist, %s with it", i,
                       std::string(beacon_reject_text(a.reason)).c_str(),
                       std::string(beacon_reject_text(b.reason)).c_str());
        } else {
            FUZZ_CHECK(b.reason == beacon_reject::action_not_allowed && !p.allowed.allows(a.action),
                       "item %zu rejected by the allowlist for %s", i,
                       std::string(beacon_reject_text(b.reason)).c_str());
        }
    }
    return 0;
}
