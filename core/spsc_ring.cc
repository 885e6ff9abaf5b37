#include "core/spsc_ring.hh"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

// Index scheme: head_ and tail_ count bytes since construction and are never masked, so
// head_ - tail_ is the number of bytes held and "full" and "empty" need no extra flag. A
// 64-bit byte count does not wrap in the life of a process. The byte at index i lives at
// data_[i & mask_].
//
// Memory ordering: the producer writes a record (payload, header, an optional wrap marker)
// with plain stores and publishes it with a release store of head_; the consumer's acquire
// load of head_ makes those bytes visible. In the other direction the consumer's release
// store of tail_ tells the producer, through its acquire load, that the consumer has finished
// reading the bytes below tail_, so they may be overwritten. Each side reads its own index
// relaxed: only it writes that index.

namespace pixelring {

namespace {

constexpr size_t min_capacity = 4096;
// Rings of at least one transparent huge page are aligned to it and advised as huge, so a
// large ring costs one TLB entry per 2 MiB instead of 512. Only a hint: without THP the
// kernel ignores it.
constexpr size_t huge_page_bytes = size_t{2} << 20;

constexpr size_t align8(size_t n) noexcept {
    return (n + 7) & ~size_t{7};
}

} // namespace

spsc_byte_ring::spsc_byte_ring(size_t capacity) {
    capacity = std::max(capacity, min_capacity);
    if (capacity > (size_t{1} << 62)) throw std::length_error("spsc_byte_ring: capacity too large");
    capacity = std::bit_ceil(capacity);
    const size_t alignment = capacity >= huge_page_bytes ? huge_page_bytes : 64;
    data_ = static_cast<char*>(std::aligned_alloc(alignment, capacity));
    if (data_ == nullptr) throw std::bad_alloc();
    if (alignment == huge_page_bytes)
        ::madvise(data_, capacity, MADV_HUGEPAGE); // a hint; failure changes nothing
    // Pages are not touched here: each is faulted in once, on the worker's first pass around
    // the ring (one fault per 2 MiB with huge pages). Touching them up front would make an
    // idle collector on a 64-CPU machine hold 64 x ring_bytes of memory.
    mask_ = capacity - 1;
}

spsc_byte_ring::~spsc_byte_ring() {
    std::free(data_);
}

size_t spsc_byte_ring::max_record() const noexcept {
    // A record that does not fit before the end of the buffer wastes the space there (less
    // than the record's own size) on a wrap marker. A record of at most half the capacity
    // therefore always fits into an empty ring, whatever the position of the indices; a larger
    // one might never fit. The header stores the length in 32 bits, wrap_marker excluded.
    return std::min(capacity() / 2 - header_bytes, size_t{wrap_marker} - 1);
}

char* spsc_byte_ring::reserve(size_t max_len) noexcept {
    reserved_len_ = SIZE_MAX;
    if (max_len > max_record()) return nullptr;
    const uint64_t head = head_.load(std::memory_order_relaxed);
    const size_t pos = head & mask_;
    const size_t to_end = capacity() - pos; // a multiple of 8, so a marker always fits
    const size_t need = header_bytes + align8(max_len);
    uint64_t start = head;
    if (need > to_end)
        start = head + to_end; // the record goes to offset 0, the rest of the buffer is padding
    const uint64_t end = start + need;
    if (end - cached_tail_ > capacity()) {
        // Looks full: only now fetch the consumer's index, so that a producer with room does
        // not touch the consumer's cache line at all.
        cached_tail_ = tail_.load(std::memory_order_acquire);
        if (end - cached_tail_ > capacity()) return nullptr;
    }
    reserved_at_ = start;
    reserved_len_ = max_len;
    return data_ + (start & mask_) + header_bytes;
}

void spsc_byte_ring::commit(size_t len) noexcept {
    assert(reserved_len_ != SIZE_MAX && "commit without a successful reserve");
    assert(len <= reserved_len_ && "commit longer than the reservation");
    reserved_len_ = SIZE_MAX;
    if (len == 0) return;
    const uint64_t head = head_.load(std::memory_order_relaxed);
    if (reserved_at_ != head) {
        // The reservation wrapped. The marker is written only now, so that an abandoned
        // reservation leaves the ring untouched.
        const uint32_t marker = wrap_marker;
        std::memcpy(data_ + (head & mask_), &marker, sizeof marker);
    }
    const uint32_t header = static_cast<uint32_t>(len);
    std::memcpy(data_ + (reserved_at_ & mask_), &header, sizeof header);
    head_.store(reserved_at_ + header_bytes + align8(len), std::memory_order_release);
}

std::string_view spsc_byte_ring::peek() noexcept {
    uint64_t tail = tail_.load(std::memory_order_relaxed);
    for (;;) {
        if (tail == cached_head_) {
            // Looks empty: only now fetch the producer's index (see reserve).
            cached_head_ = head_.load(std::memory_order_acquire);
            if (tail == cached_head_) {
                peeked_end_ = tail;
                return {};
            }
        }
        const size_t pos = tail & mask_;
        uint32_t len;
        std::memcpy(&len, data_ + pos, sizeof len);
        if (len == wrap_marker) {
            // Skipped locally; tail_ moves past the padding together with the record that
            // follows it, in release().
            tail += capacity() - pos;
            continue;
        }
        peeked_end_ = tail + header_bytes + align8(len);
        return {data_ + pos + header_bytes, len};
    }
}

void spsc_byte_ring::release() noexcept {
    tail_.store(peeked_end_, std::memory_order_release);
}

size_t spsc_byte_ring::used_bytes() const noexcept {
    // tail first: both indices only grow, so a head read after the tail is at least that
    // tail and the difference cannot go negative. The acquire (a plain load on x86) makes
    // the head_ the consumer had seen when it stored that tail visible here too. Between the two
    // loads the other threads may move on, hence the clamp.
    const uint64_t tail = tail_.load(std::memory_order_acquire);
    const uint64_t head = head_.load(std::memory_order_relaxed);
    return std::min<uint64_t>(head - tail, capacity());
}

} // namespace pixelring
