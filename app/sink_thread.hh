#pragma once
// The sink thread: the one consumer of every worker's event ring. It drains the rings into
// the sink, counts each event for the dashboard, opens and closes the sink gate the workers
// read, reopens the sink on SIGHUP and, after every worker has returned, drains the rings
// empty and closes the sink.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "core/metrics.hh"
#include "core/sink_gate.hh"
#include "core/spsc_ring.hh"
#include "dashboard/event_stats.hh"
#include "sinks/sink.hh"

namespace pixelring {

// The sink thread: drains every worker's ring into the sink, and counts each event for the
// dashboard (stats; null when the dashboard is off). After stop is set (which happens only once
// every worker has returned) it drains until the rings are empty, then closes the sink.
class sink_thread {
public:
    sink_thread(std::vector<std::unique_ptr<spsc_byte_ring>>& rings, sink& out,
                drain_counters& counters, sink_gate& gate, event_stats* stats, stats_board& board)
        : rings_(rings), sink_(out), counters_(counters), gate_(gate), stats_(stats),
          board_(board) {}

    void start();
    // Reopens the sink on the sink thread and returns once it has (or after timeout_ms).
    void reopen_and_wait(uint64_t timeout_ms);
    void stop_and_join() {
        stop_.store(true, std::memory_order_release);
        if (thread_.joinable()) thread_.join();
    }

private:
    // Records taken from one ring before moving to the next, so that one busy worker
    // cannot starve the others.
    static constexpr size_t batch_per_ring = 4096;

    void run();

    std::vector<std::unique_ptr<spsc_byte_ring>>& rings_;
    sink& sink_;
    drain_counters& counters_;
    sink_gate& gate_;
    event_stats* stats_;
    stats_board& board_;
    std::atomic<bool> stop_{false};
    std::atomic<bool> reopen_{false};
    std::atomic<uint64_t> reopened_{0};
    std::thread thread_;
};

} // namespace pixelring
