#pragma once
// A bounded single-producer single-consumer byte ring of variable-length records: a worker
// reserves room, encodes an event straight into it and commits it; the sink thread reads
// records in place and releases them. Lock-free, wait-free on both sides; never blocks.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace pixelring {

class spsc_byte_ring {
public:
    // capacity: bytes, a power of two (rounded up), at least 4096. Allocates once.
    explicit spsc_byte_ring(size_t capacity);
    ~spsc_byte_ring();
    spsc_byte_ring(const spsc_byte_ring&) = delete;
    spsc_byte_ring& operator=(const spsc_byte_ring&) = delete;

    // Producer thread only. Returns room for a record of up to max_len contiguous bytes, or
    // nullptr when the ring has not that much free space. Calling reserve again without
    // commit abandons the previous reservation. The worker stops reading requests while the
    // free space is below its reserve and goes on once the sink has drained the ring
    // (net/worker/worker_input.cc, event_ring_short and wait_for_event_ring), so a nullptr, which
    // it counts as ring_full, is left for events that need more than the room its check saw: a
    // request whose events need more than the reserve, a record over max_record(), or a beacon
    // whose body arrived after the check while other requests took the room.
    char* reserve(size_t max_len) noexcept;
    // Producer thread only. Publishes the reserved record with its real length
    // (len <= the max_len given to reserve). commit(0) publishes nothing, like an abandoned
    // reservation: an empty record could not be told apart from peek()'s "no record".
    void commit(size_t len) noexcept;

    // Consumer thread only. The oldest record, or an empty view when there is none. The view
    // stays valid until release().
    std::string_view peek() noexcept;
    // Consumer thread only. Frees the record returned by the last peek().
    void release() noexcept;

    // Any thread: bytes currently held (records, headers and padding). Approximate while
    // the other threads run.
    size_t used_bytes() const noexcept;
    size_t capacity() const noexcept { return mask_ + 1; }
    // The largest max_len reserve() can ever grant.
    size_t max_record() const noexcept;

private:
    // Every record starts with an 8-byte header whose first 4 bytes hold the payload length;
    // records start on 8-byte boundaries. A header holding wrap_marker means "the rest of the
    // buffer is padding, continue at offset 0": a record never wraps, so peek() can hand out
    // one contiguous view.
    static constexpr size_t header_bytes = 8;
    static constexpr uint32_t wrap_marker = 0xffffffff;

    // Written once by the constructor, read by both sides.
    char* data_;
    size_t mask_;
    // Producer and consumer indices live on their own cache lines so that each side writes
    // only its own line; each side also keeps a cached copy of the other's index.
    alignas(64) std::atomic<uint64_t> head_{0}; // next byte the producer writes
    uint64_t cached_tail_ = 0;
    uint64_t reserved_at_ = 0; // where the reserved record's header goes (after any wrap)
    // max_len of the open reservation, SIZE_MAX when there is none; only commit's assert reads it.
    size_t reserved_len_ = SIZE_MAX;
    alignas(64) std::atomic<uint64_t> tail_{0}; // next byte the consumer reads
    uint64_t cached_head_ = 0;
    uint64_t peeked_end_ = 0; // tail_ after release(): end of the last peeked record
    // Keeps whatever is allocated after the ring off the consumer's line.
    alignas(64) char pad_[1] = {};
};

} // namespace pixelring
