#pragma once
// Creating a worker's io_uring, how a worker waits on it, and the one start-up probe of the
// kernel's io_uring support.
// Minimum kernel: 6.0 (multishot recv); 6.1 for DEFER_TASKRUN, else COOP_TASKRUN is used.

#include <cerrno>
#include <string>

#include <liburing.h>

namespace pixelring {

// Submission queue entries per worker; the completion queue is 8 times larger because
// multishot accept and recv post many completions per submission.
inline constexpr unsigned sq_entries = 1024;
inline constexpr unsigned cq_entries = 8 * sq_entries;

// Creates ring on the calling thread (SINGLE_ISSUER ties it to that thread). Returns 0, or a
// negative errno with error set to one clear message.
int setup_uring(io_uring& uring, std::string& error);

// The workers' wait policy, which bench/floor_server shares so that the floor waits as they do.
// Submits what is queued, then waits:
// - retry_ns > 0 (connections wait for room in the events ring): for one completion or
//   retry_ns, whichever comes first, to look at the ring again soon even if nothing completes;
// - busy (the last pass saw batch_threshold completions or more): for batch_wait_count
//   completions or batch_wait_ns, so that one kernel entry serves more requests.
//   pixel_load.sh keep-alive: 4-5 % less CPU per request and a lower p99;
// - idle: for one completion, however long.
// Returns what io_uring_submit_and_wait(_timeout) returns, with a timeout (-ETIME) as 0.
inline constexpr unsigned batch_threshold = 8;
inline constexpr unsigned batch_wait_count = 16;
inline constexpr long batch_wait_ns = 50'000; // the most a busy worker delays a completion

inline int submit_and_wait(io_uring& uring, unsigned last_seen, long retry_ns = 0) {
    unsigned want = 1;
    long wait_ns = retry_ns;
    if (retry_ns <= 0) {
        if (last_seen < batch_threshold) return io_uring_submit_and_wait(&uring, 1);
        want = batch_wait_count;
        wait_ns = batch_wait_ns;
    }
    io_uring_cqe* first = nullptr;
    __kernel_timespec ts{0, wait_ns};
    const int ret = io_uring_submit_and_wait_timeout(&uring, &first, want, &ts, nullptr);
    return ret == -ETIME ? 0 : ret;
}

// Hands every completion ready on uring to handle(cqe), in order, then marks them all seen.
// Returns how many there were: the last_seen of the next submit_and_wait.
template <class Handler> inline unsigned for_each_completion(io_uring& uring, Handler&& handle) {
    unsigned head;
    unsigned seen = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&uring, head, cqe) {
        ++seen;
        handle(cqe);
    }
    io_uring_cq_advance(&uring, seen);
    return seen;
}

// Probes the running kernel once, on the main thread, for every io_uring feature a worker
// needs. Returns an empty string, or a message naming what is missing.
std::string probe_io_uring();

} // namespace pixelring
