// The worker-to-sink hand-off: one producer thread moves JSON-like events to one consumer
// thread through
//   ring/N/M         our spsc_byte_ring: reserve, encode (memcpy) in place, commit; the
//                    consumer peeks, reads the bytes in place and releases;
//   rwq_copy<S>/N/M  moodycamel::ReaderWriterQueue of fixed S-byte slots: try_emplace builds
//                    the event in the queue's slot, try_dequeue copies the whole slot out, as a
//                    queue of values has to be used;
//   rwq_peek<S>/N/M  the same queue read in place with peek()/pop(), no copy: shows how much
//                    of the difference is the copy and how much the fixed slot size.
// N is the event size in bytes; S the smallest power of two that holds it; M the memory of
// either queue in MiB: 32 is ring_bytes' default (core/config/config.hh), 1 fits the 1 MiB L2.
// The consumer checks every event's sequence number and length and sums its bytes; a
// benchmark that loses, repeats or tears an event stops with an error.
//
// Run on an otherwise idle machine, and compare runs whose rtt_*_ns counters agree:
//   bench_ring --benchmark_repetitions=3 --benchmark_display_aggregates_only=true

#include "bench/round_trip.hh"
#include "core/spsc_ring.hh"

#include <benchmark/benchmark.h>
#include <readerwriterqueue/readerwriterqueue.h>

#include <time.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>

namespace {

using pixelring::spsc_byte_ring;
using pixelring::bench::round_trip_ns;

// Items per benchmark iteration; each iteration ends when the consumer has seen them all.
constexpr uint64_t batch = 1 << 16;
// What a worker reserves before encoding: it does not know the event's length in advance.
constexpr size_t reserve_bytes = 2048;

// Waiting for the other thread: spin briefly, then yield. On 2 busy cores the thread waited
// for may be descheduled; a pure spin would then burn the rest of the time slice.
inline void wait_a_little(unsigned& spins) {
    if (++spins < 256) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    } else {
        std::this_thread::yield();
    }
}

double thread_cpu_seconds() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// A JSON-like event of exactly `size` bytes (size >= 64).
std::string make_event(size_t size) {
    std::string e = R"({"v":1,"type":"pixel","id":"0192f7a4-6c1e-7d2a-9b1e-3f5c2d7e8a90",)"
                    R"("ts":"2026-11-22T10:35:00.123Z","action":"open","campaignID":"spring-26",)"
                    R"("ip":"203.0.113.0","ua":"Mozilla/5.0 (X11; Linux x86_64) ","q":")";
    while (e.size() + 2 < size)
        e += static_cast<char>('a' + e.size() % 26);
    e += "\"}";
    e.resize(size);
    return e;
}

size_t queue_bytes(const benchmark::State& state) {
    return static_cast<size_t>(state.range(1)) << 20;
}

// The encoder's stand-in: the event with its sequence number in the first 8 bytes.
inline void encode(char* out, const std::string& event, uint64_t seq) {
    std::memcpy(out, event.data(), event.size());
    std::memcpy(out, &seq, sizeof seq);
}

// The sink's stand-in: checks the sequence number and reads every byte. False when the
// event is not the one expected.
inline bool consume(const char* p, size_t len, size_t expected_len, uint64_t expected_seq,
                    uint64_t& sum) {
    uint64_t seq;
    std::memcpy(&seq, p, sizeof seq);
    if (len != expected_len || seq != expected_seq) return false;
    uint64_t s = 0;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        std::memcpy(&w, p + i, 8);
        s += w;
    }
    for (; i < len; ++i)
        s += static_cast<unsigned char>(p[i]);
    sum += s;
    return true;
}

