#include "core/metrics.hh"

#include <fmt/format.h>

namespace pixelring {

void prometheus_header(std::string& out, std::string_view name, std::string_view type,
                       std::string_view help) {
    fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void latency_histogram::write(std::string& out, std::string_view name,
                              std::string_view help) const {
    prometheus_header(out, name, "histogram", help);
    auto it = std::back_inserter(out);
    uint64_t cumulative = 0;
    for (size_t b = 0; b < bounds_us.size(); ++b) {
        cumulative += buckets[b].get();
        fmt::format_to(it, "{}_bucket{{le=\"{}\"}} {}\n", name, double(bounds_us[b]) / 1e6,
                       cumulative);
    }
    cumulative += buckets[bounds_us.size()].get();
    fmt::format_to(it, "{}_bucket{{le=\"+Inf\"}} {}\n", name, cumulative);
    fmt::format_to(it, "{}_sum {}\n{}_count {}\n", name, double(sum_us.get()) / 1e6, name,
                   cumulative);
}

namespace {

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
    prometheus_header(out, name, type, help);
}

template <typename F> uint64_t sum(const metrics_view& v, F&& f) {
    uint64_t total = 0;
    for (size_t w = 0; w < v.worker_count; ++w)
        total += f(v.workers[w]);
    return total;
}

} // namespace

void write_prometheus(const metrics_view& v, std::string& out) {
    auto it = std::back_inserter(out);
    header(out, "pixelring_build_info", "gauge", "Version and sink of this collector.");
    fmt::format_to(it, "pixelring_build_info{{version=\"{}\",sink=\"{}\"}} 1\n", v.version,
                   v.sink_type);

    header(out, "pixelring_http_requests_total", "counter",
           "Requests answered on the public listener, by route and status.");
    for (size_t r = 0; r < size_t(route::count_); ++r) {
        for (size_t s = 0; s < tracked_statuses.size(); ++s) {
            uint64_t n = sum(v, [&](const worker_counters& c) { return c.requests[r][s].get(); });
            if (n == 0 && !(r == size_t(route::pixel) && tracked_statuses[s] == 200)) continue;
            fmt::format_to(it, "pixelring_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n",
                           route_names[r], tracked_statuses[s], n);
        }
    }

    uint64_t accepted = sum(v, [](auto& c) { return c.events_accepted.get(); });
    uint64_t ring_full = sum(v, [](auto& c) { return c.events_dropped_ring_full.get(); });
    uint64_t written = v.events_written ? v.events_written->load(std::memory_order_relaxed) : 0;
    uint64_t failed = v.events_failed ? v.events_failed->load(std::memory_order_relaxed) : 0;
    auto load = [](const std::atomic<uint64_t>* a) {
        return a ? a->load(std::memory_order_relaxed) : 0;
    };
    if (v.delivery_outcomes) {
        header(out, "pixelring_events_total", "counter",
               "Events by outcome: accepted into a ring, then delivered to Kafka "
               "(acknowledged), spooled (kept on disk after a failed delivery, replayed later) or "
               "dropped with a reason. accepted = delivered + spooled + dropped + in flight.");
    } else {
        header(out, "pixelring_events_total", "counter",
               "Events by outcome: accepted into a ring, then written by the sink or dropped "
               "with a reason. accepted = written + dropped{sink_error} + in flight.");
    }
    fmt::format_to(it, "pixelring_events_total{{outcome=\"accepted\"}} {}\n", accepted);
    if (v.delivery_outcomes) {
        fmt::format_to(it, "pixelring_events_total{{outcome=\"delivered\"}} {}\n", written);
        fmt::format_to(it, "pixelring_events_total{{outcome=\"spooled\"}} {}\n",
                       load(v.events_spooled));
    } else {
        fmt::format_to(it, "pixelring_events_total{{outcome=\"written\"}} {}\n", written);
    }
    header(out, "pixelring_events_dropped_total", "counter", "Events not kept, by reason.");
    fmt::format_to(it, "pixelring_events_dropped_total{{reason=\"ring_full\"}} {}\n", ring_full);
    fmt::format_to(it, "pixelring_events_dropped_total{{reason=\"sink_error\"}} {}\n", failed);
    fmt::format_to(it, "pixelring_events_dropped_total{{reason=\"rate_limited\"}} {}\n",
                   sum(v, [](auto& c) { return c.events_dropped_rate_limited.get(); }));
    fmt::format_to(it, "pixelring_events_dropped_total{{reason=\"not_allowed\"}} {}\n",
                   sum(v, [](auto& c) { return c.events_dropped_not_allowed.get(); }));
    fmt::format_to(it, "pixelring_events_dropped_total{{reason=\"sink_unavailable\"}} {}\n",
                   sum(v, [](auto& c) { return c.events_dropped_sink_unavailable.get(); }));
    if (v.delivery_outcomes) {
        fmt::format_to(it, "pixelring_events_dropped_total{{reason=\"spool_full\"}} {}\n",
                       load(v.dropped_spool_full));
        fmt::format_to(it, "pixelring_events_dropped_total{{reason=\"spool_error\"}} {}\n",
                       load(v.dropped_spool_error));
    }

    header(out, "pixelring_events_dnt_total", "counter",
           "Accepted events whose DNT: 1 or Sec-GPC: 1 was honoured (no visitor, ip, ua).");
    fmt::format_to(it, "pixelring_events_dnt_total {}\n",
                   sum(v, [](auto& c) { return c.events_dnt.get(); }));
    header(out, "pixelring_events_userinfo_removed_total", "counter",
           "Accepted events whose url or referrer carried user information (user:password@ "
           "before the host), removed before the event was written.");
    fmt::format_to(it, "pixelring_events_userinfo_removed_total {}\n",
                   sum(v, [](auto& c) { return c.events_userinfo_removed.get(); }));
    header(out, "pixelring_events_params_truncated_total", "counter",
           "Accepted events with more distinct params keys than the 64 written; the event "
           "says \"params_truncated\":true.");
    fmt::format_to(it, "pixelring_events_params_truncated_total {}\n",
                   sum(v, [](auto& c) { return c.events_params_truncated.get(); }));
    header(out, "pixelring_beacon_items_rejected_total", "counter",
           "Beacon items refused (wrong type, missing action, action not allowed...); each is "
           "named in the ?receipts=1 answer and produces no event.");
    fmt::format_to(it, "pixelring_beacon_items_rejected_total {}\n",
                   sum(v, [](auto& c) { return c.beacon_items_rejected.get(); }));
    header(out, "pixelring_proxy_protocol_total", "counter",
           "PROXY protocol headers (server.proxy_protocol) that were malformed or missing "
           "(connection closed), or came from a peer outside server.trusted_proxies (address "
           "ignored).");
    fmt::format_to(it, "pixelring_proxy_protocol_total{{outcome=\"error\"}} {}\n",
                   sum(v, [](auto& c) { return c.proxy_header_errors.get(); }));
    fmt::format_to(it, "pixelring_proxy_protocol_total{{outcome=\"untrusted\"}} {}\n",
                   sum(v, [](auto& c) { return c.proxy_header_untrusted.get(); }));
    header(out, "pixelring_connections_open", "gauge", "Open client connections.");
    fmt::format_to(it, "pixelring_connections_open {}\n",
                   sum(v, [](auto& c) { return c.connections_open.get(); }));
    header(
        out, "pixelring_body_buffers_held", "gauge",
        "Beacons still arriving whose bytes outgrew a staging buffer and hold a buffer of "
        "their worker's body pool (16 MiB a worker, 16 buffers at least); when it is spent such a "
        "beacon gets 503. A beacon smaller than a staging buffer never takes from it.");
    fmt::format_to(it, "pixelring_body_buffers_held {}\n",
                   sum(v, [](auto& c) { return c.body_buffers_held.get(); }));
    header(out, "pixelring_tls_handshakes_total", "counter",
           "HTTPS handshakes (server.tls_listen) by result: full, resumed (a session ticket "
           "or ID), failed (no common version, cipher or protocol; a bad record), plain_http "
           "(HTTP sent to the HTTPS port), timeout (not done within server.header_timeout_ms). "
           "A connection that did not complete one is closed.");
    fmt::format_to(it, "pixelring_tls_handshakes_total{{result=\"full\"}} {}\n",
                   sum(v, [](auto& c) { return c.tls_full.get(); }));
    fmt::format_to(it, "pixelring_tls_handshakes_total{{result=\"resumed\"}} {}\n",
                   sum(v, [](auto& c) { return c.tls_resumed.get(); }));
    fmt::format_to(it, "pixelring_tls_handshakes_total{{result=\"failed\"}} {}\n",
                   sum(v, [](auto& c) { return c.tls_failed.get(); }));
    fmt::format_to(it, "pixelring_tls_handshakes_total{{result=\"plain_http\"}} {}\n",
                   sum(v, [](auto& c) { return c.tls_plain_http.get(); }));
    fmt::format_to(it, "pixelring_tls_handshakes_total{{result=\"timeout\"}} {}\n",
                   sum(v, [](auto& c) { return c.tls_timeouts.get(); }));
    header(out, "pixelring_tls_handshake_failures_total", "counter",
           "HTTPS handshakes that failed (pixelring_tls_handshakes_total{result=\"failed\"}), "
           "by reason: version (none in common: an old client), cipher (no cipher or group in "
           "common), alpn (h2 only), too_large (a ClientHello announcing over 16 KiB, or over "
           "24 KiB sent without finishing the handshake), other (a malformed record, a client "
           "that gave up). The connection is closed.");
    for (size_t i = 0; i < tls_failure_reasons.size(); ++i)
        if (tls_failure_reasons[i] != "plain_http") // pixelring_tls_handshakes_total's
            fmt::format_to(it, "pixelring_tls_handshake_failures_total{{reason=\"{}\"}} {}\n",
                           tls_failure_reasons[i],
                           sum(v, [i](auto& c) { return c.tls_failures[i].get(); }));
    header(out, "pixelring_tls_ciphers_total", "counter",
           "Completed HTTPS handshakes (full or resumed) by TLS version and cipher.");
    for (size_t i = 0; i < tls_cipher_names.size(); ++i) {
        const uint64_t n = sum(v, [i](auto& c) { return c.tls_ciphers[i].get(); });
        if (i + 1 == tls_cipher_names.size() && n == 0) continue; // "other": only when seen
        const char* version = i < tls13_cipher_count            ? "TLSv1.3"
                              : i + 1 < tls_cipher_names.size() ? "TLSv1.2"
                                                                : "other";
        fmt::format_to(it, "pixelring_tls_ciphers_total{{version=\"{}\",cipher=\"{}\"}} {}\n",
                       version, tls_cipher_names[i], n);
    }
    header(out, "pixelring_connections_accepted_total", "counter", "Connections accepted.");
    fmt::format_to(it, "pixelring_connections_accepted_total {}\n",
                   sum(v, [](auto& c) { return c.connections_accepted.get(); }));
    header(out, "pixelring_connections_rejected_total", "counter",
           "Connections closed at once because server.max_connections was reached.");
    fmt::format_to(it, "pixelring_connections_rejected_total {}\n",
                   sum(v, [](auto& c) { return c.connections_rejected.get(); }));
    header(out, "pixelring_accept_errors_total", "counter",
           "Connections the kernel could not hand over for want of file descriptors or memory "
           "(EMFILE, ENFILE, ENOBUFS, ENOMEM); accepting pauses until the next 250 ms tick. "
           "Raise LimitNOFILE or lower server.max_connections.");
    fmt::format_to(it, "pixelring_accept_errors_total {}\n",
                   sum(v, [](auto& c) { return c.accept_errors.get(); }));
    header(out, "pixelring_timeouts_total", "counter",
           "Connections closed by the header (slow client) or idle (keep-alive) timeout.");
    fmt::format_to(it, "pixelring_timeouts_total{{kind=\"header\"}} {}\n",
                   sum(v, [](auto& c) { return c.header_timeouts.get(); }));
    fmt::format_to(it, "pixelring_timeouts_total{{kind=\"idle\"}} {}\n",
                   sum(v, [](auto& c) { return c.idle_timeouts.get(); }));
    header(out, "pixelring_cq_overflows_total", "counter",
           "io_uring completions the kernel had to hold back because a completion queue was "
           "full.");
    fmt::format_to(it, "pixelring_cq_overflows_total {}\n",
                   sum(v, [](auto& c) { return c.cq_overflows.get(); }));
    header(out, "pixelring_recv_no_buffers_total", "counter",
           "Times a worker's provided receive buffers ran out (recv re-armed).");
    fmt::format_to(it, "pixelring_recv_no_buffers_total {}\n",
                   sum(v, [](auto& c) { return c.recv_no_buffers.get(); }));
    header(out, "pixelring_io_uring_waits_total", "counter",
           "Times a worker entered the kernel to submit and wait for completions.");
    fmt::format_to(it, "pixelring_io_uring_waits_total {}\n",
                   sum(v, [](auto& c) { return c.uring_waits.get(); }));
    header(out, "pixelring_worker_yields_total", "counter",
           "Times a worker yielded its CPU to let the sink thread drain a half-full ring.");
    fmt::format_to(it, "pixelring_worker_yields_total {}\n",
                   sum(v, [](auto& c) { return c.event_ring_yields.get(); }));
    header(out, "pixelring_ring_full_pauses_total", "counter",
           "Times a connection stopped reading requests until its worker's ring had room again "
           "(the sink thread fell behind); the requests wait instead of losing their events.");
    fmt::format_to(it, "pixelring_ring_full_pauses_total {}\n",
                   sum(v, [](auto& c) { return c.event_ring_pauses.get(); }));
    header(out, "pixelring_io_uring_completions_total", "counter",
           "Completions the workers handled; divided by waits: completions per kernel entry.");
    fmt::format_to(it, "pixelring_io_uring_completions_total {}\n",
                   sum(v, [](auto& c) { return c.completions.get(); }));

    if (v.ring_used_bytes) {
        header(out, "pixelring_ring_used_bytes", "gauge",
               "Bytes waiting in each worker's SPSC ring for the sink thread.");
        for (size_t w = 0; w < v.worker_count; ++w)
            fmt::format_to(it, "pixelring_ring_used_bytes{{worker=\"{}\"}} {}\n", w,
                           v.ring_used_bytes(v.ring_ctx, w));
        header(out, "pixelring_ring_capacity_bytes", "gauge", "Capacity of each SPSC ring.");
        fmt::format_to(it, "pixelring_ring_capacity_bytes {}\n", v.ring_capacity);
    }
    if (v.sink_bytes) {
        header(out, "pixelring_sink_bytes_total", "counter", "Bytes the sink wrote.");
        fmt::format_to(it, "pixelring_sink_bytes_total {}\n",
                       v.sink_bytes->load(std::memory_order_relaxed));
    }
    if (v.sink_rotations) {
        header(out, "pixelring_sink_rotations_total", "counter", "Output files rotated.");
        fmt::format_to(it, "pixelring_sink_rotations_total {}\n",
                       v.sink_rotations->load(std::memory_order_relaxed));
    }
    if (v.sink_queued) {
        header(out, "pixelring_sink_queued_events", "gauge",
               "Events handed to the sink and not yet settled (the Kafka producer's queue).");
        fmt::format_to(it, "pixelring_sink_queued_events {}\n",
                       v.sink_queued->load(std::memory_order_relaxed));
    }
    if (v.sink_healthy) {
        header(out, "pixelring_sink_healthy", "gauge", "1 while the sink can write.");
        fmt::format_to(it, "pixelring_sink_healthy {}\n", v.sink_healthy(v.sink_ctx) ? 1 : 0);
    }
    if (v.sink_metrics) v.sink_metrics(v.sink_ctx, out);
}

} // namespace pixelring
