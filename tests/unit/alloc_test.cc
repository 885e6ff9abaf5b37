// Zero allocations on the request path (bench/README.md, Targets). A real worker thread
// (net/worker/worker) on a loopback listener, enrichment on with the GeoIP test databases (the
// client address comes from X-Forwarded-For behind a trusted 127.0.0.1, so the lookups find a
// city), a thread that drains its ring, and a client on the test thread: after a warm-up, the heap
// allocations of the worker thread over 100,000 keep-alive pixel requests must be 0, and the same
// for beacons, preflights, REST hits and signed redirects. The worker's count is read from the test
// thread through thread_allocation_counter() (tests/support/counting_allocator.hh), once the worker
// has gone quiet. A negative control makes the worker's loop allocate (an interposed clock_gettime)
// and checks that the same measurement sees it.

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <dlfcn.h>
#include <memory>
#include <mutex>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "core/config/config.hh"
#include "core/enrich/enrichment.hh"
#include "core/policy/redirect.hh"
#include "core/spsc_ring.hh"
#include "net/listener.hh"
#include "net/worker/worker.hh"
#include "tests/support/counting_allocator.hh"
#include "tests/support/testdata.hh"

using namespace pixelring;
using namespace std::chrono_literals;

// ---- the negative control's fault ------------------------------------------------------------

namespace {

// While set, every clock read allocates (and frees) a block on the calling thread. The worker
// reads the clocks on every pass of its loop (core/base/clock.hh), so each request it serves then
// allocates at least once, as a regression in the request path would.
std::atomic<bool> g_clock_allocates{false};

using clock_gettime_fn = int (*)(clockid_t, timespec*);
// glibc's own, found before main; until then (or if dlsym fails) the system call serves.
const clock_gettime_fn g_real_clock_gettime =
    reinterpret_cast<clock_gettime_fn>(dlsym(RTLD_NEXT, "clock_gettime"));

} // namespace

// Interposes glibc's clock_gettime for this executable (the worker's code is linked in
// statically, so its calls land here).
extern "C" int clock_gettime(clockid_t id, timespec* ts) noexcept {
    if (g_clock_allocates.load(std::memory_order_relaxed)) {
        void* p = ::operator new(100);          // one allocation
        asm volatile("" : : "r"(p) : "memory"); // kept
        ::operator delete(p);
    }
    if (g_real_clock_gettime) return g_real_clock_gettime(id, ts);
    return int(syscall(SYS_clock_gettime, id, ts));
}

namespace {

// ---- the server ------------------------------------------------------------------------------

constexpr char redirect_secret[] = "alloc-test-secret-0123456789abcdef";
constexpr uint32_t ring_bytes = 16u << 20;

// The request of bench/wrk/pixel_load.sh.
constexpr char pixel_path[] =
    "/track/pageview.gif?campaignID=example.com&scroll-depth=70%25&dark-mode=true";
constexpr char referer[] = "https://example.com/blog/post?utm_source=news";
constexpr char user_agent[] =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36";
// A London address of GeoIP2-City-Test.mmdb, believed from 127.0.0.1 (server.trusted_proxies).
constexpr char client_address[] = "81.2.69.160";

// One worker thread serving 127.0.0.1:<port 0> with the collector's wiring (app/collector.cc),
// and a thread that drains its ring as the sink thread would (without a sink: the events are
// counted and the last one kept).
class server {
public:
    server() {
        config cfg;
        cfg.geoip.city_db = test::testdata_path("geoip/GeoIP2-City-Test.mmdb");
        cfg.geoip.asn_db = test::testdata_path("geoip/GeoLite2-ASN-Test.mmdb");
        cfg.server.trusted_proxies = {"127.0.0.1/32"};
        cfg.privacy.visitor_secret = "alloc-test-visitor-secret-0123456789";
        if (error_ = make_enrichment_setup(cfg, enrichment_); !error_.empty()) return;
        if (error_ = make_redirect_policy(redirect_secret, {}, redirects_); !error_.empty()) return;
        public_listeners listeners;
        if (error_ = open_public_listeners({"127.0.0.1:0"}, 1, 128, listeners); !error_.empty())
            return;
        port_ = std::stoi(listeners.bound[0].substr(listeners.bound[0].rfind(':') + 1));

        worker_settings s;
        s.listen_fds = listeners.fds[0];
        s.encode.collector = "alloc-test";
        // Every measured request on one connection stays keep-alive.
        s.max_requests_per_connection = 1'000'000;
        // The shortest header timeout (the tests run for 0.5 s and more, many seconds under
        // the sanitizers): connections whose requests all arrive whole must never see it, and
        // a deadline that outlives its request shows as a 408 on any machine, fast or slow.
        s.header_timeout_ms = 100;
        s.enrichment = &enrichment_;
        s.redirect = &redirects_;
        s.allowed_events = &allowed_events_;
        s.cors_origins = &cors_origins_;
        worker_ = std::make_unique<worker>(std::move(s), ring_, counters_);
        worker_thread_ = std::thread([this] {
            counter_.store(&test::thread_allocation_counter(), std::memory_order_release);
            run_error_ = worker_->run();
        });
        drainer_ = std::thread([this] { drain(); });
        for (int i = 0; i < 5000 && worker_->state() == 0; ++i)
            std::this_thread::sleep_for(1ms);
        if (worker_->state() != 1) error_ = "the worker did not start: " + run_error_;
    }

