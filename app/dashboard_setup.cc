#include "app/dashboard_setup.hh"

#include <iterator>

#include <fmt/format.h>

#include "core/event/json_escape.hh"
#include "dashboard/page.hh"

namespace pixelring {

std::string dashboard_off_reason(const config& cfg, const std::string& admin_bound) {
    if (!cfg.admin.dashboard) return "admin.dashboard is false";
    if (cfg.admin.user.empty() && cfg.admin.password.empty() && !is_loopback_listen(admin_bound))
        return fmt::format("admin.listen ({}) is not a loopback address and admin.user and "
                           "admin.password are not set",
                           admin_bound);
    return {};
}

void set_dashboard(admin_handlers& handlers, const config& cfg, const std::string& version,
                   const std::string& admin_bound, const std::string& off_reason,
                   const basic_auth& auth, std::atomic<uint64_t>& auth_failures, stats_board& board,
                   const sink& out, const sink_gate& gate) {
    handlers.off_reason = off_reason;
    if (!handlers.off_reason.empty()) {
        fmt::print(stderr,
                   "pixelring: dashboard: off: {}; /metrics, /healthz and /readyz stay open\n",
                   handlers.off_reason);
        return;
    }
    handlers.dashboard_page = dashboard_page();
    if (auth.enabled()) {
        handlers.authorize = [&auth](std::string_view field) { return auth.allows(field); };
        handlers.auth_failures = &auth_failures;
        fmt::print(stderr,
                   "pixelring: dashboard: http://{}/dashboard, basic auth as admin.user \"{}\"\n",
                   admin_bound, cfg.admin.user);
    } else {
        fmt::print(stderr,
                   "pixelring: dashboard: http://{}/dashboard without a password, because "
                   "admin.listen is a loopback address; set admin.user and admin.password "
                   "(or DASHBOARD_USER and DASHBOARD_PASSWORD) to require one\n",
                   admin_bound);
    }
    std::string collector(cfg.collector.name.size() * 6, '\0');
    collector.resize(json_escape(cfg.collector.name, collector.data()));
    handlers.stats = [&board, &out, &gate, collector, version,
                      type = cfg.sink.type](std::string& body) {
        body = board.read(500);
        if (body.empty()) body = "{}";
        body.pop_back();
        const sink_counters& c = out.counters();
        fmt::format_to(std::back_inserter(body),
                       "{}\"collector\":\"{}\",\"version\":\"{}\",\"sink\":{{\"type\":\"{}\","
                       "\"healthy\":{},\"accepting\":{},\"written\":{},\"failed\":{},"
                       "\"queued\":{},\"spooled\":{},\"dropped_spool_full\":{},"
                       "\"dropped_spool_error\":{}}}}}",
                       body.size() > 1 ? "," : "", collector, version, type, out.healthy(),
                       gate.is_open(), c.written.load(), c.failed.load(), c.queued.load(),
                       c.spooled.load(), c.dropped_spool_full.load(), c.dropped_spool_error.load());
    };
}

} // namespace pixelring
