// The input is one HTTP request as a client sends it: a pixel, /tr/v1/ or /r/ GET, or a POST
// /e beacon with its body (Content-Length or chunked). The harness does what the worker does
// with it (net/worker/worker_input.cc, net/worker/worker_requests.cc): parse the head, route it,
// check a redirect target (redirect.allow_hosts admits two hosts), read and decode a beacon body
// into a buffer with beacon_body_padding, run enrich_request and enrich_visitor
// (core/enrich/enrichment.hh; every address is a trusted proxy, so X-Forwarded-For and Forwarded
// choose the client, and the GeoIP test databases in ../shared/testdata are used when present),
// then encode_pixel_event or encode_beacon_event (core/event/event.hh, core/event/encoder.cc)
// into a heap buffer of exactly max_pixel_event_size / max_beacon_event_size bytes, the bound the
// encoder promises, as the worker reserves a ring slot of that size. Twice: with enrichment and IPs
// truncated, and without enrichment, with full IPs and no User-Agent. Checked: the event is no
// longer than the bound, is strict UTF-8, and simdjson's DOM parser reads it as one object
// with no member twice (params too) that starts with v, id and ts, has the documented type, and
// leaves out visitor, ip and ua when DNT was honoured.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <unistd.h>

#include "core/enrich/enrichment.hh"
#include "core/event/beacon.hh"
#include "core/event/event.hh"
#include "core/event/url_fields.hh"
#include "core/http/chunked_decoder.hh"
#include "core/http/request_parser.hh"
#include "core/policy/redirect.hh"
#include "dashboard/event_stats.hh"
#include "fuzz/fuzz_support.hh"
#include "net/http/router.hh"

#ifndef PIXELRING_TESTDATA_DIR
#define PIXELRING_TESTDATA_DIR ""
#endif

namespace pixelring {
namespace {

using fuzz::escaped;

constexpr uint64_t now_ms = 1795000000000; // 2026-11-18

// What the worker holds from start-up on.
struct worker_state {
    http_limits limits{};
    enrichment_setup enrichment;
    std::unique_ptr<visitor_hasher> visitors;
    redirect_policy redirects;
    beacon_parser beacons{beacon_limits{}, nullptr};

