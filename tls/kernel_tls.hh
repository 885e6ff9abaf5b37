#pragma once
// Whether the kernel could encrypt TLS records itself (kernel TLS: the "tls" upper-layer
// protocol of TCP), probed once at start for the log and /metrics. pixelring encrypts in user
// space either way: its OpenSSL sessions work on the worker's buffers (tls/tls_session.hh),
// not on the socket, so no session keys are handed to the kernel.

#include <string>

namespace pixelring {

struct kernel_tls_probe {
    bool offered = false; // the kernel lists "tls" among its upper-layer protocols
    std::string log_line; // what the start-up log says
};

// Reads the kernel's list of TCP upper-layer protocols (path: for tests).
kernel_tls_probe probe_kernel_tls(const char* path = "/proc/sys/net/ipv4/tcp_available_ulp");

} // namespace pixelring
