// The event encoder on a realistic pixel hit (Chrome on Windows, a Referer with utm
// parameters, campaignID and two params), and json_escape's throughput on plain ASCII.

#include "core/event.hh"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <string>
#include <vector>

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

// What a worker does per hit: size the slot, make the id, encode.
void BM_encode_pixel_event(benchmark::State& state) {
    const pixel_hit hit = realistic_hit();
    const encode_options opt = realistic_options();
    std::vector<char> slot(max_pixel_event_size(hit, opt));
    uuidv7_generator ids(42);
    uint64_t ms = k_ms;
    size_t bytes = 0;
    for (auto _ : state) {
        ++ms; // one hit per ms: the id takes its new-ms path, the date cache hits
        benchmark::DoNotOptimize(max_pixel_event_size(hit, opt));
        const size_t n = encode_pixel_event(hit, opt, ids.next(ms), ms, slot.data());
        benchmark::DoNotOptimize(slot.data());
        bytes += n;
    }
    state.SetBytesProcessed(static_cast<int64_t>(bytes));
    state.counters["event_bytes"] = static_cast<double>(bytes) / state.iterations();
}
BENCHMARK(BM_encode_pixel_event);

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
