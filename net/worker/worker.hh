#pragma once
// One worker thread per CPU: its own io_uring, its own SO_REUSEPORT listeners, its own
// connection table, SPSC ring and counters. Nothing mutable is shared with other workers.
// io_uring features: multishot accept (5.19), multishot recv with a provided buffer ring
// (6.0), SINGLE_ISSUER|DEFER_TASKRUN (6.1) with a COOP_TASKRUN fallback, registered buffers.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/enrich/enrichment.hh"
#include "core/event/beacon.hh"
#include "core/event/event.hh"
#include "core/http/request_parser.hh"
#include "core/metrics.hh"
#include "core/policy/action_allowlist.hh"
#include "core/policy/redirect.hh"
#include "core/sink_gate.hh"
#include "core/spsc_ring.hh"
#include "net/http/tracking_image.hh"
#include "tls/tls_store.hh"

namespace pixelring {

struct worker_settings {
    unsigned index = 0;
    int cpu = -1;                // pin to this CPU; -1: no pinning
    std::vector<int> listen_fds; // owned by the worker from run() on
    // The listening sockets are shared with other workers and with systemd (socket
    // activation, adopt_public_listeners): a stop ends this worker's accepts without shutting
    // the sockets down, so that connections not yet accepted wait for the next process.
    bool shared_listeners = false;
    // listen_fds from this index on take HTTPS (server.tls_listen) with the certificates in
    // tls, which is shared by every worker, replaced by the main thread on reload (each
    // worker takes the new one up on its next loop turn) and outlives them.
    uint32_t first_tls_listener = UINT32_MAX;
    tls_store* tls = nullptr;
    // Closed while the sink cannot keep events (core/sink_gate.hh); nullptr: always open.
    const sink_gate* gate = nullptr;
    http_limits limits;
    encode_options encode;             // collector name must outlive the worker
    uint32_t max_connections = 100000; // this worker's share
    uint32_t max_requests_per_connection = 10000;
    uint32_t header_timeout_ms = 10000;
    uint32_t idle_timeout_ms = 60000;
    uint32_t stop_grace_ms = 5000; // after a stop, how long answers may still be sent
    // After a stop, how long a keep-alive connection with no request arriving stays open: a
    // request that comes meanwhile is answered with Connection: close, so that clients move
    // to the next process (socket activation) instead of seeing their connection cut.
    uint32_t stop_idle_ms = 1000;
    // After a connection's last answer our side is shut down (FIN) and the connection waits
    // this long for the client to close its side, so that requests it had already sent do
    // not make the kernel reset the connection and destroy that answer (lingering close).
    uint32_t linger_ms = 2000;
    // Shared read-only by every worker, outlives them; nullptr: events without enrichment.
    const enrichment_setup* enrichment = nullptr;
    const tracking_image* image = nullptr; // tracking.image; outlives the worker
    // The rest is read-only, shared by every worker and outlives them; nullptr: off.
    const redirect_policy* redirect = nullptr;              // /r/ answers 404 while off
    const action_allowlist* allowed_events = nullptr;       // tracking.allowed_events
    const std::vector<std::string>* cors_origins = nullptr; // empty: echo any Origin
    const std::string* acme_webroot = nullptr;              // tls.acme_webroot; empty: off
    uint32_t beacon_batch = default_beacon_batch;           // tracking.beacon_batch
    uint32_t rate_limit = 0;     // server.rate_limit: events/s per client address, 0 = off
    bool proxy_protocol = false; // server.proxy_protocol (believed from trusted_proxies only)
};

class worker {
public:
    worker(worker_settings settings, spsc_byte_ring& uring, worker_counters& counters);
    ~worker();
    worker(const worker&) = delete;
    worker& operator=(const worker&) = delete;

    // The thread body: creates the io_uring on this thread, serves until request_stop(),
    // then answers what was already read, closes every connection and returns. Returns an
    // empty string after a clean stop, else the start-up error.
    std::string run();

    // Any thread. Wakes the worker and makes run() return after the grace period.
    void request_stop() noexcept;

    // 0 starting, 1 serving, -1 failed to start. Any thread.
    int state() const noexcept { return state_.load(std::memory_order_acquire); }

private:
    struct impl;
    std::unique_ptr<impl> impl_;
    std::atomic<int> state_{0};
    int wake_fd_ = -1;
};

} // namespace pixelring
