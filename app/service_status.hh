#pragma once
// What the collector tells the service manager while it runs (systemd/service_manager.hh
// sends it): a one-line STATUS= summary, whether every thread that serves has turned recently
// (the watchdog), and while it stops, that it needs more time (stop_extender). Read from the
// counters /metrics renders (core/metrics.hh). service_status: main thread only.

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "core/metrics.hh"
#include "systemd/service_manager.hh"

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

// While a stop drains (answers still being sent, the rings emptied into the sink, Kafka
// acknowledging, the spool written), asks systemd for more time, a few seconds at a time, for
// as long as the stop may take by configuration (budget_ms: the workers' grace period plus the
// Kafka sink's stop timeout) and after that while events still move: a stop that does what it
// was configured to do is not killed by TimeoutStopSec=, one that is stuck still is.
class stop_extender {
public:
    stop_extender(service_notifier& notifier, const service_status& status, uint64_t budget_ms)
        : notifier_(notifier), status_(status), budget_ms_(budget_ms) {
        if (notifier_.active()) thread_ = std::thread([this] { run(); });
    }
    ~stop_extender() {
        done_.store(true, std::memory_order_release);
        if (thread_.joinable()) thread_.join();
    }

private:
    static constexpr uint64_t step_ms = 1000;
    static constexpr uint64_t extend_us = 5'000'000;

    void run();

    service_notifier& notifier_;
    const service_status& status_;
    uint64_t budget_ms_;
    std::atomic<bool> done_{false};
    std::thread thread_;
};

} // namespace pixelring
