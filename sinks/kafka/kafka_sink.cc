#include "sinks/kafka/kafka_sink.hh"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include <pthread.h>

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>

#include "core/base/clock.hh"
#include "core/metrics.hh"
#include "sinks/kafka/kafka_message.hh"
#include "sinks/kafka/kafka_stats.hh"
#include "sinks/rate_limited_log.hh"

namespace pixelring {

namespace {

// Producer defaults (docs/kafka.md); any sink.kafka.properties entry overrides them.
// statistics.interval.ms: the statistics are how the sink learns that a broker is reachable
// again (to replay the spool) and what /metrics shows as broker state.
constexpr std::pair<const char*, const char*> producer_defaults[] = {
    {"enable.idempotence", "true"},   {"acks", "all"},
    {"compression.type", "lz4"},      {"linger.ms", "5"},
    {"batch.num.messages", "10000"},  {"queue.buffering.max.messages", "1000000"},
    {"message.timeout.ms", "300000"}, {"statistics.interval.ms", "1000"},
};

// How long write() waits for room when librdkafka's queue is full before the event goes to the
// spool: a bounded stall of the sink thread, never of a worker, taken once per episode of a
// full queue (while it stays full, events go to the spool at once).
constexpr int queue_full_wait_ms = 100;
// Replay hands records to the producer only while its queue holds fewer than this, and at
// most replay_batch per pass of the sink thread, so that fresh events keep flowing.
constexpr int replay_queue_limit = 100'000;
constexpr int replay_batch = 10'000;
// While no broker is up, the broker watcher asks for metadata this often (and waits this long).
constexpr auto broker_probe_interval = std::chrono::seconds(1);
constexpr int broker_probe_timeout_ms = 1000;
constexpr char schema_version[] = "1";
// A replayed segment some of whose records failed again and could not be spooled again (the
// budget was spent) is replayed again after this long, not only at the next start.
constexpr uint64_t kept_segment_retry_ms = 5000;
// can_keep: room the spool must have beyond what the rings and the producer hold, for what
// arrives before every worker has seen the gate close (one drain pass, about a millisecond).
constexpr uint64_t gate_margin_bytes = 256u << 10;
// Fresh events are counted per produce time in buckets of this many milliseconds (a
// message's opaque carries its bucket), so that the age of the oldest unacknowledged one is
// known without a per-message record. age_buckets covers the longest spool.max_memory_ms
// with room to spare: a bucket's slot is reused only after that many buckets.
constexpr uint64_t age_bucket_ms = 100;
constexpr size_t age_buckets = 8192;

// A spool segment being replayed. Its delivery reports find it through the message opaque.
struct replay_segment {
    std::unique_ptr<spool_segment_reader> reader;
    uint64_t outstanding = 0; // produced, no delivery report yet
    bool read_all = false;
    // A record could neither be delivered nor appended to the spool again (or the sink was
    // stopping): the segment stays on disk and is replayed again, kept_segment_retry_ms
    // later or at the next start-up.
    bool keep = false;
};

class kafka_sink final : public sink {
public:
    kafka_sink(std::string topic, uint32_t stop_timeout_ms, std::unique_ptr<spool> spool,
               uint32_t max_memory_ms)
        : topic_(std::move(topic)), stop_timeout_ms_(int(stop_timeout_ms)),
          spool_(std::move(spool)), max_memory_ms_(max_memory_ms), age_counts_(age_buckets, 0) {
        oldest_bucket_ = newest_bucket_ = monotonic_ms() / age_bucket_ms;
        // Records left by an earlier run go first: new events queue up behind them.
        spooling_ = spool_ && !spool_->empty();
    }
    ~kafka_sink() override { close(); }

    // The producer is created after the sink, whose address its callbacks carry.
    void attach(rd_kafka_t* rk, bool statistics) noexcept {
        rk_ = rk;
        rkt_ = rd_kafka_topic_new(rk_, topic_.c_str(), nullptr);
        // Without statistics broker state is unknown: replay is then not held back.
        if (!statistics) brokers_up_.store(broker_state_unknown, std::memory_order_relaxed);
        statistics_ = statistics;
        watcher_ = std::thread([this] {
            pthread_setname_np(pthread_self(), "pixelring-kafka");
            watch_brokers();
        });
    }

