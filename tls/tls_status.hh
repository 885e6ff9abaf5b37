#pragma once
// What /metrics says about the HTTPS certificates: each one's expiry time, certificate
// reloads (SIGHUP) by result, the session ticket keys, and kernel TLS. Set by the main thread at
// start and on each reload, read by the admin thread when /metrics is asked for; a mutex between
// those two (no worker takes it).

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
    // The session ticket keys, for their metrics (read on the admin thread: atomics).
    void set_tickets(const ticket_keys* keys) {
        std::lock_guard lock(mutex_);
        tickets_ = keys;
    }
    // Whether the kernel offers kernel TLS (tls/kernel_tls.hh); pixelring does not use it.
    void set_kernel_tls(bool offered) {
        std::lock_guard lock(mutex_);
        kernel_tls_offered_ = offered;
    }
    // A reload ended: ok (the new certificates are served) or failed (the old ones still are).
    void reloaded(bool ok);
    // pixelring_tls_certificate_expiry_seconds{file,subject},
    // pixelring_tls_reloads_total{result}, pixelring_tls_ticket_keys{source},
    // pixelring_tls_ticket_key_changes_total and pixelring_tls_kernel_tls{kernel}, Prometheus
    // text.
    void write_metrics(std::string& out) const;

private:
    mutable std::mutex mutex_;
    std::vector<tls_certificate_info> certificates_;
    uint64_t reloads_ok_ = 0;
    uint64_t reloads_failed_ = 0;
    const ticket_keys* tickets_ = nullptr;
    bool kernel_tls_offered_ = false;
};

} // namespace pixelring
