#pragma once
// One line "pixelring: <message>" to stderr at most once per interval; the next line printed
// says how many were suppressed in between. Not thread-safe: one per thread that reports.

#include <cstdint>
#include <cstdio>
#include <string>

#include <fmt/format.h>

#include "core/base/clock.hh"

namespace pixelring {

class rate_limited_log {
public:
    explicit rate_limited_log(uint64_t interval_ms = 10'000) : interval_ms_(interval_ms) {}

    void report(const std::string& message) {
        const uint64_t now = monotonic_ms();
        if (reported_ && now - last_ms_ < interval_ms_) {
            ++suppressed_;
            return;
        }
        reported_ = true;
        last_ms_ = now;
        std::string line = "pixelring: " + message;
        if (suppressed_ > 0) {
            line += fmt::format(" ({} similar messages suppressed)", suppressed_);
            suppressed_ = 0;
        }
        line += '\n';
        std::fputs(line.c_str(), stderr);
    }

private:
    uint64_t interval_ms_;
    uint64_t last_ms_ = 0;
    bool reported_ = false;
    uint64_t suppressed_ = 0;
};

} // namespace pixelring
