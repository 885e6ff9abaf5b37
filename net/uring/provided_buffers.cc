#include "net/uring/provided_buffers.hh"

#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace pixelring {

provided_buffers::~provided_buffers() {
    free(buf_ring_);
    free(base_);
}

std::string provided_buffers::init(io_uring& uring) {
    void* mem = nullptr;
    if (posix_memalign(&mem, 4096, count * sizeof(io_uring_buf)) != 0)
        return "out of memory for the buffer uring";
    buf_ring_ = static_cast<io_uring_buf_ring*>(mem);
    io_uring_buf_ring_init(buf_ring_);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uintptr_t>(buf_ring_);
    reg.ring_entries = count;
    reg.bgid = group;
    int ret = io_uring_register_buf_ring(&uring, &reg, 0);
    if (ret < 0) return fmt::format("io_uring_register_buf_ring: {}", std::strerror(-ret));
    void* bufs = nullptr;
    if (posix_memalign(&bufs, 4096, size_t(count) * size) != 0)
        return "out of memory for receive buffers";
    base_ = static_cast<char*>(bufs);
    for (unsigned i = 0; i < count; ++i)
        recycle(i);
    publish();
    return {};
}

} // namespace pixelring