    ~server() {
        if (worker_) {
            worker_->request_stop();
            worker_thread_.join();
            stop_drain_.store(true, std::memory_order_release);
            drainer_.join();
        }
    }

    const std::string& error() const { return error_; }
    int port() const { return port_; }
    const worker_counters& counters() const { return counters_; }
    uint64_t drained() const { return drained_.load(std::memory_order_acquire); }
    // Any thread, once drained() has been seen to reach the event.
    std::string last_event() const {
        std::lock_guard lock(last_mutex_);
        return last_;
    }

    // The worker thread's allocations so far. Waits first until the worker has gone quiet (no
    // completion for 30 ms: the answers of the requests before were sent and their send
    // completions handled), so that the reading is exact.
    size_t worker_allocations() const {
        uint64_t seen = counters_.completions.get();
        for (int i = 0; i < 200; ++i) {
            std::this_thread::sleep_for(30ms);
            uint64_t now = counters_.completions.get();
            if (now == seen) break;
            seen = now;
        }
        return counter_.load(std::memory_order_acquire)->load(std::memory_order_acquire);
    }

private:
    void drain() {
        for (;;) {
            bool stopping = stop_drain_.load(std::memory_order_acquire);
            std::string_view rec = ring_.peek();
            if (rec.empty()) {
                if (stopping) return;
                std::this_thread::sleep_for(200us);
                continue;
            }
            {
                std::lock_guard lock(last_mutex_);
                last_.assign(rec);
            }
            ring_.release();
            drained_.fetch_add(1, std::memory_order_release);
        }
    }

