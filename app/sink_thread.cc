#include "app/sink_thread.hh"

#include <ctime>
#include <pthread.h>

#include "core/base/clock.hh"

namespace pixelring {

void sink_thread::start() {
    thread_ = std::thread([this] {
        pthread_setname_np(pthread_self(), "pixelring-sink"); // top -H, ps -L, bench/load
        run();
    });
}

void sink_thread::reopen_and_wait(uint64_t timeout_ms) {
    const uint64_t before = reopened_.load(std::memory_order_acquire);
    reopen_.store(true, std::memory_order_release);
    for (uint64_t waited = 0; waited < timeout_ms; ++waited) {
        if (reopened_.load(std::memory_order_acquire) != before) return;
        timespec ts{0, 1'000'000};
        nanosleep(&ts, nullptr);
    }
}

void sink_thread::run() {
    uint64_t last_tick = 0;
    for (;;) {
        bool stopping = stop_.load(std::memory_order_acquire);
        size_t drained = 0;
        for (auto& ring : rings_) {
            for (size_t i = 0; i < batch_per_ring; ++i) {
                std::string_view rec = ring->peek();
                if (rec.empty()) break;
                sink_.write(rec);
                if (stats_) stats_->add(rec);
                ring->release();
                ++drained;
            }
        }
        if (drained) {
            sink_.flush();
            counters_.drained.add(drained);
        }
        counters_.drain_passes.add();
        bool more = sink_.poll();
        if (reopen_.exchange(false, std::memory_order_acq_rel)) {
            sink_.reopen();
            reopened_.fetch_add(1, std::memory_order_release);
        }
        // After the pass: what the rings hold now is what the sink must still be able to
        // keep, beyond what it holds itself.
        uint64_t incoming = 0;
        for (auto& ring : rings_)
            incoming += ring->used_bytes();
        gate_.set(sink_.can_keep(incoming));
        uint64_t now = realtime_ms();
        if (stats_) {
            stats_->tick(now);
            board_.serve(*stats_, now);
        }
        if (now - last_tick >= 100) {
            sink_.tick(now);
            last_tick = now;
        }
        if (stopping && drained == 0) break;
        if (drained == 0 && !more) {
            // Nothing to do: sleep a little (1 ms: ~1000 wake-ups a second; a ring absorbs
            // far more than that of load), or as long as the sink says it can wait.
            const uint32_t us = sink_.idle_sleep_us();
            timespec ts{time_t(us / 1'000'000), long(us % 1'000'000) * 1000};
            nanosleep(&ts, nullptr);
        }
    }
    sink_.close();
}

} // namespace pixelring
