// pixelring-devkafka, end to end: the real binary, a real librdkafka producer and consumer.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <poll.h>
#include <regex>
#include <set>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "tests/support/e2e_client.hh"
#include "tests/support/kafka_fixture.hh"

#ifndef CONSUME_BIN
#error "CONSUME_BIN must name the pixelring-consume binary"
#endif

namespace {

using pixelring::test::consume_all;
using pixelring::test::devkafka;

struct delivery_counts {
    int ok = 0;
    int failed = 0;
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* counts = static_cast<delivery_counts*>(opaque);
    if (m->err)
        ++counts->failed;
    else
        ++counts->ok;
}

// Produces n keyed messages "<prefix>-<i>" and waits for every delivery report.
delivery_counts produce(const std::string& bootstrap, const std::string& topic,
                        const std::string& prefix, int n, const char* message_timeout_ms) {
    delivery_counts counts;
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
    rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof err);
    rd_kafka_conf_set(conf, "message.timeout.ms", message_timeout_ms, err, sizeof err);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, &counts);
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) return counts;
    for (int i = 0; i < n; ++i) {
        std::string value = prefix + "-" + std::to_string(i);
        std::string key = "k" + std::to_string(i % 17);
        rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_KEY(key.data(), key.size()),
                          RD_KAFKA_V_VALUE(value.data(), value.size()), RD_KAFKA_V_END);
        rd_kafka_poll(rk, 0);
    }
    // Count delivery reports; the flush result alone says nothing about failures.
    rd_kafka_flush(rk, 30000);
    rd_kafka_destroy(rk);
    return counts;
}

std::set<std::string> consume(const std::string& bootstrap, const std::string& topic,
                              int partitions, size_t n) {
    std::set<std::string> values;
    for (auto& c : consume_all(bootstrap, topic, partitions, n))
        values.insert(c.value);
    return values;
}

} // namespace

TEST(devkafka, a_real_producer_and_consumer_see_every_message) {
    devkafka broker("events:4");
    ASSERT_FALSE(broker.bootstrap().empty()) << broker.stderr_text();
    delivery_counts sent = produce(broker.bootstrap(), "events", "m", 2000, "30000");
    EXPECT_EQ(sent.ok, 2000);
    EXPECT_EQ(sent.failed, 0);
    std::set<std::string> got = consume(broker.bootstrap(), "events", 4, 2000);
    EXPECT_EQ(got.size(), 2000u);
    EXPECT_TRUE(got.count("m-0") && got.count("m-1999"));
    EXPECT_EQ(broker.stop(), 0);
}

TEST(devkafka, control_fifo_takes_brokers_down_and_up) {
    devkafka broker("events:2");
    ASSERT_FALSE(broker.bootstrap().empty()) << broker.stderr_text();
    broker.command("down all");
    delivery_counts while_down = produce(broker.bootstrap(), "events", "down", 20, "1500");
    EXPECT_EQ(while_down.ok, 0);
    EXPECT_EQ(while_down.failed, 20); // every message settled, as a failure
    broker.command("up all");
    delivery_counts after = produce(broker.bootstrap(), "events", "up", 20, "30000");
    EXPECT_EQ(after.ok, 20);
    broker.command("leader events 0 2");
    broker.command("rtt all 5");
    broker.command("nonsense");
    std::string log = broker.stderr_text();
    EXPECT_NE(log.find("ok down all"), std::string::npos) << log;
    EXPECT_NE(log.find("ok up all"), std::string::npos) << log;
    EXPECT_NE(log.find("ok leader events 0 2"), std::string::npos) << log;
    EXPECT_NE(log.find("ok rtt all 5"), std::string::npos) << log;
    EXPECT_NE(log.find("unknown command \"nonsense\""), std::string::npos) << log;
    std::set<std::string> got = consume(broker.bootstrap(), "events", 2, 20);
    EXPECT_EQ(got.size(), 20u);
    EXPECT_TRUE(got.count("up-0") && !got.count("down-0"));
}