    void report(const std::string& message) {
        std::lock_guard lock(log_mutex_);
        log_.report(message);
    }

    // Delivery reports are served by rd_kafka_poll/flush, always on the sink thread.
    static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
        static_cast<kafka_sink*>(opaque)->settle(*m);
    }

    static void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
        auto* self = static_cast<kafka_sink*>(opaque);
        if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
            self->brokers_up_.store(0, std::memory_order_relaxed);
            self->report(fmt::format("kafka: {}; events wait in the producer's queue, then in "
                                     "the spool",
                                     reason));
            return;
        }
        if (err == RD_KAFKA_RESP_ERR__FATAL) {
            char why[512];
            rd_kafka_resp_err_t fatal = rd_kafka_fatal_error(rk, why, sizeof why);
            self->fatal_.store(true, std::memory_order_relaxed);
            self->report(fmt::format("kafka: fatal error {}: {}; events go to the spool until "
                                     "pixelring is restarted",
                                     rd_kafka_err2name(fatal), why));
            return;
        }
        // Other errors (a broker connection failed, a request timed out) are transient:
        // librdkafka logs them itself and retries.
    }

    // librdkafka's statistics (statistics.interval.ms), served by rd_kafka_poll on the sink
    // thread. Returns 0: librdkafka frees the document.
    static int on_statistics(rd_kafka_t*, char* json, size_t len, void* opaque) {
        auto* self = static_cast<kafka_sink*>(opaque);
        std::vector<kafka_broker_state> brokers;
        std::string error;
        if (!parse_kafka_broker_states({json, len}, brokers, error)) {
            self->report("kafka: unreadable statistics: " + error);
            return 0;
        }
        int up = 0;
        for (const auto& b : brokers)
            up += b.up();
        self->brokers_up_.store(up, std::memory_order_relaxed);
        std::lock_guard lock(self->brokers_mutex_);
        self->brokers_ = std::move(brokers);
        return 0;
    }

    void write(std::string_view event) override {
        if (closed_) return;
        if (spooling_) { // behind the spooled events, in order; replay brings it to Kafka
            spool_->append(event, spool_origin::event); // full and error: counted by the spool
            return;
        }
        const uint64_t bucket = monotonic_ms() / age_bucket_ms;
        for (int waited = 0;; waited += 10) {
            rd_kafka_resp_err_t err = produce(event, nullptr, true, bucket);
            if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                queue_full_ = false;
                outstanding_bytes_ += event.size();
                count_fresh(bucket);
                return;
            }
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && !queue_full_ &&
                waited < queue_full_wait_ms) {
                rd_kafka_poll(rk_, 10); // serves delivery reports, which frees room
                continue;
            }
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) queue_full_ = true;
            not_delivered(event, err, "not queued");
            return;
        }
    }

    void flush() override {
        rd_kafka_poll(rk_, 0);
        if (spool_) spool_->flush();
        publish_counters();
    }

    bool poll() override {
        if (closed_) return false;
        rd_kafka_poll(rk_, 0);
        spool_if_stalled();
        return_kept_segments();
        bool more = replay();
        end_spooling_when_replayed();
        retire_settled_segments();
        if (spool_) spool_->flush();
        publish_counters();
        return more;
    }

    void tick(uint64_t) override {
        if (closed_) return;
        spool_if_stalled();
        if (spool_) spool_->tick(monotonic_ms());
        publish_counters();
    }
    void reopen() override {}

    // Waits up to sink.kafka.stop_timeout_ms for outstanding deliveries; then purges what is
    // left, so that every event gets its delivery report (a failure, which spools it) before
    // the producer goes away; then makes the spool durable.
    void close() override {
        if (closed_ || !rk_) return;
        closed_ = true;
        stopping_ = true;
        rd_kafka_flush(rk_, stop_timeout_ms_); // its result is not trusted: reports are counted
        if (int left = rd_kafka_outq_len(rk_); left > 0) {
            rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
            rd_kafka_flush(rk_, 1000);
            std::fputs(fmt::format("pixelring: kafka: {} events still queued after {} ms were "
                                   "purged: {}\n",
                                   left, stop_timeout_ms_,
                                   spool_ ? "spooled, to be replayed at the next start"
                                          : "counted failed (no spool)")
                           .c_str(),
                       stderr);
        }
        retire_settled_segments();
        replays_.clear(); // segments not read to the end stay on disk for the next start
        stop_watcher();
        rd_kafka_topic_destroy(rkt_);
        rd_kafka_destroy(rk_);
        rk_ = nullptr;
        if (spool_) spool_->close();
        publish_counters();
    }

    // Everything not yet acknowledged may yet have to go to the spool: the events in the rings
    // and the fresh ones the producer holds, each with its record header (at most 12 bytes,
    // counted as an eighth of the bytes: events are longer than 96 bytes).
    bool can_keep(uint64_t incoming_bytes) const override {
        if (!spool_)
            return !fatal_.load(std::memory_order_relaxed) &&
                   brokers_up_.load(std::memory_order_relaxed) != 0;
        const uint64_t held = incoming_bytes + outstanding_bytes_;
        return spool_->writable() && spool_->free_bytes() >= held + held / 8 + gate_margin_bytes;
    }

    bool healthy() const override {
        bool reachable = !fatal_.load(std::memory_order_relaxed) &&
                         brokers_up_.load(std::memory_order_relaxed) != 0;
        return reachable || (spool_ && spool_->writable());
    }
    const sink_counters& counters() const override { return counters_; }
    void write_metrics(std::string& out) const override;

