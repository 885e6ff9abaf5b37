#include "sinks/kafka_sink.hh"

#include <atomic>
#include <cstring>
#include <mutex>

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>

#include "core/clock.hh"
#include "sinks/rate_limited_log.hh"

namespace pixelring {

namespace {

// Producer defaults (DESIGN.md §4); any sink.kafka.properties entry overrides them.
constexpr std::pair<const char*, const char*> producer_defaults[] = {
    {"enable.idempotence", "true"},   {"acks", "all"},
    {"compression.type", "lz4"},      {"linger.ms", "5"},
    {"batch.num.messages", "10000"},  {"queue.buffering.max.messages", "1000000"},
    {"message.timeout.ms", "300000"},
};

// How long write() waits for room when librdkafka's queue is full before it counts the event
// failed: a bounded stall of the sink thread, never of a worker.
constexpr int queue_full_wait_ms = 100;
constexpr char schema_version[] = "1";

class kafka_sink final : public sink {
public:
    kafka_sink(std::string topic, uint32_t stop_timeout_ms)
        : topic_(std::move(topic)), stop_timeout_ms_(int(stop_timeout_ms)) {}
    ~kafka_sink() override { close(); }

    // The producer is created after the sink, whose address its callbacks carry.
    void attach(rd_kafka_t* rk) noexcept { rk_ = rk; }

    void report(const std::string& message) {
        std::lock_guard lock(log_mutex_);
        log_.report(message);
    }

    static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
        auto* self = static_cast<kafka_sink*>(opaque);
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            self->counters_.written.fetch_add(1, std::memory_order_relaxed);
            self->counters_.bytes.fetch_add(m->len, std::memory_order_relaxed);
            self->healthy_.store(true, std::memory_order_relaxed);
            return;
        }
        self->counters_.failed.fetch_add(1, std::memory_order_relaxed);
        self->report(fmt::format("kafka: event not delivered: {}", rd_kafka_err2str(m->err)));
    }

    static void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
        auto* self = static_cast<kafka_sink*>(opaque);
        if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
            self->healthy_.store(false, std::memory_order_relaxed);
        if (err == RD_KAFKA_RESP_ERR__FATAL) {
            char why[512];
            rd_kafka_resp_err_t fatal = rd_kafka_fatal_error(rk, why, sizeof why);
            self->healthy_.store(false, std::memory_order_relaxed);
            self->report(fmt::format("kafka: fatal error {}: {}", rd_kafka_err2name(fatal), why));
            return;
        }
        self->report(fmt::format("kafka: {}", reason));
        (void)rk;
    }

    void write(std::string_view event) override {
        if (closed_) return;
        std::string_view key = kafka_message_key(event);
        for (int waited = 0;; waited += 10) {
            rd_kafka_resp_err_t err = rd_kafka_producev(
                rk_, RD_KAFKA_V_TOPIC(topic_.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_KEY(key.empty() ? nullptr : key.data(), key.size()),
                RD_KAFKA_V_VALUE(const_cast<char*>(event.data()), event.size()),
                RD_KAFKA_V_HEADER("schema", schema_version, sizeof schema_version - 1),
                RD_KAFKA_V_END);
            if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && waited < queue_full_wait_ms) {
                rd_kafka_poll(rk_, 10); // serves delivery reports, which frees room
                continue;
            }
            counters_.failed.fetch_add(1, std::memory_order_relaxed);
            report(fmt::format("kafka: event not queued: {}", rd_kafka_err2str(err)));
            return;
        }
    }

    void flush() override {
        rd_kafka_poll(rk_, 0);
        counters_.queued.store(uint64_t(rd_kafka_outq_len(rk_)), std::memory_order_relaxed);
    }
    void tick(uint64_t) override { flush(); }
    void reopen() override {}

    // Waits up to sink.kafka.stop_timeout_ms for outstanding deliveries; then purges what is left
    // so that every event gets its delivery report (as failed) before the producer goes away.
    void close() override {
        if (closed_ || !rk_) return;
        closed_ = true;
        rd_kafka_flush(rk_, stop_timeout_ms_); // its result is not trusted: reports are counted
        if (int left = rd_kafka_outq_len(rk_); left > 0) {
            rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
            rd_kafka_flush(rk_, 1000);
            std::fputs(fmt::format("pixelring: kafka: {} events still queued after {} ms were "
                                   "purged and counted failed\n",
                                   left, stop_timeout_ms_)
                           .c_str(),
                       stderr);
        }
        rd_kafka_destroy(rk_);
        counters_.queued.store(0, std::memory_order_relaxed);
    }

    bool healthy() const override { return healthy_.load(std::memory_order_relaxed); }
    const sink_counters& counters() const override { return counters_; }

private:
    rd_kafka_t* rk_ = nullptr;
    std::string topic_;
    int stop_timeout_ms_;
    sink_counters counters_;
    std::atomic<bool> healthy_{true};
    bool closed_ = false;
    // Delivery reports arrive on the sink thread (rd_kafka_poll), error callbacks on
    // librdkafka's threads: the log takes a mutex, on this rare path only.
    std::mutex log_mutex_;
    rate_limited_log log_;
};

} // namespace

std::string_view kafka_message_key(std::string_view event) {
    // The first "campaign": is the top-level member (params come after it); null → no key.
    constexpr std::string_view field = "\"campaign\":";
    size_t at = event.find(field);
    if (at == std::string_view::npos) return {};
    size_t start = at + field.size();
    if (start >= event.size() || event[start] != '"') return {};
    ++start;
    for (size_t i = start; i < event.size(); ++i) {
        if (event[i] == '\\') {
            ++i; // skip the escaped byte
            continue;
        }
        if (event[i] == '"') return event.substr(start, i - start);
    }
    return {};
}

std::unique_ptr<sink> make_kafka_sink(const kafka_sink_config& cfg, std::string& error) {
    char errstr[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    auto set = [&](const std::string& name, const std::string& value) {
        if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof errstr) ==
            RD_KAFKA_CONF_OK)
            return true;
        error = fmt::format("sink.kafka.properties.{} = \"{}\": {}", name, value, errstr);
        return false;
    };
    bool ok = set("bootstrap.servers", fmt::format("{}", fmt::join(cfg.brokers, ",")));
    for (const auto& [name, value] : producer_defaults)
        ok = ok && set(name, value);
    for (const auto& [name, value] : cfg.properties)
        ok = ok && set(name, value);
    if (!ok) {
        rd_kafka_conf_destroy(conf);
        return nullptr;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, &kafka_sink::on_delivery);
    rd_kafka_conf_set_error_cb(conf, &kafka_sink::on_error);
    // The sink must exist before the producer so that callbacks can reach it; it takes the
    // handle right after.
    auto out = std::make_unique<kafka_sink>(cfg.topic, cfg.stop_timeout_ms);
    rd_kafka_conf_set_opaque(conf, out.get());
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        error = fmt::format("sink.kafka: cannot create the producer: {}", errstr);
        rd_kafka_conf_destroy(conf); // rd_kafka_new frees conf only on success
        return nullptr;
    }
    out->attach(rk);
    return out;
}

} // namespace pixelring
