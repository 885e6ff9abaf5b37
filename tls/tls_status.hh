#pragma once
// What /metrics says about the HTTPS certificates: each one's expiry time, and certificate
// reloads (SIGHUP) by result. Set by the main thread at start and on each reload, read by
// the admin thread when /metrics is asked for; a mutex between those two (no worker takes it).

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "tls/tls_context.hh"

namespace pixelring {

class tls_status {
public:
    // The certificates now served.
    void set(const std::vector<tls_certificate_info>& certificates);
    // A reload ended: ok (the new certificates are served) or failed (the old ones still are).
    void reloaded(bool ok);
    // pixelring_tls_certificate_expiry_seconds{file,subject} and
    // pixelring_tls_reloads_total{result}, Prometheus text.
    void write_metrics(std::string& out) const;

private:
    mutable std::mutex mutex_;
    std::vector<tls_certificate_info> certificates_;
    uint64_t reloads_ok_ = 0;
    uint64_t reloads_failed_ = 0;
};

} // namespace pixelring
