// When the sink thread falls behind and a worker's ring is nearly full, the worker stops
// reading requests until there is room again, instead of answering and dropping the events
// (ring_full). The sink here writes into a FIFO that the test does not read at first, so the
// sink thread blocks and the ring fills.

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/e2e_events.hh"
#include "tests/support/metrics_scrape.hh"
#include "tests/support/temp_dir.hh"

using namespace pixelring::test;
using namespace std::chrono_literals;

namespace {

// A collector whose file sink writes into a FIFO the test reads only once drain() is called:
// until then the sink thread blocks and the worker's 64 KiB ring fills.
class ring_backpressure : public ::testing::Test {
protected:
    void SetUp() override {
        fifo_ = dir_.str() + "/events.fifo";
        ASSERT_EQ(mkfifo(fifo_.c_str(), 0600), 0);
        // Open the reading end first (without reading), so that the collector's open succeeds.
        reader_ = open(fifo_.c_str(), O_RDONLY | O_NONBLOCK);
        ASSERT_GE(reader_, 0);
        p_ = std::make_unique<collector_process>(
            std::vector<std::string>{"server.workers=1", "server.ring_bytes=64KiB",
                                     "sink.file.path=" + fifo_, "sink.file.fsync=never"});
        ASSERT_TRUE(p_->started()) << p_->stderr_text();
    }

    void TearDown() override {
        if (drain_.joinable()) drain_.join();
        if (reader_ >= 0) close(reader_);
    }

    // Reads the FIFO on a thread, into received(), until it has been quiet for idle_ms.
    void drain(int idle_ms) {
        drain_ = std::thread([this, idle_ms] {
            char buf[65536];
            for (int idle = 0; idle < idle_ms / 10;) {
                ssize_t n = read(reader_, buf, sizeof buf);
                if (n > 0) {
                    received_.append(buf, size_t(n));
                    idle = 0;
                } else {
                    std::this_thread::sleep_for(10ms);
                    ++idle;
                }
            }
        });
    }

    // The events read, once the drain has ended.
    const std::string& received() {
        if (drain_.joinable()) drain_.join();
        return received_;
    }

    collector_process& p() { return *p_; }

private:
    pixelring::test::temp_dir dir_;
    std::string fifo_;
    int reader_ = -1;
    std::unique_ptr<collector_process> p_;
    std::thread drain_;
    std::string received_;
};

} // namespace

TEST_F(ring_backpressure, a_stalled_sink_makes_requests_wait_not_drop) {
    collector_process& p = this->p();

    // 200 pipelined pixels (about 16 KiB) on each of 8 connections: their events (about
    // 600 KiB) are far more than the FIFO (64 KiB) and the ring (64 KiB) hold.
    constexpr int per_connection = 200, connections = 8;
    std::string batch;
    for (int i = 0; i < per_connection; ++i)
        batch += "GET /track/wait.gif?campaignID=c&n=" + std::to_string(i) +
                 "&pad=" + std::string(40, 'x') + " HTTP/1.1\r\nHost: a\r\n\r\n";
    std::vector<std::unique_ptr<connection>> conns;
    for (int c = 0; c < connections; ++c) {
        conns.push_back(std::make_unique<connection>(p.port()));
        conns.back()->send_all(batch);
    }
    // The sink is stuck: the workers must have paused, and nothing may be dropped.
    long long pauses = 0;
    for (int waited = 0; waited < 5000 && pauses <= 0; waited += 20) {
        std::this_thread::sleep_for(20ms);
        pauses = static_cast<long long>(metric(p, "pixelring_ring_full_pauses_total").value_or(-1));
    }
    EXPECT_GT(pauses, 0);
    EXPECT_EQ(metric(p, "pixelring_events_dropped_total{reason=\"ring_full\"}"), 0);

    // Read the FIFO: the sink thread goes on, the workers resume, every request is answered.
    drain(2000);
    for (auto& c : conns) {
        auto raw = c->read_responses(per_connection, false, 20000);
        EXPECT_EQ(raw.size(), size_t(per_connection));
    }
    EXPECT_EQ(metric(p, "pixelring_events_dropped_total{reason=\"ring_full\"}"), 0);
    EXPECT_EQ(metric(p, "pixelring_events_total{outcome=\"accepted\"}"),
              per_connection * connections);
    EXPECT_EQ(p.stop(), 0) << p.stderr_text();
    size_t lines = 0;
    for (char ch : received())
        lines += ch == '\n';
    EXPECT_EQ(lines, size_t(per_connection * connections));
}

// While requests wait for ring room, a client that keeps sending (100 KiB of pipelined
// requests without reading an answer) outgrows what a connection may hold: it is closed, and
// the server goes on (an answer queued past the full queue once crashed it).
TEST_F(ring_backpressure, a_client_that_only_sends_is_closed_and_the_server_goes_on) {
    collector_process& p = this->p();
    std::string batch;
    for (int i = 0; i < 400; ++i)
        batch += "GET /track/flood.gif?campaignID=c&n=" + std::to_string(i) +
                 "&pad=" + std::string(200, 'x') + " HTTP/1.1\r\nHost: a\r\n\r\n";
    connection flood(p.port());
    flood.send_all(batch);
    EXPECT_TRUE(flood.wait_closed(10000));
    // Let the sink go on; the server answers new requests and stops cleanly.
    drain(1000);
    connection after(p.port());
    after.send_all("GET /track/after.gif HTTP/1.1\r\nHost: a\r\n\r\n");
    auto raw = after.read_responses(1, false, 10000);
    ASSERT_EQ(raw.size(), 1u);
    EXPECT_EQ(parse_response(raw[0]).status, 200);
    EXPECT_EQ(metric(p, "pixelring_events_dropped_total{reason=\"ring_full\"}"), 0);
    EXPECT_EQ(p.stop(), 0) << p.stderr_text();
}
