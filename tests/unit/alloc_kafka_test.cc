// Zero allocations on the Kafka path up to the producer call (bench/README.md, Targets). The sink
// thread's work per event is kafka_sink::write(): the message key (kafka_message_key), then
// rd_kafka_producev with the key, the value (copied), the "schema" header and the opaque. This
// executable interposes rd_kafka_producev (forwarding to librdkafka's rd_kafka_produceva), so
// that each write() is cut in three: our code before the producer call, librdkafka inside it,
// our code after it. Against an in-process librdkafka mock cluster, after a warm-up, 100,000
// writes must allocate nothing outside librdkafka. What librdkafka allocates per event is
// printed, with and without the schema header.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <dlfcn.h>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "sinks/kafka/kafka_message.hh"
#include "sinks/kafka/kafka_sink.hh"
#include "tests/support/counting_allocator.hh"
#include "tests/support/mock_cluster.hh"

using namespace pixelring;
using namespace std::chrono_literals;

// ---- the producer call, interposed -----------------------------------------------------------

namespace {

using test::mock_cluster;

// The calling thread's allocation count when the last rd_kafka_producev began and returned.
thread_local size_t t_at_producer_entry = 0;
thread_local size_t t_at_producer_exit = 0;
thread_local size_t t_producer_calls = 0;
// The negative control: while set, the interposer allocates before it takes t_at_producer_entry,
// as our code would if it allocated on the way to the producer.
thread_local bool t_allocate_before_producer = false;

} // namespace

// kafka_sink.cc is linked in statically, so its calls land here. librdkafka's own
// rd_kafka_producev takes the same arguments as a va_list of (vtype, values...) pairs; they are
// turned into the rd_kafka_vu_t array of rd_kafka_produceva, which does the same work.
extern "C" rd_kafka_resp_err_t rd_kafka_producev(rd_kafka_t* rk, ...) {
    if (t_allocate_before_producer) {
        void* p = ::operator new(100);          // one allocation
        asm volatile("" : : "r"(p) : "memory"); // kept
        ::operator delete(p);
    }
    t_at_producer_entry = test::thread_allocations();
    ++t_producer_calls;
    rd_kafka_vu_t vus[16];
    size_t n = 0;
    va_list ap;
    va_start(ap, rk);
    for (rd_kafka_vtype_t vt; (vt = rd_kafka_vtype_t(va_arg(ap, int))) != RD_KAFKA_VTYPE_END;) {
        if (n == std::size(vus)) std::abort();
        rd_kafka_vu_t& vu = vus[n++];
        vu.vtype = vt;
        switch (vt) {
        case RD_KAFKA_VTYPE_TOPIC:
            vu.u.cstr = va_arg(ap, const char*);
            break;
        case RD_KAFKA_VTYPE_RKT:
            vu.u.rkt = va_arg(ap, rd_kafka_topic_t*);
            break;
        case RD_KAFKA_VTYPE_PARTITION:
            vu.u.i32 = va_arg(ap, int32_t);
            break;
        case RD_KAFKA_VTYPE_VALUE:
        case RD_KAFKA_VTYPE_KEY:
            vu.u.mem.ptr = va_arg(ap, void*);
            vu.u.mem.size = va_arg(ap, size_t);
            break;
        case RD_KAFKA_VTYPE_OPAQUE:
            vu.u.ptr = va_arg(ap, void*);
            break;
        case RD_KAFKA_VTYPE_MSGFLAGS:
            vu.u.i = va_arg(ap, int);
            break;
        case RD_KAFKA_VTYPE_TIMESTAMP:
            vu.u.i64 = va_arg(ap, int64_t);
            break;
        case RD_KAFKA_VTYPE_HEADER:
            vu.u.header.name = va_arg(ap, const char*);
            vu.u.header.val = va_arg(ap, const void*);
            vu.u.header.size = va_arg(ap, ssize_t);
            break;
        case RD_KAFKA_VTYPE_HEADERS:
            vu.u.headers = va_arg(ap, rd_kafka_headers_t*);
            break;
        default:
            std::abort(); // a vtype this test does not know: extend the switch
        }
    }
    va_end(ap);
    rd_kafka_error_t* error = rd_kafka_produceva(rk, vus, n);
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (error) {
        err = rd_kafka_error_code(error);
        rd_kafka_error_destroy(error);
    }
    t_at_producer_exit = test::thread_allocations();
    return err;
}

