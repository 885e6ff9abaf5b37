#pragma once
// The dashboard on the admin listener, as the collector sets it up: whether it is on
// (admin.dashboard, and credentials or a loopback admin listener), the line the start prints
// about it, and the handlers of /dashboard and /stats.json (the sink thread's figures from
// stats_board, with the sink's state added on the admin thread).

#include <atomic>
#include <cstdint>
#include <string>

#include "core/config/config.hh"
#include "core/sink_gate.hh"
#include "dashboard/basic_auth.hh"
#include "dashboard/event_stats.hh"
#include "net/admin_server.hh"
#include "sinks/sink.hh"

namespace pixelring {

// Why the dashboard is off, or empty when it is on: admin.dashboard = false, or no
// credentials on an admin listener that is not on loopback. The sink thread counts events only
// while it is on.
std::string dashboard_off_reason(const config& cfg, const std::string& admin_bound);

// Fills the dashboard's part of handlers: off (403 with off_reason, dashboard_off_reason's)
// when off_reason is not empty; else open with admin.user and admin.password, or without them
// (a loopback admin listener). Says at start which it is. auth, auth_failures, board, out and
// gate outlive the admin server.
void set_dashboard(admin_handlers& handlers, const config& cfg, const std::string& version,
                   const std::string& admin_bound, const std::string& off_reason,
                   const basic_auth& auth, std::atomic<uint64_t>& auth_failures, stats_board& board,
                   const sink& out, const sink_gate& gate);

} // namespace pixelring
