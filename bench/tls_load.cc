// tls_load: the HTTPS client of bench/load/run.sh for the scenarios wrk cannot drive: every hit
// on a new TCP and TLS 1.3 connection, one GET of the pixel with "Connection: close", read to
// the server's close, then the next connection in the same slot. --mode resumed offers, on each
// new connection, the newest session ticket the slot's previous connection received (a ticket
// is used once, as browsers do: RFC 8446 C.4); --mode full never offers one, so every handshake
// is a full one. --sessions FILE (resumed): the slots start with the tickets FILE holds (PEM,
// from an earlier run against the same server, such as a warm-up) and FILE gets the tickets
// they hold at the end. One thread, one epoll (edge-triggered), --connections slots; no blocking
// call but epoll_wait (at most 100 ms).
//
//   tls_load --connect 127.0.0.1:PORT --mode resumed|full --duration S [--connections N]
//            [--path PATH] [--header 'Name: value']... [--campaigns N] [--sni NAME]
//            [--ciphersuites LIST] [--groups LIST] [--min-resumed PCT] [--sessions FILE]
//
// The client offers TLS 1.3 only, with only --ciphersuites (default TLS_AES_128_GCM_SHA256) and
// only --groups (default X25519), so the server must choose those or fail; ALPN http/1.1; SNI
// --sni (default localhost). It does not verify the certificate chain (as wrk does not);
// OpenSSL still checks the server's CertificateVerify signature on every full handshake.
// At --duration it starts no new connection and lets those under way finish (at most the
// per-connection timeout, 10 s); every answer they get counts.
//
// stdout: one "key value" line each (requests, elapsed_s, requests_per_s, p50_ms, p99_ms,
// handshakes, first_without_ticket, resumed, resumed_pct, non2xx, errors_*, negotiated,
// other_parameters, cpu_s, cpu_pct). resumed_pct = resumed ÷ (handshakes − first_without_ticket):
// a slot's first connection has no ticket to offer unless --sessions gave one. Exit: 0 ok;
// 1 usage or set-up error, or no answer at all; 4 --mode resumed with resumed_pct under
// --min-resumed (default 95), or --mode full with any handshake resumed.

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string>
#include <string_view>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

namespace {

using clock_type = std::chrono::steady_clock;

constexpr std::chrono::seconds connection_timeout{10};
constexpr size_t response_capacity = 4096;

enum class state : uint8_t { idle, connecting, handshake, writing, reading, draining };

struct counters {
    uint64_t requests = 0; // complete answers, any status
    uint64_t non2xx = 0;   // of those, not 2xx or 3xx
    uint64_t handshakes = 0;
    uint64_t first_without_ticket = 0; // a slot's first handshake, with no ticket to offer
    uint64_t resumed = 0;
    uint64_t errors_connect = 0;   // socket, connect, or the connection refused
    uint64_t errors_tls = 0;       // handshake failed
    uint64_t errors_io = 0;        // write or read failed, or closed before the whole answer
    uint64_t errors_timeout = 0;   // a connection not done within connection_timeout
    uint64_t other_parameters = 0; // handshakes whose version, suite or group differ from the first
};

struct slot {
    int fd = -1;
    SSL* ssl = nullptr;
    state st = state::idle;
    uint32_t generation = 0; // in epoll's data: an event for a closed connection is ignored
    uint32_t request = 0;    // which of the prebuilt requests
    size_t written = 0;
    size_t received = 0;
    SSL_SESSION* ticket = nullptr; // resumed mode: the newest session this slot received
    bool had_ticket = false;       // a ticket was offered or received on this slot before
    bool first = false;            // this connection is the slot's first and has no ticket
    clock_type::time_point started;
    char response[response_capacity];
};

struct options {
    sockaddr_in address{};
    std::string address_text;
    bool resume = false;
    bool mode_given = false;
    double duration_s = 0;
    uint32_t connections = 64;
    std::string path =
        "/track/pageview.gif?campaignID=example.com&scroll-depth=70%25&dark-mode=true";
    std::vector<std::string> headers;
    uint32_t campaigns = 1;
    std::string sni = "localhost";
    std::string suites = "TLS_AES_128_GCM_SHA256";
    std::string groups = "X25519";
    double min_resumed_pct = 95;
    std::string sessions; // PEM file of tickets: read at start, written at the end
};

int slot_index = -1; // SSL ex_data: the slot a session belongs to

class load_client {
public:
    load_client(const options& opt, SSL_CTX* ctx, int epoll_fd, std::vector<std::string> requests)
        : opt_(opt), ctx_(ctx), epoll_fd_(epoll_fd), requests_(std::move(requests)),
          slots_(opt.connections) {}

