#pragma once
// The request of the load harness (bench/load/lib.sh: its path, Referer and Chrome 131
// User-Agent) as wrk sends it, for the micro-benchmarks that hold the per-request user-space
// work against the worker's: bench_parser's BM_parse_harness_get, bench_encoder's
// BM_pixel_request.

#include <string_view>

namespace pixelring::bench {

inline constexpr std::string_view harness_get =
    "GET /track/pageview.gif?campaignID=example.com&scroll-depth=70%25&dark-mode=true "
    "HTTP/1.1\r\n"
    "Host: 127.0.0.1:8080\r\n"
    "Referer: https://example.com/blog/post?utm_source=news\r\n"
    "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/131.0.0.0 Safari/537.36\r\n"
    "\r\n";

} // namespace pixelring::bench
