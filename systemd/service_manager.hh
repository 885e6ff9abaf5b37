#pragma once
// The collector's side of systemd's two protocols: the listening sockets a socket unit passes
// (sd_listen_fds_with_names) and the state messages to the service manager (sd_notify:
// READY, RELOADING, STOPPING, STATUS, WATCHDOG, EXTEND_TIMEOUT_USEC). Outside systemd both
// are no-ops: no sockets are passed and nothing is sent. No threads, no worker state: the
// collector (app/collector.cc) decides when to say what.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pixelring {

// Sockets passed by socket activation, by FileDescriptorName=: "public" (pixelring.socket)
// for the public listeners, "admin" (pixelring-admin.socket) for the admin listener.
struct inherited_sockets {
    std::vector<int> public_fds; // listening TCP sockets, owned by the caller
    int admin_fd = -1;           // a listening TCP socket or -1; owned by the caller
};

// Takes the sockets systemd passed (LISTEN_FDS, LISTEN_FDNAMES), unsetting those variables.
// Returns an empty string, or an error naming the socket that is not a listening TCP socket
// or whose name is neither "public" nor "admin" (every passed socket is closed then).
std::string take_inherited_sockets(inherited_sockets& out);

// sd_notify. Every call is a no-op when NOTIFY_SOCKET is unset (not started by systemd, or a
// Type= other than notify).
class service_notifier {
public:
    service_notifier();

    // Started by systemd with Type=notify (NOTIFY_SOCKET is set).
    bool active() const noexcept { return active_; }
    // WatchdogSec= in microseconds, 0 when the watchdog is off.
    uint64_t watchdog_usec() const noexcept { return watchdog_usec_; }

    void ready(std::string_view status);
    void reloading();
    void stopping(std::string_view status);
    void status(std::string_view status);
    void watchdog();
    // The start or stop in progress needs this much longer than the unit's timeout allows.
    void extend_timeout(uint64_t usec);

private:
    void send(const std::string& state);
    bool active_ = false;
    uint64_t watchdog_usec_ = 0;
};

} // namespace pixelring
