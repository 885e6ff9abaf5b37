#pragma once
// The receive buffers a worker lends the kernel for multishot recv: a provided buffer ring
// (IORING_REGISTER_PBUF_RING, kernel 5.19, registered with the liburing 2.3 API). One per
// worker, used by its thread only.

#include <cstddef>
#include <cstdint>
#include <string>

#include <liburing.h>

namespace pixelring {

class provided_buffers {
public:
    static constexpr unsigned count = 256;  // power of two
    static constexpr unsigned size = 16384; // holds 16 pipelined pixel requests
    static constexpr uint16_t group = 0;    // the buffer group recv selects from

    provided_buffers() = default;
    ~provided_buffers();
    provided_buffers(const provided_buffers&) = delete;
    provided_buffers& operator=(const provided_buffers&) = delete;

    // Allocates the buffers, registers the ring with ring and lends every buffer to the
    // kernel. Returns an empty string or an error message.
    std::string init(io_uring& uring);

    char* data(unsigned bid) const noexcept { return base_ + size_t(bid) * size; }

    // Gives buffer bid back to the kernel; visible to it after publish().
    void recycle(unsigned bid) noexcept {
        io_uring_buf_ring_add(buf_ring_, data(bid), size, uint16_t(bid),
                              io_uring_buf_ring_mask(count), int(pending_));
        ++pending_;
    }
    // Publishes every recycle() since the last call: one store per completion batch.
    void publish() noexcept {
        if (!pending_) return;
        io_uring_buf_ring_advance(buf_ring_, int(pending_));
        pending_ = 0;
    }

private:
    io_uring_buf_ring* buf_ring_ = nullptr;
    char* base_ = nullptr;
    unsigned pending_ = 0;
};

} // namespace pixelring
