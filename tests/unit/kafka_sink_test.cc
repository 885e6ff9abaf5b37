// The Kafka sink as a unit: the message key, configuration errors, broker state from
// librdkafka's statistics, and the spool path against an in-process librdkafka mock cluster
// (the real protocol, brokers taken down and up). The collector end to end is tested in
// devkafka_test and kafka_spool_test.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "core/event/event.hh"
#include "sinks/kafka/kafka_message.hh"
#include "sinks/kafka/kafka_sink.hh"
#include "sinks/kafka/kafka_stats.hh"
#include "tests/support/mock_cluster.hh"
#include "tests/support/temp_dir.hh"

using namespace pixelring;
using namespace std::chrono_literals;

namespace {

using test::mock_cluster;

using test::temp_dir;

std::unique_ptr<sink> sink_with_spool(const std::string& bootstrap, const std::string& dir,
                                      const spool** out_spool = nullptr) {
    kafka_sink_config cfg;
    cfg.brokers = {bootstrap};
    cfg.stop_timeout_ms = 500;
    cfg.properties["message.timeout.ms"] = "300";
    cfg.properties["statistics.interval.ms"] = "100";
    spool_settings ss;
    ss.dir = dir;
    std::string error;
    auto sp = spool::open(ss, error);
    EXPECT_NE(sp, nullptr) << error;
    if (out_spool) *out_spool = sp.get();
    auto s = make_kafka_sink(cfg, std::move(sp), error);
    EXPECT_NE(s, nullptr) << error;
    return s;
}

// Runs the sink thread's duty (poll, flush, tick) until pred or timeout.
template <typename Pred> bool drive(sink& s, Pred pred, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        s.poll();
        s.flush();
        s.tick(0);
        if (pred()) return true;
        std::this_thread::sleep_for(2ms);
    }
    return false;
}

std::string event(int i) {
    return fmt::format(R"({{"v":1,"id":"id-{}","campaign":"c{}","params":{{}}}})", i, i % 7);
}

} // namespace

TEST(kafka_sink, key_is_the_campaign) {
    EXPECT_EQ(kafka_message_key(R"({"v":1,"action":"open","campaign":"news","params":{}})"),
              "news");
    EXPECT_EQ(
        kafka_message_key(R"({"v":1,"action":"a","campaign":null,"params":{"campaign":"x"}})"), "");
    // Escapes stay as they are; an escaped quote does not end the value.
    EXPECT_EQ(kafka_message_key(R"({"campaign":"a\"b\\","params":{}})"), R"(a\"b\\)");
    // An action that looks like a field is escaped by the encoder, so it cannot match.
    EXPECT_EQ(kafka_message_key(R"({"action":"\"campaign\":\"evil","campaign":"good"})"), "good");
    EXPECT_EQ(kafka_message_key(R"({"campaign":"unterminated)"), "");
    EXPECT_EQ(kafka_message_key(""), "");
}

// kafka_message_key finds the last "visitor":" from the end by its 'v': the same answer as
// string_view::rfind, whatever 'v's, quotes and partial matches come after or around it.
TEST(kafka_sink, visitor_search_matches_rfind) {
    const std::string v = "0123456789abcdef0123456789abcdef";
    // The former implementation: rfind for the visitor, else the first "campaign":.
    auto reference = [](std::string_view event) -> std::string_view {
        constexpr std::string_view visitor_field = "\"visitor\":\"";
        if (size_t at = event.rfind(visitor_field); at != std::string_view::npos) {
            std::string_view id = event.substr(at + visitor_field.size());
            if (id.size() > 32 && id[32] == '"' &&
                std::all_of(id.begin(), id.begin() + 32, [](char c) {
                    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                }))
                return id.substr(0, 32);
        }
        constexpr std::string_view field = "\"campaign\":";
        size_t at = event.find(field);
        if (at == std::string_view::npos) return {};
        size_t start = at + field.size();
        if (start >= event.size() || event[start] != '"') return {};
        ++start;
        for (size_t i = start; i < event.size(); ++i) {
            if (event[i] == '\\') {
                ++i;
                continue;
            }
            if (event[i] == '"') return event.substr(start, i - start);
        }
        return {};
    };
    const std::vector<std::string> tails = {
        "",
        R"x(","ua":"Mozilla/5.0 (X11; Linux x86_64)","device":"desktop","collector":"vm"})x",
        R"(","v":"vvvv\"visitor\":\"","x":"visitor"})",
        R"(","next":"visito"})",
        R"("})",
    };
    const std::vector<std::string> heads = {
        "", R"({"v":1,"campaign":"c","params":{"visitor":")" + v + R"("},)",
        R"({"campaign":"c","params":{},)"};
    int checked = 0;
    for (const std::string& head : heads)
        for (const std::string& tail : tails)
            for (const std::string& id :
                 {v, v.substr(0, 31), std::string("0123456789ABCDEF") + v.substr(16)}) {
                const std::string event = head + R"("visitor":")" + id + tail;
                const std::string_view want = reference(event);
                EXPECT_EQ(kafka_message_key(event), want) << event;
                checked += want == id;
                // Every prefix: partial needles at the very end, the needle at offset 0.
                for (size_t n = 0; n <= event.size(); ++n) {
                    const std::string_view cut(event.data(), n);
                    EXPECT_EQ(kafka_message_key(cut), reference(cut)) << cut;
                }
            }
    EXPECT_EQ(checked, 12); // a valid id found: 3 heads x the 4 tails that close it with a quote
}