    std::string error_;
    int port_ = 0;
    enrichment_setup enrichment_;
    redirect_policy redirects_;
    action_allowlist allowed_events_;
    std::vector<std::string> cors_origins_;
    spsc_byte_ring ring_{ring_bytes};
    worker_counters counters_;
    std::unique_ptr<worker> worker_;
    std::string run_error_;
    std::atomic<const std::atomic<size_t>*> counter_{nullptr};
    std::thread worker_thread_;
    std::thread drainer_;
    std::atomic<bool> stop_drain_{false};
    std::atomic<uint64_t> drained_{0};
    mutable std::mutex last_mutex_;
    std::string last_;
};

// ---- the client ------------------------------------------------------------------------------

std::string pixel_request() {
    return std::string("GET ") + pixel_path +
           " HTTP/1.1\r\nHost: px.example.com\r\nReferer: " + referer +
           "\r\nUser-Agent: " + user_agent + "\r\nX-Forwarded-For: " + client_address + "\r\n\r\n";
}

std::string beacon_request() {
    const std::string body =
        R"({"action":"scroll","campaign":"example.com","url":"https://example.com/blog/post",)"
        R"("params":{"depth":70,"dark":true}})";
    return "POST /e HTTP/1.1\r\nHost: px.example.com\r\nOrigin: https://example.com\r\n"
           "Content-Type: text/plain\r\nUser-Agent: " +
           std::string(user_agent) + "\r\nX-Forwarded-For: " + client_address +
           "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string preflight_request() {
    return "OPTIONS /e HTTP/1.1\r\nHost: px.example.com\r\nOrigin: https://example.com\r\n"
           "Access-Control-Request-Method: POST\r\n\r\n";
}

std::string rest_request() {
    return "GET /tr/v1/action/signup/plan/pro/campaign/example.com HTTP/1.1\r\n"
           "Host: px.example.com\r\nReferer: " +
           std::string(referer) + "\r\nUser-Agent: " + user_agent +
           "\r\nX-Forwarded-For: " + client_address + "\r\n\r\n";
}

// A signed redirect; pad makes the target (and so the request and its answer's Location)
// longer.
std::string redirect_request(size_t pad = 0) {
    signed_link link =
        sign_url(redirect_secret, "https://example.com/landing?from=mail" + std::string(pad, 'p'),
                 "click", "example.com");
    return "GET " + link.link + " HTTP/1.1\r\nHost: px.example.com\r\n" +
           "User-Agent: " + user_agent + "\r\nX-Forwarded-For: " + client_address + "\r\n\r\n";
}

// A blocking loopback connection (tests/support/e2e_client.hh's connection needs the pixelring
// binary).
class connection {
public:
    // receive_buffer: SO_RCVBUF before connecting, 0 for the default.
    explicit connection(int port, int receive_buffer = 0) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ >= 0 && receive_buffer > 0)
            ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(uint16_t(port));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            ::close(fd_);
            fd_ = -1;
        }
        int one = 1;
        if (fd_ >= 0) ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    ~connection() {
        if (fd_ >= 0) ::close(fd_);
    }
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    bool ok() const { return fd_ >= 0; }

    bool send_all(std::string_view data) {
        while (!data.empty()) {
            ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return false;
            data.remove_prefix(size_t(n));
        }
        return true;
    }

    // Reads n answers (framed by Content-Length; none means no body) and appends their status
    // codes to statuses. False on a timeout (5 s without a byte) or a closed connection.
    bool read_answers(size_t n, std::vector<int>& statuses) {
        size_t pos = 0;
        for (size_t got = 0; got < n;) {
            size_t len = answer_length(pos);
            if (len > 0) {
                statuses.push_back(std::atoi(buf_.c_str() + pos + 9));
                pos += len;
                ++got;
                continue;
            }
            buf_.erase(0, pos);
            pos = 0;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 5000) <= 0) return false;
            char chunk[65536];
            ssize_t r = ::recv(fd_, chunk, sizeof chunk, 0);
            if (r <= 0) return false;
            buf_.append(chunk, size_t(r));
        }
        buf_.erase(0, pos);
        return true;
    }

private:
    // Length of the complete answer at buf_[pos], or 0 when incomplete.
    size_t answer_length(size_t pos) const {
        size_t end = buf_.find("\r\n\r\n", pos);
        if (end == std::string::npos) return 0;
        size_t body = 0;
        constexpr std::string_view field = "\r\nContent-Length: ";
        size_t cl = buf_.find(field, pos);
        if (cl != std::string::npos && cl < end)
            body = size_t(std::strtoul(buf_.c_str() + cl + field.size(), nullptr, 10));
        if (buf_.size() < end + 4 + body) return 0;
        return end + 4 + body - pos;
    }

    int fd_ = -1;
    std::string buf_;
};

