// tls_status: the certificates' expiry and the reloads, for /metrics.

#include "tls/tls_status.hh"

#include <fmt/format.h>

#include "core/metrics.hh"

namespace pixelring {

namespace {

// A Prometheus label value: backslash, double quote and newline escaped.
std::string label(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

} // namespace

void tls_status::set(const std::vector<tls_certificate_info>& certificates) {
    std::lock_guard lock(mutex_);
    certificates_ = certificates;
}

void tls_status::reloaded(bool ok) {
    std::lock_guard lock(mutex_);
    ++(ok ? reloads_ok_ : reloads_failed_);
}

void tls_status::write_metrics(std::string& out) const {
    std::lock_guard lock(mutex_);
    prometheus_header(out, "pixelring_tls_certificate_expiry_seconds", "gauge",
                      "When each served certificate expires (notAfter), seconds since the "
                      "epoch; after a reload, the reloaded certificates");
    for (const tls_certificate_info& c : certificates_)
        fmt::format_to(std::back_inserter(out),
                       "pixelring_tls_certificate_expiry_seconds{{file=\"{}\",subject=\"{}\"}} "
                       "{}\n",
                       label(c.file), label(c.subject), c.not_after);
    prometheus_header(out, "pixelring_tls_reloads_total", "counter",
                      "Certificate reloads (SIGHUP) by result: ok, or failed (the certificates "
                      "loaded before are still served; the log says why)");
    fmt::format_to(std::back_inserter(out), "pixelring_tls_reloads_total{{result=\"ok\"}} {}\n",
                   reloads_ok_);
    fmt::format_to(std::back_inserter(out), "pixelring_tls_reloads_total{{result=\"failed\"}} {}\n",
                   reloads_failed_);
    prometheus_header(out, "pixelring_tls_kernel_tls", "gauge",
                      "1 when TLS records are encrypted by the kernel (kernel TLS), else 0 "
                      "(OpenSSL in user space); the label says whether the kernel offers it "
                      "(the tls upper-layer protocol). pixelring encrypts in user space.");
    fmt::format_to(std::back_inserter(out), "pixelring_tls_kernel_tls{{kernel=\"{}\"}} 0\n",
                   kernel_tls_offered_ ? "offered" : "absent");
    if (!tickets_) return;
    prometheus_header(out, "pixelring_tls_ticket_keys", "gauge",
                      "Session ticket keys in use, by source: generated (made here, rotated every "
                      "tls.session_timeout_s) or file (tls.ticket_key_file)");
    fmt::format_to(std::back_inserter(out), "pixelring_tls_ticket_keys{{source=\"{}\"}} {}\n",
                   tickets_->file().empty() ? "generated" : "file", tickets_->count());
    prometheus_header(out, "pixelring_tls_ticket_key_changes_total", "counter",
                      "Times the session ticket keys changed: rotations of generated keys, "
                      "reloads of tls.ticket_key_file (the first set counts too)");
    fmt::format_to(std::back_inserter(out), "pixelring_tls_ticket_key_changes_total {}\n",
                   tickets_->changes());
}

} // namespace pixelring