// Runs the producer on the benchmark thread and the consumer on its own thread.
// produce(seq) -> bool: false when the queue is full (retried).
// try_consume(expected_seq, sum) -> 1 consumed, 0 empty, -1 wrong event.
template <class Produce, class TryConsume>
void run_handoff(benchmark::State& state, Produce produce, TryConsume try_consume) {
    // Each counter on its own line: the consumer writes consumed every item and the producer
    // must not share that line with its own hot data.
    struct alignas(64) padded_counter {
        std::atomic<uint64_t> value{0};
    };
    padded_counter consumed;
    padded_counter stop;
    std::atomic<bool> corrupt{false};
    uint64_t checksum = 0;
    double consumer_cpu = 0;

    // One lap through the whole queue before the clock runs, so that neither queue pays for
    // first-touch page faults in the measurement (the ring touches its pages when built, the
    // queue when first written).
    uint64_t seq = 0;
    while (produce(seq))
        ++seq;
    for (uint64_t n = 0; n < seq; ++n) {
        if (try_consume(n, checksum) != 1) {
            state.SkipWithError("warm-up lap lost an event");
            return;
        }
    }
    consumed.value.store(seq, std::memory_order_relaxed);
    const uint64_t first = seq;

    state.counters["rtt_before_ns"] = round_trip_ns();

    const auto wall_start = std::chrono::steady_clock::now();
    const double producer_cpu_start = thread_cpu_seconds();
    std::thread consumer([&] {
        const double cpu_start = thread_cpu_seconds();
        uint64_t n = first, sum = 0;
        unsigned spins = 0;
        while (stop.value.load(std::memory_order_acquire) == 0) {
            const int r = try_consume(n, sum);
            if (r > 0) {
                ++n;
                spins = 0;
                consumed.value.store(n, std::memory_order_release);
            } else if (r < 0) {
                corrupt = true;
                consumed.value.store(UINT64_MAX, std::memory_order_release);
                break;
            } else {
                wait_a_little(spins);
            }
        }
        checksum = sum;
        consumer_cpu = thread_cpu_seconds() - cpu_start;
    });

    uint64_t full_waits = 0;
    for (auto _ : state) {
        const uint64_t end = seq + batch;
        for (; seq < end; ++seq) {
            unsigned spins = 0;
            while (!produce(seq)) {
                ++full_waits;
                if (corrupt.load(std::memory_order_relaxed)) break;
                wait_a_little(spins);
            }
        }
        uint64_t c;
        unsigned spins = 0;
        while ((c = consumed.value.load(std::memory_order_acquire)) != seq && c != UINT64_MAX)
            wait_a_little(spins);
        if (c == UINT64_MAX) break;
    }
    stop.value.store(1, std::memory_order_release);
    consumer.join();
    const double producer_cpu = thread_cpu_seconds() - producer_cpu_start;
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    state.counters["rtt_after_ns"] = round_trip_ns();
    if (corrupt) {
        state.SkipWithError("consumer saw a lost, repeated or torn event");
        return;
    }
    benchmark::DoNotOptimize(checksum);
    const uint64_t items = seq - first;
    state.SetItemsProcessed(static_cast<int64_t>(items));
    state.SetBytesProcessed(static_cast<int64_t>(items * state.range(0)));
    state.counters["full_waits/item"] =
        static_cast<double>(full_waits) / static_cast<double>(items);
    // Both threads spin or yield, so both are always runnable: a share well below 1 means
    // another process took one of the 2 cores during the run, and its time is noise.
    state.counters["cpu_share"] = (producer_cpu + consumer_cpu) / (2 * wall);
}

void ring(benchmark::State& state) {
    const size_t size = static_cast<size_t>(state.range(0));
    const std::string event = make_event(size);
    spsc_byte_ring q(queue_bytes(state));
    run_handoff(
        state,
        [&](uint64_t seq) {
            char* p = q.reserve(reserve_bytes);
            if (p == nullptr) return false;
            encode(p, event, seq);
            q.commit(size);
            return true;
        },
        [&](uint64_t expected, uint64_t& sum) {
            std::string_view v = q.peek();
            if (v.empty()) return 0;
            if (!consume(v.data(), v.size(), size, expected, sum)) return -1;
            q.release();
            return 1;
        });
}

template <size_t S> struct slot {
    uint32_t len;
    char bytes[S - sizeof(uint32_t)];

    slot() noexcept {} // uninitialised: a default slot is only ever assigned to
    slot(const std::string& event, uint64_t seq) noexcept
        : len(static_cast<uint32_t>(event.size())) {
        encode(bytes, event, seq);
    }
};

template <size_t S> void rwq_copy(benchmark::State& state) {
    const size_t size = static_cast<size_t>(state.range(0));
    const std::string event = make_event(size);
    moodycamel::ReaderWriterQueue<slot<S>> q(queue_bytes(state) / S);
    run_handoff(
        state, [&](uint64_t seq) { return q.try_emplace(event, seq); },
        [&](uint64_t expected, uint64_t& sum) {
            slot<S> local;
            if (!q.try_dequeue(local)) return 0;
            return consume(local.bytes, local.len, size, expected, sum) ? 1 : -1;
        });
}

template <size_t S> void rwq_peek(benchmark::State& state) {
    const size_t size = static_cast<size_t>(state.range(0));
    const std::string event = make_event(size);
    moodycamel::ReaderWriterQueue<slot<S>> q(queue_bytes(state) / S);
    run_handoff(
        state, [&](uint64_t seq) { return q.try_emplace(event, seq); },
        [&](uint64_t expected, uint64_t& sum) {
            const slot<S>* s = q.peek();
            if (s == nullptr) return 0;
            if (!consume(s->bytes, s->len, size, expected, sum)) return -1;
            q.pop();
            return 1;
        });
}

// The producer is the benchmark thread; real time, because its CPU time leaves out the
// consumer's.
BENCHMARK(ring)->ArgsProduct({{128, 512, 1500}, {1, 32}})->UseRealTime();
BENCHMARK_TEMPLATE(rwq_copy, 1024)->ArgsProduct({{128, 512}, {1, 32}})->UseRealTime();
BENCHMARK_TEMPLATE(rwq_copy, 2048)->ArgsProduct({{1500}, {1, 32}})->UseRealTime();
BENCHMARK_TEMPLATE(rwq_peek, 1024)->ArgsProduct({{128, 512}, {1, 32}})->UseRealTime();
BENCHMARK_TEMPLATE(rwq_peek, 2048)->ArgsProduct({{1500}, {1, 32}})->UseRealTime();

} // namespace

BENCHMARK_MAIN();
