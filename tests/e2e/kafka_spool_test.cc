// The Kafka sink's promise, end to end: every accepted event is delivered, spooled or counted
// dropped, through a broker outage, a SIGTERM under load, a restart, a corrupt spool and a
// spent spool budget. The real pixelring binary, pixelring-devkafka (librdkafka's mock cluster,
// the real Kafka protocol) and a real librdkafka consumer.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include <fmt/format.h>

#include "sinks/kafka/spool.hh"
#include "tests/support/e2e_client.hh"
#include "tests/support/kafka_fixture.hh"
#include "tests/support/metrics_scrape.hh"
#include "tests/support/temp_dir.hh"

using namespace pixelring;
using namespace pixelring::test;
using namespace std::chrono_literals;

namespace {

constexpr char topic[] = "pixelring.events";

int readyz_status(const collector_process& p) {
    return parse_response(admin_get(p.admin_port(), "/readyz")).status;
}

// Waits up to timeout for pred, polling every 100 ms.
template <typename Pred> bool eventually(Pred pred, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (pred()) return true;
        std::this_thread::sleep_for(100ms);
    }
    return pred();
}

// Everything the collector took is settled: nothing in the producer's queue, the spool empty.
bool settled_and_spool_empty(const collector_process& p) {
    return metric(p, "pixelring_sink_queued_events") == 0 &&
           metric(p, "pixelring_spool_records") == 0 && metric(p, "pixelring_spool_bytes") == 0;
}

// The numbers of the collector's last line: "stopped: A events accepted, D delivered,
// S spooled, X dropped (...)".
struct final_counts {
    long accepted = -1, delivered = -1, spooled = -1, dropped = -1;
};
final_counts parse_final_line(const std::string& log) {
    final_counts f;
    std::smatch m;
    static const std::regex line(
        R"(stopped: (\d+) events accepted, (\d+) delivered, (\d+) spooled, (\d+) dropped)");
    if (std::regex_search(log, m, line)) {
        f.accepted = std::stol(m[1]);
        f.delivered = std::stol(m[2]);
        f.spooled = std::stol(m[3]);
        f.dropped = std::stol(m[4]);
    }
    return f;
}

// Steady pixel load: bursts of `burst` requests every `period` on rotating keep-alive
// connections, campaign "<prefix><n>" for request n. Stops at stop() or when the collector
// stops answering.
class pixel_load {
public:
    pixel_load(int port, std::string prefix, int burst, std::chrono::milliseconds period)
        : port_(port), prefix_(std::move(prefix)), burst_(burst), period_(period) {
        thread_ = std::thread([this] { run(); });
    }
    ~pixel_load() { stop(); }
    void stop() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }
    long answered() const { return answered_.load(); }

private:
    void run() {
        std::vector<std::unique_ptr<connection>> cs;
        for (int i = 0; i < 4; ++i)
            cs.push_back(std::make_unique<connection>(port_));
        auto next = std::chrono::steady_clock::now();
        for (size_t turn = 0; !stop_; ++turn) {
            connection& c = *cs[turn % cs.size()];
            std::string requests;
            long first = sent_;
            for (int i = 0; i < burst_; ++i)
                requests += fmt::format("GET /track/open.gif?campaignID={}{} HTTP/1.1\r\n"
                                        "Host: px.example.com\r\n\r\n",
                                        prefix_, first + i);
            c.send_all(requests);
            sent_ += burst_;
            auto got = c.read_responses(size_t(burst_), false, 5000);
            long ok = 0;
            for (const auto& r : got)
                ok += r.rfind("HTTP/1.1 200", 0) == 0;
            answered_ += ok;
            if (long(got.size()) < burst_) return; // the collector stopped
            if (period_.count() > 0) {
                next += period_;
                std::this_thread::sleep_until(next);
            }
        }
    }

    int port_;
    std::string prefix_;
    int burst_;
    std::chrono::milliseconds period_;
    long sent_ = 0;
    std::atomic<long> answered_{0};
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

