// pixelring-pgo-train: the traffic scripts/build-pgo.sh records the profile of the
// profile-guided build with. It drives a running collector on loopback with a mix of what
// the collector meets in production, not with the benchmark's single request: pixels from
// browsers, mail clients, image proxies, bots and prefetchers; beacons as JSON, as
// sendBeacon's text/plain and chunked; CORS preflights; REST tuples; click redirects; the
// tracker script; 404 and 405; and malformed requests that close the connection. Requests go
// one at a time per connection (keep-alive), 16 per write (pipelined) and split over two
// writes. Every answer's status is checked against the one the request should get, so a
// training run that stopped exercising a path fails instead of training the wrong code.
//
// The collector must run with redirect.allow_hosts containing shop.example (build-pgo.sh sets
// it), else the /r/ requests get 400 instead of 302.

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

namespace {

struct request {
    std::string text;  // the whole request, head and body
    int status;        // the answer it must get
    bool head = false; // a HEAD: the answer has no body
};

constexpr std::string_view chrome_windows =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36";
constexpr std::string_view firefox_linux =
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
constexpr std::string_view safari_iphone =
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/18.1 Mobile/15E148 Safari/604.1";
constexpr std::string_view apple_mail =
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)";
constexpr std::string_view gmail_proxy =
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)";
constexpr std::string_view edge_android =
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36 EdgA/131.0.0.0";
constexpr std::string_view googlebot =
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

std::string get(std::string_view target, std::string_view ua, std::string_view extra = {}) {
    return fmt::format("GET {} HTTP/1.1\r\nHost: px.example.com\r\nUser-Agent: {}\r\n"
                       "Accept: image/avif,image/webp,image/png,image/*;q=0.8,*/*;q=0.5\r\n"
                       "Accept-Language: en-GB,en;q=0.9\r\n{}\r\n",
                       target, ua, extra);
}

std::string post(std::string_view target, std::string_view type, std::string_view body,
                 std::string_view extra = {}) {
    return fmt::format("POST {} HTTP/1.1\r\nHost: px.example.com\r\nUser-Agent: {}\r\n"
                       "Content-Type: {}\r\nContent-Length: {}\r\n{}\r\n{}",
                       target, chrome_windows, type, body.size(), extra, body);
}

