#pragma once
// Wires the collector together: probe io_uring, open the sink and the listeners, start one
// worker per CPU, the sink thread and the admin server, then wait for a signal.

#include <string>

#include "core/config/config.hh"

namespace pixelring {

// Runs until SIGTERM or SIGINT (SIGHUP reopens the sink). Returns the process exit code:
// 0 after a clean stop, 1 when start-up failed (the reason is on stderr).
int run_collector(const config& cfg, const std::string& version);

} // namespace pixelring