// The collector with the Kafka sink: 100,000 pixels, SIGTERM right after the last answer,
// then a real consumer finds 100,000 distinct ids, keyed by visitor, with the schema header
// and the event's ts as the message timestamp.
TEST(kafka_sink, every_pixel_reaches_the_topic) {
    devkafka broker("pixelring.events:8");
    ASSERT_FALSE(broker.bootstrap().empty()) << broker.stderr_text();
    pixelring::test::collector_process p({"sink.kafka.brokers=" + broker.bootstrap()});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    EXPECT_NE(p.stderr_text().find("sink kafka"), std::string::npos) << p.stderr_text();
    constexpr int total = 100000;
    constexpr int per_write = 16;
    std::vector<std::unique_ptr<pixelring::test::connection>> cs;
    for (int i = 0; i < 16; ++i)
        cs.push_back(std::make_unique<pixelring::test::connection>(p.port()));
    int answered = 0;
    while (answered < total) {
        for (auto& c : cs) {
            std::string burst;
            for (int i = 0; i < per_write; ++i)
                burst += "GET /track/open.gif?campaignID=c" + std::to_string((answered + i) % 7) +
                         " HTTP/1.1\r\nHost: px.example.com\r\n\r\n";
            c->send_all(burst);
            ASSERT_EQ(c->read_responses(per_write).size(), size_t(per_write));
            answered += per_write;
            if (answered >= total) break;
        }
    }
    EXPECT_EQ(p.stop(60000), 0);
    std::string log = p.stderr_text();
    EXPECT_NE(log.find(std::to_string(answered) + " events accepted, " + std::to_string(answered) +
                       " delivered, 0 spooled, 0 dropped"),
              std::string::npos)
        << log;
    auto got = consume_all(broker.bootstrap(), "pixelring.events", 8, size_t(answered));
    ASSERT_EQ(int(got.size()), answered);
    std::set<std::string> ids;
    for (const auto& c : got) {
        size_t at = c.value.find("\"id\":\"");
        ASSERT_NE(at, std::string::npos) << c.value;
        ids.insert(c.value.substr(at + 6, 36));
        // Keyed by visitor (docs/kafka.md): one visitor's events share a partition.
        size_t visitor = c.value.rfind("\"visitor\":\"");
        ASSERT_NE(visitor, std::string::npos) << c.value;
        EXPECT_EQ(c.key, c.value.substr(visitor + 11, 32));
        EXPECT_EQ(c.schema, "1");
        // The message's CreateTime is the event's own ts, to the millisecond.
        EXPECT_TRUE(c.create_time);
        EXPECT_EQ(c.timestamp, pixelring::test::event_ts_ms(c.value)) << c.value;
    }
    EXPECT_EQ(int(ids.size()), answered);
}