// The well-formed mix, pixels first and most often (as in production), each once per cycle.
std::vector<request> keep_alive_mix() {
    const std::string origin = "Origin: https://example.com\r\n";
    std::vector<request> m;
    m.push_back({get("/track/pageview.gif?campaignID=example.com&scroll-depth=70%25&dark-mode=true",
                     chrome_windows, "Referer: https://example.com/blog/post?utm_source=news\r\n"),
                 200});
    m.push_back(
        {get("/track/open.gif?campaignID=newsletter-2026-11&recipient=r-1234", apple_mail), 200});
    m.push_back(
        {get("/track/open.png?campaignID=newsletter-2026-11&recipient=r-9876", gmail_proxy), 200});
    m.push_back(
        {get("/track/pageview.gif?campaignID=shop.example&title=Sp%C3%A4te+Angebote+%26+mehr",
             firefox_linux,
             "Referer: https://shop.example/de/angebote?utm_source=mail&utm_medium=email"
             "&utm_campaign=herbst\r\nDNT: 1\r\n"),
         200});
    m.push_back({get("/track/click.gif?campaignID=spring&button=buy%20now", safari_iphone,
                     "Referer: https://m.example.org/products/42#reviews\r\n"),
                 200});
    m.push_back({get("/track/pageview.gif?campaignID=example.com&path=%2Fpricing", edge_android,
                     "Referer: https://example.com/pricing?plan=pro&utm_source=google&utm_term="
                     "collector\r\nSec-GPC: 1\r\n"),
                 200});
    m.push_back({get("/track/pageview.gif?campaignID=example.com", chrome_windows,
                     "Sec-Purpose: prefetch\r\nReferer: https://example.com/\r\n"),
                 200});
    m.push_back({get("/track/pageview.gif?campaignID=example.com", googlebot), 200});
    m.push_back({get("/track/pageview.gif?campaignID=example.com&x=1", "curl/7.88.1"), 200});
    m.push_back({"HEAD /track/open.gif?campaignID=newsletter-2026-11 HTTP/1.1\r\nHost: "
                 "px.example.com\r\nUser-Agent: " +
                     std::string(apple_mail) + "\r\n\r\n",
                 200, true});
    m.push_back({"GET /track/open.gif?campaignID=legacy HTTP/1.0\r\nConnection: keep-alive\r\n"
                 "User-Agent: Outlook-iOS/709.2226530.prod.iphone (3.24.1)\r\n\r\n",
                 200});
    m.push_back({post("/e", "application/json",
                      R"({"action":"signup","campaign":"spring","url":"https://example.com/join?)"
                      R"(utm_source=ad","referrer":"https://www.google.com/","params":{"plan":)"
                      R"("pro","seats":3,"trial":true},"ts":1763856000123})",
                      origin),
                 204});
    m.push_back({post("/e?receipts=1", "application/json",
                      R"([{"action":"scroll","params":{"depth":"90%"}},{"action":"click","url":)"
                      R"("https://example.com/a?b=c","params":{"x":{"nested":1}}},{"action":"vi)"
                      R"(deo_play","campaign":null,"params":{"t":12.5,"muted":false}}])",
                      origin),
                 200});
    m.push_back({post("/e", "text/plain;charset=UTF-8",
                      R"({"action":"pageleave","url":"https://example.com/blog/post","params":)"
                      R"({"seconds":"47","title":"Caf\u00e9 \"quoted\""}})",
                      origin),
                 204});
    const std::string chunked_body = R"({"action":"download","params":{"file":"report.pdf"}})";
    m.push_back({fmt::format("POST /e HTTP/1.1\r\nHost: px.example.com\r\nContent-Type: "
                             "application/json\r\nTransfer-Encoding: chunked\r\n{}\r\n{:x}\r\n{}"
                             "\r\n0\r\n\r\n",
                             origin, chunked_body.size(), chunked_body),
                 204});
    m.push_back({"OPTIONS /e HTTP/1.1\r\nHost: px.example.com\r\n" + origin +
                     "Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: "
                     "content-type\r\n\r\n",
                 204});
    m.push_back({get("/tr/v1/action/signup/campaignID/spring/plan/pro", firefox_linux), 204});
    m.push_back({get("/r/click?url=https%3A%2F%2Fshop.example%2Fsale%3Fa%3D1%26b%3D2&campaignID="
                     "newsletter-2026-11",
                     apple_mail),
                 302});
    m.push_back({get("/r/click?url=javascript%3Aalert(1)&campaignID=x", chrome_windows), 400});
    m.push_back({get("/t.js", chrome_windows), 200});
    m.push_back({get("/favicon.ico", chrome_windows), 404});
    m.push_back({"DELETE /e HTTP/1.1\r\nHost: px.example.com\r\n\r\n", 405});
    // Pixels again: the most common request by far.
    for (std::string_view ua : {chrome_windows, safari_iphone, apple_mail, edge_android})
        m.push_back({get("/track/pageview.gif?campaignID=example.com&scroll-depth=30%25", ua,
                         "Referer: https://example.com/blog/another-post\r\n"),
                     200});
    return m;
}

