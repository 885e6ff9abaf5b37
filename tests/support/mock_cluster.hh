#pragma once
// librdkafka's in-process mock cluster for unit tests of the Kafka sink: no broker process,
// the real protocol. Header-only; link PkgConfig::RDKAFKA.

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace pixelring::test {

// An in-process mock cluster of one broker with topic pixelring.events (4 partitions).
class mock_cluster {
public:
    mock_cluster() {
        char err[256];
        rd_kafka_conf_t* conf = rd_kafka_conf_new();
        rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
        mc_ = rd_kafka_mock_cluster_new(rk_, 1);
        rd_kafka_mock_topic_create(mc_, "pixelring.events", 4, 1);
    }
    ~mock_cluster() {
        rd_kafka_mock_cluster_destroy(mc_);
        rd_kafka_destroy(rk_);
    }
    std::string bootstrap() const { return rd_kafka_mock_cluster_bootstraps(mc_); }
    void down() { rd_kafka_mock_broker_set_down(mc_, 1); }
    void up() { rd_kafka_mock_broker_set_up(mc_, 1); }
    // The next n produce requests fail with err (ApiKey 0 is Produce).
    void fail_produce_requests(size_t n, rd_kafka_resp_err_t err) {
        std::vector<rd_kafka_resp_err_t> errors(n, err);
        rd_kafka_mock_push_request_errors_array(mc_, 0, n, errors.data());
    }

    struct message {
        std::string value;
        int64_t timestamp;
    };
    // Every value on the topic, read from the beginning to the end of each partition.
    std::multiset<std::string> values() const {
        std::multiset<std::string> out;
        for (auto& m : messages())
            out.insert(std::move(m.value));
        return out;
    }
    // The same, with each message's timestamp.
    std::vector<message> messages() const {
        char err[256];
        rd_kafka_conf_t* conf = rd_kafka_conf_new();
        rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap().c_str(), err, sizeof err);
        rd_kafka_conf_set(conf, "group.id", "kafka-sink-test", err, sizeof err);
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof err);
        rd_kafka_t* c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
        rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(4);
        for (int p = 0; p < 4; ++p)
            rd_kafka_topic_partition_list_add(parts, "pixelring.events", p)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_assign(c, parts);
        rd_kafka_topic_partition_list_destroy(parts);
        std::vector<message> out;
        std::set<int> ended;
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (ended.size() < 4 && std::chrono::steady_clock::now() < deadline) {
            rd_kafka_message_t* m = rd_kafka_consumer_poll(c, 100);
            if (!m) continue;
            if (!m->err)
                out.push_back({std::string(static_cast<const char*>(m->payload), m->len),
                               rd_kafka_message_timestamp(m, nullptr)});
            else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                ended.insert(m->partition);
            rd_kafka_message_destroy(m);
        }
        rd_kafka_consumer_close(c);
        rd_kafka_destroy(c);
        return out;
    }

private:
    rd_kafka_t* rk_ = nullptr;
    rd_kafka_mock_cluster_t* mc_ = nullptr;
};

} // namespace pixelring::test
