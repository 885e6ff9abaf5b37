// spsc_byte_ring: single-thread semantics, then a two-thread hammer that checks the order and
// every byte of a few million records. Built and run under TSan by CI (label tsan).

#include "core/spsc_ring.hh"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace pixelring {
namespace {

constexpr size_t header = 8; // the ring's record header, see spsc_ring.hh

size_t record_bytes(size_t len) {
    return header + ((len + 7) & ~size_t{7});
}

// Pushes one record holding `text`; fails the test when the ring has no room.
void push(spsc_byte_ring& ring, std::string_view text) {
    char* p = ring.reserve(text.size());
    ASSERT_NE(p, nullptr) << "no room for " << text.size() << " bytes";
    std::memcpy(p, text.data(), text.size());
    ring.commit(text.size());
}

// Pops one record and returns its bytes; "" when the ring is empty.
std::string pop(spsc_byte_ring& ring) {
    std::string_view v = ring.peek();
    std::string out(v);
    if (!v.empty()) ring.release();
    return out;
}

TEST(spsc_byte_ring, capacity_is_a_power_of_two_of_at_least_4096) {
    EXPECT_EQ(spsc_byte_ring(0).capacity(), 4096u);
    EXPECT_EQ(spsc_byte_ring(1).capacity(), 4096u);
    EXPECT_EQ(spsc_byte_ring(4096).capacity(), 4096u);
    EXPECT_EQ(spsc_byte_ring(4097).capacity(), 8192u);
    EXPECT_EQ(spsc_byte_ring(1 << 20).capacity(), size_t{1} << 20);
    EXPECT_EQ(spsc_byte_ring((1 << 20) + 1).capacity(), size_t{2} << 20);
}

TEST(spsc_byte_ring, empty_ring) {
    spsc_byte_ring ring(4096);
    EXPECT_TRUE(ring.peek().empty());
    ring.release(); // nothing peeked: a no-op
    EXPECT_EQ(ring.used_bytes(), 0u);
    EXPECT_TRUE(ring.peek().empty());
}

TEST(spsc_byte_ring, fifo_order_and_content) {
    spsc_byte_ring ring(4096);
    std::vector<std::string> sent;
    for (int i = 0; i < 20; ++i)
        sent.push_back(std::string(1 + i * 7, static_cast<char>('a' + i)) + std::to_string(i));
    size_t expected_used = 0;
    for (const auto& s : sent) {
        push(ring, s);
        expected_used += record_bytes(s.size());
    }
    EXPECT_EQ(ring.used_bytes(), expected_used);
    for (const auto& s : sent)
        EXPECT_EQ(pop(ring), s);
    EXPECT_TRUE(ring.peek().empty());
    EXPECT_EQ(ring.used_bytes(), 0u);
}

TEST(spsc_byte_ring, records_are_8_byte_aligned) {
    spsc_byte_ring ring(4096);
    for (size_t len = 1; len < 40; ++len) {
        char* p = ring.reserve(len);
        ASSERT_NE(p, nullptr);
        EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 8, 0u) << len;
        std::memset(p, 'x', len);
        ring.commit(len);
        std::string_view v = ring.peek();
        EXPECT_EQ(reinterpret_cast<uintptr_t>(v.data()), reinterpret_cast<uintptr_t>(p));
        EXPECT_EQ(v.size(), len);
        ring.release();
    }
}

TEST(spsc_byte_ring, peek_returns_the_same_record_until_release) {
    spsc_byte_ring ring(4096);
    push(ring, "first");
    push(ring, "second");
    std::string_view a = ring.peek();
    std::string_view b = ring.peek();
    EXPECT_EQ(a, "first");
    EXPECT_EQ(a.data(), b.data());
    ring.release();
    EXPECT_EQ(ring.peek(), "second");
    ring.release();
    EXPECT_TRUE(ring.peek().empty());
}

