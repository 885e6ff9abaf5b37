#include "net/admin_server.hh"

#include <cerrno>
#include <cstring>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include "core/http/request_parser.hh"

namespace pixelring {

namespace {

constexpr int admin_read_timeout_ms = 2000;

void write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        data.remove_prefix(size_t(n));
    }
}

// extra: more header fields, each ending in CRLF.
std::string answer(int status, std::string_view reason, std::string_view type,
                   std::string_view body, std::string_view extra = {}) {
    return fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n"
                       "Cache-Control: no-store\r\n{}Connection: close\r\n\r\n{}",
                       status, reason, type, body.size(), extra, body);
}

// The page runs only its own inline script and style and talks only to this listener.
constexpr std::string_view page_headers =
    "Content-Security-Policy: default-src 'none'; script-src 'unsafe-inline'; "
    "style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'; frame-ancestors 'none'\r\n"
    "X-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\n"
    "X-Content-Type-Options: nosniff\r\n";

} // namespace

admin_server::admin_server(int listen_fd, admin_handlers handlers)
    : listen_fd_(listen_fd), stop_fd_(::eventfd(0, EFD_CLOEXEC)), handlers_(std::move(handlers)) {}

admin_server::~admin_server() {
    stop();
    ::close(stop_fd_);
    ::close(listen_fd_);
}

void admin_server::start() {
    thread_ = std::thread([this] {
        pthread_setname_np(pthread_self(), "pixelring-admin"); // top -H, ps -L, the load harness
        serve();
    });
}

void admin_server::stop() {
    if (!thread_.joinable()) return;
    uint64_t one = 1;
    ssize_t n = ::write(stop_fd_, &one, sizeof one);
    (void)n;
    thread_.join();
}

// One request per connection, answered with Connection: close.
void admin_server::serve() {
    http_limits limits;
    limits.max_body_bytes = 0;
    for (;;) {
        pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        if (fds[1].revents) return;
        if (!(fds[0].revents & POLLIN)) continue;
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        char buf[8192];
        size_t len = 0;
        request_parser parser(limits);
        http_request req;
        parse_status st = parse_status::need_more;
        while (st == parse_status::need_more && len < sizeof buf) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, admin_read_timeout_ms) <= 0) break;
            ssize_t n = ::recv(fd, buf + len, sizeof buf - len, 0);
            if (n <= 0) break;
            len += size_t(n);
            st = parser.parse_head(buf, len, req);
        }
        std::string out;
        if (st != parse_status::complete) {
            out = answer(400, "Bad Request", "text/plain", "bad request\n");
        } else if (req.method != http_method::get && req.method != http_method::head) {
            out = answer(405, "Method Not Allowed", "text/plain", "method not allowed\n");
        } else if (req.path == "/healthz") {
            out = answer(200, "OK", "text/plain", "ok\n");
        } else if (req.path == "/readyz") {
            bool ready = handlers_.ready && handlers_.ready();
            out = ready ? answer(200, "OK", "text/plain", "ready\n")
                        : answer(503, "Service Unavailable", "text/plain", "sink not ready\n");
        } else if (req.path == "/dashboard" || req.path == "/dashboard/" ||
                   req.path == "/stats.json") {
            out = dashboard_response(req.path, req.field("authorization"));
        } else if (req.path == "/metrics") {
            std::string body;
            if (handlers_.metrics) handlers_.metrics(body);
            out = answer(200, "OK", "text/plain; version=0.0.4; charset=utf-8", body);
        } else {
            out = answer(404, "Not Found", "text/plain", "not found\n");
        }
        if (st == parse_status::complete && req.method == http_method::head)
            out.resize(out.find("\r\n\r\n") + 4);
        write_all(fd, out);
        ::close(fd);
    }
}

std::string admin_server::dashboard_response(std::string_view path,
                                             std::string_view authorization) {
    if (!handlers_.off_reason.empty())
        return answer(403, "Forbidden", "text/plain; charset=utf-8",
                      fmt::format("dashboard off: {}\n", handlers_.off_reason));
    if (handlers_.authorize && !handlers_.authorize(authorization)) {
        if (handlers_.auth_failures && !authorization.empty())
            handlers_.auth_failures->fetch_add(1, std::memory_order_relaxed);
        return answer(
            401, "Unauthorized", "text/plain", "credentials needed\n",
            "WWW-Authenticate: Basic realm=\"pixelring dashboard\", charset=\"UTF-8\"\r\n");
    }
    if (path == "/stats.json") {
        std::string body;
        if (handlers_.stats) handlers_.stats(body);
        return answer(200, "OK", "application/json", body, "X-Content-Type-Options: nosniff\r\n");
    }
    return answer(200, "OK", "text/html; charset=utf-8", handlers_.dashboard_page, page_headers);
}

} // namespace pixelring
