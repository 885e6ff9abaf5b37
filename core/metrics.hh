#pragma once
// Counters of the hot path. Each worker owns one worker_counters block and is its only
// writer; the admin thread reads them. Blocks are cache-line aligned so that two workers
// never write the same line, and writers use a relaxed load+store instead of a locked
// read-modify-write because there is exactly one writer per counter.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pixelring {

// Routes as they appear in the metrics label route="...".
enum class route : uint8_t {
    pixel,     // GET/HEAD /track/<action>.gif|.png
    beacon,    // POST /e
    preflight, // OPTIONS /e
    rest,      // GET/HEAD /tr/v1/<k>/<v>...
    redirect,  // GET/HEAD /r/<action>
    script,    // GET/HEAD /t.js
    acme,      // GET/HEAD /.well-known/acme-challenge/<token>
    not_found,
    invalid,
    count_
};
inline constexpr std::array<std::string_view, size_t(route::count_)> route_names{
    "pixel", "beacon", "preflight", "rest", "redirect", "script", "acme", "not_found", "invalid"};

// Statuses the public listener can answer with, in the order of the counter array.
inline constexpr std::array<uint16_t, 18> tracked_statuses{
    200, 204, 302, 304, 400, 403, 404, 405, 408, 411, 413, 414, 429, 431, 500, 501, 503, 505};

constexpr size_t status_index(uint16_t status) noexcept {
    for (size_t i = 0; i < tracked_statuses.size(); ++i)
        if (tracked_statuses[i] == status) return i;
    return 4; // 400: never reached for statuses the server sends
}

// HTTPS handshakes are counted by the cipher they agreed on (and so the version): the TLS 1.3
// suites, then the TLS 1.2 ciphers pixelring offers (Mozilla's "intermediate" profile), then
// anything else.
inline constexpr std::array<std::string_view, 13> tls_cipher_names{"TLS_AES_128_GCM_SHA256",
                                                                   "TLS_AES_256_GCM_SHA384",
                                                                   "TLS_CHACHA20_POLY1305_SHA256",
                                                                   "ECDHE-ECDSA-AES128-GCM-SHA256",
                                                                   "ECDHE-RSA-AES128-GCM-SHA256",
                                                                   "ECDHE-ECDSA-AES256-GCM-SHA384",
                                                                   "ECDHE-RSA-AES256-GCM-SHA384",
                                                                   "ECDHE-ECDSA-CHACHA20-POLY1305",
                                                                   "ECDHE-RSA-CHACHA20-POLY1305",
                                                                   "DHE-RSA-AES128-GCM-SHA256",
                                                                   "DHE-RSA-AES256-GCM-SHA384",
                                                                   "DHE-RSA-CHACHA20-POLY1305",
                                                                   "other"};
inline constexpr size_t tls13_cipher_count = 3; // the first three are TLS 1.3's

// Why handshakes failed, in the order of tls_failure (tls/tls_session.hh), then too_large:
// a ClientHello or a handshake over the worker's limits (net/worker/worker_impl.hh). plain_http is
// counted as a result of its own (tls_plain_http), not as a failure.
inline constexpr std::array<std::string_view, 6> tls_failure_reasons{
    "version", "cipher", "alpn", "plain_http", "other", "too_large"};
inline constexpr size_t tls_too_large = 5;

// The index of cipher (OpenSSL's name) in tls_cipher_names; the last, "other", if absent.
inline size_t tls_cipher_index(std::string_view cipher) noexcept {
    for (size_t i = 0; i + 1 < tls_cipher_names.size(); ++i)
        if (tls_cipher_names[i] == cipher) return i;
    return tls_cipher_names.size() - 1;
}