    ~load_client() {
        for (slot& s : slots_) {
            close_slot(s);
            if (s.ticket) SSL_SESSION_free(s.ticket);
        }
    }

    // Runs until the deadline, then until the connections under way end (each bounded by
    // connection_timeout). The error text on a set-up failure, else empty.
    std::string run() {
        const clock_type::time_point start = clock_type::now();
        const clock_type::time_point deadline =
            start + std::chrono::microseconds(int64_t(opt_.duration_s * 1e6));
        for (slot& s : slots_)
            open(s);
        epoll_event events[256];
        // Bounded: after the deadline no connection opens, and each one under way ends within
        // connection_timeout, so the loop ends by deadline + connection_timeout (+ one wait).
        for (;;) {
            const clock_type::time_point now = clock_type::now();
            const bool stopping = now >= deadline;
            if (stopping && busy() == 0) break;
            if (now >= deadline + connection_timeout + std::chrono::seconds(1)) break;
            const int n = epoll_wait(epoll_fd_, events, 256, 100);
            if (n < 0) {
                if (errno == EINTR) continue;
                return fmt::format("epoll_wait: {}", std::strerror(errno));
            }
            for (int i = 0; i < n; ++i) {
                const uint64_t data = events[i].data.u64;
                slot& s = slots_[uint32_t(data)];
                if (s.st == state::idle || s.generation != uint32_t(data >> 32)) continue;
                drive(s, events[i].events);
                if (s.st == state::idle && clock_type::now() < deadline) open(s);
            }
            expire(clock_type::now(), deadline);
        }
        for (slot& s : slots_)
            if (s.st != state::idle) {
                ++stats_.errors_timeout;
                close_slot(s);
            }
        elapsed_s_ = std::chrono::duration<double>(clock_type::now() - start).count();
        return {};
    }

    // A new TLS 1.3 ticket on s's connection (OpenSSL's new-session callback): kept for the
    // slot's next connection in resumed mode. Takes the reference.
    void keep_ticket(slot& s, SSL_SESSION* session) {
        if (s.ticket) SSL_SESSION_free(s.ticket);
        s.ticket = session;
        s.had_ticket = true;
    }

    // --sessions: the slots' tickets from file (as many as it holds, at most one a slot);
    // a missing file is no ticket. Returns how many were read.
    size_t read_tickets(const std::string& file) {
        BIO* in = BIO_new_file(file.c_str(), "r");
        size_t n = 0;
        for (; in && n < slots_.size(); ++n) {
            SSL_SESSION* session = PEM_read_bio_SSL_SESSION(in, nullptr, nullptr, nullptr);
            if (!session) break;
            keep_ticket(slots_[n], session);
        }
        BIO_free(in);
        ERR_clear_error();
        return n;
    }

    // --sessions: the tickets the slots hold now. The error text, else empty.
    std::string write_tickets(const std::string& file) {
        BIO* out = BIO_new_file(file.c_str(), "w");
        if (!out) return fmt::format("--sessions {}: cannot write it", file);
        for (const slot& s : slots_)
            if (s.ticket) PEM_write_bio_SSL_SESSION(out, s.ticket);
        BIO_free(out);
        return {};
    }

    slot* slot_of(SSL* ssl) { return static_cast<slot*>(SSL_get_ex_data(ssl, slot_index)); }
    const counters& stats() const { return stats_; }
    double elapsed_s() const { return elapsed_s_; }
    std::vector<uint32_t>& latencies_us() { return latencies_us_; }
    const std::string& negotiated() const { return negotiated_; }

private:
    size_t busy() const {
        return size_t(std::count_if(slots_.begin(), slots_.end(),
                                    [](const slot& s) { return s.st != state::idle; }));
    }