TEST(spsc_byte_ring, wrap_marker_moves_a_record_to_the_start) {
    // 4 records of 1000 bytes take 4 x 1008 = 4032 bytes; 64 are left at the end.
    spsc_byte_ring ring(4096);
    const std::string r0(1000, '0'), r1(1000, '1'), r2(1000, '2'), r3(1000, '3');
    push(ring, r0);
    const char* start = ring.peek().data(); // offset 0 of the buffer, after the header
    push(ring, r1);
    push(ring, r2);
    push(ring, r3);
    EXPECT_EQ(ring.used_bytes(), 4032u);
    EXPECT_EQ(pop(ring), r0); // frees 1008 bytes at the start: 1072 free in all

    // 1001 bytes need a 1016-byte record: 1072 bytes are free, but not contiguously. Only
    // the 64 at the end plus 1008 at the start are, and the 64 are lost to the wrap marker.
    EXPECT_EQ(ring.reserve(1001), nullptr);
    // 1000 bytes need exactly 64 + 1008 = 1072.
    char* p = ring.reserve(1000);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p, start);
    const std::string r4(1000, '4');
    std::memcpy(p, r4.data(), r4.size());
    ring.commit(r4.size());
    EXPECT_EQ(ring.used_bytes(), 4096u); // the padding counts until the consumer passes it
    EXPECT_EQ(ring.reserve(1), nullptr);

    EXPECT_EQ(pop(ring), r1);
    EXPECT_EQ(pop(ring), r2);
    EXPECT_EQ(ring.used_bytes(), 64u + 1008 + 1008);
    EXPECT_EQ(pop(ring), r3);
    EXPECT_EQ(ring.used_bytes(), 64u + 1008);
    std::string_view v = ring.peek(); // skips the marker
    EXPECT_EQ(v.data(), start);
    EXPECT_EQ(v, r4);
    ring.release();
    EXPECT_EQ(ring.used_bytes(), 0u);
    EXPECT_TRUE(ring.peek().empty());
}

TEST(spsc_byte_ring, full_returns_nullptr_and_recovers_after_release) {
    spsc_byte_ring ring(4096);
    const std::string r(100, 'r'); // 112-byte records: 36 fit, 64 bytes are left at the end
    int pushed = 0;
    const char* start = nullptr;
    while (char* p = ring.reserve(r.size())) {
        if (start == nullptr) start = p;
        std::memcpy(p, r.data(), r.size());
        ring.commit(r.size());
        ++pushed;
        ASSERT_LT(pushed, 100);
    }
    EXPECT_EQ(pushed, 36);
    EXPECT_EQ(ring.used_bytes(), 36u * 112);
    EXPECT_EQ(ring.reserve(57), nullptr); // 72 bytes > 64: would wrap onto unreleased records
    EXPECT_NE(ring.reserve(56), nullptr); // 64 bytes: fits exactly at the end
    EXPECT_EQ(pop(ring), r);
    char* p = ring.reserve(r.size()); // wraps: 64 bytes of padding + 112 at the start
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p, start);
    std::memcpy(p, "wrapped", 7);
    ring.commit(7);
    EXPECT_EQ(ring.used_bytes(), 35u * 112 + 64 + 16);
    for (int i = 0; i < 35; ++i)
        ASSERT_EQ(pop(ring), r);
    EXPECT_EQ(pop(ring), "wrapped");
    EXPECT_EQ(ring.used_bytes(), 0u);
}

TEST(spsc_byte_ring, full_returns_nullptr_even_for_the_smallest_record) {
    spsc_byte_ring ring(4096);
    const std::string r(8, 'r'); // 16-byte records fill the ring exactly
    for (int i = 0; i < 256; ++i)
        push(ring, r);
    EXPECT_EQ(ring.used_bytes(), 4096u);
    EXPECT_EQ(ring.reserve(1), nullptr);
    EXPECT_EQ(ring.reserve(0), nullptr);
    EXPECT_EQ(pop(ring), r);
    push(ring, "again"); // 16 bytes free again, at offset 0
    EXPECT_EQ(ring.reserve(1), nullptr);
    for (int i = 0; i < 255; ++i)
        EXPECT_EQ(pop(ring), r);
    EXPECT_EQ(pop(ring), "again");
    EXPECT_EQ(ring.used_bytes(), 0u);
}

