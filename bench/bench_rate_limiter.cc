// server.rate_limit: the cost of one rate_limiter::allow() call, which every request pays when
// the limit is on. Cases, each one call per iteration, the clock advancing 1 ms every 64 calls:
//   one_client       the same address every time (keep-alive from one browser);
//   clients/N        N distinct addresses in turn, half IPv4, half IPv6 /64s, in a table of
//                    65536 slots (1 MiB): 1024 stay in L1/L2, 65536 fill the table, 1048576
//                    overflow it, so nearly every call is a new client that evicts another.
// The addresses are made before the run. Run on an otherwise idle machine:
//   bench_rate_limiter --benchmark_repetitions=3 --benchmark_display_aggregates_only=true

#include "core/policy/rate_limiter.hh"

#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

namespace pixelring {
namespace {

constexpr uint32_t slots = 65536;

std::vector<ip_address> addresses(uint32_t count) {
    std::vector<ip_address> out(count);
    for (uint32_t n = 0; n < count; ++n) {
        ip_address& a = out[n];
        if (n % 2 == 0) {
            a.family = 4;
            const uint32_t v = n / 2;
            const uint8_t b[4] = {10, uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)};
            std::memcpy(a.bytes, b, 4);
        } else {
            a.family = 6;
            const uint8_t b[8] = {
                0x20,      0x01, 0x0d, 0xb8, uint8_t(n >> 24), uint8_t(n >> 16), uint8_t(n >> 8),
                uint8_t(n)};
            std::memcpy(a.bytes, b, 8);
            a.bytes[15] = 1;
        }
    }
    return out;
}

void run(benchmark::State& state, const std::vector<ip_address>& clients) {
    rate_limiter rl(100, 100, slots);
    uint64_t calls = 0, allowed = 0;
    size_t i = 0;
    for (auto _ : state) {
        allowed += rl.allow(clients[i], calls >> 6);
        if (++i == clients.size()) i = 0;
        ++calls;
    }
    state.counters["allowed_pct"] = calls ? 100.0 * double(allowed) / double(calls) : 0;
    state.counters["evictions_pct"] = calls ? 100.0 * double(rl.evictions()) / double(calls) : 0;
}

void one_client(benchmark::State& state) {
    run(state, addresses(1));
}
BENCHMARK(one_client);

void clients(benchmark::State& state) {
    run(state, addresses(static_cast<uint32_t>(state.range(0))));
}
BENCHMARK(clients)->Arg(1024)->Arg(65536)->Arg(1 << 20);

} // namespace
} // namespace pixelring

BENCHMARK_MAIN();
