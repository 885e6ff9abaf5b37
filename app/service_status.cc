#include "app/service_status.hh"

#include <ctime>

#include <fmt/format.h>

#include "core/base/clock.hh"

namespace pixelring {

service_status::service_status(const metrics_view& view, uint64_t now_ms)
    : view_(view), last_ms_(now_ms), last_requests_(requests()), last_events_(events()),
      worker_turns_(view.worker_count, 0) {
    std::string ignored;
    all_turned(ignored); // the first check compares with now
}

uint64_t service_status::requests() const {
    uint64_t n = 0;
    for (size_t w = 0; w < view_.worker_count; ++w)
        for (const auto& per_route : view_.workers[w].requests)
            for (const counter& c : per_route)
                n += c.get();
    return n;
}

uint64_t service_status::events() const {
    uint64_t n = 0;
    for (size_t w = 0; w < view_.worker_count; ++w)
        n += view_.workers[w].events_accepted.get();
    return n;
}

std::string service_status::summary(uint64_t now_ms) {
    const uint64_t req = requests(), ev = events();
    const double seconds = now_ms > last_ms_ ? double(now_ms - last_ms_) / 1000.0 : 0.0;
    auto rate = [seconds](uint64_t delta) {
        return seconds > 0 ? uint64_t(double(delta) / seconds + 0.5) : 0;
    };
    uint64_t connections = 0;
    for (size_t w = 0; w < view_.worker_count; ++w)
        connections += view_.workers[w].connections_open.get();
    const bool healthy = !view_.sink_healthy || view_.sink_healthy(view_.sink_ctx);
    std::string line = fmt::format("{} requests/s, {} events/s, {} connections, sink {} {}",
                                   rate(req - last_requests_), rate(ev - last_events_), connections,
                                   view_.sink_type, healthy ? "ok" : "unhealthy");
    if (view_.delivery_outcomes && view_.sink_queued)
        line += fmt::format(", {} queued", view_.sink_queued->load());
    last_ms_ = now_ms;
    last_requests_ = req;
    last_events_ = ev;
    return line;
}

bool service_status::all_turned(std::string& stuck) {
    stuck.clear();
    for (size_t w = 0; w < view_.worker_count; ++w) {
        const uint64_t turns = view_.workers[w].uring_waits.get();
        if (turns == worker_turns_[w] && stuck.empty()) stuck = fmt::format("worker {}", w);
        worker_turns_[w] = turns;
    }
    if (view_.drain) {
        const uint64_t turns = view_.drain->drain_passes.get();
        if (turns == sink_turns_ && stuck.empty()) stuck = "the sink thread";
        sink_turns_ = turns;
    }
    return stuck.empty();
}

uint64_t service_status::drain_progress() const {
    uint64_t n = view_.drain ? view_.drain->drained.get() : 0;
    for (const std::atomic<uint64_t>* c :
         {view_.events_written, view_.events_failed, view_.events_spooled})
        if (c) n += c->load();
    return n;
}

void stop_extender::run() {
    const uint64_t start = monotonic_ms();
    uint64_t last = status_.drain_progress();
    uint64_t next = start;
    while (!done_.load(std::memory_order_acquire)) {
        const uint64_t now = monotonic_ms();
        if (now >= next) {
            const uint64_t progress = status_.drain_progress();
            if (progress != last || now - start < budget_ms_) notifier_.extend_timeout(extend_us);
            last = progress;
            next = now + step_ms;
        }
        timespec ts{0, 20'000'000};
        nanosleep(&ts, nullptr);
    }
}

} // namespace pixelring
