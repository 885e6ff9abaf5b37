// app/service_status: the STATUS= line the service reports and the liveness that feeds
// systemd's watchdog, from the counters the workers and the sink thread keep.

#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "app/service_status.hh"
#include "core/metrics.hh"

using namespace pixelring;

namespace {

struct fixture {
    worker_counters workers[2];
    drain_counters drain;
    std::atomic<uint64_t> written{0}, failed{0}, spooled{0}, queued{0};
    bool healthy = true;
    metrics_view view;

    fixture() {
        view.workers = workers;
        view.worker_count = 2;
        view.drain = &drain;
        view.events_written = &written;
        view.events_failed = &failed;
        view.events_spooled = &spooled;
        view.sink_queued = &queued;
        view.sink_type = "file";
        view.sink_ctx = &healthy;
        view.sink_healthy = [](const void* ctx) { return *static_cast<const bool*>(ctx); };
    }
    // Every thread's loop turns once.
    void turn_all() {
        for (auto& w : workers)
            w.uring_waits.add();
        drain.drain_passes.add();
    }
};

} // namespace

TEST(service_status, summary_gives_rates_over_the_last_period) {
    fixture f;
    service_status s(f.view, 1000);
    for (int i = 0; i < 300; ++i)
        f.workers[i % 2].count_request(route::pixel, 200);
    f.workers[0].events_accepted.add(250);
    f.workers[1].events_accepted.add(50);
    f.workers[0].connections_open.set(7);
    f.workers[1].connections_open.set(3);
    EXPECT_EQ(s.summary(3000), "150 requests/s, 150 events/s, 10 connections, sink file ok");
    // The next period starts where this one ended.
    f.workers[0].count_request(route::beacon, 204);
    f.healthy = false;
    EXPECT_EQ(s.summary(4000), "1 requests/s, 0 events/s, 10 connections, sink file unhealthy");
}

TEST(service_status, kafka_summary_adds_the_producer_queue) {
    fixture f;
    f.view.sink_type = "kafka";
    f.view.delivery_outcomes = true;
    f.queued = 42;
    service_status s(f.view, 0);
    EXPECT_EQ(s.summary(1000), "0 requests/s, 0 events/s, 0 connections, sink kafka ok, 42 queued");
}

TEST(service_status, a_thread_that_did_not_turn_is_named) {
    fixture f;
    service_status s(f.view, 0);
    std::string stuck;
    EXPECT_FALSE(s.all_turned(stuck)) << "nothing turned since construction";
    EXPECT_EQ(stuck, "worker 0");

    f.turn_all();
    EXPECT_TRUE(s.all_turned(stuck));
    EXPECT_EQ(stuck, "");

    f.workers[0].uring_waits.add();
    f.drain.drain_passes.add(); // worker 1 stuck
    EXPECT_FALSE(s.all_turned(stuck));
    EXPECT_EQ(stuck, "worker 1");

    f.workers[0].uring_waits.add();
    f.workers[1].uring_waits.add(); // the sink thread stuck
    EXPECT_FALSE(s.all_turned(stuck));
    EXPECT_EQ(stuck, "the sink thread");
}

TEST(service_status, drain_progress_counts_what_the_stop_moves) {
    fixture f;
    service_status s(f.view, 0);
    const uint64_t before = s.drain_progress();
    f.drain.drained.add(5);
    f.written += 3;
    f.spooled += 2;
    f.failed += 1;
    EXPECT_EQ(s.drain_progress() - before, 11u);
}
