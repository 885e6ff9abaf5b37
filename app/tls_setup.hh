#pragma once
// HTTPS as the collector loads it: the session-ticket keys and the certificate context from
// tls.*, loaded the same way at start and by --check-config; one log line per certificate; and
// the reload of both on SIGHUP.

#include <cstdint>
#include <memory>
#include <string_view>

#include "core/config/config.hh"
#include "tls/ticket_keys.hh"
#include "tls/tls_context.hh"
#include "tls/tls_status.hh"
#include "tls/tls_store.hh"

namespace pixelring {

struct loaded_tls {
    std::unique_ptr<ticket_keys> tickets;
    std::unique_ptr<tls_context> context;
};

// The ticket keys and the certificate context of cfg. On a failure prints the configuration
// error ("pixelring: configuration error: …") and returns false.
bool load_tls(const tls_config& cfg, uint64_t now_ms, loaded_tls& out);

// One line per certificate (file, subject, names, expiry), then what would trouble clients.
void log_certificates(const tls_context& ctx, std::string_view how);

// SIGHUP: the certificate and key files read again. New handshakes get the new ones, those
// under way and open connections keep theirs; when the files do not load, the old ones stay.
// A ticket key file is read again too; when it does not load, the keys read before stay.
void reload_certificates(const tls_config& cfg, tls_store& store, tls_status& state,
                         ticket_keys& tickets);

} // namespace pixelring
