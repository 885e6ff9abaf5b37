#pragma once
// Private to net/worker/worker*.cc: the state of one worker. worker.cc holds the io_uring side
// (accept, recv, send, the loop); worker_timers.cc the timeouts; worker_input.cc turns
// received bytes into requests (PROXY headers, heads, beacon bodies, the pause for ring room);
// worker_requests.cc what a complete request does (routes, events, answers).

#include <memory>
#include <optional>
#include <vector>

#include <liburing.h>

#include "core/event/beacon.hh"
#include "core/policy/rate_limiter.hh"
#include "net/http/dynamic_response.hh"
#include "net/http/responses.hh"
#include "net/http/router.hh"
#include "net/uring/provided_buffers.hh"
#include "net/worker/buffer_pool.hh"
#include "net/worker/connection_table.hh"
#include "net/worker/worker.hh"
#include "tls/tls_session.hh"

namespace pixelring {

// HTTPS: a connection's ciphertext buffer (handshake flights, alerts, encrypted answers),
// taken while it has something to send; answers are encrypted into it while tls_headroom
// stays free for what a record read may have to send (a handshake flight, tickets, alerts).
inline constexpr size_t tls_output_size = 64 * 1024;
inline constexpr size_t tls_headroom = 16 * 1024;
inline constexpr size_t tls_plain_size = 16 * 1024; // a TLS record's plaintext at most
// What a client may send before its handshake is done: a ClientHello announcing more than
// tls_hello_limit bytes is refused before OpenSSL makes room for it, and the connection is
// closed once more than tls_handshake_limit bytes came without finishing the handshake.
// Real ClientHellos take 200 bytes to 2 KiB (with post-quantum key shares).
inline constexpr size_t tls_hello_limit = 16 * 1024;
inline constexpr size_t tls_handshake_limit = 24 * 1024;

struct worker::impl {
    worker_settings cfg;
    spsc_byte_ring& events;
    worker_counters& counters;
    io_uring uring{};
    bool uring_ready = false;
    provided_buffers buffers; // freed after ~impl has exited the ring
    response_table responses;
    uuidv7_generator ids;
    std::optional<visitor_hasher> visitors; // this worker's visitor ids
    http_request req;                       // scratch: one request is handled at a time
    connection_table conns;
    beacon_parser beacons;
    std::optional<rate_limiter> limiter;  // server.rate_limit
    buffer_pool bodies;                   // connection::body_buf once it outgrew a stage
    buffer_pool answers;                  // dynamic answers (owned): receipts, long Locations
    buffer_pool small_responses;          // every other dynamic answer
    buffer_pool tls_outputs;              // connection::tls_out
    std::unique_ptr<char[]> tls_plain;    // one record's plaintext, decrypted (HTTPS)
    const tls_context* tls_now = nullptr; // cfg.tls's context as this worker last took it
    uint64_t tls_generation = 0;          //   and its generation
    uint32_t max_bodies_out;              // beyond: 503 (body_memory_per_worker)
    uint32_t bodies_out = 0;              // body buffers held by connections
    std::vector<uint32_t> accept_paused;  // listeners to re-arm at the next tick (EMFILE...)
    size_t event_ring_reserve; // free ring bytes below which requests wait (event_ring_short)
    struct ring_waiter {
        uint32_t index;
        uint32_t gen;
    };
    std::vector<ring_waiter> event_ring_waiters; // connections waiting for room in the ring
    std::vector<ring_waiter> resuming;           // scratch of resume_event_ring_waiters
    uint32_t open_count = 0;
    bool stopping = false;
    uint64_t stop_deadline = 0;
    uint64_t now_ms = 0;  // CLOCK_REALTIME, refreshed per completion batch
    uint64_t mono_ms = 0; // CLOCK_MONOTONIC, for timers
    __kernel_timespec tick{};
    uint64_t wake_value = 0;
    int wake_fd;
    unsigned last_seen = 0; // completions handled in the previous pass

    impl(worker_settings s, spsc_byte_ring& r, worker_counters& c, int wake);
    ~impl();

