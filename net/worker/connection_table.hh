#pragma once
// A worker's connection slots: generations, staging buffers and the two timeout lists. No
// I/O and no io_uring; owned and used by one worker thread only.

#include <cstdint>
#include <sys/socket.h>
#include <sys/uio.h>
#include <vector>

#include "core/base/address.hh"
#include "core/http/request_parser.hh"

namespace pixelring {
class tls_session;
}

namespace pixelring {

inline constexpr uint32_t no_slot = UINT32_MAX;
// Answers queued on one connection before the worker stops parsing its pipelined requests
// until a send completes. Twice what a browser or wrk pipelines (16); the queue lives in every
// connection slot (16 bytes of iovec and 8 of owner per entry), so it also sets the memory
// of an idle connection (tests/e2e/idle_connections_test.cc).
inline constexpr unsigned max_pending_responses = 32;
// Dynamic answers (net/http/dynamic_response.hh: pooled buffers) queued on one connection before
// the worker stops parsing its requests until a send completes: bounds the memory a client
// that does not read its answers can pin.
inline constexpr unsigned max_owned_responses = 8;

// idle: waiting for a request; header: a request arriving; closing: the last answer sent, the
// connection half-closed (lingering close) until the client closes its side.
enum class timer_list : uint8_t { none, idle, header, closing };

struct connection {
    int fd = -1;
    uint32_t gen = 0;      // 24 bits used; bumped when the slot is freed
    uint16_t inflight = 0; // requests in the kernel that name this slot
    bool open = false;
    bool recv_armed = false;
    bool send_armed = false;
    bool close_after_send = false; // the last answer is queued; close once it is sent
    bool input_done = false;       // read no more (error, close, stop)
    bool peer_closed = false;      // the client closed its side (recv returned 0)
    bool lingering = false;        // our side is shut down; waiting for the client's close
    bool peer_known = false;
    uint32_t requests = 0;
    ip_address peer;
    // Bytes of a request not yet complete, or of requests held back while the answer queue
    // is full. Taken from the table's pool only while needed.
    char* stage = nullptr;
    uint32_t stage_len = 0;
    uint64_t body_left = 0; // Content-Length body bytes still to skip
    request_parser parser;
    // A request whose body is read (POST /e): its head, then its body (chunks decoded), until
    // the body is complete. In a staging buffer of the table's pool while what arrived fits in
    // one (body_big false), else in a buffer of the worker's bounded body pool.
    char* body_buf = nullptr;
    uint32_t body_head = 0; // head bytes at body_buf[0..)
    uint32_t body_len = 0;  // bytes in body_buf: head and body so far
    uint32_t body_cap = 0;  // size of body_buf
    bool body_big = false;  // body_buf is from the worker's body pool
    uint64_t body_need = 0; // Content-Length bytes still to read (not chunked)
    bool body_chunked = false;
    bool proxy_pending = false;   // server.proxy_protocol: the PROXY header is still to come
    bool event_ring_wait = false; // in the worker's list of connections waiting for ring room
    // HTTPS (net/worker/worker_tls.cc): the session, and the buffer its ciphertext goes to (from
    // the worker's pool while there is something to send); tls_sent bytes of it are sent.
    tls_session* tls = nullptr;
    char* tls_out = nullptr;
    uint32_t tls_sent = 0;
    bool tls_counted = false; // the handshake's outcome is in the counters
    // The first bytes of the handshake, held back until the ClientHello's announced length
    // can be checked (worker_tls.cc), then the ciphertext received while the handshake ran.
    uint8_t tls_hello_len = 0;
    char tls_hello[9];
    uint32_t tls_handshake_in = 0;
    chunked_decoder chunks;
    // Answers in request order; pointers into the response arena, or into a buffer of the
    // worker's answer pool when owned[i] is set (given back once the answer is sent).
    iovec out[max_pending_responses];
    char* owned[max_pending_responses];
    uint32_t owned_large = 0; // bit i: owned[i] is from the large pool
    static_assert(max_pending_responses <= 32, "owned_large has a bit per queued answer");
    uint32_t out_count = 0;
    uint32_t owned_count = 0;
    msghdr msg{};
    // Timeout list links (doubly linked by slot index).
    timer_list list = timer_list::none;
    uint32_t prev = no_slot;
    uint32_t next = no_slot;
    uint64_t deadline_ms = 0;
    // On the header list: which request the deadline belongs to (worker.cc's timer_key), so
    // that the next request gets a deadline of its own.
    uint32_t timed_request = 0;
    uint32_t next_free = no_slot;

    explicit connection(const http_limits& limits)
        : parser(limits), chunks(limits.max_body_bytes) {}
};

// The connection's answer queue is full: no more of its requests are read until a send
// completes.
inline bool responses_full(const connection& c) noexcept {
    return c.out_count >= max_pending_responses || c.owned_count >= max_owned_responses;
}

class connection_table {
public:
    // Reserves address space for max_slots slots but constructs (and touches) a slot only
    // when a connection first needs it, so idle capacity costs no memory.
    connection_table(const http_limits& limits, uint32_t max_slots, size_t stage_capacity);
    ~connection_table();
    connection_table(const connection_table&) = delete;
    connection_table& operator=(const connection_table&) = delete;

    connection& operator[](uint32_t index) noexcept { return slots_[index]; }
    uint32_t size() const noexcept { return uint32_t(slots_.size()); }

    // A free slot (reused first). The caller resets its fields.
    uint32_t alloc();
    // Back to the free list; its generation changes so late completions are recognised.
    void free(uint32_t index) noexcept;

    // Staging buffers of stage_capacity() bytes, pooled: allocated the first time the pool is
    // empty and reused for the life of the worker. A connection holds at most two: its staged
    // bytes and the beacon being read from them.
    char* take_stage();
    void give_stage(connection& c) noexcept;
    void give_stage_buffer(char* buffer) noexcept;
    size_t stage_capacity() const noexcept { return stage_capacity_; }

    // Timeout lists. Every member of one list has the same timeout, so appending at the tail
    // keeps each list ordered by deadline and expiry only looks at the head: O(1).
    void link_tail(uint32_t index, timer_list list, uint64_t deadline_ms) noexcept;
    void unlink(uint32_t index) noexcept;
    uint32_t first(timer_list list) const noexcept {
        return list == timer_list::idle     ? idle_.first
               : list == timer_list::header ? header_.first
                                            : closing_.first;
    }

private:
    struct list_head {
        uint32_t first = no_slot;
        uint32_t last = no_slot;
    };
    list_head& head_of(timer_list l) noexcept {
        return l == timer_list::idle ? idle_ : l == timer_list::header ? header_ : closing_;
    }

    const http_limits& limits_;
    std::vector<connection> slots_;
    uint32_t free_head_ = no_slot;
    std::vector<char*> stage_pool_;
    size_t stage_capacity_;
    list_head idle_;
    list_head header_;
    list_head closing_;
};

} // namespace pixelring