// Keep-alive connections, each sent `depth` pipelined copies of a round's requests per round;
// every answer's status is checked.
class client {
public:
    client(int port, int connections, std::vector<std::string> round, std::vector<int> statuses,
           int depth)
        : round_(std::move(round)), statuses_(std::move(statuses)), depth_(depth) {
        for (int i = 0; i < connections; ++i)
            conns_.push_back(std::make_unique<connection>(port));
        for (int d = 0; d < depth_; ++d)
            for (const std::string& r : round_)
                batch_ += r;
    }
    bool ok() const {
        for (const auto& c : conns_)
            if (!c->ok()) return false;
        return true;
    }
    // Requests in one round, over every connection.
    size_t per_round() const { return conns_.size() * size_t(depth_) * round_.size(); }

    // Sends `rounds` rounds; returns an empty string or the first problem.
    std::string run(size_t rounds) {
        const size_t per_conn = size_t(depth_) * round_.size();
        std::vector<int> got;
        got.reserve(per_conn);
        for (size_t n = 0; n < rounds; ++n) {
            for (auto& c : conns_)
                if (!c->send_all(batch_)) return "round " + std::to_string(n) + ": send failed";
            for (auto& c : conns_) {
                got.clear();
                if (!c->read_answers(per_conn, got))
                    return "round " + std::to_string(n) + ": " + std::to_string(got.size()) +
                           " answers of " + std::to_string(per_conn);
                for (size_t i = 0; i < got.size(); ++i)
                    if (got[i] != statuses_[i % statuses_.size()])
                        return "round " + std::to_string(n) + ", answer " + std::to_string(i) +
                               ": want " + std::to_string(statuses_[i % statuses_.size()]) +
                               ", got " + std::to_string(got[i]);
            }
        }
        return {};
    }

private:
    std::vector<std::string> round_;
    std::vector<int> statuses_;
    int depth_;
    std::string batch_;
    std::vector<std::unique_ptr<connection>> conns_;
};

constexpr size_t warm_up_requests = 10'000;
constexpr size_t measured_requests = 100'000;

// Rounds of c that make at least n requests.
size_t rounds_for(const client& c, size_t n) {
    return (n + c.per_round() - 1) / c.per_round();
}

// Waits (bounded) until the drainer has seen every accepted event.
bool drained_all(const server& s) {
    for (int i = 0; i < 5000; ++i) {
        if (s.drained() >= s.counters().events_accepted.get()) return true;
        std::this_thread::sleep_for(1ms);
    }
    return false;
}

// ---- tests -----------------------------------------------------------------------------------