private:
    static constexpr int broker_state_unknown = -1;

    // A broker is known to be up; without statistics, always assumed (replay and the end of
    // spooling are then not held back). Before the first statistics arrive it is not known:
    // a spool replayed into brokers that are down would only be written again.
    bool broker_up() const {
        const int up = brokers_up_.load(std::memory_order_relaxed);
        return up > 0 || (!statistics_ && up == broker_state_unknown);
    }

    // librdkafka connects only when it has something to send (sparse connections), so after
    // an outage with no fresh events it would never find out that a broker is back, and the
    // spool would wait. While no broker is up, this thread asks for metadata once a second,
    // which makes librdkafka connect; an answer means a broker is reachable again.
    void watch_brokers() {
        std::unique_lock lock(watch_mutex_);
        while (!watch_wake_.wait_for(lock, broker_probe_interval, [this] { return watch_stop_; })) {
            if (brokers_up_.load(std::memory_order_relaxed) != 0) continue;
            lock.unlock();
            const rd_kafka_metadata_t* md = nullptr;
            if (rd_kafka_metadata(rk_, 0, rkt_, &md, broker_probe_timeout_ms) ==
                RD_KAFKA_RESP_ERR_NO_ERROR) {
                int none = 0; // the statistics may have said more meanwhile: keep theirs
                brokers_up_.compare_exchange_strong(none, std::max(1, md->broker_cnt),
                                                    std::memory_order_relaxed);
                rd_kafka_metadata_destroy(md);
            }
            lock.lock();
        }
    }

    void stop_watcher() {
        {
            std::lock_guard lock(watch_mutex_);
            watch_stop_ = true;
        }
        watch_wake_.notify_all();
        if (watcher_.joinable()) watcher_.join();
    }

    // A message's opaque: the spool segment of a replayed record, or for a fresh event its
    // age bucket shifted left by 2 with bit 1 set (a segment's address has it clear); bit 0
    // set when the message carries the current time rather than the event's
    // (send_at_current_time). A failed message's timestamp cannot be read back.
    static void* opaque_of(replay_segment* segment, bool at_current_time, uint64_t bucket) {
        const uintptr_t what = segment ? reinterpret_cast<uintptr_t>(segment)
                                       : (uintptr_t(bucket) << 2 | uintptr_t{2});
        return reinterpret_cast<void*>(what | (at_current_time ? 1 : 0));
    }
    static bool is_fresh(const rd_kafka_message_t& m) {
        return (reinterpret_cast<uintptr_t>(m._private) & 2) != 0;
    }
    static replay_segment* segment_of(const rd_kafka_message_t& m) {
        if (is_fresh(m)) return nullptr;
        return reinterpret_cast<replay_segment*>(reinterpret_cast<uintptr_t>(m._private) &
                                                 ~uintptr_t{3});
    }
    static uint64_t bucket_of(const rd_kafka_message_t& m) {
        return reinterpret_cast<uintptr_t>(m._private) >> 2;
    }
    static bool sent_at_current_time(const rd_kafka_message_t& m) {
        return (reinterpret_cast<uintptr_t>(m._private) & 1) != 0;
    }

    // ---- the age of fresh events, and spooling ----------------------------------------------

    void count_fresh(uint64_t bucket) {
        if (fresh_outstanding_++ == 0) oldest_bucket_ = bucket;
        newest_bucket_ = std::max(newest_bucket_, bucket);
        ++age_counts_[bucket % age_buckets];
    }

    void settle_fresh(uint64_t bucket) {
        uint32_t& n = age_counts_[bucket % age_buckets];
        if (n > 0) --n;
        if (fresh_outstanding_ > 0) --fresh_outstanding_;
        if (fresh_outstanding_ == 0) {
            oldest_bucket_ = newest_bucket_;
            return;
        }
        while (oldest_bucket_ < newest_bucket_ && age_counts_[oldest_bucket_ % age_buckets] == 0)
            ++oldest_bucket_;
    }

    // Fresh events have waited for Kafka longer than spool.max_memory_ms (counted from the
    // start of the oldest one's bucket): everything the producer holds goes to the spool, and
    // new events go there too until the spool is replayed.
    void spool_if_stalled() {
        if (spooling_ || !spool_ || closed_ || fresh_outstanding_ == 0) return;
        const uint64_t now = monotonic_ms();
        if (now < oldest_bucket_ * age_bucket_ms + max_memory_ms_) return;
        spooling_ = true;
        spooling_episodes_.add();
        report(fmt::format("kafka: {} events waited more than spool.max_memory_ms ({} ms) for "
                           "Kafka; they and every new event go to the spool until Kafka takes "
                           "events again",
                           fresh_outstanding_, max_memory_ms_));
        rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(rk_, 0); // the purged messages' reports: settle spools them
        spool_->flush();
    }

    // Spooling ends when a broker is up and replay has handed every spooled record to the
    // producer: new events then follow them into Kafka.
    void end_spooling_when_replayed() {
        if (!spooling_ || reading_ != nullptr || !spool_->empty()) return;
        if (!broker_up() || fatal_.load(std::memory_order_relaxed)) return;
        spooling_ = false;
        report("kafka: the spool is replayed; new events go to Kafka again");
    }

    // event_time: the message timestamp is the event's ts (kafka_message_timestamp); else
    // librdkafka's clock, for an event a broker refused at its own time (settle).
    rd_kafka_resp_err_t produce(std::string_view event, replay_segment* segment,
                                bool event_time = true, uint64_t bucket = 0) {
        std::string_view key = kafka_message_key(event);
        return rd_kafka_producev(
            rk_, RD_KAFKA_V_RKT(rkt_), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(key.empty() ? nullptr : key.data(), key.size()),
            RD_KAFKA_V_VALUE(const_cast<char*>(event.data()), event.size()),
            RD_KAFKA_V_TIMESTAMP(event_time ? kafka_message_timestamp(event) : 0),
            RD_KAFKA_V_HEADER("schema", schema_version, sizeof schema_version - 1),
            RD_KAFKA_V_OPAQUE(opaque_of(segment, !event_time, bucket)), RD_KAFKA_V_END);
    }

    // A fresh event Kafka did not take: into the spool, or counted failed when there is none.
    void not_delivered(std::string_view event, rd_kafka_resp_err_t err, const char* what) {
        if (!spool_) {
            counters_.failed.fetch_add(1, std::memory_order_relaxed);
            report(fmt::format("kafka: event {}: {}", what, rd_kafka_err2str(err)));
            return;
        }
        spool_append_result r = spool_->append(event, spool_origin::event);
        if (r == spool_append_result::ok)
            report(
                fmt::format("kafka: event {}: {}; kept in the spool", what, rd_kafka_err2str(err)));
        // full and error are counted by the spool, which logs them itself.
    }

    // A broker may refuse a timestamp too far in the past or future (INVALID_TIMESTAMP: the
    // topic's message.timestamp.before.max.ms / after.max.ms, or a clock far off), which an
    // event replayed after a long outage can meet. The event is sent once more, stamped with
    // the current time, rather than spooled and replayed into the same refusal forever.
    // Returns true when it is queued again (the same segment, if any, still waits for it).
    bool send_at_current_time(const rd_kafka_message_t& m) {
        if (m.err != RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP || stopping_ || sent_at_current_time(m))
            return false;
        std::string_view event(static_cast<const char*>(m.payload), m.len);
        if (kafka_message_timestamp(event) == 0) return false; // it was librdkafka's time
        if (produce(event, segment_of(m), false, bucket_of(m)) != RD_KAFKA_RESP_ERR_NO_ERROR)
            return false;
        timestamp_refused_.add();
        report(fmt::format("kafka: the broker refused an event's own time as its message "
                           "timestamp ({}); sent again with the current time",
                           rd_kafka_err2str(m.err)));
        return true;
    }

    void settle(const rd_kafka_message_t& m) {
        if (send_at_current_time(m)) return;
        replay_segment* segment = segment_of(m);
        if (segment) --segment->outstanding;
        if (!segment) {
            outstanding_bytes_ -= std::min<uint64_t>(outstanding_bytes_, m.len);
            settle_fresh(bucket_of(m));
        }
        if (m.err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (segment) {
                replay_delivered_.add();
                return;
            }
            counters_.written.fetch_add(1, std::memory_order_relaxed);
            counters_.bytes.fetch_add(m.len, std::memory_order_relaxed);
            if (int64_t us = rd_kafka_message_latency(&m); us >= 0) latency_.observe(uint64_t(us));
            return;
        }
        std::string_view event(static_cast<const char*>(m.payload), m.len);
        if (!segment) {
            not_delivered(event, m.err, "not delivered");
            return;
        }
        // A replayed record failed again. While running, it goes back into the spool so that
        // its segment can be removed; when that is refused, or while stopping, the segment
        // stays on disk instead and is replayed whole at the next start (duplicates there
        // carry the same id).
        if (stopping_ || spool_->append(event, spool_origin::replay) != spool_append_result::ok)
            segment->keep = true;
    }

    // Hands spooled records to the producer while a broker is up and its queue has room.
    // Returns true when it stopped for the batch limit only (more is ready at once).
    bool replay() {
        if (!spool_ || fatal_.load(std::memory_order_relaxed)) return false;
        if (!broker_up()) return false;
        for (int n = 0; n < replay_batch; ++n) {
            if (rd_kafka_outq_len(rk_) >= replay_queue_limit) return false;
            if (!reading_) {
                auto reader = spool_->open_next_segment();
                if (!reader) return false;
                replays_.push_back(std::make_unique<replay_segment>());
                replays_.back()->reader = std::move(reader);
                reading_ = replays_.back().get();
            }
            std::string_view record;
            if (!reading_->reader->next(record)) {
                reading_->read_all = true;
                reading_ = nullptr;
                continue;
            }
            rd_kafka_resp_err_t err = produce(record, reading_);
            if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                ++reading_->outstanding;
                continue;
            }
            if (spool_->append(record, spool_origin::replay) != spool_append_result::ok)
                reading_->keep = true;
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) return false;
        }
        return true;
    }

    // Kept segments whose wait is over wait in the spool again.
    void return_kept_segments() {
        if (kept_.empty()) return;
        const uint64_t now = monotonic_ms();
        for (auto it = kept_.begin(); it != kept_.end();) {
            if (it->retry_at_ms > now) {
                ++it;
                continue;
            }
            spool_->return_segment(it->id);
            it = kept_.erase(it);
        }
    }

    // Removes the segments whose every record was delivered or spooled again.
    void retire_settled_segments() {
        for (auto it = replays_.begin(); it != replays_.end();) {
            replay_segment& s = **it;
            if (!s.read_all || s.outstanding > 0) {
                ++it;
                continue;
            }
            if (!s.keep)
                spool_->remove_segment(s.reader->id(), s.reader->records_read());
            else if (!stopping_)
                kept_.push_back({s.reader->id(), monotonic_ms() + kept_segment_retry_ms});
            it = replays_.erase(it);
        }
    }

    // Copies the spool's outcome counts and the producer's queue depth into counters_.
    void publish_counters() {
        counters_.queued.store(rk_ ? uint64_t(rd_kafka_outq_len(rk_)) : 0,
                               std::memory_order_relaxed);
        spooling_flag_.store(spooling_, std::memory_order_relaxed);
        if (!spool_) return;
        const spool_counters& c = spool_->counters();
        auto ev = size_t(spool_origin::event);
        counters_.spooled.store(c.spooled.load(std::memory_order_relaxed),
                                std::memory_order_relaxed);
        counters_.dropped_spool_full.store(c.full[ev].load(std::memory_order_relaxed),
                                           std::memory_order_relaxed);
        counters_.dropped_spool_error.store(c.io_errors[ev].load(std::memory_order_relaxed),
                                            std::memory_order_relaxed);
    }

    rd_kafka_t* rk_ = nullptr;
    rd_kafka_topic_t* rkt_ = nullptr;
    std::string topic_;
    int stop_timeout_ms_;
    std::unique_ptr<spool> spool_;
    sink_counters counters_;
    bool closed_ = false;
    bool stopping_ = false;
    struct kept_segment {
        uint64_t id;
        uint64_t retry_at_ms;
    };
    std::vector<kept_segment> kept_; // segments to replay again later (retire_settled_segments)
    bool queue_full_ = false;
    uint64_t outstanding_bytes_ = 0;   // fresh events produced, no delivery report yet
    uint32_t max_memory_ms_;           // spool.max_memory_ms
    bool spooling_ = false;            // new events go to the spool (spool_if_stalled)
    std::vector<uint32_t> age_counts_; // fresh events without a report, by age bucket
    uint64_t fresh_outstanding_ = 0;
    uint64_t oldest_bucket_ = 0; // no fresh event outstanding is older than this bucket
    uint64_t newest_bucket_ = 0;
    counter spooling_episodes_;
    std::atomic<bool> spooling_flag_{false}; // spooling_, for the admin thread

    std::deque<std::unique_ptr<replay_segment>> replays_; // oldest first
    replay_segment* reading_ = nullptr;                   // the one being read, in replays_
    counter replay_delivered_;
    counter timestamp_refused_; // events sent again at the current time (send_at_current_time)
    latency_histogram latency_; // produce → acknowledgement of fresh events

    // -1 until the first statistics arrive (or always, without statistics): not known.
    std::atomic<int> brokers_up_{broker_state_unknown};
    bool statistics_ = true; // librdkafka statistics are on (attach)
    std::atomic<bool> fatal_{false};
    std::mutex watch_mutex_; // watch_stop_; the watcher sleeps on watch_wake_
    std::condition_variable watch_wake_;
    bool watch_stop_ = false;
    std::thread watcher_;
    mutable std::mutex brokers_mutex_; // brokers_: sink thread writes, admin thread reads
    std::vector<kafka_broker_state> brokers_;

    // Delivery reports arrive on the sink thread (rd_kafka_poll), error callbacks on
    // librdkafka's threads: the log takes a mutex, on this rare path only.
    std::mutex log_mutex_;
    rate_limited_log log_;
};