namespace {

// librdkafka's own rd_kafka_producev, for the raw measurement.
using producev_fn = rd_kafka_resp_err_t (*)(rd_kafka_t*, ...);
producev_fn real_producev() {
    return reinterpret_cast<producev_fn>(dlsym(RTLD_NEXT, "rd_kafka_producev"));
}

// ---- the cluster and the events --------------------------------------------------------------

// Pixel events as core/event/event.hh encodes them with the default enrichment (~650 bytes), 4096
// distinct visitors (the message key).
std::vector<std::string> make_events() {
    std::vector<std::string> out;
    for (int i = 0; i < 4096; ++i)
        out.push_back(fmt::format(
            R"({{"v":1,"id":"0190a1b2-c3d4-7e5f-8a9b-{:012x}","ts":"2026-05-12T10:00:00.000Z",)"
            R"("type":"pixel","action":"pageview","campaign":"example.com","collector":"alloc",)"
            R"("ip":"81.2.69.0","ua":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/)"
            R"(537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36","referer":"https://)"
            R"(example.com/blog/post?utm_source=news","host":"px.example.com","params":{{"scroll-)"
            R"(depth":"70%","dark-mode":"true"}},"utm":{{"source":"news"}},"page_host":)"
            R"("example.com","country":"GB","city":"London","agent":"browser","device":)"
            R"("desktop","browser":"Chrome","os":"Windows","dnt":false,"visitor":"{:032x}"}})",
            i, uint64_t(i) * 0x9e3779b97f4a7c15ull));
    return out;
}

std::unique_ptr<sink> make_sink(const mock_cluster& mc) {
    kafka_sink_config cfg;
    cfg.brokers = {mc.bootstrap()};
    cfg.stop_timeout_ms = 5000;
    std::string error;
    auto s = make_kafka_sink(cfg, nullptr, error);
    EXPECT_NE(s, nullptr) << error;
    return s;
}

// The sink thread's duty until every event written so far is settled (bounded).
bool settle_all(sink& s, uint64_t written) {
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
        s.poll();
        s.flush();
        if (s.counters().written.load() + s.counters().failed.load() >= written) return true;
        std::this_thread::sleep_for(1ms);
    }
    return false;
}

// Allocations of the sink thread over n writes, by who made them.
struct write_allocations {
    size_t before_producer = 0; // write() entry to rd_kafka_producev entry: our code
    size_t in_producer = 0;     // inside rd_kafka_producev: librdkafka
    size_t after_producer = 0;  // rd_kafka_producev's return to write()'s: our code
    size_t producer_calls = 0;
    size_t in_poll = 0; // poll() and flush() between writes: delivery reports, statistics
};

// n writes as the sink thread makes them: flush() and poll() after every 4096 (a drain pass).
write_allocations write_events(sink& s, const std::vector<std::string>& events, size_t n) {
    write_allocations a;
    const size_t calls = t_producer_calls;
    for (size_t i = 0; i < n; ++i) {
        const size_t before = test::thread_allocations();
        t_at_producer_entry = t_at_producer_exit = before;
        s.write(events[i % events.size()]);
        const size_t after = test::thread_allocations();
        a.before_producer += t_at_producer_entry - before;
        a.in_producer += t_at_producer_exit - t_at_producer_entry;
        a.after_producer += after - t_at_producer_exit;
        if (i % 4096 == 4095) {
            const size_t p = test::thread_allocations();
            s.flush();
            s.poll();
            a.in_poll += test::thread_allocations() - p;
        }
    }
    a.producer_calls = t_producer_calls - calls;
    return a;
}

constexpr size_t warm_up_events = 10'000;
constexpr size_t measured_events = 100'000;

// ---- tests -----------------------------------------------------------------------------------

