#pragma once
// The admin listener (admin.listen, default 127.0.0.1:9090): /healthz, /readyz, /metrics.
// A plain thread with poll(2) and blocking-free sockets: it is off the hot path and serves
// a scraper or an operator, so it favours simplicity over speed. No io_uring.

#include <functional>
#include <string>
#include <thread>

namespace pixelring {

struct admin_handlers {
    std::function<void(std::string& out)> metrics; // Prometheus text
    std::function<bool()> ready;                   // /readyz: 200 when true, else 503
};

class admin_server {
public:
    // Takes ownership of listen_fd (from open_admin_listener).
    admin_server(int listen_fd, admin_handlers handlers);
    ~admin_server();
    void start();
    // Any thread; returns after the thread ended.
    void stop();

private:
    void serve();
    int listen_fd_;
    int stop_fd_;
    admin_handlers handlers_;
    std::thread thread_;
};

} // namespace pixelring
