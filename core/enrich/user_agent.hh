#pragma once
// Agent classification (the event's agent, browser, os and device): which kind of client
// made a request, from its User-Agent and the prefetch headers. Pure and allocation-free: one
// call per request on a worker thread, no locks, no exceptions, nothing shared but constant
// tables. The rules and the public evidence behind each are in docs/agent-labels.md.
//
// A label is a field of the event, never a reason to drop it.

#include <cstdint>
#include <string_view>

// agent_label, device_kind, agent_info: the event members this classification fills.
#include "core/event/enrichment_fields.hh"

namespace pixelring {

// Raw request header values, empty when the header is absent. Views only; nothing is kept.
struct agent_signals {
    std::string_view user_agent{};  // User-Agent
    std::string_view sec_purpose{}; // Sec-Purpose (Fetch spec: "prefetch", "prefetch;prerender")
    std::string_view purpose{};     // Purpose (older Chrome: "prefetch")
    std::string_view x_purpose{};   // X-Purpose (Safari: "preview")
    std::string_view x_moz{};       // X-Moz (Firefox: "prefetch")
    // True when the client address lies in Apple's published iCloud Private Relay egress
    // ranges. Apple Mail Privacy Protection fetches remote content through that relay with the
    // Mail app's own User-Agent, so the User-Agent alone cannot tell a prefetch from a reader
    // (docs/agent-labels.md). The caller decides; false when it cannot tell.
    bool apple_private_relay = false;
};

// Classifies one request. Precedence: prefetch (any of the four headers says prefetch,
// prerender or preview) > mail_proxy > scanner > bot > browser. Only the first
// max_user_agent_scan bytes of the User-Agent are examined. A prefetch keeps the browser, os
// and device its User-Agent describes. Cost: one pass over the User-Agent, a few hundred ns
// (tests/unit/user_agent_test.cc prints the figure). What the User-Agent alone says is kept in a
// per-thread cache of 256 entries (User-Agents up to 256 bytes, exact byte match), so a
// keep-alive connection's repeated User-Agent costs a hash and a compare; use_cache = false
// skips it (tests, benchmarks). Either way the answer is the same.
agent_info classify_agent(const agent_signals& signals, bool use_cache = true) noexcept;

inline constexpr size_t max_user_agent_scan = 512;

} // namespace pixelring
