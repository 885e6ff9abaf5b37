#pragma once
// What the collector tells the service manager while it runs (systemd/service_manager.hh
// sends it): a one-line STATUS= summary, and whether every thread that serves has turned
// recently (the watchdog). Read from the counters /metrics renders (core/metrics.hh). Main
// thread only.

#include <cstdint>
#include <string>
#include <vector>

#include "core/metrics.hh"

namespace pixelring {

class service_status {
public:
    // view and everything it points to outlive this object.
    service_status(const metrics_view& view, uint64_t now_ms);

    // "1234 requests/s, 1230 events/s, 17 connections, sink file ok": rates over the time
    // since the previous call (since construction for the first).
    std::string summary(uint64_t now_ms);

    // True when every worker's loop and the sink thread have turned since the previous call.
    // A worker's loop turns at least every 250 ms (its timer), whatever the traffic; the sink
    // thread every few milliseconds, Kafka reachable or not. Else stuck names the first that
    // did not ("worker 1", "the sink thread").
    bool all_turned(std::string& stuck);

    // Records taken off the rings and events the sink settled (written, delivered, spooled,
    // failed) so far: what moves while a stop drains.
    uint64_t drain_progress() const;

private:
    uint64_t requests() const;
    uint64_t events() const;

    const metrics_view& view_;
    uint64_t last_ms_;
    uint64_t last_requests_;
    uint64_t last_events_;
    std::vector<uint64_t> worker_turns_;
    uint64_t sink_turns_ = 0;
};

} // namespace pixelring
