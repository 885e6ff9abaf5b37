// What counting an event for the dashboard costs the sink thread: event_stats::add on events
// in the encoder's layout. "same" repeats the event bench/load/run.sh sends (one action,
// campaign and page, as under wrk); "read_whole" reads every event for the lists, as at low
// rates; "mixed" cycles through 4,096 events over 2,000 campaigns,
// 300 pages, 40 referrer hosts and 30 countries (Zipf-like), so the top lists evict.

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "dashboard/event_stats.hh"

namespace {

using pixelring::event_stats;

constexpr uint64_t now_ms = 1'796'644'800'000;

std::string event(std::string_view type, std::string_view action, std::string_view campaign,
                  std::string_view host, std::string_view path, std::string_view referrer,
                  std::string_view country) {
    std::string e =
        R"({"v":1,"id":"01a250f6-d9c1-75ba-818f-d78f6351448f","ts":"2026-12-07T14:44:44.609Z","type":")";
    e += type;
    e += R"(","action":")";
    e += action;
    e += R"(","campaign":")";
    e += campaign;
    e += R"(","params":{"scroll-depth":"70%","dark-mode":"true"},"url":"https://)";
    e += host;
    e += path;
    e += R"(?utm_source=news","path":")";
    e += path;
    e += R"(","page_host":")";
    e += host;
    e += R"(","referrer":)";
    e += referrer.empty() ? std::string("null") : "\"https://" + std::string(referrer) + "/q\"";
    e +=
        R"(,"utm":{"source":"news"},"visitor":"8aa3e97fcc265e3c8ce17bf90d7d59ce","ip":"127.0.0.0")";
    if (!country.empty()) e += R"(,"country":")" + std::string(country) + R"(","city":"Somewhere")";
    e +=
        R"(,"ua":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36","agent":"browser","device":"desktop","browser":"Chrome","os":"Linux","dnt":false,"host":"px.example.com","collector":"bench"})";
    return e;
}

void BM_event_stats_same(benchmark::State& state) {
    event_stats stats(now_ms, true);
    const std::string e =
        event("pixel", "pageview", "example.com", "www.example.com", "/blog/post", "", "");
    for (auto _ : state)
        stats.add(e);
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_event_stats_same);

// Every event read whole for the lists, as below event_stats::full_per_second a second: the
// clock moves a second every full_per_second events.
void BM_event_stats_read_whole(benchmark::State& state) {
    event_stats stats(now_ms, true);
    const std::string e =
        event("pixel", "pageview", "example.com", "www.example.com", "/blog/post", "", "DE");
    uint64_t n = 0, clock = now_ms;
    for (auto _ : state) {
        if (++n % event_stats::full_per_second == 0) stats.tick(clock += 1000);
        stats.add(e);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_event_stats_read_whole);

void BM_event_stats_mixed(benchmark::State& state) {
    event_stats stats(now_ms, true);
    std::mt19937_64 rng(1);
    std::uniform_real_distribution<double> u(0, 1);
    auto zipf = [&](double n) { return uint64_t(std::pow(n, u(rng))) - 1; };
    const char* types[] = {"pixel", "pixel", "pixel", "beacon", "redirect", "rest"};
    std::vector<std::string> events;
    for (int i = 0; i < 4096; ++i) {
        const uint64_t r = zipf(40);
        events.push_back(event(
            types[i % 6], i % 3 ? "open" : "click", "campaign-" + std::to_string(zipf(2000)),
            "site" + std::to_string(zipf(20)) + ".example", "/page/" + std::to_string(zipf(300)),
            i % 6 == 3 ? "ref" + std::to_string(r) + ".example" : "",
            i % 4 ? std::string(1, char('A' + zipf(26))) + "X" : ""));
    }
    size_t i = 0;
    for (auto _ : state) {
        stats.add(events[i]);
        i = (i + 1) & 4095;
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_event_stats_mixed);

} // namespace

BENCHMARK_MAIN();