TEST(alloc_kafka_test, sink_write_allocates_nothing_before_the_producer_call) {
    mock_cluster mc;
    const std::vector<std::string> events = make_events();
    auto s = make_sink(mc);
    ASSERT_NE(s, nullptr);

    write_events(*s, events, warm_up_events);
    ASSERT_TRUE(settle_all(*s, warm_up_events));
    const write_allocations a = write_events(*s, events, measured_events);
    ASSERT_TRUE(settle_all(*s, warm_up_events + measured_events));

    std::printf("sink thread allocations over %zu Kafka writes: our code before the producer "
                "call %zu, after it %zu; librdkafka's rd_kafka_producev %zu (%.2f per event); "
                "flush() and poll() every 4096 events %zu\n",
                measured_events, a.before_producer, a.after_producer, a.in_producer,
                double(a.in_producer) / double(measured_events), a.in_poll);
    EXPECT_EQ(a.producer_calls, measured_events);
    EXPECT_EQ(a.before_producer, 0u);
    EXPECT_EQ(a.after_producer, 0u);
    // Every event was delivered, none failed.
    EXPECT_EQ(s->counters().written.load(), warm_up_events + measured_events);
    EXPECT_EQ(s->counters().failed.load(), 0u);
    s->close();
}

// The accounting can fail: an allocation on the way to the producer is charged to our code.
TEST(alloc_kafka_test, counter_sees_an_allocation_before_the_producer_call) {
    mock_cluster mc;
    const std::vector<std::string> events = make_events();
    auto s = make_sink(mc);
    ASSERT_NE(s, nullptr);
    write_events(*s, events, 1000);
    t_allocate_before_producer = true;
    const write_allocations a = write_events(*s, events, 1000);
    t_allocate_before_producer = false;
    EXPECT_EQ(a.producer_calls, 1000u);
    EXPECT_EQ(a.before_producer, 1000u);
    ASSERT_TRUE(settle_all(*s, 2000));
    s->close();
}

// What librdkafka's rd_kafka_producev allocates per message, called as kafka_sink calls it,
// with and without the "schema" header (the header is rd_kafka_headers_new(8): the headers
// and their list's array, then rd_kafka_header_add: the header, per message).
TEST(alloc_kafka_test, producer_allocations_with_and_without_the_schema_header) {
    mock_cluster mc;
    const std::vector<std::string> events = make_events();
    producev_fn producev = real_producev();
    ASSERT_NE(producev, nullptr);
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    ASSERT_EQ(rd_kafka_conf_set(conf, "bootstrap.servers", mc.bootstrap().c_str(), err, sizeof err),
              RD_KAFKA_CONF_OK);
    rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof err);
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    ASSERT_NE(rk, nullptr) << err;
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, "pixelring.events", nullptr);
    static constexpr char schema_version[] = "1";

    auto produce = [&](size_t n, bool header) {
        size_t allocations = 0, failed = 0;
        for (size_t i = 0; i < n; ++i) {
            const std::string& e = events[i % events.size()];
            std::string_view key = kafka_message_key(e);
            const size_t before = test::thread_allocations();
            rd_kafka_resp_err_t r =
                header ? producev(rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_KEY(key.data(), key.size()),
                                  RD_KAFKA_V_VALUE(const_cast<char*>(e.data()), e.size()),
                                  RD_KAFKA_V_HEADER("schema", schema_version, 1),
                                  RD_KAFKA_V_OPAQUE(nullptr), RD_KAFKA_V_END)
                       : producev(rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_KEY(key.data(), key.size()),
                                  RD_KAFKA_V_VALUE(const_cast<char*>(e.data()), e.size()),
                                  RD_KAFKA_V_OPAQUE(nullptr), RD_KAFKA_V_END);
            allocations += test::thread_allocations() - before;
            failed += r != RD_KAFKA_RESP_ERR_NO_ERROR;
            if (i % 4096 == 4095) rd_kafka_poll(rk, 0);
        }
        rd_kafka_flush(rk, 30000);
        EXPECT_EQ(failed, 0u);
        return allocations;
    };
    produce(warm_up_events, true);
    const size_t with_header = produce(measured_events, true);
    const size_t without = produce(measured_events, false);
    std::printf("rd_kafka_producev allocations per event: %.2f with the schema header, %.2f "
                "without\n",
                double(with_header) / double(measured_events),
                double(without) / double(measured_events));
    EXPECT_EQ(rd_kafka_outq_len(rk), 0);
    // librdkafka copies the message (RD_KAFKA_MSG_F_COPY) into an allocation of its own.
    EXPECT_GE(without, measured_events);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
}

} // namespace
