#include "app/tls_setup.hh"

#include <ctime>
#include <string>

#include <fmt/format.h>

namespace pixelring {

bool load_tls(const tls_config& cfg, uint64_t now_ms, loaded_tls& out) {
    std::string err;
    out.tickets = ticket_keys::from_config(cfg, now_ms, err);
    if (!out.tickets) {
        fmt::print(stderr, "pixelring: configuration error: {}\n", err);
        return false;
    }
    out.context = tls_context::create(tls_settings_from(cfg, out.tickets.get()), err);
    if (!out.context) {
        fmt::print(stderr, "pixelring: configuration error: tls: {}\n", err);
        return false;
    }
    return true;
}

void log_certificates(const tls_context& ctx, std::string_view how) {
    for (const tls_certificate_info& info : ctx.certificates())
        fmt::print(stderr, "pixelring: tls: {}{}\n", how, describe_certificate(info));
    for (const std::string& problem : ctx.problems(int64_t(std::time(nullptr))))
        fmt::print(stderr, "pixelring: warning: tls: {}\n", problem);
}

void reload_certificates(const tls_config& cfg, tls_store& store, tls_status& state,
                         ticket_keys& tickets) {
    std::string err;
    const bool keys_ok = tickets.reload(err);
    if (!keys_ok)
        fmt::print(stderr,
                   "pixelring: tls: reload failed, still using the ticket keys read "
                   "before: {}\n",
                   err);
    else if (!tickets.file().empty())
        fmt::print(stderr, "pixelring: tls: reloaded {}\n", tickets.describe());
    std::unique_ptr<tls_context> next = tls_context::create(tls_settings_from(cfg, &tickets), err);
    if (!next) {
        fmt::print(stderr,
                   "pixelring: tls: reload failed, still serving the certificates loaded "
                   "before: {}\n",
                   err);
        state.reloaded(false);
        return;
    }
    log_certificates(*next, "reloaded ");
    state.set(next->certificates());
    store.install(std::move(next));
    state.reloaded(keys_ok);
}

} // namespace pixelring
