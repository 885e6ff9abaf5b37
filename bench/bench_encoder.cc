// The event encoder on a realistic pixel hit (Chrome on Windows, a Referer with utm
// parameters, campaignID and two params), without and with the enrichment fields, the same
// page as a beacon item, and json_escape's throughput on plain ASCII. Run from the project
// directory: the enrichment lookup case reads the GeoIP test databases from
// ../shared/testdata/geoip.

#include "core/event/event.hh"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <string>
#include <vector>

#include "bench/harness_request.hh"
#include "core/enrich/enrichment.hh"
#include "core/enrich/geoip.hh"
#include "core/enrich/user_agent.hh"
#include "core/enrich/visitor.hh"
#include "core/event/beacon.hh"
#include "core/event/url_fields.hh"
#include "core/http/request_parser.hh"

namespace {

using namespace pixelring;

constexpr uint64_t k_ms = 1795343700123; // 2026-11-22T10:35:00.123Z

pixel_hit realistic_hit() {
    pixel_hit hit;
    hit.action = "pageview";
    hit.query = "campaignID=dillonbaird.io&scroll-depth=70%25&dark-mode=true";
    hit.referer = "https://dillonbaird.io/blog/io-uring-pixels?utm_source=newsletter"
                  "&utm_medium=email&utm_campaign=nov-2026";
    hit.user_agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
                     "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
    hit.host = "px.dillonbaird.io";
    hit.client.family = 4;
    const uint8_t addr[4] = {203, 0, 113, 77};
    std::copy(addr, addr + 4, hit.client.bytes);
    return hit;
}

encode_options realistic_options() {
    encode_options opt;
    opt.collector = "edge-1";
    return opt;
}

// What a worker does per hit: size the slot, make the id, encode. size and encode are the
// event type's max_*_event_size and encode_*_event.
template <class Hit, class Size, class Encode>
void encode_loop(benchmark::State& state, const Hit& hit, Size size, Encode encode) {
    const encode_options opt = realistic_options();
    std::vector<char> slot(size(hit, opt));
    uuidv7_generator ids(42);
    uint64_t ms = k_ms;
    size_t bytes = 0;
    for (auto _ : state) {
        ++ms; // one hit per ms: the id takes its new-ms path, the date cache hits
        benchmark::DoNotOptimize(size(hit, opt));
        encode_notes notes; // as the worker passes them
        const size_t n = encode(hit, opt, ids.next(ms), ms, slot.data(), &notes);
        benchmark::DoNotOptimize(slot.data());
        bytes += n;
    }
    state.SetBytesProcessed(static_cast<int64_t>(bytes));
    state.counters["event_bytes"] = static_cast<double>(bytes) / state.iterations();
}

// The size bound, then the event, as the worker does it per pixel hit; the event's size.
size_t bound_and_encode(benchmark::State& state, const pixel_hit& hit, const encode_options& opt,
                        uuidv7_generator& ids, uint64_t ms, std::vector<char>& slot) {
    if (max_pixel_event_size(hit, opt) > slot.size()) state.SkipWithError("slot too small");
    const size_t n = encode_pixel_event(hit, opt, ids.next(ms), ms, slot.data());
    benchmark::DoNotOptimize(slot.data());
    return n;
}

void BM_encode_pixel_event(benchmark::State& state) {
    encode_loop(state, realistic_hit(), max_pixel_event_size, encode_pixel_event);
}
BENCHMARK(BM_encode_pixel_event);

// What the worker hands the encoder with all enrichment on: the GeoIP fields, the agent and a
// visitor id, worked out beforehand (their own costs are in BM_enrich_and_encode_pixel_event).
struct realistic_enrichment {
    geo_fields geo{"GB", "ENG", "London", 1221, "Telstra Pty Ltd"};
    agent_info agent{agent_label::browser, "Chrome", "Windows", device_kind::desktop};
    pixel_enrichment enrichment;

