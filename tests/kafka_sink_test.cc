// The Kafka sink's pieces that need no broker: the message key and configuration errors.
// Delivery through a real broker is tested end to end in devkafka_test.

#include <gtest/gtest.h>

#include <chrono>

#include "sinks/kafka_sink.hh"

using namespace pixelring;

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

TEST(kafka_sink, a_bad_property_is_named) {
    kafka_sink_config cfg;
    cfg.brokers = {"127.0.0.1:9"};
    cfg.properties["linger.ms"] = "forever";
    std::string error;
    EXPECT_EQ(make_kafka_sink(cfg, error), nullptr);
    EXPECT_NE(error.find("sink.kafka.properties.linger.ms = \"forever\""), std::string::npos)
        << error;

    cfg.properties = {{"no.such.property", "1"}};
    error.clear();
    EXPECT_EQ(make_kafka_sink(cfg, error), nullptr);
    EXPECT_NE(error.find("no.such.property"), std::string::npos) << error;
}

TEST(kafka_sink, an_unreachable_broker_counts_every_event_failed_on_close) {
    kafka_sink_config cfg;
    cfg.brokers = {"127.0.0.1:9"}; // discard port: nothing listens
    cfg.properties["message.timeout.ms"] = "300";
    std::string error;
    auto s = make_kafka_sink(cfg, error);
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
    auto s = make_kafka_sink(cfg, error);
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
