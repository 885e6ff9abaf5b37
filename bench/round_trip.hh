#pragma once
// The cache-line round trip between two threads, for the benchmarks whose results hang on it
// (bench_ring's hand-offs, bench_kafka_producer's queue and wake-ups). On a VM the host moves
// the 2 vCPUs between SMT siblings, cores and dies: the round trip was seen at ~50, ~120 and
// ~550 ns on the same machine (microseconds while the host is busy), and every hand-off
// result scales with it. The benchmarks report it, so that runs can be compared at the same
// placement.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

namespace pixelring::bench {

// Round trip of one cache line between this thread and another, in ns: the mean of 20,000.
inline double round_trip_ns() {
    constexpr uint64_t rounds = 20000;
    struct alignas(64) padded_flag {
        std::atomic<uint64_t> value{0};
    };
    padded_flag ping, pong;
    std::thread echo([&] {
        for (uint64_t i = 1; i <= rounds; ++i) {
            while (ping.value.load(std::memory_order_acquire) != i) {
            }
            pong.value.store(i, std::memory_order_release);
        }
    });
    const auto start = std::chrono::steady_clock::now();
    for (uint64_t i = 1; i <= rounds; ++i) {
        ping.value.store(i, std::memory_order_release);
        while (pong.value.load(std::memory_order_acquire) != i) {
        }
    }
    const auto elapsed = std::chrono::steady_clock::now() - start;
    echo.join();
    return std::chrono::duration<double, std::nano>(elapsed).count() / rounds;
}

} // namespace pixelring::bench