// An independent client reads the topic: kcat (Debian package kcat, installed by
// scripts/setup.sh) consumes every partition from the beginning.
TEST(kafka_sink, kcat_reads_the_events) {
    ASSERT_EQ(std::system("command -v kcat >/dev/null"), 0) << "apt-get install kcat";
    devkafka broker("pixelring.events:4");
    ASSERT_FALSE(broker.bootstrap().empty()) << broker.stderr_text();
    pixelring::test::collector_process p({"sink.kafka.brokers=" + broker.bootstrap()});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    pixelring::test::connection c(p.port());
    constexpr int total = 1000;
    for (int i = 0; i < total; i += 10) {
        std::string burst;
        for (int j = 0; j < 10; ++j)
            burst += "GET /track/kcat-" + std::to_string(i + j) +
                     ".gif?campaignID=mail HTTP/1.1\r\nHost: a\r\n\r\n";
        c.send_all(burst);
        ASSERT_EQ(c.read_responses(10).size(), 10u);
    }
    EXPECT_EQ(p.stop(60000), 0);
    std::string cmd = "timeout 60 kcat -C -q -e -o beginning -b '" + broker.bootstrap() +
                      "' -t pixelring.events -f '%k\\t%s\\n' 2>/dev/null";
    FILE* pipe = popen(cmd.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::set<std::string> actions;
    int lines = 0;
    char buf[8192];
    while (fgets(buf, sizeof buf, pipe)) {
        std::string line(buf);
        ++lines;
        // kcat prints the key (the visitor), a tab, the value.
        EXPECT_EQ(line.substr(32, 1), "\t") << line;
        EXPECT_NE(line.find("\"visitor\":\"" + line.substr(0, 32) + "\""), std::string::npos)
            << line;
        size_t at = line.find("\"action\":\"");
        ASSERT_NE(at, std::string::npos) << line;
        actions.insert(line.substr(at + 10, line.find('"', at + 10) - at - 10));
    }
    EXPECT_EQ(pclose(pipe), 0);
    EXPECT_EQ(lines, total);
    EXPECT_EQ(int(actions.size()), total);
    EXPECT_TRUE(actions.count("kcat-0") && actions.count("kcat-999"));
}

namespace {

// Runs pixelring-consume with args; returns its exit code and stdout.
std::pair<int, std::string> run_consume(const std::string& args) {
    std::string cmd = std::string("timeout 60 ") + CONSUME_BIN + " " + args + " 2>/dev/null";
    FILE* pipe = popen(cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    while (pipe && fgets(buf, sizeof buf, pipe))
        out += buf;
    int status = pipe ? pclose(pipe) : -1;
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

} // namespace

TEST(pixelring_consume, count_verify_and_stats) {
    devkafka broker("pixelring.events:4");
    ASSERT_FALSE(broker.bootstrap().empty()) << broker.stderr_text();
    pixelring::test::collector_process p({"sink.kafka.brokers=" + broker.bootstrap()});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    pixelring::test::connection c(p.port());
    for (int i = 0; i < 300; i += 10) {
        std::string burst;
        for (int j = 0; j < 10; ++j)
            burst += std::string("GET /track/") + (j < 7 ? "open" : "click") +
                     ".gif?campaignID=" + (j < 5 ? "spring" : "summer") +
                     " HTTP/1.1\r\nHost: a\r\n\r\n";
        c.send_all(burst);
        ASSERT_EQ(c.read_responses(10).size(), 10u);
    }
    ASSERT_EQ(p.stop(60000), 0);
    std::string b = "--brokers '" + broker.bootstrap() + "' --timeout-ms 30000 ";

    auto [count_rc, count_out] = run_consume(b + "count");
    EXPECT_EQ(count_rc, 0);
    EXPECT_NE(count_out.find("total 300\n"), std::string::npos) << count_out;
    EXPECT_NE(count_out.find("partition 3 "), std::string::npos) << count_out;

    auto [ok_rc, ok_out] = run_consume(b + "verify --expected-count 300");
    EXPECT_EQ(ok_rc, 0) << ok_out;
    EXPECT_NE(ok_out.find("messages 300 distinct 300 duplicates 0 missing 0"), std::string::npos)
        << ok_out;
    auto [short_rc, short_out] = run_consume(b + "verify --expected-count 301");
    EXPECT_EQ(short_rc, 1) << short_out;
    EXPECT_NE(short_out.find("missing 1"), std::string::npos) << short_out;

    // Every id on the topic plus one that never was: exactly that one is reported missing.
    auto events = consume_all(broker.bootstrap(), "pixelring.events", 4, 300);
    ASSERT_EQ(events.size(), 300u);
    std::string ids_path = "/tmp/pixelring-consume-ids-" + std::to_string(getpid());
    {
        std::ofstream ids(ids_path);
        for (const auto& e : events)
            ids << e.value.substr(e.value.find("\"id\":\"") + 6, 36) << '\n';
        ids << "01a20000-0000-7000-8000-000000000000\n";
    }
    auto [ids_rc, ids_out] = run_consume(b + "verify --expected-ids " + ids_path);
    std::remove(ids_path.c_str());
    EXPECT_EQ(ids_rc, 1);
    EXPECT_NE(ids_out.find("missing 01a20000-0000-7000-8000-000000000000\n"), std::string::npos)
        << ids_out;
    EXPECT_NE(ids_out.find("distinct 300 duplicates 0 missing 1"), std::string::npos) << ids_out;

    auto [stats_rc, stats_out] = run_consume(b + "stats");
    EXPECT_EQ(stats_rc, 0);
    EXPECT_NE(stats_out.find("events 300 "), std::string::npos) << stats_out;
    EXPECT_NE(stats_out.find("campaign spring 150\n"), std::string::npos) << stats_out;
    EXPECT_NE(stats_out.find("campaign summer 150\n"), std::string::npos) << stats_out;
    EXPECT_NE(stats_out.find("action open 210\n"), std::string::npos) << stats_out;
    EXPECT_NE(stats_out.find("action click 90\n"), std::string::npos) << stats_out;

    auto [tail_rc, tail_out] =
        run_consume(b.substr(0, b.find("--timeout-ms")) + "--timeout-ms 3000 tail --raw");
    EXPECT_EQ(tail_rc, 0);
    EXPECT_EQ(std::count(tail_out.begin(), tail_out.end(), '\n'), 300) << tail_out.substr(0, 300);
}