    void open(slot& s) {
        s.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s.fd < 0) {
            ++stats_.errors_connect;
            return;
        }
        const int one = 1;
        ::setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        s.started = clock_type::now();
        s.written = s.received = 0;
        s.request = next_request_++ % uint32_t(requests_.size());
        ++s.generation;
        const uint32_t index = uint32_t(&s - slots_.data());
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        ev.data.u64 = uint64_t(s.generation) << 32 | index;
        if (::connect(s.fd, reinterpret_cast<const sockaddr*>(&opt_.address),
                      sizeof opt_.address) != 0 &&
            errno != EINPROGRESS) {
            ++stats_.errors_connect;
            ::close(s.fd);
            s.fd = -1;
            return;
        }
        if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, s.fd, &ev) != 0) {
            ++stats_.errors_connect;
            ::close(s.fd);
            s.fd = -1;
            return;
        }
        s.st = state::connecting;
    }

    // done: the answer came whole, so the connection ends well without a close_notify of ours
    // (the server closes first); without it OpenSSL marks the session, and so the slot's ticket,
    // not resumable.
    void close_slot(slot& s, bool done = false) {
        if (s.ssl && done) SSL_set_shutdown(s.ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        if (s.ssl) SSL_free(s.ssl);
        s.ssl = nullptr;
        if (s.fd >= 0) ::close(s.fd); // also leaves the epoll set
        s.fd = -1;
        s.st = state::idle;
    }

    void fail(slot& s, uint64_t& counter) {
        ++counter;
        ERR_clear_error();
        close_slot(s);
    }

    void expire(clock_type::time_point now, clock_type::time_point deadline) {
        if (now < next_expiry_check_) return;
        next_expiry_check_ = now + std::chrono::milliseconds(100);
        for (slot& s : slots_) {
            if (s.st != state::idle && now - s.started > connection_timeout)
                fail(s, stats_.errors_timeout);
            if (s.st == state::idle && now < deadline) open(s); // also after a failed open
        }
    }

    bool start_tls(slot& s) {
        s.ssl = SSL_new(ctx_);
        if (!s.ssl || SSL_set_fd(s.ssl, s.fd) != 1) return false;
        SSL_set_ex_data(s.ssl, slot_index, &s);
        SSL_set_tlsext_host_name(s.ssl, opt_.sni.c_str());
        s.first = !s.ticket && !s.had_ticket;
        if (opt_.resume && s.ticket) {
            s.had_ticket = true;
            SSL_set_session(s.ssl, s.ticket); // SSL takes its own reference
            SSL_SESSION_free(s.ticket);       // used once
            s.ticket = nullptr;
        }
        SSL_set_connect_state(s.ssl);
        return true;
    }

    void note_handshake(slot& s) {
        ++stats_.handshakes;
        if (s.first) ++stats_.first_without_ticket;
        if (SSL_session_reused(s.ssl)) ++stats_.resumed;
        const int group = SSL_get_negotiated_group(s.ssl);
        const char* group_name = group ? OBJ_nid2sn(group) : "none";
        std::string now = fmt::format("{} {} {}", SSL_get_version(s.ssl),
                                      SSL_CIPHER_get_name(SSL_get_current_cipher(s.ssl)),
                                      group_name ? group_name : "unknown");
        if (negotiated_.empty())
            negotiated_ = std::move(now);
        else if (now != negotiated_)
            ++stats_.other_parameters;
    }

    // Whether the answer in s.response is complete (head and Content-Length body); its status
    // in status. A head without Content-Length ends at the close.
    static bool answer_complete(const slot& s, int& status) {
        const std::string_view got(s.response, s.received);
        const size_t end = got.find("\r\n\r\n");
        if (end == std::string_view::npos) return false;
        status = 0;
        if (got.size() >= 12 && got.starts_with("HTTP/1.")) status = std::atoi(s.response + 9);
        size_t length = 0;
        const std::string_view head = got.substr(0, end);
        for (size_t pos = head.find("\r\n"); pos != std::string_view::npos;
             pos = head.find("\r\n", pos + 2)) {
            const std::string_view line =
                head.substr(pos + 2, head.find("\r\n", pos + 2) - pos - 2);
            if (line.size() > 15 && strncasecmp(line.data(), "content-length:", 15) == 0)
                length = size_t(std::atol(std::string(line.substr(15)).c_str()));
        }
        return got.size() >= end + 4 + length;
    }

    void answered(slot& s, int status) {
        ++stats_.requests;
        if (status < 200 || status >= 400) ++stats_.non2xx;
        latencies_us_.push_back(uint32_t(std::min<int64_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - s.started)
                .count(),
            UINT32_MAX)));
    }

    // Moves s's connection on as far as it can go without blocking (edge-triggered: until
    // OpenSSL or the socket says "would block"). Bounded by the steps of one connection.
    void drive(slot& s, uint32_t events) {
        if (s.st == state::connecting) {
            int err = 0;
            socklen_t len = sizeof err;
            if (::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0 ||
                (events & (EPOLLERR | EPOLLHUP)))
                return fail(s, stats_.errors_connect);
            if (!(events & EPOLLOUT)) return;
            if (!start_tls(s)) return fail(s, stats_.errors_tls);
            s.st = state::handshake;
        }
        for (int step = 0; step < 1000; ++step) {
            int r = 0;
            switch (s.st) {
            case state::handshake:
                r = SSL_do_handshake(s.ssl);
                if (r == 1) {
                    note_handshake(s);
                    s.st = state::writing;
                    continue;
                }
                break;
            case state::writing: {
                const std::string& req = requests_[s.request];
                r = SSL_write(s.ssl, req.data() + s.written, int(req.size() - s.written));
                if (r > 0) {
                    s.written += size_t(r);
                    if (s.written == req.size()) s.st = state::reading;
                    continue;
                }
                break;
            }
            case state::reading:
            case state::draining: {
                char discard[512];
                const bool reading = s.st == state::reading;
                if (reading && s.received == response_capacity)
                    return fail(s, stats_.errors_io); // an answer this long is not the pixel's
                r = reading ? SSL_read(s.ssl, s.response + s.received,
                                       int(response_capacity - s.received))
                            : SSL_read(s.ssl, discard, sizeof discard);
                if (r > 0) {
                    int status = 0;
                    if (reading) {
                        s.received += size_t(r);
                        if (answer_complete(s, status)) {
                            answered(s, status);
                            s.st = state::draining;
                        }
                    }
                    continue;
                }
                break;
            }
            case state::idle:
            case state::connecting:
                return;
            }
            const int err = SSL_get_error(s.ssl, r);
            if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
                return; // epoll tells when to go on
            ERR_clear_error();
            // The answer is whole: the server's close_notify, or its close, ends the connection.
            if (s.st == state::draining) return close_slot(s, true);
            // A head without Content-Length: the close ends the answer.
            int status = 0;
            if (s.st == state::reading &&
                (err == SSL_ERROR_ZERO_RETURN || err == SSL_ERROR_SYSCALL) &&
                std::string_view(s.response, s.received).find("\r\n\r\n") !=
                    std::string_view::npos) {
                answer_complete(s, status);
                answered(s, status);
                return close_slot(s, true);
            }
            return fail(s, s.st == state::handshake ? stats_.errors_tls : stats_.errors_io);
        }
        fail(s, stats_.errors_io); // 1000 steps on one connection: something loops
    }

    const options& opt_;
    SSL_CTX* ctx_;
    int epoll_fd_;
    std::vector<std::string> requests_;
    std::vector<slot> slots_;
    uint32_t next_request_ = 0;
    counters stats_;
    std::vector<uint32_t> latencies_us_;
    std::string negotiated_;
    double elapsed_s_ = 0;
    clock_type::time_point next_expiry_check_{};
};

