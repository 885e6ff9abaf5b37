// Producer-only throughput of the Kafka path (target: 1,000,000 events/s from one sink
// thread): the rate at which one thread hands realistic events to librdkafka, serving delivery
// reports as the sink thread does, until every event is acknowledged by an in-process mock
// cluster (rdkafka_mock.h, the broker of pixelring-devkafka).
//
// One iteration is one event. The last iteration also waits until every event is settled, so
// items_per_second = events / (hand-over of all + delivery of the last): a sustained rate, not
// the rate of filling librdkafka's queue. Each run gets a fresh cluster and producer, warmed up
// (metadata, producer id) before the timed loop, and a fixed number of events (--events=N,
// default 1,000,000). A run whose delivered count is not the number of events is an error.
//
// The mock keeps about 5 MiB per partition: beyond that it drops the partition's oldest
// batches, like retention, and produce requests still succeed (rd_kafka_mock_partition_log_
// append). The producer is not affected; the cluster's memory stays below partitions x 5 MiB.
//
// Counters: rtt_ns (the vCPUs' cache-line round trip before the run, bench/round_trip.hh),
// delivered/failed (delivery reports), queue_full (producev found librdkafka's
// queue full; the thread then polls 10 ms), and CPU per event split by thread: the CPU column
// is the producing thread, rdk_cpu_us the producer's own librdkafka threads (compression,
// requests), producer_cpu_us the two together (what the collector pays per event for Kafka),
// mock_cpu_us the mock cluster's (the broker's cost, here in the same process).
// All of them share this machine's cores, so a 2-core VM measures their contention too.
// Raw variants also report, from librdkafka's statistics, msgs_per_batch (per partition batch)
// and msgs_per_request (events per request sent: produce requests dominate).

#include <benchmark/benchmark.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "bench/round_trip.hh"
#include "core/enrich/user_agent.hh"
#include "core/enrich/visitor.hh"
#include "core/event/event.hh"
#include "sinks/kafka/kafka_message.hh"
#include "sinks/kafka/kafka_sink.hh"