TEST(spsc_byte_ring, commit_shorter_than_reserved) {
    spsc_byte_ring ring(4096);
    char* p = ring.reserve(1000);
    ASSERT_NE(p, nullptr);
    std::memcpy(p, "0123456789", 10);
    ring.commit(10);
    EXPECT_EQ(ring.used_bytes(), record_bytes(10));
    char* q = ring.reserve(3);
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(q, p + 16 + header) << "the next record follows the committed length";
    std::memcpy(q, "abc", 3);
    ring.commit(3);
    EXPECT_EQ(pop(ring), "0123456789");
    EXPECT_EQ(pop(ring), "abc");
}

TEST(spsc_byte_ring, short_commit_of_a_large_reservation_in_a_full_ring) {
    // The free space is checked against max_len; the space taken is the committed length.
    spsc_byte_ring ring(4096);
    push(ring, std::string(2000, 'a'));     // 2008 bytes
    push(ring, std::string(1000, 'b'));     // 1008 bytes; 1080 left, all at the end
    EXPECT_EQ(ring.reserve(1073), nullptr); // 1088 bytes
    ASSERT_NE(ring.reserve(1072), nullptr); // 1080 bytes
    ring.commit(5);
    EXPECT_EQ(ring.used_bytes(), 2008u + 1008 + 16);
    EXPECT_NE(ring.reserve(1056), nullptr); // 1064 bytes: the rest
    EXPECT_EQ(pop(ring), std::string(2000, 'a'));
    EXPECT_EQ(pop(ring), std::string(1000, 'b'));
    EXPECT_EQ(pop(ring).size(), 5u);
    EXPECT_EQ(ring.used_bytes(), 0u);
}

TEST(spsc_byte_ring, abandoned_reservation_publishes_nothing) {
    spsc_byte_ring ring(4096);
    char* p = ring.reserve(100);
    ASSERT_NE(p, nullptr);
    std::memset(p, 'x', 100);
    EXPECT_TRUE(ring.peek().empty());
    EXPECT_EQ(ring.used_bytes(), 0u);
    char* q = ring.reserve(50); // abandons the first
    EXPECT_EQ(q, p);
    std::memcpy(q, "kept", 4);
    ring.commit(4);
    EXPECT_EQ(ring.used_bytes(), record_bytes(4));
    EXPECT_EQ(pop(ring), "kept");

    // commit(0) publishes nothing either.
    ASSERT_NE(ring.reserve(10), nullptr);
    ring.commit(0);
    EXPECT_TRUE(ring.peek().empty());
    EXPECT_EQ(ring.used_bytes(), 0u);
}

TEST(spsc_byte_ring, abandoned_wrapping_reservation_leaves_no_marker) {
    spsc_byte_ring ring(4096);
    for (int i = 0; i < 4; ++i)
        push(ring, std::string(1000, static_cast<char>('0' + i))); // head at 4032
    for (int i = 0; i < 4; ++i)
        pop(ring);
    char* wrapped = ring.reserve(100); // does not fit into the last 64 bytes
    ASSERT_NE(wrapped, nullptr);
    std::memset(wrapped, 'w', 100);
    char* tail_end = ring.reserve(56); // abandons it; 8 + 56 fits exactly at the end
    ASSERT_NE(tail_end, nullptr);
    EXPECT_EQ(tail_end, wrapped + 4032);
    std::memset(tail_end, 'e', 56);
    ring.commit(56);
    EXPECT_EQ(ring.used_bytes(), 64u);
    EXPECT_EQ(pop(ring), std::string(56, 'e'));
    EXPECT_TRUE(ring.peek().empty());
    push(ring, "after"); // at offset 0, no marker needed
    EXPECT_EQ(ring.peek().data(), wrapped);
    EXPECT_EQ(pop(ring), "after");
}

