#pragma once
// One series of the collector's admin /metrics, for the end-to-end tests: read from a scraped
// text, from the admin port or from a collector_process, and polled until it reads a value.
// A series is a metric name with its labels exactly as the collector writes them, e.g.
// pixelring_events_total{outcome="accepted"}; it matches only at the start of a line and only
// when a space follows it, so a name never matches a longer name or the same name with other
// labels. Absent: std::nullopt, which compares unequal to every value and less than every
// value. Test code only.

#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "tests/support/e2e_client.hh"

namespace pixelring::test {

// The value of series in metrics_text (a /metrics page, with or without the HTTP head), parsed
// as a double; std::nullopt when no line starts with series and a space.
inline std::optional<double> metric(std::string_view metrics_text, std::string_view series) {
    if (series.empty()) return std::nullopt;
    for (size_t at = metrics_text.find(series); at != std::string_view::npos;
         at = metrics_text.find(series, at + 1)) {
        const size_t end = at + series.size();
        if ((at == 0 || metrics_text[at - 1] == '\n') && end < metrics_text.size() &&
            metrics_text[end] == ' ') {
            const size_t line_end = metrics_text.find('\n', end);
            const std::string value(metrics_text.substr(end + 1, line_end == std::string_view::npos
                                                                     ? std::string_view::npos
                                                                     : line_end - end - 1));
            char* parsed_to = nullptr;
            const double v = std::strtod(value.c_str(), &parsed_to);
            if (parsed_to == value.c_str()) return std::nullopt;
            return v;
        }
    }
    return std::nullopt;
}

// The value of series on the /metrics of the admin listener at admin_port, scraped now.
inline std::optional<double> metric(int admin_port, std::string_view series) {
    const std::string page = admin_get(admin_port, "/metrics");
    return metric(std::string_view(page), series);
}

// The value of series on the /metrics of collector p, scraped now.
inline std::optional<double> metric(const collector_process& p, std::string_view series) {
    return metric(p.admin_port(), series);
}

// Scrapes series from the admin listener at admin_port every poll until it reads want, for
// timeout at most; returns what it read last (std::nullopt when the series never showed).
inline std::optional<double>
wait_metric(int admin_port, std::string_view series, double want,
            std::chrono::milliseconds timeout = std::chrono::seconds(5),
            std::chrono::milliseconds poll = std::chrono::milliseconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::optional<double> got = metric(admin_port, series);
    while (got != want && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(poll);
        got = metric(admin_port, series);
    }
    return got;
}

// The same for collector p.
inline std::optional<double>
wait_metric(const collector_process& p, std::string_view series, double want,
            std::chrono::milliseconds timeout = std::chrono::seconds(5),
            std::chrono::milliseconds poll = std::chrono::milliseconds(10)) {
    return wait_metric(p.admin_port(), series, want, timeout, poll);
}

} // namespace pixelring::test