load_client* the_client = nullptr; // for the new-session callback

int on_new_session(SSL* ssl, SSL_SESSION* session) {
    slot* s = the_client ? the_client->slot_of(ssl) : nullptr;
    if (!s || !SSL_SESSION_is_resumable(session)) return 0; // OpenSSL frees it
    the_client->keep_ticket(*s, session);
    return 1; // the reference is ours
}

constexpr std::string_view usage =
    "usage: tls_load --connect 127.0.0.1:PORT --mode resumed|full --duration S\n"
    "                [--connections N] [--path PATH] [--header 'Name: value']...\n"
    "                [--campaigns N] [--sni NAME] [--ciphersuites LIST] [--groups LIST]\n"
    "                [--min-resumed PCT]\n"
    "  One GET per new TCP+TLS 1.3 connection (Connection: close), N connections at once\n"
    "  (default 64). resumed: each connection offers the ticket its slot's previous one got;\n"
    "  full: never. Prints 'key value' lines; exit 4 when resumption is not as the mode says.\n";

bool parse_address(const std::string& text, sockaddr_in& out) {
    const size_t colon = text.rfind(':');
    if (colon == std::string::npos) return false;
    const std::string host = text.substr(0, colon);
    const int port = std::atoi(text.c_str() + colon + 1);
    if (port <= 0 || port > 65535) return false;
    out.sin_family = AF_INET;
    out.sin_port = htons(uint16_t(port));
    return inet_pton(AF_INET, host.c_str(), &out.sin_addr) == 1;
}