struct topic_census {
    size_t messages = 0;
    std::map<std::string, std::vector<std::string>> by_id; // id → every value seen
    // Messages whose timestamp is not their event's ts as CreateTime (a replayed event too
    // keeps the time of its hit); the first of them.
    size_t other_timestamps = 0;
    std::string first_other_timestamp;
    size_t duplicates() const { return messages - by_id.size(); }
};

topic_census read_topic(const devkafka& broker, int partitions) {
    topic_census t;
    for (auto& c : consume_to_end(broker.bootstrap(), topic, partitions)) {
        ++t.messages;
        if (!c.create_time || c.timestamp != pixelring::test::event_ts_ms(c.value)) {
            if (t.other_timestamps++ == 0)
                t.first_other_timestamp =
                    fmt::format("{} {}: {}", c.create_time ? "CreateTime" : "not CreateTime",
                                c.timestamp, c.value);
        }
        t.by_id[event_id(c.value)].push_back(std::move(c.value));
    }
    return t;
}

// Every "campaignID" number 0..n-1 of prefix appears among the values.
std::vector<long> missing_requests(const topic_census& t, const std::string& prefix, long n) {
    std::vector<bool> seen(size_t(n), false);
    std::regex campaign("\"campaign\":\"" + prefix + "(\\d+)\"");
    for (const auto& [id, values] : t.by_id) {
        std::smatch m;
        if (std::regex_search(values.front(), m, campaign)) {
            long k = std::stol(m[1]);
            if (k >= 0 && k < n) seen[size_t(k)] = true;
        }
    }
    std::vector<long> missing;
    for (long k = 0; k < n; ++k)
        if (!seen[size_t(k)]) missing.push_back(k);
    return missing;
}

// Reads every record of every segment in dir with the spool's own reader.
std::vector<std::string> spool_records(const std::string& dir) {
    std::string error;
    spool_settings s;
    s.dir = dir;
    auto sp = spool::open(s, error);
    std::vector<std::string> out;
    if (!sp) return out;
    while (auto reader = sp->open_next_segment()) {
        std::string_view r;
        while (reader->next(r))
            out.emplace_back(r);
    }
    return out;
}

} // namespace

// All brokers down for 20 s under a steady 1000 pixels/s, with message.timeout.ms = 2000:
// events time out into the spool, and once the brokers are back the spool is replayed until
// every request's event is on the topic. Duplicates are allowed (at-least-once); each shares
// its id with the original and is the same event.
TEST(kafka_spool, all_brokers_down_for_20_seconds_then_every_event_is_on_the_topic) {
    constexpr int partitions = 16;
    devkafka broker(fmt::format("{}:{}", topic, partitions));
    ASSERT_FALSE(broker.bootstrap().empty()) << broker.stderr_text();
    collector_process p({"sink.kafka.brokers=" + broker.bootstrap(),
                         "sink.kafka.properties.message.timeout.ms=2000"});
    ASSERT_TRUE(p.started()) << p.stderr_text();

    pixel_load load(p.port(), "r", 5, 5ms); // 1000 requests/s
    std::this_thread::sleep_for(5s);
    broker.command("down all");
    // While every broker is down: events wait, then time out into the spool; the collector
    // stays ready because the spool can take them.
    EXPECT_TRUE(eventually(
        [&] { return metric(p, "pixelring_events_total{outcome=\"spooled\"}") > 0; }, 15s))
        << p.stderr_text();
    EXPECT_TRUE(eventually([&] { return metric(p, "pixelring_kafka_brokers_up") == 0; }, 5s));
    EXPECT_EQ(readyz_status(p), 200);
    std::this_thread::sleep_for(20s - 2s); // the outage lasts 20 s in all (2 s went above)
    broker.command("up all");
    std::this_thread::sleep_for(5s);
    load.stop();
    const long sent = load.answered();

    EXPECT_TRUE(eventually([&] { return settled_and_spool_empty(p); }, 120s))
        << "queued " << metric(p, "pixelring_sink_queued_events").value_or(-1) << " spool records "
        << metric(p, "pixelring_spool_records").value_or(-1) << "\n"
        << p.stderr_text();
    double replayed = metric(p, "pixelring_spool_replayed_total").value_or(-1);
    EXPECT_EQ(p.stop(30000), 0);
    final_counts f = parse_final_line(p.stderr_text());
    EXPECT_EQ(f.accepted, sent) << p.stderr_text();
    EXPECT_EQ(f.dropped, 0);
    EXPECT_EQ(f.delivered + f.spooled, f.accepted);
    EXPECT_GT(f.spooled, 0);
    EXPECT_GE(replayed, double(f.spooled));

    topic_census t = read_topic(broker, partitions);
    EXPECT_EQ(long(t.by_id.size()), sent);
    EXPECT_EQ(missing_requests(t, "r", sent), std::vector<long>{});
    EXPECT_EQ(t.other_timestamps, 0u) << t.first_other_timestamp;
    for (const auto& [id, values] : t.by_id)
        for (const auto& v : values)
            EXPECT_EQ(v, values.front()) << "a duplicate of " << id << " is another event";
    std::cout << fmt::format("outage: sent {} delivered {} spooled {} replayed {} on topic {} "
                             "distinct ids {} duplicates {}\n",
                             sent, f.delivered, f.spooled, replayed, t.messages, t.by_id.size(),
                             t.duplicates());
}