namespace {

using namespace pixelring;
using pixelring::bench::round_trip_ns;
using property = std::pair<std::string, std::string>;

constexpr char topic[] = "pixelring.events";
constexpr int default_partitions = 64; // 64 x 5 MiB bounds the mock's memory
constexpr size_t drain_pass = 4096;    // the sink thread's batch_per_ring: flush() after as many
constexpr int settle_timeout_s = 120;
constexpr char schema_version[] = "1";
int64_t events_per_run = 1'000'000;
constexpr int64_t paced_seconds = 3;

// A mirror of producer_defaults in sinks/kafka/kafka_sink.cc (not exported), without its
// statistics.interval.ms (the raw producer has no statistics callback): the raw variants
// start from these, so that raw and sink differ only by the sink's own code.
const std::vector<property> producer_defaults = {
    {"enable.idempotence", "true"},   {"acks", "all"},
    {"compression.type", "lz4"},      {"linger.ms", "5"},
    {"batch.num.messages", "10000"},  {"queue.buffering.max.messages", "1000000"},
    {"message.timeout.ms", "300000"},
};

// ---------------------------------------------------------------------------------------------
// Realistic events: the hit of bench/wrk/pixel_load.sh and pixel_kafka.sh (Chrome on Windows,
// a Referer with a utm parameter, campaignID and two params) encoded by the collector's
// encoder with the enrichment it adds by default (tracking.enrich without GeoIP: utm, visitor,
// agent labels, dnt; ~650 bytes of JSON). 1000 campaigns ("site0000.com" to "site0999.com")
// and 256 client addresses make 4096 distinct visitors: the message key is the visitor, so
// events spread over the partitions.

struct event_set {
    std::vector<std::string> events;
    size_t total_bytes = 0;
};

event_set make_events(size_t count, size_t campaigns) {
    const std::string ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
                           "like Gecko) Chrome/131.0.0.0 Safari/537.36";
    visitor_key key;
    if (std::string error = visitor_key::from_config({}, key); !error.empty()) {
        std::fprintf(stderr, "bench_kafka_producer: visitor key: %s\n", error.c_str());
        std::exit(1);
    }
    visitor_hasher visitors(key);
    agent_signals signals;
    signals.user_agent = ua;
    const agent_info agent = classify_agent(signals);
    encode_options opt;
    opt.collector = "edge-1";
    uuidv7_generator ids(42);
    uint64_t ms = 1795343700123; // 2026-11-22T10:35:00.123Z
    event_set out;
    for (size_t i = 0; i < count; ++i) {
        const size_t c = i * 7919 % campaigns; // a prime stride: neighbours differ
        const std::string query =
            fmt::format("campaignID=site{:04}.com&scroll-depth={}%25&dark-mode={}", c,
                        10 * (i % 10), i % 2 ? "true" : "false");
        const std::string referer =
            fmt::format("https://site{:04}.com/blog/post?utm_source=news", c);
        pixel_hit hit;
        hit.action = "pageview";
        hit.query = query;
        hit.referer = referer;
        hit.user_agent = ua;
        hit.host = "px.example.com";
        hit.client.family = 4;
        const uint8_t addr[4] = {203, 0, 113, uint8_t(i)};
        std::copy(addr, addr + 4, hit.client.bytes);
        ms += 1 + i % 3;
        // As the worker enriches (net/worker/worker.cc): the site is the campaign as sent.
        pixel_enrichment extra;
        extra.agent = &agent;
        char visitor[visitor_id_size];
        if (visitors.visitor_id(ms, fmt::format("site{:04}.com", c), hit.client, ua, visitor))
            extra.visitor = std::string_view(visitor, visitor_id_size);
        hit.enrichment = &extra;
        std::string slot(max_pixel_event_size(hit, opt), '\0');
        slot.resize(encode_pixel_event(hit, opt, ids.next(ms), ms, slot.data()));
        out.total_bytes += slot.size();
        out.events.push_back(std::move(slot));
    }
    return out;
}

const event_set& events() {
    static const event_set set = make_events(4096, 1000);
    return set;
}

// ---------------------------------------------------------------------------------------------
// CPU time of this process's threads, from /proc/self/task/<tid>/schedstat (ns on CPU).

uint64_t thread_cpu_ns(long tid) {
    std::ifstream in(fmt::format("/proc/self/task/{}/schedstat", tid));
    uint64_t ns = 0;
    in >> ns;
    return ns;
}

std::set<long> thread_ids() {
    std::set<long> out;
    if (DIR* d = opendir("/proc/self/task")) {
        while (dirent* e = readdir(d))
            if (e->d_name[0] != '.') out.insert(std::strtol(e->d_name, nullptr, 10));
        closedir(d);
    }
    return out;
}

uint64_t cpu_ns_of(const std::set<long>& tids) {
    uint64_t sum = 0;
    for (long t : tids)
        sum += thread_cpu_ns(t);
    return sum;
}

// ---------------------------------------------------------------------------------------------
// An in-process mock cluster with the topic pre-created (the mock refuses CreateTopics).

class mock_cluster {
public:
    mock_cluster(int brokers, int partitions) {
        char errstr[512];
        rd_kafka_conf_t* conf = rd_kafka_conf_new();
        rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
        holder_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
        if (!holder_) {
            error_ = fmt::format("rd_kafka_new: {}", errstr);
            return;
        }
        cluster_ = rd_kafka_mock_cluster_new(holder_, brokers);
        if (!cluster_) {
            error_ = "rd_kafka_mock_cluster_new failed";
            return;
        }
        if (rd_kafka_resp_err_t e =
                rd_kafka_mock_topic_create(cluster_, topic, partitions, std::min(brokers, 3)))
            error_ = fmt::format("rd_kafka_mock_topic_create: {}", rd_kafka_err2str(e));
        else
            bootstrap_ = rd_kafka_mock_cluster_bootstraps(cluster_);
    }
    ~mock_cluster() {
        if (cluster_) rd_kafka_mock_cluster_destroy(cluster_);
        if (holder_) rd_kafka_destroy(holder_);
    }
    mock_cluster(const mock_cluster&) = delete;
    mock_cluster& operator=(const mock_cluster&) = delete;

