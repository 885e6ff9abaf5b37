#pragma once
// The admin listener (admin.listen, default 127.0.0.1:9090): /healthz, /readyz, /metrics,
// and the dashboard (/dashboard, /stats.json) behind basic auth when it is on.
// A plain thread with poll(2) and blocking-free sockets: it is off the hot path and serves
// a scraper or an operator, so it favours simplicity over speed. No io_uring.

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

namespace pixelring {

struct admin_handlers {
    std::function<void(std::string& out)> metrics; // Prometheus text
    std::function<bool()> ready;                   // /readyz: 200 when true, else 503
    // The dashboard. off_reason non-empty: /dashboard and /stats.json answer 403 with it.
    std::string_view dashboard_page;             // the HTML of /dashboard
    std::function<void(std::string& out)> stats; // the JSON of /stats.json
    std::string off_reason;
    // Whether an Authorization field (empty when absent) opens the dashboard; null: no
    // credentials needed. A refusal is counted in auth_failures.
    std::function<bool(std::string_view authorization)> authorize;
    std::atomic<uint64_t>* auth_failures = nullptr;
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
    std::string dashboard_response(std::string_view path, std::string_view authorization);
    int listen_fd_;
    int stop_fd_;
    admin_handlers handlers_;
    std::thread thread_;
};

} // namespace pixelring
