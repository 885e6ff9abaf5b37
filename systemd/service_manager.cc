#include "systemd/service_manager.hh"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>
#include <systemd/sd-daemon.h>

namespace pixelring {

std::string take_inherited_sockets(inherited_sockets& out) {
    out = {};
    char** names = nullptr;
    int n = sd_listen_fds_with_names(1, &names);
    if (n < 0) return fmt::format("the sockets passed by systemd: {}", std::strerror(-n));
    std::string error;
    for (int i = 0; i < n; ++i) {
        const int fd = SD_LISTEN_FDS_START + i;
        const std::string name = names && names[i] ? names[i] : "unknown";
        if (error.empty() && sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0)
            error = fmt::format("socket {} passed by systemd (FileDescriptorName={}) is not a "
                                "listening stream socket: use ListenStream= in the socket unit",
                                i, name);
        if (error.empty()) {
            if (name == "public") {
                out.public_fds.push_back(fd);
                continue;
            }
            if (name == "admin" && out.admin_fd < 0) {
                out.admin_fd = fd;
                continue;
            }
            error = name == "admin"
                        ? std::string("systemd passed more than one socket named admin; the "
                                      "admin listener is one socket")
                        : fmt::format("systemd passed a socket named \"{}\": pixelring takes "
                                      "FileDescriptorName=public (the public listeners) and "
                                      "FileDescriptorName=admin (the admin listener)",
                                      name);
        }
    }
    for (int i = 0; names && i < n; ++i)
        std::free(names[i]);
    std::free(names);
    if (!error.empty()) {
        for (int i = 0; i < n; ++i)
            ::close(SD_LISTEN_FDS_START + i);
        out = {};
    }
    return error;
}

service_notifier::service_notifier() {
    const char* socket = std::getenv("NOTIFY_SOCKET");
    active_ = socket && *socket;
    uint64_t usec = 0;
    if (active_ && sd_watchdog_enabled(0, &usec) > 0) watchdog_usec_ = usec;
}

void service_notifier::send(const std::string& state) {
    if (active_) sd_notify(0, state.c_str());
}

void service_notifier::ready(std::string_view status) {
    send(fmt::format("READY=1\nSTATUS={}", status));
}

void service_notifier::reloading() {
    // MONOTONIC_USEC lets a newer systemd (Type=notify-reload) tell this reload from an
    // earlier one; systemd 252 ignores it.
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    send(fmt::format("RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC={}",
                     uint64_t(ts.tv_sec) * 1'000'000 + uint64_t(ts.tv_nsec) / 1000));
}

void service_notifier::stopping(std::string_view status) {
    send(fmt::format("STOPPING=1\nSTATUS={}", status));
}

void service_notifier::status(std::string_view status) {
    send(fmt::format("STATUS={}", status));
}

void service_notifier::watchdog() {
    send("WATCHDOG=1");
}

void service_notifier::extend_timeout(uint64_t usec) {
    send(fmt::format("EXTEND_TIMEOUT_USEC={}", usec));
}

} // namespace pixelring