TEST(spsc_byte_ring, max_record) {
    spsc_byte_ring small(4096);
    EXPECT_EQ(small.max_record(), 2048u - header);
    EXPECT_EQ(small.reserve(small.max_record() + 1), nullptr);
    spsc_byte_ring large(1 << 20);
    EXPECT_EQ(large.max_record(), (size_t{1} << 19) - header);
    EXPECT_EQ(large.reserve(large.max_record() + 1), nullptr);
    EXPECT_NE(large.reserve(large.max_record()), nullptr);
}

TEST(spsc_byte_ring, max_record_fits_an_empty_ring_at_every_offset) {
    // Whatever the offset of the indices, an empty ring must grant max_record(), wrap marker
    // included; a ring that cannot would drop every event of that size forever.
    for (size_t offset = 0; offset < 4096; offset += 8) {
        if (offset == 8)
            continue; // never a record boundary: records are at least 16 bytes and never wrap
        spsc_byte_ring ring(4096);
        size_t moved = 0;
        if ((offset / 8) % 2 == 1) {
            push(ring, std::string(9, 'o')); // 24 bytes
            moved = 24;
        }
        while (moved < offset) {
            push(ring, "16byte"); // 16 bytes
            moved += 16;
        }
        while (!pop(ring).empty()) {
        }
        ASSERT_EQ(ring.used_bytes(), 0u);
        const size_t max = ring.max_record();
        char* p = ring.reserve(max);
        ASSERT_NE(p, nullptr) << "offset " << offset;
        std::memset(p, 'm', max);
        ring.commit(max);
        std::string_view v = ring.peek();
        ASSERT_EQ(v.size(), max) << "offset " << offset;
        EXPECT_EQ(v.find_first_not_of('m'), std::string_view::npos);
        ring.release();
        EXPECT_EQ(ring.used_bytes(), 0u);
    }
}

// ---- two threads ---------------------------------------------------------------------------

uint64_t mix(uint64_t x) { // splitmix64's finaliser
    x += 0x9e3779b97f4a7c15;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
    x = (x ^ (x >> 27)) * 0x94d049bb133111eb;
    return x ^ (x >> 31);
}

size_t length_of(uint64_t seq) {
    return 1 + mix(seq) % 2000;
}

// Record seq's bytes: 64-bit words that depend on the sequence number and the position, so a
// record that is lost, repeated, reordered, torn or overwritten does not match.
void fill(char* out, uint64_t seq, size_t len) {
    const uint64_t base = mix(seq ^ 0x5bd1e995);
    for (size_t i = 0; i < len; i += 8) {
        const uint64_t word = base + i * 0x9e3779b97f4a7c15;
        std::memcpy(out + i, &word, std::min<size_t>(8, len - i));
    }
}

// Records through the 64 KiB ring, sized for a few seconds on 2 idle cores in each build; the
// 4 KiB ring, which hands over every few records, gets a quarter of them.
#if defined(__SANITIZE_THREAD__)
constexpr uint64_t hammer_records = 400'000; // TSan is ~10x slower
#elif defined(__SANITIZE_ADDRESS__)
constexpr uint64_t hammer_records = 600'000; // the ASan build is also unoptimised
#else
constexpr uint64_t hammer_records = 2'000'000;
#endif
// Waiting for the other side: yield first, then sleep, so that a side that waits does not
// take the CPU from the one it waits for when both share a core (a loaded CI machine).
void back_off(unsigned& tries) {
    if (++tries < 16)
        std::this_thread::yield();
    else
        std::this_thread::sleep_for(std::chrono::microseconds(20));
}

// Fails the test instead of hanging when a bug loses a record or never frees room.
constexpr auto hammer_deadline = std::chrono::seconds(120);

class spsc_byte_ring_hammer : public ::testing::TestWithParam<size_t> {};