// SIGTERM while pixels arrive and Kafka is slow (5 s round trips, stop timeout 300 ms): the
// collector exits 0; every accepted event is on the topic or in the spool; after a restart on
// the same spool every one is on the topic.
TEST(kafka_spool, sigterm_under_load_then_restart_puts_every_event_on_the_topic) {
    constexpr int partitions = 8;
    devkafka broker(fmt::format("{}:{}", topic, partitions));
    ASSERT_FALSE(broker.bootstrap().empty()) << broker.stderr_text();
    temp_dir spool_dir("pixelring-spool-e2e");
    const std::vector<std::string> sets = {"sink.kafka.brokers=" + broker.bootstrap(),
                                           "spool.dir=" + spool_dir.str(),
                                           "sink.kafka.stop_timeout_ms=300"};
    long accepted = 0;
    {
        collector_process p(sets);
        ASSERT_TRUE(p.started()) << p.stderr_text();
        pixel_load warm(p.port(), "w", 10, 10ms);
        std::this_thread::sleep_for(2s);
        broker.command("rtt all 5000");
        pixel_load load(p.port(), "s", 20, 0ms); // as fast as the collector answers
        std::this_thread::sleep_for(2s);
        EXPECT_EQ(p.stop(30000), 0) << p.stderr_text(); // SIGTERM while both loads run
        final_counts f = parse_final_line(p.stderr_text());
        accepted = f.accepted;
        EXPECT_GT(f.accepted, 0) << p.stderr_text();
        EXPECT_EQ(f.dropped, 0);
        EXPECT_EQ(f.delivered + f.spooled, f.accepted);
        EXPECT_GT(f.spooled, 0) << "the slow broker should have left events for the spool";

        broker.command("rtt all 0");
        std::set<std::string> ids;
        topic_census t = read_topic(broker, partitions);
        for (const auto& [id, values] : t.by_id)
            ids.insert(id);
        std::vector<std::string> spooled = spool_records(spool_dir.str());
        EXPECT_EQ(long(spooled.size()), f.spooled);
        for (const auto& r : spooled)
            ids.insert(event_id(r));
        EXPECT_EQ(long(ids.size()), f.accepted) << "accepted events neither on the topic nor "
                                                   "in the spool";
        std::cout << fmt::format("sigterm: accepted {} delivered {} spooled {} (on topic {}, "
                                 "in spool {})\n",
                                 f.accepted, f.delivered, f.spooled, t.messages, spooled.size());
    }
    collector_process again(sets);
    ASSERT_TRUE(again.started()) << again.stderr_text();
    EXPECT_TRUE(eventually([&] { return settled_and_spool_empty(again); }, 60s))
        << again.stderr_text();
    EXPECT_EQ(again.stop(30000), 0);
    topic_census t = read_topic(broker, partitions);
    EXPECT_EQ(long(t.by_id.size()), accepted);
    EXPECT_EQ(t.other_timestamps, 0u) << t.first_other_timestamp;
    EXPECT_EQ(std::filesystem::is_empty(spool_dir.str()), true);
}