TEST(alloc_test, keep_alive_pixels_allocate_nothing) {
    REQUIRE_TESTDATA("geoip");
    server s;
    ASSERT_EQ(s.error(), "");
    // 4 connections, 16 pipelined requests each per round; then 1 request at a time.
    client pipelined(s.port(), 4, {pixel_request()}, {200}, 16);
    client one_by_one(s.port(), 1, {pixel_request()}, {200}, 1);
    ASSERT_TRUE(pipelined.ok() && one_by_one.ok());

    ASSERT_EQ(pipelined.run(rounds_for(pipelined, warm_up_requests)), "");
    ASSERT_EQ(one_by_one.run(1000), "");
    const size_t start_up = s.worker_allocations();
    const uint64_t events_before = s.counters().events_accepted.get();

    const size_t rounds = rounds_for(pipelined, measured_requests);
    ASSERT_EQ(pipelined.run(rounds), "");
    const size_t pipelined_allocations = s.worker_allocations() - start_up;
    ASSERT_EQ(one_by_one.run(10'000), "");
    const size_t total = s.worker_allocations() - start_up;

    const uint64_t events = s.counters().events_accepted.get() - events_before;
    std::printf("worker allocations: start-up and warm-up %zu; %zu pipelined keep-alive pixels "
                "%zu; then 10000 one at a time %zu\n",
                start_up, rounds * pipelined.per_round(), pipelined_allocations,
                total - pipelined_allocations);
    EXPECT_EQ(pipelined_allocations, 0u);
    EXPECT_EQ(total, 0u);
    EXPECT_EQ(events, rounds * pipelined.per_round() + 10'000);
    EXPECT_EQ(s.counters().events_dropped_ring_full.get(), 0u);

    // The events were enriched: GeoIP found the forwarded address, the visitor was hashed.
    ASSERT_TRUE(drained_all(s));
    const std::string last = s.last_event();
    EXPECT_NE(last.find(R"("country":"GB")"), std::string::npos) << last;
    EXPECT_NE(last.find(R"("visitor":")"), std::string::npos) << last;
    EXPECT_NE(last.find(R"("campaign":"example.com")"), std::string::npos) << last;
}

TEST(alloc_test, beacons_rest_and_redirects_allocate_nothing) {
    REQUIRE_TESTDATA("geoip");
    server s;
    ASSERT_EQ(s.error(), "");
    const std::string redirect = redirect_request();
    ASSERT_NE(redirect.find("&sig="), std::string::npos) << redirect;
    // A round on each connection: a beacon (204), its preflight (204), a REST hit (204), a
    // signed redirect (302) and a pixel (200), 8 times pipelined.
    client mixed(s.port(), 2,
                 {beacon_request(), preflight_request(), rest_request(), redirect, pixel_request()},
                 {204, 204, 204, 302, 200}, 8);
    ASSERT_TRUE(mixed.ok());

    ASSERT_EQ(mixed.run(rounds_for(mixed, warm_up_requests)), "");
    const size_t warmed = s.worker_allocations();
    // The answer pools grow to the most dynamic answers held at once (at most
    // max_owned_responses per connection), which varies with timing: warm up until a whole
    // warm-up run allocates nothing (bounded).
    size_t start_up = warmed;
    int extra_runs = 0;
    for (; extra_runs < 20; ++extra_runs) {
        ASSERT_EQ(mixed.run(rounds_for(mixed, warm_up_requests)), "");
        const size_t now = s.worker_allocations();
        if (now == start_up) break;
        start_up = now;
    }
    ASSERT_LT(extra_runs, 20) << "the pools kept growing";
    std::printf("worker allocations: start-up and warm-up %zu; then %zu in %d more warm-up "
                "runs\n",
                warmed, start_up - warmed, extra_runs);
    const uint64_t events_before = s.counters().events_accepted.get();

    const size_t rounds = rounds_for(mixed, measured_requests);
    ASSERT_EQ(mixed.run(rounds), "");
    const size_t allocations = s.worker_allocations() - start_up;

    const uint64_t requests = rounds * mixed.per_round();
    const uint64_t events = s.counters().events_accepted.get() - events_before;
    std::printf("worker allocations over %llu beacon, preflight, REST, redirect and pixel "
                "requests (keep-alive, pipelined): %zu\n",
                static_cast<unsigned long long>(requests), allocations);
    EXPECT_EQ(allocations, 0u);
    // Every request but the preflight records one event.
    EXPECT_EQ(events, requests / 5 * 4);
    ASSERT_TRUE(drained_all(s));
}

// The measurement can fail: with the worker's clock reads allocating, it counts at least one
// allocation per request.
TEST(alloc_test, counter_sees_worker_allocations) {
    REQUIRE_TESTDATA("geoip");
    server s;
    ASSERT_EQ(s.error(), "");
    client one_by_one(s.port(), 1, {pixel_request()}, {200}, 1);
    ASSERT_TRUE(one_by_one.ok());
    ASSERT_EQ(one_by_one.run(1000), "");
    const size_t before = s.worker_allocations();
    g_clock_allocates.store(true);
    std::string err = one_by_one.run(1000);
    const size_t allocations = s.worker_allocations() - before;
    g_clock_allocates.store(false);
    ASSERT_EQ(err, "");
    std::printf("worker allocations over 1000 requests with an allocating clock: %zu\n",
                allocations);
    EXPECT_GE(allocations, 1000u);
}

} // namespace