TEST_P(spsc_byte_ring_hammer, producer_and_consumer_agree_on_every_byte) {
    spsc_byte_ring ring(GetParam());
    const uint64_t records = GetParam() <= 4096 ? hammer_records / 4 : hammer_records;
    ASSERT_GE(ring.max_record(), 2000u);
    const auto deadline = std::chrono::steady_clock::now() + hammer_deadline;
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> full_waits{0};

    std::thread producer([&] {
        uint64_t waits = 0;
        for (uint64_t seq = 0; seq < records && !stop.load(std::memory_order_relaxed); ++seq) {
            const size_t len = length_of(seq);
            const uint64_t h = mix(~seq);
            // Reserve a little more than needed and commit the real length, as the encoder
            // does; now and then abandon a reservation first.
            const size_t max_len = std::min(len + (h >> 8) % 64, ring.max_record());
            if (h % 16 == 0) {
                if (char* junk = ring.reserve((h >> 16) % ring.max_record()))
                    std::memset(junk, 0xee, 8);
            }
            char* p;
            unsigned tries = 0;
            while ((p = ring.reserve(max_len)) == nullptr) {
                if (stop.load(std::memory_order_relaxed)) return;
                if (++waits % 1024 == 0 && std::chrono::steady_clock::now() > deadline) {
                    stop = true;
                    return;
                }
                back_off(tries);
            }
            fill(p, seq, len);
            ring.commit(len);
        }
        full_waits = waits;
    });

    // A third thread reads used_bytes() while both sides run, as the metrics thread will.
    std::thread observer([&] {
        while (!stop.load(std::memory_order_relaxed)) {
            const size_t used = ring.used_bytes();
            if (used > ring.capacity() || used % 8 != 0) {
                ADD_FAILURE() << "used_bytes " << used;
                stop = true;
            }
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
    });

    std::string failure;
    std::vector<char> expected(2000);
    uint64_t idle = 0;
    unsigned tries = 0;
    uint64_t seq = 0;
    while (seq < records && failure.empty()) {
        std::string_view v = ring.peek();
        if (v.empty()) {
            if (stop.load(std::memory_order_relaxed)) {
                failure = "stopped early (deadline or used_bytes)";
            } else if (++idle % 1024 == 0 && std::chrono::steady_clock::now() > deadline) {
                failure = "deadline passed";
            }
            back_off(tries);
            continue;
        }
        tries = 0;
        const size_t len = length_of(seq);
        if (v.size() != len) {
            failure = "record " + std::to_string(seq) + ": " + std::to_string(v.size()) +
                      " bytes, expected " + std::to_string(len);
            break;
        }
        fill(expected.data(), seq, len);
        if (std::memcmp(v.data(), expected.data(), len) != 0) {
            size_t i = 0;
            while (v[i] == expected[i])
                ++i;
            failure = "record " + std::to_string(seq) + " of " + std::to_string(len) +
                      " bytes differs at byte " + std::to_string(i);
            break;
        }
        ring.release();
        ++seq;
    }
    stop = true;
    producer.join();
    observer.join();

    EXPECT_EQ(failure, "");
    EXPECT_EQ(seq, records);
    EXPECT_TRUE(ring.peek().empty()) << "a record after the last one";
    EXPECT_EQ(ring.used_bytes(), 0u);
    // Not asserted (timing-dependent), but shows that the full path ran.
    RecordProperty("full_waits", std::to_string(full_waits.load()));
    std::printf("capacity %zu: %llu records, %llu producer waits on a full ring\n", ring.capacity(),
                static_cast<unsigned long long>(seq),
                static_cast<unsigned long long>(full_waits.load()));
}

// 4 KiB: almost every record wraps or waits for room; 64 KiB: long runs without either.
INSTANTIATE_TEST_SUITE_P(capacities, spsc_byte_ring_hammer,
                         ::testing::Values(size_t{4096}, size_t{64} << 10));

} // namespace
} // namespace pixelring
