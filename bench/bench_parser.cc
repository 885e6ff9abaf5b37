// Hot path of every request: parsing the head of a tracking-pixel GET, and decoding a chunked
// beacon body. Time per iteration is time per request.

#include "bench/harness_request.hh"
#include "core/http/request_parser.hh"

#include <benchmark/benchmark.h>

#include <cstring>
#include <string>
#include <string_view>

namespace pixelring {
namespace {

// What a current desktop Chrome sends for an <img> pixel embedded in a page.
constexpr std::string_view pixel_get =
    "GET /p.gif?site=example.com&e=pageview&u=%2Fblog%2Fpost&w=1920 HTTP/1.1\r\n"
    "Host: px.example.com\r\n"
    "Connection: keep-alive\r\n"
    "sec-ch-ua: \"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\"\r\n"
    "sec-ch-ua-mobile: ?0\r\n"
    "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/124.0.0.0 Safari/537.36\r\n"
    "sec-ch-ua-platform: \"Windows\"\r\n"
    "Accept: image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8\r\n"
    "Referer: https://example.com/blog/post?utm_source=news\r\n"
    "Accept-Encoding: gzip, deflate, br, zstd\r\n"
    "Accept-Language: en-GB,en-US;q=0.9,en;q=0.8\r\n"
    "\r\n";

using bench::harness_get; // the per-request parse of bench_encoder's BM_pixel_request

// The smallest request a health checker or curl sends.
constexpr std::string_view minimal_get = "GET /p.gif HTTP/1.1\r\nHost: px\r\n\r\n";

void parse_once(benchmark::State& state, std::string_view request) {
    const http_limits limits;
    request_parser parser(limits);
    http_request req;
    for (auto _ : state) {
        benchmark::DoNotOptimize(request.data());
        const parse_status s = parser.parse_head(request.data(), request.size(), req);
        benchmark::DoNotOptimize(s);
        benchmark::DoNotOptimize(req);
        if (s != parse_status::complete) state.SkipWithError("not complete");
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
    state.SetBytesProcessed(int64_t(state.iterations() * request.size()));
    state.counters["head_bytes"] = double(request.size());
}

void BM_parse_pixel_get(benchmark::State& state) {
    parse_once(state, pixel_get);
}
BENCHMARK(BM_parse_pixel_get);

void BM_parse_harness_get(benchmark::State& state) {
    parse_once(state, harness_get);
}
BENCHMARK(BM_parse_harness_get);

void BM_parse_minimal_get(benchmark::State& state) {
    parse_once(state, minimal_get);
}
BENCHMARK(BM_parse_minimal_get);

// The head arrives in two reads split mid-User-Agent: need_more, then complete, the second
// call resuming the scan where the first stopped.
void BM_parse_pixel_get_two_reads(benchmark::State& state) {
    const http_limits limits;
    request_parser parser(limits);
    http_request req;
    const size_t first = pixel_get.find("Safari");
    for (auto _ : state) {
        benchmark::DoNotOptimize(pixel_get.data());
        parse_status s = parser.parse_head(pixel_get.data(), first, req);
        if (s != parse_status::need_more) state.SkipWithError("not need_more");
        s = parser.parse_head(pixel_get.data(), pixel_get.size(), req);
        benchmark::DoNotOptimize(req);
        if (s != parse_status::complete) state.SkipWithError("not complete");
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
    state.SetBytesProcessed(int64_t(state.iterations() * pixel_get.size()));
}
BENCHMARK(BM_parse_pixel_get_two_reads);

// One decode as the worker does it, on a fresh copy of framed: the decoded length, or
// SIZE_MAX when the body is not complete.
size_t decode_copy(std::string_view framed, std::string& buf) {
    std::memcpy(buf.data(), framed.data(), framed.size());
    chunked_decoder decoder(65536);
    size_t len = framed.size();
    size_t trailing = 0;
    const parse_status s = decoder.decode(buf.data(), &len, &trailing);
    benchmark::DoNotOptimize(buf.data());
    return s == parse_status::complete ? len : SIZE_MAX;
}

// A 4 KiB beacon body in 256-byte chunks, one with an extension, decoded in place. The copy
// that restores the framed body each iteration is included (about 4 KiB of memcpy).
void BM_chunked_decode_4k(benchmark::State& state) {
    std::string framed;
    for (int i = 0; i < 16; ++i) {
        framed += i == 0 ? "100;name=value\r\n" : "100\r\n";
        framed += std::string(256, char('a' + i));
        framed += "\r\n";
    }
    framed += "0\r\n\r\n";
    std::string buf(framed.size(), '\0');
    for (auto _ : state)
        if (decode_copy(framed, buf) != 4096) state.SkipWithError("bad decode");
    state.SetItemsProcessed(int64_t(state.iterations()));
    state.SetBytesProcessed(int64_t(state.iterations() * framed.size()));
}
BENCHMARK(BM_chunked_decode_4k);

// A small JSON beacon in one chunk, as navigator.sendBeacon with a stream body sends it.
void BM_chunked_decode_small(benchmark::State& state) {
    const std::string_view framed =
        "7a\r\n{\"v\":1,\"type\":\"beacon\",\"action\":\"scroll\",\"url\":\"https://example.com/"
        "blog/post\",\"params\":{\"scroll-depth\":\"70%\",\"dark\":\"1\"}}\r\n0\r\n\r\n";
    std::string buf(framed.size(), '\0');
    for (auto _ : state)
        if (decode_copy(framed, buf) == SIZE_MAX) state.SkipWithError("bad decode");
    state.SetItemsProcessed(int64_t(state.iterations()));
    state.SetBytesProcessed(int64_t(state.iterations() * framed.size()));
}
BENCHMARK(BM_chunked_decode_small);

} // namespace
} // namespace pixelring

BENCHMARK_MAIN();