void kafka_sink::write_metrics(std::string& out) const {
    auto it = std::back_inserter(out);
    latency_.write(out, "pixelring_kafka_delivery_latency_seconds",
                   "Time from handing an event to the producer to Kafka's acknowledgement.");
    prometheus_header(out, "pixelring_kafka_broker_up", "gauge",
                      "1 while the producer's connection to this broker is up (librdkafka "
                      "statistics, every statistics.interval.ms).");
    {
        std::lock_guard lock(brokers_mutex_);
        for (const auto& b : brokers_)
            fmt::format_to(it, "pixelring_kafka_broker_up{{broker=\"{}\",state=\"{}\"}} {}\n",
                           b.name, b.state, b.up() ? 1 : 0);
    }
    prometheus_header(out, "pixelring_kafka_brokers_up", "gauge",
                      "Brokers the producer is connected to; -1 until known.");
    fmt::format_to(it, "pixelring_kafka_brokers_up {}\n",
                   brokers_up_.load(std::memory_order_relaxed));
    prometheus_header(out, "pixelring_kafka_fatal", "gauge",
                      "1 after a fatal producer error: events go to the spool until restart.");
    fmt::format_to(it, "pixelring_kafka_fatal {}\n",
                   fatal_.load(std::memory_order_relaxed) ? 1 : 0);
    prometheus_header(out, "pixelring_kafka_timestamp_refused_total", "counter",
                      "Events a broker refused for their own time as message timestamp "
                      "(INVALID_TIMESTAMP), sent again with the current time.");
    fmt::format_to(it, "pixelring_kafka_timestamp_refused_total {}\n", timestamp_refused_.get());
    prometheus_header(out, "pixelring_kafka_spooling", "gauge",
                      "1 while new events go straight to the spool: Kafka left events "
                      "unacknowledged for longer than spool.max_memory_ms, and the spool is not "
                      "replayed yet.");
    fmt::format_to(it, "pixelring_kafka_spooling {}\n",
                   spooling_flag_.load(std::memory_order_relaxed) ? 1 : 0);
    prometheus_header(out, "pixelring_kafka_spooling_episodes_total", "counter",
                      "Times the sink began spooling new events (see pixelring_kafka_spooling).");
    fmt::format_to(it, "pixelring_kafka_spooling_episodes_total {}\n", spooling_episodes_.get());
    if (!spool_) return;
    const spool_counters& c = spool_->counters();
    auto get = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
    auto gauge = [&](std::string_view name, std::string_view help, uint64_t value) {
        prometheus_header(out, name, "gauge", help);
        fmt::format_to(it, "{} {}\n", name, value);
    };
    auto total = [&](std::string_view name, std::string_view help, uint64_t value) {
        prometheus_header(out, name, "counter", help);
        fmt::format_to(it, "{} {}\n", name, value);
    };
    gauge("pixelring_spool_bytes", "Bytes in the spool's segment files.", get(c.bytes));
    gauge("pixelring_spool_records",
          "Records in the spool waiting for Kafka (records left by an earlier run are counted "
          "as replay reads them).",
          get(c.records));
    gauge("pixelring_spool_segments", "Segment files in spool.dir.", get(c.segments));
    gauge("pixelring_spool_writable", "1 while the spool can take events.",
          spool_->writable() ? 1 : 0);
    total("pixelring_spool_replayed_total",
          "Spooled records read back and acknowledged by Kafka (from this run or an earlier one).",
          replay_delivered_.get());
    total("pixelring_spool_respooled_total",
          "Replayed records that failed again and went back into the spool.", get(c.respooled));
    prometheus_header(out, "pixelring_spool_lost_records_total", "counter",
                      "Replayed records that failed again and the spool could not take back; "
                      "their segment is kept and replayed at the next start.");
    fmt::format_to(it, "pixelring_spool_lost_records_total{{reason=\"spool_full\"}} {}\n",
                   get(c.full[size_t(spool_origin::replay)]));
    fmt::format_to(it, "pixelring_spool_lost_records_total{{reason=\"spool_error\"}} {}\n",
                   get(c.io_errors[size_t(spool_origin::replay)]));
    total("pixelring_spool_corrupt_records_total",
          "Corrupt or torn records skipped while reading the spool back.", get(c.corrupt_records));
    total("pixelring_spool_corrupt_bytes_total", "Bytes skipped in them.", get(c.corrupt_bytes));
    total("pixelring_spool_fsyncs_total", "fdatasync calls on spool segments.", get(c.fsyncs));
    total("pixelring_spool_fsync_errors_total", "Failed fdatasync calls on spool segments.",
          get(c.fsync_errors));
    total("pixelring_spool_removed_segments_total",
          "Segments removed after every record in them was acknowledged.", get(c.removed_segments));
}

} // namespace

std::unique_ptr<sink> make_kafka_sink(const kafka_sink_config& cfg, std::unique_ptr<spool> spool,
                                      std::string& error, uint32_t max_memory_ms) {
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
    char interval[32] = "0";
    size_t interval_len = sizeof interval;
    rd_kafka_conf_get(conf, "statistics.interval.ms", interval, &interval_len);
    bool statistics = std::strcmp(interval, "0") != 0;
    rd_kafka_conf_set_dr_msg_cb(conf, &kafka_sink::on_delivery);
    rd_kafka_conf_set_error_cb(conf, &kafka_sink::on_error);
    rd_kafka_conf_set_stats_cb(conf, &kafka_sink::on_statistics);
    // The sink must exist before the producer so that callbacks can reach it; it takes the
    // handle right after.
    auto out = std::make_unique<kafka_sink>(cfg.topic, cfg.stop_timeout_ms, std::move(spool),
                                            max_memory_ms);
    rd_kafka_conf_set_opaque(conf, out.get());
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        error = fmt::format("sink.kafka: cannot create the producer: {}", errstr);
        rd_kafka_conf_destroy(conf); // rd_kafka_new frees conf only on success
        return nullptr;
    }
    out->attach(rk, statistics);
    return out;
}

} // namespace pixelring
