// io_uring set-up shared by the workers and the start-up probe.
// io_uring features: SINGLE_ISSUER|DEFER_TASKRUN (6.1) with a COOP_TASKRUN|TASKRUN_FLAG
// fallback (5.19), CQSIZE, SUBMIT_ALL, the opcode probe, provided buffer rings (5.19).

#include "net/uring/uring_setup.hh"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace pixelring {

int setup_uring(io_uring& uring, std::string& error) {
    io_uring_params p{};
    p.cq_entries = cq_entries;
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER |
              IORING_SETUP_DEFER_TASKRUN;
    int ret = io_uring_queue_init_params(sq_entries, &uring, &p);
    if (ret == -EINVAL) {
        // Kernels before 6.1 lack DEFER_TASKRUN.
        p = {};
        p.cq_entries = cq_entries;
        p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN |
                  IORING_SETUP_TASKRUN_FLAG;
        ret = io_uring_queue_init_params(sq_entries, &uring, &p);
    }
    if (ret < 0) {
        error = fmt::format("io_uring_queue_init: {}", std::strerror(-ret));
        return ret;
    }
    if (!(p.features & IORING_FEAT_NODROP) || !(p.features & IORING_FEAT_FAST_POLL) ||
        !(p.features & IORING_FEAT_SUBMIT_STABLE)) {
        error = "io_uring lacks IORING_FEAT_NODROP, FAST_POLL or SUBMIT_STABLE (kernel >= 5.7 "
                "needed)";
        io_uring_queue_exit(&uring);
        return -EOPNOTSUPP;
    }
    return 0;
}

std::string probe_io_uring() {
    io_uring uring;
    std::string error;
    if (setup_uring(uring, error) < 0) return error;
    io_uring_probe* probe = io_uring_get_probe_ring(&uring);
    if (!probe) {
        io_uring_queue_exit(&uring);
        return "io_uring opcode probe failed (kernel >= 5.6 needed)";
    }
    struct needed {
        int op;
        const char* name;
    };
    static constexpr needed ops[] = {
        {IORING_OP_ACCEPT, "IORING_OP_ACCEPT"},   {IORING_OP_RECV, "IORING_OP_RECV"},
        {IORING_OP_SEND, "IORING_OP_SEND"},       {IORING_OP_SENDMSG, "IORING_OP_SENDMSG"},
        {IORING_OP_TIMEOUT, "IORING_OP_TIMEOUT"}, {IORING_OP_READ, "IORING_OP_READ"}};
    for (const needed& n : ops) {
        if (!io_uring_opcode_supported(probe, n.op)) {
            io_uring_free_probe(probe);
            io_uring_queue_exit(&uring);
            return fmt::format("io_uring: opcode {} not supported by this kernel", n.name);
        }
    }
    io_uring_free_probe(probe);
    // A provided buffer ring (5.19) is what multishot recv (6.0) reads into.
    void* mem = nullptr;
    if (posix_memalign(&mem, 4096, 4096) != 0) {
        io_uring_queue_exit(&uring);
        return "out of memory";
    }
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uintptr_t>(mem);
    reg.ring_entries = 8;
    reg.bgid = 0;
    int ret = io_uring_register_buf_ring(&uring, &reg, 0);
    if (ret == 0) io_uring_unregister_buf_ring(&uring, 0);
    free(mem);
    io_uring_queue_exit(&uring);
    if (ret < 0)
        return fmt::format("io_uring: provided buffer rings (IORING_REGISTER_PBUF_RING, kernel "
                           ">= 5.19, and multishot recv, kernel >= 6.0) unavailable: {}",
                           std::strerror(-ret));
    return {};
}

} // namespace pixelring