    const std::string& error() const { return error_; }
    const std::string& bootstrap() const { return bootstrap_; }

private:
    rd_kafka_t* holder_ = nullptr;
    rd_kafka_mock_cluster_t* cluster_ = nullptr;
    std::string bootstrap_;
    std::string error_;
};

// ---------------------------------------------------------------------------------------------
// The two ways to produce: raw librdkafka (the sink's producev call, without the sink), and
// the project's sink. Both: write one event; pass() at the end of a drain pass; settle() waits
// until every event written got its delivery report.

// Numbers from librdkafka's statistics (raw producer only): the top-level "tx" (requests sent to
// all brokers, cumulative; emitted last, after the per-broker "tx") and the topic's "batchcnt"
// window (messages per batch; each emission covers the interval since the previous one).
struct batch_stats {
    bool recording = false;
    int64_t tx = 0, tx_at_start = 0, tx_at_stop = 0;
    double batch_msgs = 0, batches = 0;
};

// The integer after "<name>": at or after from (the last one when last); -1 when absent.
int64_t json_number_after(std::string_view json, std::string_view name, size_t from = 0,
                          bool last = false) {
    const std::string quoted = fmt::format("\"{}\":", name);
    size_t at = last ? json.rfind(quoted) : json.find(quoted, from);
    if (at == std::string_view::npos) return -1;
    return std::strtoll(json.data() + at + quoted.size(), nullptr, 10);
}

class raw_producer {
public:
    raw_producer(const std::string& bootstrap, const std::vector<property>& overrides,
                 std::string& error) {
        char errstr[512];
        rd_kafka_conf_t* conf = rd_kafka_conf_new();
        std::vector<property> props = producer_defaults;
        props.insert(props.end(), overrides.begin(), overrides.end());
        props.emplace_back("bootstrap.servers", bootstrap);
        for (const auto& [name, value] : props) {
            if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof errstr) !=
                RD_KAFKA_CONF_OK) {
                error = fmt::format("{} = {}: {}", name, value, errstr);
                rd_kafka_conf_destroy(conf);
                return;
            }
        }
        rd_kafka_conf_set_dr_msg_cb(conf, &raw_producer::on_delivery);
        rd_kafka_conf_set_stats_cb(conf, &raw_producer::on_statistics);
        rd_kafka_conf_set(conf, "statistics.interval.ms", "100", errstr, sizeof errstr);
        rd_kafka_conf_set_opaque(conf, this);
        rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
        if (!rk_) {
            error = fmt::format("rd_kafka_new: {}", errstr);
            rd_kafka_conf_destroy(conf);
            return;
        }
        rkt_ = rd_kafka_topic_new(rk_, topic, nullptr);
    }
    ~raw_producer() {
        if (rkt_) rd_kafka_topic_destroy(rkt_);
        if (rk_) rd_kafka_destroy(rk_);
    }
    raw_producer(const raw_producer&) = delete;
    raw_producer& operator=(const raw_producer&) = delete;

    void write(std::string_view event) {
        const std::string_view key = kafka_message_key(event);
        for (;;) {
            rd_kafka_resp_err_t err = rd_kafka_producev(
                rk_, RD_KAFKA_V_RKT(rkt_), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_KEY(key.empty() ? nullptr : key.data(), key.size()),
                RD_KAFKA_V_VALUE(const_cast<char*>(event.data()), event.size()),
                RD_KAFKA_V_HEADER("schema", schema_version, sizeof schema_version - 1),
                RD_KAFKA_V_END);
            if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
            if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                ++failed_;
                return;
            }
            ++queue_full_;
            rd_kafka_poll(rk_, 10);
        }
    }
    void pass() { rd_kafka_poll(rk_, 0); }
    void settle(uint64_t, int timeout_ms) { rd_kafka_flush(rk_, timeout_ms); }
    uint64_t delivered() const { return delivered_; }
    uint64_t failed() const { return failed_; }
    uint64_t queue_full() const { return queue_full_; }
    bool ok() const { return rk_ != nullptr; }
    void record_stats(bool on) {
        stats_.recording = on;
        (on ? stats_.tx_at_start : stats_.tx_at_stop) = stats_.tx;
    }
    const batch_stats* stats() const { return &stats_; }

private:
    // Both served by rd_kafka_poll/flush, on this thread.
    static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
        auto* self = static_cast<raw_producer*>(opaque);
        ++(m->err ? self->failed_ : self->delivered_);
    }
    static int on_statistics(rd_kafka_t*, char* json, size_t len, void* opaque) {
        auto* self = static_cast<raw_producer*>(opaque);
        const std::string_view doc(json, len);
        if (int64_t tx = json_number_after(doc, "tx", 0, true); tx >= 0) self->stats_.tx = tx;
        if (size_t at = doc.find("\"batchcnt\":"); self->stats_.recording && at != doc.npos) {
            const int64_t sum = json_number_after(doc, "sum", at);
            const int64_t cnt = json_number_after(doc, "cnt", at);
            if (sum > 0 && cnt > 0) {
                self->stats_.batch_msgs += double(sum);
                self->stats_.batches += double(cnt);
            }
        }
        return 0; // librdkafka frees json
    }

    rd_kafka_t* rk_ = nullptr;
    rd_kafka_topic_t* rkt_ = nullptr; // as the sink: no topic lookup by name per event
    uint64_t delivered_ = 0, failed_ = 0;
    uint64_t queue_full_ = 0;
    batch_stats stats_;
};