    // ---- worker.cc, worker_timers.cc and worker_input.cc ---------------------------------
    io_uring_sqe* sqe() noexcept;
    void arm_accept(uint32_t listener);
    void arm_recv(uint32_t index);
    void arm_timer();
    void arm_wake();
    std::string start();
    void update_timer(uint32_t index) noexcept;
    uint32_t expired(timer_list list) noexcept;
    void expire_timers();
    void on_accept(const io_uring_cqe* cqe);
    void close_connection(uint32_t index);
    void finish_connection(uint32_t index);
    void release_buffers(connection& c) noexcept;
    connection* settle(uint64_t ud, bool final_completion);
    const ip_address& peer_of(connection& c);
    void flush_responses(uint32_t index);
    void on_send(const io_uring_cqe* cqe);
    size_t consume(uint32_t index, char* data, size_t len);
    bool take_proxy_header(uint32_t index, const char* data, size_t len, size_t& used);
    bool grow_body(uint32_t index);
    bool reparse_body_head(connection& c);
    void give_body(char* buf, bool big) noexcept;
    void drop_body(connection& c) noexcept; // gives body_buf back
    size_t feed_body(uint32_t index, const char* data, size_t len);
    void finish_body(uint32_t index);
    void consume_stage(uint32_t index);
    bool event_ring_short() const noexcept;
    void wait_for_event_ring(uint32_t index);
    void resume_event_ring_waiters();
    void on_recv(const io_uring_cqe* cqe);
    void on_bytes(uint32_t index, char* data, size_t len);
    void take_bytes(uint32_t index, char* data, size_t len);
    void drop_responses(connection& c, uint32_t done) noexcept;

    // ---- worker_tls.cc: HTTPS connections ------------------------------------------------
    bool start_tls(uint32_t index);
    void attach_output(connection& c);
    void on_tls_bytes(uint32_t index, char* data, size_t len);
    bool tls_check_hello(uint32_t index, char*& data, size_t& len);
    tls_result tls_drain(uint32_t index);
    void tls_refuse(connection& c, size_t reason) noexcept;
    void flush_tls(uint32_t index);
    void tls_sent(connection& c, size_t sent) noexcept;
    void end_tls(connection& c) noexcept;
    void on_timer(const io_uring_cqe*);
    void begin_stop();
    void run_loop();

    // ---- worker_requests.cc: what a request does ----------------------------------------
    // Routes one complete request (body: POST /e's body in a padded buffer of body_cap
    // bytes, else empty) and queues its answer. Returns false when the connection must be
    // closed after the answer.
    bool handle_request(uint32_t index, const http_request& r, const char* body, size_t body_len,
                        size_t body_cap);
    void queue_response(uint32_t index, std::string_view bytes) noexcept;
    // A dynamic answer's buffer: small (small_response_headroom + 2560 bytes) or large
    // (response_headroom + the receipts of a whole batch). headroom_of says which offset the
    // body goes to.
    char* take_response(bool large);
    static size_t headroom_of(bool large) noexcept {
        return large ? response_headroom : small_response_headroom;
    }
    void queue_owned(uint32_t index, std::string_view bytes, char* buffer, bool large) noexcept;
    void give_owned(connection& c, uint32_t i) noexcept;
    uint16_t queue_text(uint32_t index, uint16_t status, std::string_view text, bool keep_alive,
                        bool head, std::string_view allow = {});
    void record_hit(connection& c, const http_request& r, pixel_hit& hit, std::string_view action);
    // The one step from a hit to an event in the ring: reserve the size bound, encode with the
    // next id, commit, count. False when the ring has no room for it (the caller counts
    // ring_full). Hit: pixel_hit or beacon_hit.
    template <class Hit> bool record_event(const Hit& hit);
    uint16_t respond_beacon(uint32_t index, const http_request& r, const char* body,
                            size_t body_len, size_t body_cap, bool keep_alive);
    uint16_t respond_preflight(uint32_t index, const http_request& r, bool keep_alive);
    uint16_t respond_acme(uint32_t index, const routed& how, bool keep_alive);
    uint16_t respond_redirect(uint32_t index, const http_request& r, const routed& how,
                              bool keep_alive);
    uint16_t respond_rest(uint32_t index, const http_request& r, const routed& how,
                          bool keep_alive);
    // What the Origin of a beacon or a preflight gets.
    enum class cors : uint8_t { none, echo, refuse };
    cors cors_for(std::string_view origin) const noexcept;
    uint16_t beacon_error(uint32_t index, const http_request& r, uint16_t status,
                          std::string_view json, bool keep_alive);
    uint16_t body_too_large(uint32_t index, const http_request& r);
};

} // namespace pixelring
