#pragma once
// Creating a worker's io_uring, and the one start-up probe of the kernel's io_uring support.
// Minimum kernel: 6.0 (multishot recv); 6.1 for DEFER_TASKRUN, else COOP_TASKRUN is used.

#include <string>

#include <liburing.h>

namespace pixelring {

// Submission queue entries per worker; the completion queue is 8 times larger because
// multishot accept and recv post many completions per submission.
inline constexpr unsigned sq_entries = 1024;
inline constexpr unsigned cq_entries = 8 * sq_entries;

// Creates ring on the calling thread (SINGLE_ISSUER ties it to that thread). Returns 0, or a
// negative errno with error set to one clear message.
int setup_ring(io_uring& ring, std::string& error);

// Probes the running kernel once, on the main thread, for every io_uring feature a worker
// needs. Returns an empty string, or a message naming what is missing.
std::string probe_io_uring();

} // namespace pixelring
