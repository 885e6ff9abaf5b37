#pragma once
// Millisecond clocks through the vDSO (no system call).

#include <cstdint>
#include <ctime>

namespace pixelring {

// Wall-clock milliseconds since the Unix epoch: event timestamps and ids.
inline uint64_t realtime_ms() noexcept {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1'000'000;
}

// Milliseconds that never go back: timeouts.
inline uint64_t monotonic_ms() noexcept {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1'000'000;
}

} // namespace pixelring