// Malformed requests: each gets its status and a closed connection.
std::vector<request> malformed_mix() {
    return {
        {"GET /track/a.gif HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400},
        {"GET /track/a.gif HTTP/1.1\r\nHost : x\r\n\r\n", 400},
        {"GET /track/a.gif HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400},
        {"GET /track/a.gif HTTP/1.1\nHost: x\r\n\r\n", 400},
        {"POST /e HTTP/1.1\r\nHost: x\r\n\r\n", 411},
        {"POST /e HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
        {"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
         400},
        {"GET /track/a.gif HTTP/2.0\r\nHost: x\r\n\r\n", 505},
        {"GET /track/a.gif HTTP/1.1\r\n\r\n", 400},
    };
}

class connection {
public:
    connection(const sockaddr_in& to, std::string& error) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) {
            error = fmt::format("socket: {}", std::strerror(errno));
            return;
        }
        const int one = 1;
        setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        const timeval timeout{5, 0}; // a collector that stops answering fails the run
        setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        if (::connect(fd_, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
            error = fmt::format("connect: {}", std::strerror(errno));
            ::close(fd_);
            fd_ = -1;
        }
    }
    ~connection() {
        if (fd_ >= 0) ::close(fd_);
    }
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    bool ok() const { return fd_ >= 0; }

    bool send(std::string_view bytes, std::string& error) {
        while (!bytes.empty()) {
            const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                error = fmt::format("send: {}", std::strerror(errno));
                return false;
            }
            bytes.remove_prefix(size_t(n));
        }
        return true;
    }

    // Reads one answer; its status, or -1 with error set. closing: it said Connection: close.
    int read_answer(bool head, bool& closing, std::string& error) {
        size_t end;
        while ((end = in_.find("\r\n\r\n")) == std::string::npos)
            if (!fill(error)) return -1;
        const std::string head_text = lower(std::string_view(in_).substr(0, end + 2));
        if (head_text.rfind("http/1.", 0) != 0 || head_text.size() < 12) {
            error = fmt::format("not an HTTP answer: {:.40}", head_text);
            return -1;
        }
        const int status = std::atoi(head_text.c_str() + 9);
        size_t body = 0;
        if (const size_t at = head_text.find("\r\ncontent-length:"); at != std::string::npos)
            body = std::strtoul(head_text.c_str() + at + 17, nullptr, 10);
        if (head || status == 204 || status == 304) body = 0;
        closing = head_text.find("\r\nconnection: close\r\n") != std::string::npos;
        while (in_.size() < end + 4 + body)
            if (!fill(error)) return -1;
        in_.erase(0, end + 4 + body);
        return status;
    }

    // After an answer with Connection: close, the collector must close: true at EOF.
    bool closed_by_peer() {
        char c;
        ssize_t n;
        do {
            n = ::recv(fd_, &c, 1, 0);
        } while (n < 0 && errno == EINTR);
        return n == 0;
    }

private:
    bool fill(std::string& error) {
        char buf[16384];
        ssize_t n;
        do {
            n = ::recv(fd_, buf, sizeof buf, 0);
        } while (n < 0 && errno == EINTR);
        if (n <= 0) {
            error = n == 0 ? "the collector closed the connection"
                           : fmt::format("recv: {}", std::strerror(errno));
            return false;
        }
        in_.append(buf, size_t(n));
        return true;
    }

    static std::string lower(std::string_view s) {
        std::string out(s);
        for (char& c : out)
            if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
        return out;
    }

    int fd_ = -1;
    std::string in_;
};

struct tally {
    uint64_t answers = 0;
    std::map<int, uint64_t> by_status;
    uint64_t wrong = 0;
    std::string first_wrong;

    void add(const request& r, int status) {
        ++answers;
        ++by_status[status];
        if (status != r.status && wrong++ == 0)
            first_wrong = fmt::format("{} for {:.60}", status, r.text.substr(0, r.text.find('\r')));
    }
};

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"pixelring-pgo-train: drive a running collector with a production-like mix of "
                 "requests (what scripts/build-pgo.sh records the profile with) and check every "
                 "answer's status"};
    std::string target;
    uint64_t requests = 200'000;
    double seconds = 60;
    app.add_option("--connect", target, "the collector's 127.0.0.1:PORT")->required();
    app.add_option("--requests", requests, "requests to send (about; default 200000)")
        ->check(CLI::Range(uint64_t{1}, uint64_t{100'000'000}));
    app.add_option("--seconds", seconds, "stop after this long whatever is left (default 60)")
        ->check(CLI::Range(0.1, 3600.0));
    CLI11_PARSE(app, argc, argv);

    sockaddr_in to{};
    to.sin_family = AF_INET;
    const size_t colon = target.rfind(':');
    const int port = colon == std::string::npos ? 0 : std::atoi(target.c_str() + colon + 1);
    if (port <= 0 || port > 65535 ||
        inet_pton(AF_INET, target.substr(0, colon).c_str(), &to.sin_addr) != 1) {
        fmt::print(stderr,
                   "pgo_train: --connect \"{}\": expected an IPv4 address and port, such "
                   "as 127.0.0.1:8080\n",
                   target);
        return 2;
    }
    to.sin_port = htons(uint16_t(port));

    const std::vector<request> mix = keep_alive_mix();
    const std::vector<request> bad = malformed_mix();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    constexpr size_t connections = 8;
    constexpr size_t pipeline_depth = 16;
    tally t;
    std::string error;
    size_t next = 0;
    auto fail = [&](std::string_view what) {
        fmt::print(stderr, "pgo_train: {}: {}\n", what, error);
        return 1;
    };

    while (t.answers < requests && std::chrono::steady_clock::now() < deadline) {
        std::vector<std::unique_ptr<connection>> conns;
        for (size_t i = 0; i < connections; ++i) {
            conns.push_back(std::make_unique<connection>(to, error));
            if (!conns.back()->ok()) return fail(fmt::format("cannot connect to {}", target));
        }
        // Keep-alive: one request per connection, all connections in flight at once.
        for (int round = 0; round < 64; ++round) {
            std::vector<const request*> sent(connections);
            for (size_t c = 0; c < connections; ++c) {
                sent[c] = &mix[next++ % mix.size()];
                if (!conns[c]->send(sent[c]->text, error)) return fail("keep-alive");
            }
            for (size_t c = 0; c < connections; ++c) {
                bool closing = false;
                const int status = conns[c]->read_answer(sent[c]->head, closing, error);
                if (status < 0) return fail("keep-alive");
                t.add(*sent[c], status);
                if (closing) conns[c] = std::make_unique<connection>(to, error);
            }
        }
        // Pipelined: 16 requests per write on every connection, then their 16 answers.
        for (int round = 0; round < 16; ++round) {
            std::vector<std::vector<const request*>> sent(connections);
            for (size_t c = 0; c < connections; ++c) {
                std::string batch;
                for (size_t i = 0; i < pipeline_depth; ++i) {
                    sent[c].push_back(&mix[next++ % mix.size()]);
                    batch += sent[c].back()->text;
                }
                if (!conns[c]->send(batch, error)) return fail("pipelined");
            }
            for (size_t c = 0; c < connections; ++c) {
                for (const request* r : sent[c]) {
                    bool closing = false;
                    const int status = conns[c]->read_answer(r->head, closing, error);
                    if (status < 0) return fail("pipelined");
                    t.add(*r, status);
                }
            }
        }
        // A request split over two writes: the parser's partial-head path.
        for (size_t c = 0; c < connections; ++c) {
            const request& r = mix[next++ % mix.size()];
            const size_t half = r.text.size() / 2;
            if (!conns[c]->send(std::string_view(r.text).substr(0, half), error) ||
                !conns[c]->send(std::string_view(r.text).substr(half), error))
                return fail("split request");
            bool closing = false;
            const int status = conns[c]->read_answer(r.head, closing, error);
            if (status < 0) return fail("split request");
            t.add(r, status);
        }
        // Malformed: a fresh connection each, answered and closed by the collector.
        for (const request& r : bad) {
            connection c(to, error);
            if (!c.ok()) return fail(fmt::format("cannot connect to {}", target));
            bool closing = false;
            if (!c.send(r.text, error)) return fail("malformed request");
            const int status = c.read_answer(false, closing, error);
            if (status < 0) return fail("malformed request");
            t.add(r, status);
            if (!closing || !c.closed_by_peer()) {
                error = fmt::format("{:.40}: the connection stayed open", r.text);
                return fail("malformed request");
            }
        }
    }

    std::string statuses;
    for (const auto& [status, n] : t.by_status)
        statuses += fmt::format(" {}:{}", status, n);
    fmt::print("pgo_train: {} answers;{}\n", t.answers, statuses);
    if (t.wrong != 0) {
        fmt::print(stderr, "pgo_train: {} answers had an unexpected status, the first {}\n",
                   t.wrong, t.first_wrong);
        return 1;
    }
    return 0;
}