// The requests, built once: the path (or, with campaigns > 1, campaign IDs site0000.com ... as
// bench/load/requests.lua makes them), wrk's Host line, the headers, Connection: close.
std::vector<std::string> build_requests(const options& opt) {
    std::vector<std::string> out;
    for (uint32_t i = 0; i < opt.campaigns; ++i) {
        std::string path = opt.path;
        if (opt.campaigns > 1)
            path = fmt::format(
                "/track/pageview.gif?campaignID=site{:04}.com&scroll-depth=70%25&dark-mode=true",
                i);
        std::string req = fmt::format("GET {} HTTP/1.1\r\nHost: {}\r\n", path, opt.address_text);
        for (const std::string& h : opt.headers)
            req += h + "\r\n";
        req += "Connection: close\r\n\r\n";
        out.push_back(std::move(req));
    }
    return out;
}

double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int run_main(int argc, char** argv) {
    options opt;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "-h" || a == "--help") {
            fmt::print("{}", usage);
            return 0;
        }
        if (i + 1 >= argc) {
            fmt::print(stderr, "tls_load: unknown argument or missing value: '{}'\n{}", a, usage);
            return 1;
        }
        const std::string v = argv[++i];
        if (a == "--connect") {
            opt.address_text = v;
            if (!parse_address(v, opt.address)) {
                fmt::print(stderr, "tls_load: --connect: IPv4ADDRESS:PORT, got '{}'\n", v);
                return 1;
            }
        } else if (a == "--mode") {
            if (v != "resumed" && v != "full") {
                fmt::print(stderr, "tls_load: --mode: resumed or full, got '{}'\n", v);
                return 1;
            }
            opt.resume = v == "resumed";
            opt.mode_given = true;
        } else if (a == "--duration") {
            opt.duration_s = std::atof(v.c_str());
        } else if (a == "--connections") {
            opt.connections = uint32_t(std::atoi(v.c_str()));
        } else if (a == "--path") {
            opt.path = v;
        } else if (a == "--header") {
            opt.headers.push_back(v);
        } else if (a == "--campaigns") {
            opt.campaigns = uint32_t(std::max(1, std::atoi(v.c_str())));
        } else if (a == "--sni") {
            opt.sni = v;
        } else if (a == "--ciphersuites") {
            opt.suites = v;
        } else if (a == "--groups") {
            opt.groups = v;
        } else if (a == "--sessions") {
            opt.sessions = v;
        } else if (a == "--min-resumed") {
            opt.min_resumed_pct = std::atof(v.c_str());
        } else {
            fmt::print(stderr, "tls_load: unknown argument '{}'\n{}", a, usage);
            return 1;
        }
    }
    if (opt.address_text.empty() || !opt.mode_given || !(opt.duration_s > 0) ||
        opt.duration_s > 3600 || opt.connections < 1 || opt.connections > 10000) {
        fmt::print(stderr,
                   "tls_load: --connect, --mode and --duration (0 < S <= 3600) are required; "
                   "--connections 1..10000\n{}",
                   usage);
        return 1;
    }
    std::signal(SIGPIPE, SIG_IGN);

    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
        fmt::print(stderr, "tls_load: OpenSSL could not make a TLS 1.3 client context\n");
        return 1;
    }
    if (SSL_CTX_set_ciphersuites(ctx, opt.suites.c_str()) != 1) {
        fmt::print(stderr, "tls_load: --ciphersuites '{}': OpenSSL refuses it\n", opt.suites);
        return 1;
    }
    if (SSL_CTX_set1_groups_list(ctx, opt.groups.c_str()) != 1) {
        fmt::print(stderr, "tls_load: --groups '{}': OpenSSL refuses it\n", opt.groups);
        return 1;
    }
    static const unsigned char alpn[] = "\x08http/1.1";
    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn - 1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    // A close without close_notify after the whole answer is the end, not an error.
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    // Tickets come to on_new_session; OpenSSL's own client cache stays empty.
    SSL_CTX_set_session_cache_mode(ctx, opt.resume ? SSL_SESS_CACHE_CLIENT |
                                                         SSL_SESS_CACHE_NO_INTERNAL_STORE
                                                   : SSL_SESS_CACHE_OFF);
    if (opt.resume) SSL_CTX_sess_set_new_cb(ctx, on_new_session);
    slot_index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);

    const int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd < 0) {
        fmt::print(stderr, "tls_load: epoll_create1: {}\n", std::strerror(errno));
        return 1;
    }
    const double cpu0 = cpu_seconds();
    auto client = std::make_unique<load_client>(opt, ctx, epoll_fd, build_requests(opt));
    the_client = client.get();
    const size_t tickets_read =
        opt.resume && !opt.sessions.empty() ? client->read_tickets(opt.sessions) : 0;
    if (std::string err = client->run(); !err.empty()) {
        fmt::print(stderr, "tls_load: {}\n", err);
        return 1;
    }
    if (opt.resume && !opt.sessions.empty()) {
        if (std::string err = client->write_tickets(opt.sessions); !err.empty()) {
            fmt::print(stderr, "tls_load: {}\n", err);
            return 1;
        }
    }
    const double cpu = cpu_seconds() - cpu0;
    const counters& c = client->stats();
    std::vector<uint32_t>& lat = client->latencies_us();
    auto percentile_ms = [&lat](double p) {
        if (lat.empty()) return 0.0;
        const size_t k = std::min(lat.size() - 1, size_t(p * double(lat.size())));
        std::nth_element(lat.begin(), lat.begin() + long(k), lat.end());
        return lat[k] / 1000.0;
    };
    const double elapsed = client->elapsed_s();
    const uint64_t could_resume = c.handshakes - std::min(c.handshakes, c.first_without_ticket);
    const double resumed_pct =
        could_resume ? 100.0 * double(c.resumed) / double(could_resume) : 0.0;
    fmt::print("tls_load {} {} connections {} s {}\n", opt.resume ? "resumed" : "full",
               opt.address_text, opt.connections, opt.duration_s);
    fmt::print("requests {}\nelapsed_s {:.3f}\nrequests_per_s {:.1f}\n", c.requests, elapsed,
               elapsed > 0 ? double(c.requests) / elapsed : 0.0);
    fmt::print("p50_ms {:.3f}\np99_ms {:.3f}\n", percentile_ms(0.50), percentile_ms(0.99));
    fmt::print("handshakes {}\nfirst_without_ticket {}\nresumed {}\nresumed_pct {:.2f}\n",
               c.handshakes, c.first_without_ticket, c.resumed, resumed_pct);
    fmt::print("tickets_read {}\nnon2xx {}\n", tickets_read, c.non2xx);
    fmt::print("errors_connect {}\nerrors_tls {}\nerrors_io {}\nerrors_timeout {}\n",
               c.errors_connect, c.errors_tls, c.errors_io, c.errors_timeout);
    fmt::print("negotiated {}\nother_parameters {}\n",
               client->negotiated().empty() ? "none" : client->negotiated(), c.other_parameters);
    fmt::print("cpu_s {:.3f}\ncpu_pct {:.1f}\n", cpu, elapsed > 0 ? 100 * cpu / elapsed : 0.0);
    the_client = nullptr;
    client.reset();
    ::close(epoll_fd);
    SSL_CTX_free(ctx);
    if (c.requests == 0) {
        fmt::print(stderr, "tls_load: no answer at all\n");
        return 1;
    }
    if (opt.resume && resumed_pct < opt.min_resumed_pct) {
        fmt::print(stderr,
                   "tls_load: ONLY {:.1f}% OF THE HANDSHAKES THAT OFFERED A TICKET RESUMED ({} of "
                   "{}; at least {}% expected): the server does not resume sessions\n",
                   resumed_pct, c.resumed, could_resume, opt.min_resumed_pct);
        return 4;
    }
    if (!opt.resume && c.resumed > 0) {
        fmt::print(stderr, "tls_load: {} handshakes resumed without a ticket offered\n", c.resumed);
        return 4;
    }
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    return run_main(argc, argv);
}