class sink_producer {
public:
    sink_producer(const std::string& bootstrap, const std::vector<property>& overrides,
                  std::string& error) {
        kafka_sink_config cfg;
        cfg.brokers = {bootstrap};
        cfg.topic = topic;
        for (const auto& [name, value] : overrides)
            cfg.properties[name] = value;
        sink_ = make_kafka_sink(cfg, nullptr, error); // no spool: failures are counted
    }
    ~sink_producer() {
        if (sink_) sink_->close();
    }

    void write(std::string_view event) { sink_->write(event); }
    // What the sink thread does after each drain pass (app/collector.cc).
    void pass() {
        sink_->flush();
        sink_->poll();
    }
    // As the sink thread does when idle: poll(), then sleep 1 ms.
    void settle(uint64_t expected, int timeout_ms) {
        const auto deadline =
            std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        for (;;) {
            pass();
            if (delivered() + failed() >= expected || std::chrono::steady_clock::now() >= deadline)
                return;
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }
    uint64_t delivered() const { return sink_->counters().written.load(); }
    uint64_t failed() const { return sink_->counters().failed.load(); }
    uint64_t queue_full() const { return 0; } // the sink waits inside write(), uncounted
    bool ok() const { return sink_ != nullptr; }
    void record_stats(bool) {}
    const batch_stats* stats() const { return nullptr; } // the sink keeps its statistics

private:
    std::unique_ptr<sink> sink_;
};

// ---------------------------------------------------------------------------------------------

struct variant {
    std::string name;
    std::vector<property> overrides; // on top of the producer defaults
    int brokers = 1;
    bool via_sink = false;
    int partitions = default_partitions;
    uint64_t rate = 0; // events/s; 0: as fast as the thread goes
};

template <class Producer> void run_variant(benchmark::State& state, const variant& v) {
    const std::vector<std::string>& evs = events().events;
    const size_t mask = evs.size() - 1; // a power of two
    const double rtt = round_trip_ns();
    mock_cluster cluster(v.brokers, v.partitions);
    if (!cluster.error().empty()) {
        state.SkipWithError(cluster.error().c_str());
        return;
    }
    const std::set<long> before_producer = thread_ids();
    std::string error;
    Producer producer(cluster.bootstrap(), v.overrides, error);
    if (!producer.ok()) {
        state.SkipWithError(error.c_str());
        return;
    }
    std::set<long> rdk_threads;
    for (long t : thread_ids())
        if (!before_producer.count(t)) rdk_threads.insert(t);
    std::set<long> mock_threads = before_producer;
    mock_threads.erase(long(gettid()));

    // Warm-up, untimed: metadata, connections, the idempotent producer id.
    constexpr uint64_t warmup = 2000;
    for (uint64_t i = 0; i < warmup; ++i)
        producer.write(evs[i & mask]);
    producer.settle(warmup, settle_timeout_s * 1000);
    if (producer.delivered() != warmup) {
        state.SkipWithError(
            fmt::format("warm-up: {} of {} delivered", producer.delivered(), warmup).c_str());
        return;
    }

    const uint64_t n = uint64_t(state.max_iterations);
    const uint64_t rdk0 = cpu_ns_of(rdk_threads), mock0 = cpu_ns_of(mock_threads);
    const uint64_t app0 = thread_cpu_ns(long(gettid()));
    producer.record_stats(true);
    // Paced: a pass, then a sleep until the next 1 ms worth of events is due, as the sink
    // thread drains what arrived while it napped.
    const uint64_t chunk = v.rate ? std::max<uint64_t>(1, v.rate / 1000) : drain_pass;
    const auto start = std::chrono::steady_clock::now();
    uint64_t i = 0;
    for (auto _ : state) {
        producer.write(evs[i & mask]);
        ++i;
        if (i % chunk == 0) {
            producer.pass();
            if (v.rate)
                std::this_thread::sleep_until(
                    start + std::chrono::nanoseconds(int64_t(double(i) * 1e9 / double(v.rate))));
        }
        if (i == n) producer.settle(warmup + n, settle_timeout_s * 1000);
    }
    const uint64_t rdk1 = cpu_ns_of(rdk_threads), mock1 = cpu_ns_of(mock_threads);
    const uint64_t app1 = thread_cpu_ns(long(gettid()));
    producer.record_stats(false);

    const uint64_t delivered = producer.delivered() - warmup;
    state.SetItemsProcessed(int64_t(i));
    state.counters["delivered"] = double(delivered);
    state.counters["failed"] = double(producer.failed());
    state.counters["queue_full"] = double(producer.queue_full());
    state.counters["rdk_cpu_us"] = double(rdk1 - rdk0) / 1e3 / double(i);
    state.counters["mock_cpu_us"] = double(mock1 - mock0) / 1e3 / double(i);
    // What the collector pays per event for Kafka: the sink thread and librdkafka's threads.
    state.counters["producer_cpu_us"] = double(app1 - app0 + rdk1 - rdk0) / 1e3 / double(i);
    state.counters["event_bytes"] = double(events().total_bytes) / double(evs.size());
    state.counters["rtt_ns"] = rtt;
    if (const batch_stats* st = producer.stats(); st && st->batches > 0) {
        state.counters["msgs_per_batch"] = st->batch_msgs / st->batches;
        if (st->tx_at_stop > st->tx_at_start)
            state.counters["msgs_per_request"] =
                double(i) / double(st->tx_at_stop - st->tx_at_start);
    }
    if (delivered != i || producer.failed() != 0)
        state.SkipWithError(
            fmt::format("{} events, {} delivered, {} failed", i, delivered, producer.failed())
                .c_str());
}

// Each on top of the producer defaults. Compression (lz4, none), bigger batches (a longer
// linger; batch.size does not bind here), fewer partitions, more brokers (one librdkafka
// thread each), acks=1 without idempotence (for scale only: the sink needs idempotence), and
// the sink itself. librdkafka sends one produce request per partition batch, so the batch
// size (msgs_per_request) sets most of the per-event cost of the librdkafka thread and of the
// broker; it depends on the rate per partition and linger.ms, hence the paced cases.
std::vector<variant> variants() {
    const property none = {"compression.type", "none"};
    const property l20 = {"linger.ms", "20"};
    const property l50 = {"linger.ms", "50"};
    const property l100 = {"linger.ms", "100"};
    const property no_idempotence[] = {{"enable.idempotence", "false"}, {"acks", "1"}};
    constexpr uint64_t k100 = 100'000;
    return {
        // As fast as one thread goes: can it reach 1M events/s, and with which settings?
        {"raw/defaults", {}},
        {"raw/compression:none", {none}},
        {"raw/linger:20", {l20}},
        {"raw/linger:50", {l50}},
        {"raw/acks:1,idempotence:off", {no_idempotence[0], no_idempotence[1]}},
        {"raw/defaults/partitions:8", {}, 1, false, 8},
        {"raw/defaults/brokers:3", {}, 3},
        {"sink/defaults", {}, 1, true},
        {"sink/linger:50", {l50}, 1, true},
        // At 100,000 events/s (what one keep-alive worker takes on this VM): the CPU per event
        // when batches are only as large as linger.ms lets them grow.
        {"paced:100k/raw/defaults", {}, 1, false, default_partitions, k100},
        {"paced:100k/raw/linger:20", {l20}, 1, false, default_partitions, k100},
        {"paced:100k/raw/linger:50", {l50}, 1, false, default_partitions, k100},
        {"paced:100k/raw/linger:100", {l100}, 1, false, default_partitions, k100},
        {"paced:100k/raw/defaults/partitions:8", {}, 1, false, 8, k100},
        {"paced:100k/sink/defaults", {}, 1, true, default_partitions, k100},
        {"paced:100k/sink/linger:50", {l50}, 1, true, default_partitions, k100},
    };
}

} // namespace

int main(int argc, char** argv) {
    // --events=N: events per run (default 1,000,000); taken out before Google Benchmark's flags.
    int kept = 1;
    for (int i = 1; i < argc; ++i) {
        if (std::strncmp(argv[i], "--events=", 9) == 0)
            events_per_run = std::max<int64_t>(1, std::atoll(argv[i] + 9));
        else
            argv[kept++] = argv[i];
    }
    argc = kept;
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    for (const variant& v : variants()) {
        auto* b = benchmark::RegisterBenchmark(("BM_kafka_produce/" + v.name).c_str(),
                                               [v](benchmark::State& state) {
                                                   if (v.via_sink)
                                                       run_variant<sink_producer>(state, v);
                                                   else
                                                       run_variant<raw_producer>(state, v);
                                               });
        // Paced runs last paced_seconds: their point is the CPU per event, not the rate.
        b->Iterations(v.rate ? int64_t(v.rate) * paced_seconds : events_per_run)
            ->UseRealTime()
            ->Unit(benchmark::kNanosecond);
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