    realistic_enrichment() {
        enrichment.visitor = "5f0c8e3b9a1d2c475f0c8e3b9a1d2c47";
        enrichment.geo = &geo;
        enrichment.agent = &agent;
    }
};

// BM_encode_pixel_event's hit with every enrichment member: the difference between the two is
// what formatting the enrichment costs (utm object, visitor, five GeoIP members, agent,
// device, browser, os, dnt).
void BM_encode_pixel_event_enriched(benchmark::State& state) {
    pixel_hit hit = realistic_hit();
    const realistic_enrichment enriched;
    hit.enrichment = &enriched.enrichment;
    encode_loop(state, hit, max_pixel_event_size, encode_pixel_event);
}
BENCHMARK(BM_encode_pixel_event_enriched);

// One beacon item as navigator.sendBeacon sends it from the tracker (the same page, campaign
// and two params as realistic_hit, a numeric client ts), with the enrichment members: what
// the worker does per accepted item of a POST /e body, after the body is parsed.
void BM_encode_beacon_event_enriched(benchmark::State& state) {
    const beacon_param params[] = {{"scroll-depth", "70%"}, {"dark-mode", "true"}};
    beacon_item item;
    item.action = "pageview";
    item.campaign = "dillonbaird.io";
    item.url = "https://dillonbaird.io/blog/io-uring-pixels?utm_source=newsletter"
               "&utm_medium=email&utm_campaign=nov-2026";
    item.referrer = "https://news.ycombinator.com/";
    item.client_ts = "1795343700000";
    item.client_ts_type = client_ts_kind::number;
    item.params = params;
    const pixel_hit pixel = realistic_hit();
    const realistic_enrichment enriched;
    beacon_hit hit;
    hit.item = &item;
    hit.user_agent = pixel.user_agent;
    hit.host = pixel.host;
    hit.client = pixel.client;
    hit.enrichment = &enriched.enrichment;
    encode_loop(state, hit, max_beacon_event_size, encode_beacon_event);
}
BENCHMARK(BM_encode_beacon_event_enriched);

// The whole enrichment as the worker does it per hit: the DNT test, classify_agent, a GeoIP
// lookup in the MaxMind test databases (an address they know, 89.160.20.112: a small tree,
// so a production database costs more cache misses), the visitor hash, then the encoder.
void BM_enrich_and_encode_pixel_event(benchmark::State& state) {
    geoip_databases geoip;
    geoip_config cfg;
    cfg.city_db = "../shared/testdata/geoip/GeoIP2-City-Test.mmdb";
    cfg.asn_db = "../shared/testdata/geoip/GeoLite2-ASN-Test.mmdb";
    if (const std::string error = geoip.open(cfg); !error.empty()) {
        state.SkipWithError(error.c_str());
        return;
    }
    visitor_key key;
    if (const std::string error = visitor_key::from_config({}, key); !error.empty()) {
        state.SkipWithError(error.c_str());
        return;
    }
    visitor_hasher hasher(key);
    pixel_hit hit = realistic_hit();
    const uint8_t addr[4] = {89, 160, 20, 112};
    std::copy(addr, addr + 4, hit.client.bytes);
    const encode_options opt = realistic_options();
    uuidv7_generator ids(42);
    std::vector<char> slot(64 * 1024);
    uint64_t ms = k_ms;
    size_t bytes = 0;
    for (auto _ : state) {
        ++ms;
        pixel_enrichment enrichment;
        enrichment.dnt = tracking_refused({}, {});
        agent_signals signals;
        signals.user_agent = hit.user_agent;
        const agent_info agent = classify_agent(signals);
        const geo_fields geo = geoip.lookup(hit.client);
        char visitor[visitor_id_size];
        if (!enrichment.dnt &&
            hasher.visitor_id(ms, "dillonbaird.io", hit.client, hit.user_agent, visitor)) {
            enrichment.visitor = {visitor, sizeof visitor};
        }
        enrichment.geo = &geo;
        enrichment.agent = &agent;
        hit.enrichment = &enrichment;
        bytes += bound_and_encode(state, hit, opt, ids, ms, slot);
    }
    state.counters["event_bytes"] = static_cast<double>(bytes) / state.iterations();
}
BENCHMARK(BM_enrich_and_encode_pixel_event);

// The whole per-request user-space work of the load harness's hit (bench/load/lib.sh: the
// path, Referer and Chrome 131 User-Agent as wrk sends them) as net/worker/worker_requests.cc does
// it for a pixel, minus routing and the ring: parse_head, enrich_request (no GeoIP database, as in
// the harness), raw_campaign and enrich_visitor, max_pixel_event_size, the id, the encoder.
// The figure to hold against the worker's per-request user time.
void BM_pixel_request(benchmark::State& state) {
    constexpr std::string_view request = pixelring::bench::harness_get;
    enrichment_setup setup;
    if (const std::string error = visitor_key::from_config({}, setup.visitor); !error.empty()) {
        state.SkipWithError(error.c_str());
        return;
    }
    visitor_hasher visitors(setup.visitor);
    const http_limits limits;
    request_parser parser(limits);
    http_request r;
    const encode_options opt = realistic_options();
    uuidv7_generator ids(42);
    std::vector<char> slot(64 * 1024);
    uint64_t ms = k_ms;
    size_t bytes = 0;
    for (auto _ : state) {
        ++ms;
        benchmark::DoNotOptimize(request.data());
        if (parser.parse_head(request.data(), request.size(), r) != parse_status::complete) {
            state.SkipWithError("not complete");
            break;
        }
        pixel_hit hit;
        hit.action = "pageview";
        hit.query = r.query;
        hit.referer = r.referer;
        hit.user_agent = r.user_agent;
        hit.host = r.host;
        hit.client.family = 4;
        hit.client.bytes[0] = 127;
        hit.client.bytes[3] = 1;
        enrichment_scratch extra;
        enrich_request(setup, r, hit.client, extra);
        enrich_visitor(setup, r, ms, visitors, hit.client, raw_campaign(hit), r.referer, extra);
        hit.enrichment = &extra.fields;
        bytes += bound_and_encode(state, hit, opt, ids, ms, slot);
    }
    state.counters["event_bytes"] = static_cast<double>(bytes) / state.iterations();
}
BENCHMARK(BM_pixel_request);

void BM_json_escape_ascii(benchmark::State& state) {
    const std::string ua(realistic_hit().user_agent);
    std::string text;
    while (text.size() < static_cast<size_t>(state.range(0)))
        text += ua;
    text.resize(static_cast<size_t>(state.range(0)));
    std::vector<char> out(6 * text.size());
    for (auto _ : state) {
        benchmark::DoNotOptimize(json_escape(text, out.data()));
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_json_escape_ascii)->Arg(120)->Arg(4096);

// The query path: percent-decoding with '+' as a space, a few escapes per value.
void BM_json_escape_query(benchmark::State& state) {
    const std::string text = "https%3A%2F%2Fexample.com%2Fa%3Fb%3Dc+d&title=Hello+World%21";
    std::vector<char> out(6 * text.size());
    for (auto _ : state) {
        benchmark::DoNotOptimize(json_escape(text, out.data(), true, true));
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_json_escape_query);

// The short strings of BM_pixel_request's event, each escaped as the encoder does: what
// json_escape costs per event, call overhead included.
void BM_json_escape_event_strings(benchmark::State& state) {
    struct piece {
        std::string_view text;
        bool decode, plus;
    };
    const piece pieces[] = {{"pageview", true, false},
                            {"example.com", true, true},
                            {"scroll-depth", true, true},
                            {"70%25", true, true},
                            {"dark-mode", true, true},
                            {"true", true, true},
                            {"https://example.com/blog/post?utm_source=news", false, false},
                            {"/blog/post", true, false},
                            {"example.com", false, false},
                            {"news", true, true},
                            {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
                             "like Gecko) Chrome/131.0.0.0 Safari/537.36",
                             false, false},
                            {"Chrome", false, false},
                            {"Windows", false, false},
                            {"127.0.0.1:8080", false, false},
                            {"edge-1", false, false}};
    char out[6 * 256];
    for (auto _ : state) {
        for (const piece& p : pieces) {
            benchmark::DoNotOptimize(p.text.data());
            benchmark::DoNotOptimize(json_escape(p.text, out, p.decode, p.plus));
        }
        benchmark::ClobberMemory();
    }
}
BENCHMARK(BM_json_escape_event_strings);

// max_pixel_event_size on the enriched hit: the worker sizes the ring slot with it per hit.
void BM_max_pixel_event_size(benchmark::State& state) {
    pixel_hit hit = realistic_hit();
    const realistic_enrichment enriched;
    hit.enrichment = &enriched.enrichment;
    const encode_options opt = realistic_options();
    for (auto _ : state) {
        benchmark::DoNotOptimize(hit);
        benchmark::DoNotOptimize(max_pixel_event_size(hit, opt));
    }
}
BENCHMARK(BM_max_pixel_event_size);

void BM_format_uuid(benchmark::State& state) {
    uuidv7_generator ids(42);
    const event_id id = ids.next(k_ms);
    char text[36];
    for (auto _ : state) {
        benchmark::DoNotOptimize(id);
        format_uuid(id, text);
        benchmark::DoNotOptimize(text);
    }
}
BENCHMARK(BM_format_uuid);

// The page fields of the harness's Referer as the encoder and enrich_visitor take them.
void BM_url_fields(benchmark::State& state) {
    const std::string_view url = "https://example.com/blog/post?utm_source=news";
    char host[max_host_size];
    for (auto _ : state) {
        benchmark::DoNotOptimize(url.data());
        benchmark::DoNotOptimize(url_host(url, host));
        benchmark::DoNotOptimize(url_path(url));
        benchmark::DoNotOptimize(extract_utm(url));
    }
}
BENCHMARK(BM_url_fields);

// The same three from one split, as the encoder takes them.
void BM_split_page_url(benchmark::State& state) {
    const std::string_view url = "https://example.com/blog/post?utm_source=news";
    char host[max_host_size];
    for (auto _ : state) {
        benchmark::DoNotOptimize(url.data());
        benchmark::DoNotOptimize(split_page_url(url, host, true));
    }
}
BENCHMARK(BM_split_page_url);

void BM_uuidv7_next(benchmark::State& state) {
    uuidv7_generator ids(42);
    for (auto _ : state)
        benchmark::DoNotOptimize(ids.next(k_ms));
}
BENCHMARK(BM_uuidv7_next);

void BM_format_timestamp(benchmark::State& state) {
    char text[24];
    uint64_t ms = k_ms;
    const uint64_t step = static_cast<uint64_t>(state.range(0));
    for (auto _ : state) {
        format_timestamp(ms += step, text);
        benchmark::DoNotOptimize(text);
    }
}
// 1 ms apart: the per-second cache hits; 1001 ms apart: every call formats the date.
BENCHMARK(BM_format_timestamp)->Arg(1)->Arg(1001);

} // namespace

BENCHMARK_MAIN();