// A spool written by an earlier run, with garbage in the middle of its segment: replayed at
// start-up; the corrupt bytes are skipped and counted; every intact record reaches the topic.
TEST(kafka_spool, an_earlier_spool_is_replayed_at_start_and_corrupt_bytes_are_counted) {
    constexpr int partitions = 4;
    constexpr int records = 2000;
    devkafka broker(fmt::format("{}:{}", topic, partitions));
    ASSERT_FALSE(broker.bootstrap().empty()) << broker.stderr_text();
    temp_dir spool_dir("pixelring-spool-e2e");
    std::set<std::string> written;
    {
        std::string error;
        spool_settings s;
        s.dir = spool_dir.str();
        auto sp = spool::open(s, error);
        ASSERT_NE(sp, nullptr) << error;
        for (int i = 0; i < records; ++i) {
            std::string id = fmt::format("0190aaaa-bbbb-7ccc-8ddd-{:012}", i);
            written.insert(id);
            std::string event =
                fmt::format(R"({{"v":1,"id":"{}","ts":"2026-11-22T10:00:00.000Z","type":"pixel",)"
                            R"("action":"open","campaign":"old{}","params":{{}}}})",
                            id, i);
            ASSERT_EQ(sp->append(event, spool_origin::event), spool_append_result::ok);
        }
        sp->close();
    }
    std::vector<std::filesystem::path> segments;
    for (const auto& e : std::filesystem::directory_iterator(spool_dir.str()))
        segments.push_back(e.path());
    ASSERT_EQ(segments.size(), 1u);
    {
        std::fstream f(segments[0], std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(std::streamoff(std::filesystem::file_size(segments[0]) / 2));
        f.write("garbage garbage garbage", 23);
    }

    collector_process p(
        {"sink.kafka.brokers=" + broker.bootstrap(), "spool.dir=" + spool_dir.str()});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    EXPECT_TRUE(eventually([&] { return metric(p, "pixelring_spool_segments") == 0; }, 60s))
        << p.stderr_text();
    double corrupt = metric(p, "pixelring_spool_corrupt_records_total").value_or(-1);
    double replayed = metric(p, "pixelring_spool_replayed_total").value_or(-1);
    EXPECT_GE(corrupt, 1);
    EXPECT_LE(corrupt, 2); // 23 bytes can touch at most two records
    EXPECT_GT(metric(p, "pixelring_spool_corrupt_bytes_total"), 0);
    EXPECT_GE(replayed, records - 2);
    EXPECT_EQ(p.stop(30000), 0);

    topic_census t = read_topic(broker, partitions);
    EXPECT_EQ(double(t.by_id.size()), replayed);
    for (const auto& [id, values] : t.by_id)
        EXPECT_TRUE(written.count(id)) << id;
    // Replayed a day or more after their hits, they still carry the hits' time.
    EXPECT_EQ(t.other_timestamps, 0u) << t.first_other_timestamp;
}

// All brokers down, message.timeout.ms 500 and a 1 MiB spool: the spool fills, further events
// are counted as dropped{spool_full}, /readyz says 503 (no broker, spool not writable), nothing
// crashes; when the brokers return the spool is replayed and /readyz says 200 again.
// kill -9 at any moment loses at most spool.max_memory_ms of answered events (plus what the
// rings held): with the brokers up, during an outage longer than that (before, events sat in
// librdkafka's queue for message.timeout.ms, 5 minutes, and a kill lost the whole outage),
// and while the spool is being replayed. After each kill the collector starts again on the
// same spool with the brokers up; every answered event but the last window's is on the topic.
TEST(kafka_spool, kill_9_in_every_state_loses_at_most_the_memory_window) {
    constexpr int partitions = 8;
    constexpr long rate = 1000; // pixels a second
    constexpr long window_ms = 1000;
    // The window, half a second more for the sink's pass and the load's own timing.
    constexpr long allowed = rate * (window_ms + 500) / 1000;
    devkafka broker(fmt::format("{}:{}", topic, partitions));
    ASSERT_FALSE(broker.bootstrap().empty()) << broker.stderr_text();
    temp_dir spool_dir("pixelring-spool-kill");
    const std::vector<std::string> sets = {"sink.kafka.brokers=" + broker.bootstrap(),
                                           "spool.dir=" + spool_dir.str(),
                                           "spool.max_memory_ms=" + std::to_string(window_ms)};
    struct state_result {
        std::string name;
        long answered = 0;
        std::vector<long> missing;
    };
    std::vector<state_result> results;
    for (const std::string state : {"up", "down", "replay"}) {
        state_result r;
        r.name = state;
        {
            collector_process p(sets);
            ASSERT_TRUE(p.started()) << p.stderr_text();
            if (state != "up") broker.command("down all");
            pixel_load load(p.port(), state + "-", 5, 5ms);
            std::this_thread::sleep_for(state == "up" ? 3s : 4s);
            if (state == "replay") {
                broker.command("up all");
                EXPECT_TRUE(
                    eventually([&] { return metric(p, "pixelring_kafka_brokers_up") > 0; }, 10s));
            }
            p.signal(SIGKILL);
            r.answered = load.answered();
            load.stop();
            p.stop(10000); // reaps it
        }
        broker.command("up all");
        collector_process again(sets);
        ASSERT_TRUE(again.started()) << again.stderr_text();
        EXPECT_TRUE(eventually([&] { return settled_and_spool_empty(again); }, 60s))
            << again.stderr_text();
        EXPECT_EQ(again.stop(30000), 0);
        r.missing = missing_requests(read_topic(broker, partitions), state + "-", r.answered);
        EXPECT_LE(long(r.missing.size()), allowed) << state;
        for (long k : r.missing)
            EXPECT_GE(k, r.answered - allowed) << state << ": an early event is missing";
        results.push_back(r);
    }
    for (const auto& r : results)
        std::cout << fmt::format("kill -9, brokers {}: answered {}, lost {} (at most {} allowed)\n",
                                 r.name, r.answered, r.missing.size(), allowed);
}

// One request on a fresh connection; the parsed answer.
http_response ask(const collector_process& p, const std::string& request) {
    connection c(p.port());
    c.send_all(request);
    auto raw = c.read_responses(1);
    return raw.empty() ? http_response{} : parse_response(raw[0]);
}

std::string beacon_post(const std::string& query, const std::string& body) {
    return fmt::format("POST /e{} HTTP/1.1\r\nHost: px.example.com\r\n"
                       "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
                       query, body.size(), body);
}

// Brokers down and a 1 MiB spool: before the spool could overflow, the collector stops taking
// events instead of taking them and dropping them later. A beacon then gets 503 with
// Retry-After (its receipts say dropped, and why), a pixel still gets its image and its event
// is counted refused, /readyz says 503, and the spool never drops one it was handed. When a
// broker returns, the spool drains and everything is taken again.
TEST(kafka_spool, a_spent_spool_budget_refuses_events_truthfully_until_a_broker_returns) {
    constexpr int partitions = 4;
    devkafka broker(fmt::format("{}:{}", topic, partitions));
    ASSERT_FALSE(broker.bootstrap().empty()) << broker.stderr_text();
    broker.command("down all");
    collector_process p({"sink.kafka.brokers=" + broker.bootstrap(), "spool.max_bytes=1MiB",
                         "sink.kafka.properties.message.timeout.ms=500"});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    EXPECT_EQ(readyz_status(p), 200);
    // Load in rounds until, with nothing left in the producer's queue, the spool has less room
    // than the gate's margin: from then on the gate stays closed.
    const std::string refused = "pixelring_events_dropped_total{reason=\"sink_unavailable\"}";
    bool closed = false;
    for (int round = 0; round < 20 && !closed; ++round) {
        {
            pixel_load load(p.port(), "b" + std::to_string(round) + "-", 50, 5ms); // 10,000/s
            std::this_thread::sleep_for(1s);
            load.stop();
        }
        EXPECT_TRUE(eventually([&] { return metric(p, "pixelring_sink_queued_events") == 0; }, 30s))
            << p.stderr_text();
        closed = readyz_status(p) == 503;
    }
    ASSERT_TRUE(closed) << admin_get(p.admin_port(), "/metrics");
    EXPECT_GT(metric(p, refused), 0);
    // Everything that was taken is in the spool; nothing it was handed was dropped.
    EXPECT_LE(metric(p, "pixelring_spool_bytes"), double(1 << 20));
    EXPECT_EQ(metric(p, "pixelring_events_dropped_total{reason=\"spool_full\"}"), 0);
    EXPECT_EQ(metric(p, "pixelring_events_dropped_total{reason=\"spool_error\"}"), 0);

    // The answer, the counts and the readiness, at once.
    const double refused_before = metric(p, refused).value_or(-1);
    const double accepted_before =
        metric(p, "pixelring_events_total{outcome=\"accepted\"}").value_or(-1);
    http_response r =
        ask(p, beacon_post("?receipts=1", R"([{"action":"a"},{"x":1},{"action":"b"}])"));
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(r.headers["retry-after"], "1");
    EXPECT_EQ(r.body, R"([{"status":"dropped","reason":"the server cannot keep events now (its )"
                      R"(spool is full or failing); retry later"},{"status":"rejected","reason":)"
                      R"("action missing"},{"status":"dropped","reason":"the server cannot keep )"
                      R"(events now (its spool is full or failing); retry later"}])");
    r = ask(p, beacon_post("", R"({"action":"a"})"));
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(r.headers["retry-after"], "1");
    EXPECT_NE(r.body.find("cannot keep events"), std::string::npos) << r.body;
    r = ask(p, "GET /track/open.gif?campaignID=c HTTP/1.1\r\nHost: px.example.com\r\n\r\n");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.headers["content-type"], "image/gif");
    EXPECT_EQ(metric(p, refused), refused_before + 4);
    EXPECT_EQ(metric(p, "pixelring_events_total{outcome=\"accepted\"}"), accepted_before);
    EXPECT_EQ(readyz_status(p), 503);
    EXPECT_EQ(metric(p, "pixelring_events_dropped_total{reason=\"spool_full\"}"), 0);

    broker.command("up all");
    EXPECT_TRUE(eventually([&] { return settled_and_spool_empty(p); }, 60s))
        << p.stderr_text() << admin_get(p.admin_port(), "/metrics");
    EXPECT_TRUE(eventually([&] { return readyz_status(p) == 200; }, 5s));
    r = ask(p, beacon_post("?receipts=1", R"({"action":"back"})"));
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, R"([{"status":"accepted"}])");
    EXPECT_EQ(p.stop(30000), 0);
    final_counts f = parse_final_line(p.stderr_text());
    EXPECT_EQ(f.dropped, 0) << p.stderr_text();
    EXPECT_GT(f.spooled, 0);
    EXPECT_EQ(f.delivered + f.spooled, f.accepted) << p.stderr_text();
    topic_census t = read_topic(broker, partitions);
    EXPECT_EQ(long(t.by_id.size()), f.accepted);
}