    worker_state() {
        config cfg;
        cfg.server.trusted_proxies = {"0.0.0.0/0", "::/0"};
        cfg.privacy.visitor_secret = "fuzzing-visitor-secret-0123456789";
        const std::string dir = PIXELRING_TESTDATA_DIR;
        if (!dir.empty() && access((dir + "/GeoIP2-City-Test.mmdb").c_str(), R_OK) == 0) {
            cfg.geoip.city_db = dir + "/GeoIP2-City-Test.mmdb";
            cfg.geoip.asn_db = dir + "/GeoLite2-ASN-Test.mmdb";
        }
        std::string e = make_enrichment_setup(cfg, enrichment);
        FUZZ_CHECK(e.empty(), "%s", e.c_str());
        visitors = std::make_unique<visitor_hasher>(enrichment.visitor);
        e = make_redirect_policy("fuzzing-secret-0123456789abcdef",
                                 {"shop.example", "[2001:db8::1]"}, redirects);
        FUZZ_CHECK(e.empty(), "%s", e.c_str());
    }
};

struct variant {
    bool enrich;
    encode_options options;
    ip_address peer;
};

const variant variants[] = {
    {true,
     {.ip = ip_privacy::truncate, .user_agent = true, .collector = "edge-1"},
     {.family = 4, .bytes = {203, 0, 113, 7}}},
    {false,
     {.ip = ip_privacy::full, .user_agent = false, .collector = "edge \"2\"\\\x01\xc3\xa9"},
     {.family = 6, .bytes = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}}},
};

void check_event(std::string_view event, size_t bound, std::string_view type, bool dnt) {
    static const bool print = std::getenv("PIXELRING_FUZZ_PRINT") != nullptr;
    if (print) std::fprintf(stderr, "%.*s\n", int(event.size()), event.data());
    FUZZ_CHECK(event.size() <= bound, "%.*s event of %zu bytes, bound %zu", int(type.size()),
               type.data(), event.size(), bound);
    const auto root = fuzz::parse_json_object_or_abort(event, "the event");
    fuzz::check_unique_keys(root, "the event");
    simdjson::dom::object params;
    if (!root["params"].get(params)) fuzz::check_unique_keys(params, "the event's params");
    FUZZ_CHECK(event.starts_with("{\"v\":1,\"id\":\""), "event starts %s",
               escaped(event.substr(0, 20)).c_str());
    std::string_view got;
    FUZZ_CHECK(!root["type"].get(got) && got == type, "type %s, expected %.*s",
               escaped(got).c_str(), int(type.size()), type.data());
    char ts[24];
    format_timestamp(now_ms, ts);
    FUZZ_CHECK(event_timestamp_text(event) == std::string_view(ts, 24), "ts not where it belongs");
    if (dnt)
        for (const char* member : {"visitor", "ip", "ua"})
            FUZZ_CHECK(root[member].error() == simdjson::NO_SUCH_FIELD,
                       "\"%s\" in an event with DNT honoured", member);
    // The dashboard's reader (dashboard/event_stats.cc) reads every event the encoder writes:
    // its type, and the members of the top lists. One event per (fake) second, so that none is
    // passed over by the lists' sampling.
    static pixelring::event_stats stats(now_ms, true);
    static uint64_t clock_ms = now_ms;
    clock_ms += 1000;
    stats.tick(clock_ms);
    const uint64_t unread = stats.unread();
    std::string_view t = type;
    const auto index = t == "pixel"    ? pixelring::event_stats::pixel
                       : t == "beacon" ? pixelring::event_stats::beacon
                       : t == "rest"   ? pixelring::event_stats::rest
                                       : pixelring::event_stats::redirect;
    const uint64_t before = stats.total(index);
    stats.add(event);
    FUZZ_CHECK(stats.total(index) == before + 1,
               "event_stats counted the %.*s event as another type", int(type.size()), type.data());
    FUZZ_CHECK(stats.unread() == unread, "event_stats could not read %s",
               escaped(event.substr(0, 300)).c_str());
}

// respond_beacon: the body, read whole, in a buffer with the padding simdjson needs.
void beacon_events(worker_state& w, const variant& v, const http_request& r, std::string_view body,
                   ip_address client, enrichment_scratch& extra) {
    fuzz::exact_buffer buf(body, beacon_body_padding, '}');
    const beacon_result result = w.beacons.parse(buf.data(), buf.size(), buf.capacity());
    for (const beacon_item& item : result) {
        if (!item.accepted()) continue;
        beacon_hit hit{.item = &item,
                       .user_agent = r.user_agent,
                       .host = r.host,
                       .client = client,
                       .tracking_refused = extra.fields.dnt};
        if (v.enrich) {
            enrich_visitor(w.enrichment, r, now_ms, *w.visitors, client,
                           item.campaign.value_or(std::string_view{}),
                           item.url.value_or(std::string_view{}), extra);
            hit.enrichment = &extra.fields;
        }
        const size_t bound = max_beacon_event_size(hit, v.options);
        fuzz::exact_buffer out(std::string(bound, '\0'));
        const size_t n =
            encode_beacon_event(hit, v.options, event_id{0x01, 0x92}, now_ms, out.data());
        check_event({out.data(), n}, bound, "beacon", hit.tracking_refused);
    }
}

// record_hit: a pixel, rest or redirect event.
void hit_event(worker_state& w, const variant& v, const http_request& r, pixel_hit& hit,
               enrichment_scratch& extra) {
    hit.referer = r.referer;
    hit.user_agent = r.user_agent;
    hit.host = r.host;
    if (v.enrich) {
        enrich_visitor(w.enrichment, r, now_ms, *w.visitors, hit.client, raw_campaign(hit),
                       r.referer, extra);
        hit.enrichment = &extra.fields;
    }
    hit.tracking_refused = extra.fields.dnt;
    const size_t bound = max_pixel_event_size(hit, v.options);
    fuzz::exact_buffer out(std::string(bound, '\0'));
    const size_t n = encode_pixel_event(hit, v.options, event_id{0x01, 0x92}, now_ms, out.data());
    const std::string_view type = hit.type == event_type::pixel  ? "pixel"
                                  : hit.type == event_type::rest ? "rest"
                                                                 : "redirect";
    check_event({out.data(), n}, bound, type, hit.tracking_refused);
}

// The body of a POST /e after its head, as feed_body collects it; false while incomplete.
bool read_body(const http_request& r, std::string_view after, std::string& body) {
    if (!r.chunked) {
        if (after.size() < r.content_length) return false;
        body.assign(after.substr(0, size_t(r.content_length)));
        return true;
    }
    chunked_decoder chunks(http_limits{}.max_body_bytes);
    fuzz::exact_buffer buf(after);
    size_t len = buf.size(), trailing = 0;
    if (chunks.decode(buf.data(), &len, &trailing) != parse_status::complete) return false;
    body.assign(buf.data(), len);
    return true;
}

void handle(worker_state& w, const variant& v, const http_request& r, std::string_view after) {
    const routed how = route_request(r);
    ip_address client = v.peer;
    enrichment_scratch extra;
    // enrich_request resolves the client behind the (trusted) proxies whether or not
    // tracking.enrich is on, as the worker calls it whenever enrichment is configured.
    enrich_request(w.enrichment, r, client, extra);
    pixel_hit hit;
    hit.client = client;
    switch (how.what) {
    case endpoint::pixel:
        hit.action = how.action;
        hit.query = r.query;
        return hit_event(w, v, r, hit, extra);
    case endpoint::rest:
        if (!valid_rest_tuples(how.tuples)) return;
        hit.type = event_type::rest;
        hit.query = how.tuples;
        return hit_event(w, v, r, hit, extra);
    case endpoint::redirect: {
        const std::string_view raw_url = query_param(r.query, "url");
        char location[3 * max_redirect_target];
        const redirect_check check =
            check_redirect(w.redirects, raw_url, query_param(r.query, "sig"),
                           find_redirect_subject(how.action, r.query), location, sizeof location);
        if (check.status != redirect_status::ok) return;
        hit.type = event_type::redirect;
        hit.action = how.action;
        hit.query = r.query;
        hit.target = std::string_view(location, check.location_size);
        return hit_event(w, v, r, hit, extra);
    }
    case endpoint::beacon: {
        std::string body;
        if ((r.chunked || r.has_content_length) && !read_body(r, after, body)) return;
        return beacon_events(w, v, r, body, client, extra);
    }
    default:
        return;
    }
}

} // namespace
} // namespace pixelring

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace pixelring;
    static worker_state w;
    const fuzz::exact_buffer request(std::string_view(reinterpret_cast<const char*>(data), size));
    request_parser parser(w.limits);
    http_request r;
    if (parser.parse_head(request.data(), request.size(), r) != parse_status::complete) return 0;
    const std::string_view after = request.view().substr(r.head_length);
    for (const variant& v : variants) {
        // Without tracking.enrich the worker passes no enrichment to the encoder.
        w.enrichment.enabled = v.enrich;
        handle(w, v, r, after);
    }
    return 0;
}
