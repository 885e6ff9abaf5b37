#pragma once
// End-to-end test support on top of e2e_client.hh: the events a collector wrote, parsed, and
// its request counts by route and status (metrics_scrape.hh, included here, reads any other
// series of its /metrics). Test code only.

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/e2e_client.hh"
#include "tests/support/json_reader.hh"
#include "tests/support/metrics_scrape.hh"

namespace pixelring::test {

// Every line of the event file at path, parsed, now.
inline std::vector<json_value> read_events(const std::string& path) {
    std::vector<json_value> out;
    for (const auto& line : read_lines(path)) {
        json_value v;
        std::string error;
        EXPECT_TRUE(json_reader::parse(line, v, error)) << error << " in " << line;
        out.push_back(std::move(v));
    }
    return out;
}

// Every line of the event file, parsed, once at least n are there (or after 5 s), plus
// 100 ms so that an event that should not be there has had time to show.
inline std::vector<json_value> wait_events(const collector_process& p, size_t n) {
    std::vector<std::string> lines;
    for (int waited = 0; waited < 5000 && lines.size() < n; waited += 10) {
        lines = read_lines(p.events_path());
        if (lines.size() < n) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    lines = read_lines(p.events_path());
    std::vector<json_value> out;
    for (const auto& line : lines) {
        json_value v;
        std::string error;
        EXPECT_TRUE(json_reader::parse(line, v, error)) << error << " in " << line;
        out.push_back(std::move(v));
    }
    return out;
}

// pixelring_http_requests_total for route and status (absent series: 0).
inline long long requests(const collector_process& p, const std::string& route, int status) {
    return static_cast<long long>(metric(p, "pixelring_http_requests_total{route=\"" + route +
                                                "\",status=\"" + std::to_string(status) + "\"}")
                                      .value_or(0));
}

} // namespace pixelring::test