// Single-writer counter: the owning thread increments, any thread reads.
struct counter {
    std::atomic<uint64_t> value{0};
    void add(uint64_t n = 1) noexcept {
        value.store(value.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    void set(uint64_t n) noexcept { value.store(n, std::memory_order_relaxed); }
    uint64_t get() const noexcept { return value.load(std::memory_order_relaxed); }
};

struct alignas(64) worker_counters {
    counter requests[size_t(route::count_)][tracked_statuses.size()];
    counter events_accepted; // encoded into the ring
    counter events_dropped_ring_full;
    counter events_dropped_rate_limited; // over server.rate_limit (pixels answered, beacons 429)
    counter events_dropped_not_allowed;  // action not in tracking.allowed_events
    counter events_dropped_sink_unavailable; // the sink gate was closed (core/sink_gate.hh)
    counter beacon_items_rejected;           // items refused by the beacon parser (in the receipts)
    counter proxy_header_errors;             // PROXY protocol header missing or malformed: closed
    counter proxy_header_untrusted;          // PROXY header from a peer not in trusted_proxies
    counter events_dnt;              // accepted with DNT/Sec-GPC honoured: no visitor, ip, ua
    counter events_userinfo_removed; // url or referrer had "user:pw@", not written
    counter events_params_truncated; // params cut at max_event_params ("params_truncated")
    counter connections_accepted;
    counter connections_rejected; // over server.max_connections
    counter accept_errors;        // accept failed for want of descriptors or memory
    counter connections_open;     // gauge
    counter body_buffers_held;    // gauge: beacons in the worker's bounded body pool
    counter tls_full;             // HTTPS handshakes completed in full
    counter tls_resumed;          // ... resuming a session
    counter tls_failed;           // handshakes that failed (protocol, version, ALPN, ...)
    counter tls_plain_http;       // plain HTTP sent to an HTTPS listener
    counter tls_timeouts;         // handshakes not done within header_timeout_ms
    counter tls_ciphers[tls_cipher_names.size()];     // completed handshakes by cipher
    counter tls_failures[tls_failure_reasons.size()]; // failed handshakes by reason
    counter header_timeouts;
    counter idle_timeouts;
    counter cq_overflows;      // completions the kernel could not post
    counter recv_no_buffers;   // -ENOBUFS: provided buffer ring ran dry, recv re-armed
    counter uring_waits;       // io_uring_enter calls that waited for completions
    counter completions;       // completions handled; completions / uring_waits = batching
    counter event_ring_yields; // the worker yielded its CPU because its event ring was half full
    counter
        event_ring_pauses; // a connection stopped reading requests until its event ring had room

    void count_request(route r, uint16_t status) noexcept {
        requests[size_t(r)][status_index(status)].add();
    }
};

// Counters of the sink thread (one writer: the sink thread).
struct alignas(64) drain_counters {
    counter drained; // records taken off the rings
    counter drain_passes;
};

// Durations in microseconds, rendered as a Prometheus histogram in seconds. One writer.
struct latency_histogram {
    static constexpr std::array<uint64_t, 14> bounds_us{
        1'000,   2'500,   5'000,     10'000,    25'000,    50'000,     100'000,
        250'000, 500'000, 1'000'000, 2'500'000, 5'000'000, 10'000'000, 30'000'000};
    counter buckets[bounds_us.size() + 1]; // per bucket, not cumulative; the last is +Inf
    counter sum_us;
    counter count;

    void observe(uint64_t us) noexcept {
        size_t b = 0;
        while (b < bounds_us.size() && us > bounds_us[b])
            ++b;
        buckets[b].add();
        sum_us.add(us);
        count.add();
    }
    // Appends HELP, TYPE and the series of name (a histogram). Any thread.
    void write(std::string& out, std::string_view name, std::string_view help) const;
};

// "# HELP name help\n# TYPE name type\n".
void prometheus_header(std::string& out, std::string_view name, std::string_view type,
                       std::string_view help);

// What the admin thread needs to render /metrics; every pointer outlives the admin server.
struct metrics_view {
    const worker_counters* workers = nullptr; // array of worker_count
    size_t worker_count = 0;
    const std::atomic<uint64_t>* events_written = nullptr; // the sink's counters
    const std::atomic<uint64_t>* events_failed = nullptr;
    const std::atomic<uint64_t>* sink_bytes = nullptr;
    const std::atomic<uint64_t>* sink_rotations = nullptr;
    const std::atomic<uint64_t>* sink_queued = nullptr;
    const drain_counters* drain = nullptr;
    size_t (*ring_used_bytes)(const void* ctx, size_t worker) = nullptr; // gauge per worker
    const void* ring_ctx = nullptr;
    size_t ring_capacity = 0;
    std::string_view sink_type;
    std::string_view version;
    bool (*sink_healthy)(const void* ctx) = nullptr;
    const void* sink_ctx = nullptr;
    // Kafka: outcomes delivered/spooled and the spool's drop reasons instead of "written".
    bool delivery_outcomes = false;
    const std::atomic<uint64_t>* events_spooled = nullptr;
    const std::atomic<uint64_t>* dropped_spool_full = nullptr;
    const std::atomic<uint64_t>* dropped_spool_error = nullptr;
    // The sink's own series, appended last.
    void (*sink_metrics)(const void* ctx, std::string& out) = nullptr;
};

// Appends the Prometheus text exposition (version 0.0.4) of everything in view to out.
// Admin thread only; allocation is fine here.
void write_prometheus(const metrics_view& view, std::string& out);

} // namespace pixelring