TEST(kafka_sink, key_is_the_visitor_when_there_is_one) {
    const std::string v = "0123456789abcdef0123456789abcdef";
    EXPECT_EQ(kafka_message_key(R"({"campaign":"news","params":{},"visitor":")" + v +
                                R"(","ip":"1.2.3.0"})"),
              v);
    // A params member called visitor is not the visitor; without one the campaign is the key.
    EXPECT_EQ(kafka_message_key(R"({"campaign":"news","params":{"visitor":"me"},"dnt":true})"),
              "news");
    EXPECT_EQ(kafka_message_key(R"({"campaign":"news","params":{"visitor":")" + v +
                                R"("},"visitor":")" + v + R"(","dnt":false})"),
              v);
}

// The message timestamp is the event's "ts": every millisecond format_timestamp (the encoder's
// own formatter) writes reads back as itself, from 1970 to 2400, leap days included.
TEST(kafka_sink, timestamp_is_the_events_ts) {
    const std::string id = "0195f3c2-7d1e-7abc-8def-0123456789ab";
    auto event = [&](const std::string& ts) {
        return R"({"v":1,"id":")" + id + R"(","ts":")" + ts + R"(","type":"pixel"})";
    };
    auto formatted = [](uint64_t ms) {
        char text[24];
        format_timestamp(ms, text);
        return std::string(text, sizeof text);
    };
    EXPECT_EQ(formatted(1'795'396'387'123), "2026-11-23T01:13:07.123Z");
    EXPECT_EQ(kafka_message_timestamp(event("2026-11-23T01:13:07.123Z")), 1'795'396'387'123);
    EXPECT_EQ(kafka_message_timestamp(event("1970-01-01T00:00:00.001Z")), 1);
    EXPECT_EQ(kafka_message_timestamp(event("2024-02-29T23:59:59.999Z")), 1'709'251'199'999);
    EXPECT_EQ(kafka_message_timestamp(event("2000-03-01T00:00:00.000Z")), 951'868'800'000);
    std::mt19937_64 random(5);
    for (int i = 0; i < 200'000; ++i) {
        const uint64_t ms = random() % 13'569'465'600'000; // below 2400-01-01
        ASSERT_EQ(kafka_message_timestamp(event(formatted(ms))), int64_t(ms)) << formatted(ms);
    }
    // Not the encoder's prefix, or not a timestamp there: 0, which librdkafka takes as now.
    EXPECT_EQ(kafka_message_timestamp(""), 0);
    EXPECT_EQ(kafka_message_timestamp(R"({"v":1,"ts":"2026-11-23T01:13:07.123Z"})"), 0);
    EXPECT_EQ(kafka_message_timestamp(event("2026-13-23T01:13:07.123Z")), 0);
    EXPECT_EQ(kafka_message_timestamp(event("2026-11-23T24:13:07.123Z")), 0);
    EXPECT_EQ(kafka_message_timestamp(event("2026-11-23T01:13:07.123")), 0);
    EXPECT_EQ(kafka_message_timestamp(event("2026-11-23 01:13:07.123Z")), 0);
    EXPECT_EQ(kafka_message_timestamp(event("2026-11-2x01:13:07.123Z")), 0);
    EXPECT_EQ(kafka_message_timestamp(event("2026-11-23T01:13:07.12Z")), 0);
}

TEST(kafka_sink, a_bad_property_is_named) {
    kafka_sink_config cfg;
    cfg.brokers = {"127.0.0.1:9"};
    cfg.properties["linger.ms"] = "forever";
    std::string error;
    EXPECT_EQ(make_kafka_sink(cfg, nullptr, error), nullptr);
    EXPECT_NE(error.find("sink.kafka.properties.linger.ms = \"forever\""), std::string::npos)
        << error;

    cfg.properties = {{"no.such.property", "1"}};
    error.clear();
    EXPECT_EQ(make_kafka_sink(cfg, nullptr, error), nullptr);
    EXPECT_NE(error.find("no.such.property"), std::string::npos) << error;
}

TEST(kafka_sink, an_unreachable_broker_counts_every_event_failed_on_close) {
    kafka_sink_config cfg;
    cfg.brokers = {"127.0.0.1:9"}; // discard port: nothing listens
    cfg.properties["message.timeout.ms"] = "300";
    std::string error;
    auto s = make_kafka_sink(cfg, nullptr, error);
    ASSERT_NE(s, nullptr) << error;
    for (int i = 0; i < 10; ++i)
        s->write(R"({"v":1,"campaign":"c"})");
    s->flush();
    s->close();
    EXPECT_EQ(s->counters().written.load(), 0u);
    EXPECT_EQ(s->counters().failed.load(), 10u);
}

TEST(kafka_sink, stop_timeout_bounds_close_and_purged_events_count_failed) {
    kafka_sink_config cfg;
    cfg.brokers = {"127.0.0.1:9"};
    cfg.stop_timeout_ms = 200;
    cfg.properties["message.timeout.ms"] = "600000"; // would wait ten minutes
    std::string error;
    auto s = make_kafka_sink(cfg, nullptr, error);
    ASSERT_NE(s, nullptr) << error;
    for (int i = 0; i < 25; ++i)
        s->write(R"({"v":1,"campaign":null})");
    s->flush();
    EXPECT_EQ(s->counters().queued.load(), 25u);
    auto start = std::chrono::steady_clock::now();
    s->close();
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
    EXPECT_EQ(s->counters().written.load(), 0u);
    EXPECT_EQ(s->counters().failed.load(), 25u);
    EXPECT_EQ(s->counters().queued.load(), 0u);
}

TEST(kafka_stats, broker_state_comes_from_librdkafka_statistics) {
    mock_cluster cluster;
    std::string json;
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", cluster.bootstrap().c_str(), err, sizeof err);
    rd_kafka_conf_set(conf, "statistics.interval.ms", "100", err, sizeof err);
    rd_kafka_conf_set_opaque(conf, &json);
    rd_kafka_conf_set_stats_cb(conf, [](rd_kafka_t*, char* doc, size_t len, void* opaque) {
        *static_cast<std::string*>(opaque) = std::string(doc, len);
        return 0;
    });
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    ASSERT_NE(rk, nullptr) << err;
    std::vector<kafka_broker_state> brokers;
    std::string error;
    auto deadline = std::chrono::steady_clock::now() + 10s;
    bool up = false;
    while (!up && std::chrono::steady_clock::now() < deadline) {
        rd_kafka_poll(rk, 50);
        if (json.empty()) continue;
        ASSERT_TRUE(parse_kafka_broker_states(json, brokers, error)) << error;
        for (const auto& b : brokers)
            up = up || b.up();
    }
    rd_kafka_destroy(rk);
    EXPECT_TRUE(up) << json;
    EXPECT_FALSE(brokers.empty());

    brokers.clear();
    EXPECT_FALSE(parse_kafka_broker_states("{\"brokers\":", brokers, error));
    EXPECT_FALSE(parse_kafka_broker_states("{\"name\":\"x\"}", brokers, error));
    EXPECT_NE(error.find("brokers"), std::string::npos) << error;
    EXPECT_TRUE(brokers.empty());
}

// A broker down: deliveries time out into the spool (outcome spooled); the broker back: the
// spool is replayed until empty and its segment removed; every event is on the topic.
TEST(kafka_sink, failed_deliveries_go_to_the_spool_and_are_replayed_when_the_broker_returns) {
    mock_cluster cluster;
    temp_dir dir;
    const spool* sp = nullptr;
    auto s = sink_with_spool(cluster.bootstrap(), dir.str(), &sp);
    ASSERT_NE(s, nullptr);
    cluster.down();
    for (int i = 0; i < 200; ++i)
        s->write(event(i));
    ASSERT_TRUE(drive(
        *s, [&] { return s->counters().spooled.load() == 200; }, 15s))
        << "spooled " << s->counters().spooled.load() << " written "
        << s->counters().written.load();
    EXPECT_EQ(s->counters().written.load(), 0u);
    EXPECT_EQ(sp->counters().records.load(), 200u);
    EXPECT_TRUE(s->healthy()); // no broker, but the spool can write
    cluster.up();
    ASSERT_TRUE(drive(
        *s,
        [&] { return sp->counters().records.load() == 0 && sp->counters().segments.load() == 0; },
        20s))
        << "records " << sp->counters().records.load();
    // Every record written to the spool is read back once. A replayed record that fails again
    // (the producer may still be fetching its idempotence PID when the first replay starts) is
    // spooled again and replayed again: counted in respooled, then in replayed once more.
    EXPECT_EQ(sp->counters().spooled.load(), 200u);
    const uint64_t replayed = 200 + sp->counters().respooled.load();
    EXPECT_EQ(sp->counters().replayed.load(), replayed);
    std::string metrics;
    s->write_metrics(metrics);
    EXPECT_NE(metrics.find("pixelring_spool_replayed_total " + std::to_string(replayed)),
              std::string::npos)
        << metrics;
    EXPECT_NE(metrics.find("pixelring_kafka_brokers_up 1"), std::string::npos) << metrics;
    s->close();
    EXPECT_TRUE(std::filesystem::is_empty(dir.str()));
    std::multiset<std::string> got = cluster.values();
    std::set<std::string> distinct(got.begin(), got.end());
    EXPECT_EQ(distinct.size(), 200u);
    EXPECT_TRUE(distinct.count(event(0)) && distinct.count(event(199)));
}

// A broker that refuses the events' own times (INVALID_TIMESTAMP, as for a topic with
// message.timestamp.before.max.ms and events replayed after a long outage): the refused events
// are sent again stamped with the current time, counted and logged; none goes to the spool.
TEST(kafka_sink, a_refused_event_time_is_sent_again_with_the_current_time) {
    mock_cluster cluster;
    temp_dir dir;
    const spool* sp = nullptr;
    auto s = sink_with_spool(cluster.bootstrap(), dir.str(), &sp);
    ASSERT_NE(s, nullptr);
    auto stamped = [](int i) {
        return fmt::format(R"({{"v":1,"id":"0190aaaa-bbbb-7ccc-8ddd-{:012}",)"
                           R"("ts":"2020-01-02T03:04:05.{:03}Z","type":"pixel","action":"open",)"
                           R"("campaign":"c{}","params":{{}}}})",
                           i, i, i % 7);
    };
    // The producer ready first (metadata, idempotence PID), so that the errors meet events.
    s->write(stamped(0));
    ASSERT_TRUE(drive(
        *s, [&] { return s->counters().written.load() == 1; }, 15s));
    const int64_t before_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
    cluster.fail_produce_requests(2, RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP);
    for (int i = 1; i < 100; ++i)
        s->write(stamped(i));
    ASSERT_TRUE(drive(
        *s, [&] { return s->counters().written.load() == 100; }, 15s))
        << "written " << s->counters().written.load() << " spooled "
        << s->counters().spooled.load();
    EXPECT_EQ(s->counters().spooled.load(), 0u);
    EXPECT_EQ(sp->counters().records.load(), 0u);
    std::string metrics;
    s->write_metrics(metrics);
    const std::string counter = "\npixelring_kafka_timestamp_refused_total ";
    const size_t at = metrics.find(counter);
    ASSERT_NE(at, std::string::npos) << metrics;
    const long refused = std::stol(metrics.substr(at + counter.size()));
    EXPECT_GE(refused, 1);
    s->close();
    // The events the broker took first keep 2020-01-02T03:04:05.<i>; the refused ones carry
    // the time they were sent again.
    size_t at_event_time = 0, at_send_time = 0;
    for (const auto& m : cluster.messages()) {
        const int i = std::stoi(m.value.substr(m.value.find("-8ddd-") + 6, 12));
        if (m.timestamp == 1'577'934'245'000 + i)
            ++at_event_time;
        else if (m.timestamp >= before_ms)
            ++at_send_time;
        else
            ADD_FAILURE() << m.timestamp << " " << m.value;
    }
    EXPECT_EQ(at_event_time + at_send_time, 100u);
    EXPECT_EQ(long(at_send_time), refused);
    EXPECT_GE(at_event_time, 1u);
}

// Closing with the broker down purges the queue into the spool; a new sink on the same spool
// (the next start) replays it.
TEST(kafka_sink, close_spools_what_is_queued_and_the_next_start_replays_it) {
    mock_cluster cluster;
    temp_dir dir;
    {
        kafka_sink_config cfg;
        cfg.brokers = {cluster.bootstrap()};
        cfg.stop_timeout_ms = 200;
        cfg.properties["message.timeout.ms"] = "600000";
        spool_settings ss;
        ss.dir = dir.str();
        std::string error;
        auto sp = spool::open(ss, error);
        ASSERT_NE(sp, nullptr) << error;
        auto s = make_kafka_sink(cfg, std::move(sp), error);
        ASSERT_NE(s, nullptr) << error;
        cluster.down();
        for (int i = 0; i < 50; ++i)
            s->write(event(i));
        s->flush();
        s->close();
        EXPECT_EQ(s->counters().spooled.load(), 50u);
        EXPECT_EQ(s->counters().failed.load(), 0u);
    }
    EXPECT_FALSE(std::filesystem::is_empty(dir.str()));
    cluster.up();
    const spool* sp = nullptr;
    auto s = sink_with_spool(cluster.bootstrap(), dir.str(), &sp);
    ASSERT_NE(s, nullptr);
    ASSERT_TRUE(drive(
        *s, [&] { return sp->counters().segments.load() == 0; }, 20s));
    EXPECT_EQ(sp->counters().replayed.load(), 50u);
    s->close();
    std::multiset<std::string> got = cluster.values();
    EXPECT_EQ(got.size(), 50u);
}
