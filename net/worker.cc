// The io_uring worker: accept, recv, parse, answer, encode the event into the SPSC ring.
// io_uring features: multishot accept (5.19), multishot recv with a provided buffer ring
// (6.0, registered with the liburing 2.3 API), SINGLE_ISSUER|DEFER_TASKRUN (6.1) falling
// back to COOP_TASKRUN (5.19), registered buffers for the prebuilt answers, a re-armed
// timeout for the timers. Minimum kernel: 6.0.

#include "net/worker.hh"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <liburing.h>

#include <fmt/format.h>

#include "net/responses.hh"

namespace pixelring {

namespace {

// user_data layout, 64 bits:
//   bits 56..63  op      (what kind of completion this is)
//   bits 32..55  gen     (connection slot generation, 24 bits: a completion that arrives
//                         after its slot was recycled carries an old gen and is ignored)
//   bits  0..31  index   (connection slot, or listener index for accepts)
enum class op : uint8_t { accept = 1, recv, send, timer, wake };

constexpr uint64_t encode_user_data(op o, uint32_t gen, uint32_t index) noexcept {
    return (uint64_t(o) << 56) | (uint64_t(gen & 0xffffff) << 32) | index;
}
constexpr op user_data_op(uint64_t ud) noexcept { return op(ud >> 56); }
constexpr uint32_t user_data_gen(uint64_t ud) noexcept { return uint32_t(ud >> 32) & 0xffffff; }
constexpr uint32_t user_data_index(uint64_t ud) noexcept { return uint32_t(ud); }

constexpr unsigned sq_entries = 1024;
constexpr unsigned cq_entries = 8 * sq_entries; // completions come in bursts (multishot)
constexpr unsigned recv_buffer_count = 256;     // power of two
constexpr unsigned recv_buffer_size = 16384;    // holds 16 pipelined pixel requests
constexpr uint16_t recv_buffer_group = 0;
constexpr unsigned max_pending_answers = 64; // answers queued per connection before pausing
constexpr uint32_t no_slot = UINT32_MAX;
constexpr long tick_ns = 250'000'000;

uint64_t realtime_ms() noexcept {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1'000'000;
}

uint64_t monotonic_ms() noexcept {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1'000'000;
}

int setup_ring(io_uring& ring, std::string& error) {
    io_uring_params p{};
    p.cq_entries = cq_entries;
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER |
              IORING_SETUP_DEFER_TASKRUN;
    int ret = io_uring_queue_init_params(sq_entries, &ring, &p);
    if (ret == -EINVAL) {
        // Kernels before 6.1 lack DEFER_TASKRUN.
        p = {};
        p.cq_entries = cq_entries;
        p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN |
                  IORING_SETUP_TASKRUN_FLAG;
        ret = io_uring_queue_init_params(sq_entries, &ring, &p);
    }
    if (ret < 0) {
        error = fmt::format("io_uring_queue_init: {}", std::strerror(-ret));
        return ret;
    }
    if (!(p.features & IORING_FEAT_NODROP) || !(p.features & IORING_FEAT_FAST_POLL) ||
        !(p.features & IORING_FEAT_SUBMIT_STABLE)) {
        error = "io_uring lacks IORING_FEAT_NODROP, FAST_POLL or SUBMIT_STABLE (kernel >= 5.7 "
                "needed)";
        io_uring_queue_exit(&ring);
        return -EOPNOTSUPP;
    }
    return 0;
}

} // namespace

std::string probe_io_uring() {
    io_uring ring;
    std::string error;
    if (setup_ring(ring, error) < 0) return error;
    io_uring_probe* probe = io_uring_get_probe_ring(&ring);
    if (!probe) {
        io_uring_queue_exit(&ring);
        return "io_uring opcode probe failed (kernel >= 5.6 needed)";
    }
    struct needed {
        int op;
        const char* name;
    };
    static constexpr needed ops[] = {{IORING_OP_ACCEPT, "IORING_OP_ACCEPT"},
                                     {IORING_OP_RECV, "IORING_OP_RECV"},
                                     {IORING_OP_SEND, "IORING_OP_SEND"},
                                     {IORING_OP_SENDMSG, "IORING_OP_SENDMSG"},
                                     {IORING_OP_TIMEOUT, "IORING_OP_TIMEOUT"},
                                     {IORING_OP_READ, "IORING_OP_READ"}};
    for (const needed& n : ops) {
        if (!io_uring_opcode_supported(probe, n.op)) {
            io_uring_free_probe(probe);
            io_uring_queue_exit(&ring);
            return fmt::format("io_uring: opcode {} not supported by this kernel", n.name);
        }
    }
    io_uring_free_probe(probe);
    // A provided buffer ring (5.19) is what multishot recv (6.0) reads into.
    void* mem = nullptr;
    if (posix_memalign(&mem, 4096, 4096) != 0) {
        io_uring_queue_exit(&ring);
        return "out of memory";
    }
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uintptr_t>(mem);
    reg.ring_entries = 8;
    reg.bgid = 0;
    int ret = io_uring_register_buf_ring(&ring, &reg, 0);
    if (ret == 0) io_uring_unregister_buf_ring(&ring, 0);
    free(mem);
    io_uring_queue_exit(&ring);
    if (ret < 0)
        return fmt::format("io_uring: provided buffer rings (IORING_REGISTER_PBUF_RING, kernel "
                           ">= 5.19, and multishot recv, kernel >= 6.0) unavailable: {}",
                           std::strerror(-ret));
    return {};
}

namespace {

enum class timer_list : uint8_t { none, idle, header };

struct connection {
    int fd = -1;
    uint32_t gen = 0;
    uint16_t inflight = 0; // requests in the kernel that name this slot
    bool open = false;
    bool recv_armed = false;
    bool send_armed = false;
    bool close_after_send = false; // the last answer is queued; close once it is sent
    bool input_done = false;       // read no more (error, close, stop)
    bool peer_known = false;
    uint32_t requests = 0;
    ip_address peer;
    // Bytes of a request not yet complete, or of requests held back while the answer queue
    // is full. Taken from the worker's pool only while needed.
    char* stage = nullptr;
    uint32_t stage_len = 0;
    uint64_t body_left = 0; // Content-Length body bytes still to skip
    request_parser parser;
    // Answers in request order; pointers into the response arena.
    iovec out[max_pending_answers];
    uint32_t out_count = 0;
    msghdr msg{};
    // Timer list links (doubly linked by slot index, FIFO by deadline).
    timer_list list = timer_list::none;
    uint32_t prev = no_slot;
    uint32_t next = no_slot;
    uint64_t deadline_ms = 0;
    uint32_t next_free = no_slot;

    explicit connection(const http_limits& limits) : parser(limits) {}
};

struct list_head {
    uint32_t first = no_slot;
    uint32_t last = no_slot;
};

} // namespace

struct worker::impl {
    worker_settings cfg;
    spsc_byte_ring& events;
    worker_counters& counters;
    io_uring ring{};
    bool ring_ready = false;
    io_uring_buf_ring* buf_ring = nullptr;
    char* buf_base = nullptr;
    response_table responses;
    uuidv7_generator ids;
    http_request req; // scratch: one request is handled at a time
    std::vector<connection> conns;
    uint32_t free_head = no_slot;
    std::vector<char*> stage_pool;
    size_t stage_cap;
    list_head idle;
    list_head header;
    uint32_t open_count = 0;
    bool stopping = false;
    uint64_t stop_deadline = 0;
    uint64_t now_ms = 0;     // CLOCK_REALTIME, refreshed per completion batch
    uint64_t mono_ms = 0;    // CLOCK_MONOTONIC, for timers
    __kernel_timespec tick{0, tick_ns};
    uint64_t wake_value = 0;
    int wake_fd;
    unsigned buf_pending_advance = 0;

    impl(worker_settings s, spsc_byte_ring& r, worker_counters& c, int wake)
        : cfg(std::move(s)), events(r), counters(c), responses(uint64_t(time(nullptr))),
          ids(uint64_t(realtime_ms()) * 0x9e3779b97f4a7c15ull ^ (uint64_t(cfg.index) << 48) ^
              uint64_t(getpid())),
          stage_cap(cfg.limits.max_header_bytes + 4 * recv_buffer_size), wake_fd(wake) {}

    ~impl() {
        for (char* p : stage_pool) delete[] p;
        for (connection& c : conns)
            if (c.stage) delete[] c.stage;
        if (ring_ready) io_uring_queue_exit(&ring);
        free(buf_ring);
        free(buf_base);
    }

    // ---- submission helpers -------------------------------------------------------------

    io_uring_sqe* sqe() noexcept {
        io_uring_sqe* s = io_uring_get_sqe(&ring);
        if (!s) {
            io_uring_submit(&ring);
            s = io_uring_get_sqe(&ring);
        }
        return s;
    }

    void arm_accept(uint32_t listener) {
        io_uring_sqe* s = sqe();
        io_uring_prep_multishot_accept(s, cfg.listen_fds[listener], nullptr, nullptr,
                                       SOCK_CLOEXEC);
        io_uring_sqe_set_data64(s, encode_user_data(op::accept, 0, listener));
    }

    void arm_recv(uint32_t index) {
        connection& c = conns[index];
        io_uring_sqe* s = sqe();
        io_uring_prep_recv_multishot(s, c.fd, nullptr, 0, 0);
        s->flags |= IOSQE_BUFFER_SELECT;
        s->buf_group = recv_buffer_group;
        io_uring_sqe_set_data64(s, encode_user_data(op::recv, c.gen, index));
        c.recv_armed = true;
        ++c.inflight;
    }

    void arm_timer() {
        io_uring_sqe* s = sqe();
        io_uring_prep_timeout(s, &tick, 0, 0);
        io_uring_sqe_set_data64(s, encode_user_data(op::timer, 0, 0));
    }

    void arm_wake() {
        io_uring_sqe* s = sqe();
        io_uring_prep_read(s, wake_fd, &wake_value, sizeof wake_value, 0);
        io_uring_sqe_set_data64(s, encode_user_data(op::wake, 0, 0));
    }

    void recycle_buffer(unsigned bid) noexcept {
        io_uring_buf_ring_add(buf_ring, buf_base + size_t(bid) * recv_buffer_size,
                              recv_buffer_size, uint16_t(bid),
                              io_uring_buf_ring_mask(recv_buffer_count),
                              int(buf_pending_advance));
        ++buf_pending_advance;
    }

    // ---- set-up -----------------------------------------------------------------------

    std::string start() {
        if (cfg.cpu >= 0) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(cfg.cpu, &set);
            sched_setaffinity(0, sizeof set, &set); // best effort: a cpuset may forbid it
        }
        std::string error;
        if (setup_ring(ring, error) < 0) return error;
        ring_ready = true;

        // Provided buffers for multishot recv.
        void* mem = nullptr;
        if (posix_memalign(&mem, 4096, recv_buffer_count * sizeof(io_uring_buf)) != 0)
            return "out of memory for the buffer ring";
        buf_ring = static_cast<io_uring_buf_ring*>(mem);
        io_uring_buf_ring_init(buf_ring);
        io_uring_buf_reg reg{};
        reg.ring_addr = reinterpret_cast<uintptr_t>(buf_ring);
        reg.ring_entries = recv_buffer_count;
        reg.bgid = recv_buffer_group;
        int ret = io_uring_register_buf_ring(&ring, &reg, 0);
        if (ret < 0)
            return fmt::format("io_uring_register_buf_ring: {}", std::strerror(-ret));
        void* bufs = nullptr;
        if (posix_memalign(&bufs, 4096, size_t(recv_buffer_count) * recv_buffer_size) != 0)
            return "out of memory for receive buffers";
        buf_base = static_cast<char*>(bufs);
        for (unsigned i = 0; i < recv_buffer_count; ++i) recycle_buffer(i);
        io_uring_buf_ring_advance(buf_ring, int(buf_pending_advance));
        buf_pending_advance = 0;

        // The prebuilt answers live in registered memory.
        iovec arena{const_cast<char*>(responses.arena()), responses.arena_size()};
        ret = io_uring_register_buffers(&ring, &arena, 1);
        if (ret < 0) return fmt::format("io_uring_register_buffers: {}", std::strerror(-ret));

        // Slots are constructed on demand; reserving keeps their addresses stable and
        // touches no memory until a connection uses it.
        conns.reserve(cfg.max_connections);

        for (uint32_t l = 0; l < cfg.listen_fds.size(); ++l) arm_accept(l);
        arm_timer();
        arm_wake();
        io_uring_submit(&ring);
        return {};
    }

    // ---- connection slots -------------------------------------------------------------

    uint32_t alloc_slot() {
        uint32_t index;
        if (free_head != no_slot) {
            index = free_head;
            free_head = conns[index].next_free;
        } else {
            index = uint32_t(conns.size());
            conns.emplace_back(cfg.limits);
        }
        return index;
    }

    void free_slot(uint32_t index) noexcept {
        connection& c = conns[index];
        c.gen = (c.gen + 1) & 0xffffff;
        c.next_free = free_head;
        free_head = index;
    }

    char* take_stage() {
        if (!stage_pool.empty()) {
            char* p = stage_pool.back();
            stage_pool.pop_back();
            return p;
        }
        return new char[stage_cap]; // grows the pool; reused for the process's life
    }

    void give_stage(connection& c) noexcept {
        if (!c.stage) return;
        stage_pool.push_back(c.stage);
        c.stage = nullptr;
        c.stage_len = 0;
    }

    // ---- timers -------------------------------------------------------------------------

    list_head& head_of(timer_list l) noexcept { return l == timer_list::idle ? idle : header; }

    void unlink(uint32_t index) noexcept {
        connection& c = conns[index];
        if (c.list == timer_list::none) return;
        list_head& h = head_of(c.list);
        if (c.prev != no_slot) conns[c.prev].next = c.next;
        else h.first = c.next;
        if (c.next != no_slot) conns[c.next].prev = c.prev;
        else h.last = c.prev;
        c.prev = c.next = no_slot;
        c.list = timer_list::none;
    }

    void link_tail(uint32_t index, timer_list l, uint64_t deadline) noexcept {
        connection& c = conns[index];
        list_head& h = head_of(l);
        c.list = l;
        c.deadline_ms = deadline;
        c.prev = h.last;
        c.next = no_slot;
        if (h.last != no_slot) conns[h.last].next = index;
        else h.first = index;
        h.last = index;
    }

    // Waiting for the next request: idle timeout from now. Part of a request held: the
    // header timeout runs from its first byte and is not extended by later bytes.
    void update_timer(uint32_t index) noexcept {
        connection& c = conns[index];
        bool partial = c.stage_len > 0 || c.body_left > 0;
        if (partial) {
            if (c.list == timer_list::header) return;
            unlink(index);
            link_tail(index, timer_list::header, mono_ms + cfg.header_timeout_ms);
        } else {
            unlink(index);
            link_tail(index, timer_list::idle, mono_ms + cfg.idle_timeout_ms);
        }
    }

    void expire_timers() {
        while (header.first != no_slot && conns[header.first].deadline_ms <= mono_ms) {
            uint32_t index = header.first;
            unlink(index);
            counters.header_timeouts.add();
            connection& c = conns[index];
            give_stage(c);
            c.body_left = 0;
            c.input_done = true;
            counters.count_request(route::invalid, 408);
            queue_answer(index, responses.get(response_kind::request_timeout, false, false));
            c.close_after_send = true;
            flush_answers(index);
        }
        while (idle.first != no_slot && conns[idle.first].deadline_ms <= mono_ms) {
            uint32_t index = idle.first;
            unlink(index);
            counters.idle_timeouts.add();
            close_connection(index);
        }
    }

    // ---- connections ------------------------------------------------------------------

    void on_accept(const io_uring_cqe* cqe) {
        uint32_t listener = user_data_index(cqe->user_data);
        if (!(cqe->flags & IORING_CQE_F_MORE) && !stopping) arm_accept(listener);
        int fd = cqe->res;
        if (fd < 0) return; // -EMFILE, -ENFILE, -ECONNABORTED...: nothing to clean up
        if (stopping || open_count >= cfg.max_connections) {
            counters.connections_rejected.add(stopping ? 0 : 1);
            ::close(fd);
            return;
        }
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        uint32_t index = alloc_slot();
        connection& c = conns[index];
        c.fd = fd;
        c.open = true;
        c.inflight = 0;
        c.recv_armed = c.send_armed = c.close_after_send = c.input_done = false;
        c.peer_known = false;
        c.requests = 0;
        c.stage = nullptr;
        c.stage_len = 0;
        c.body_left = 0;
        c.out_count = 0;
        c.parser.reset();
        ++open_count;
        counters.connections_accepted.add();
        counters.connections_open.set(open_count);
        arm_recv(index);
        update_timer(index);
    }

    // Closes the socket now. The slot is reused once the kernel has returned every request
    // that names it (the shutdown makes a pending recv finish at once).
    void close_connection(uint32_t index) {
        connection& c = conns[index];
        if (!c.open) return;
        c.open = false;
        unlink(index);
        give_stage(c);
        if (c.inflight > 0) ::shutdown(c.fd, SHUT_RDWR);
        ::close(c.fd);
        c.fd = -1;
        --open_count;
        counters.connections_open.set(open_count);
        if (c.inflight == 0) free_slot(index);
    }

    // A completion for a slot: returns the connection when it is current and open. Settles
    // the in-flight count of a closed slot and frees it after its last completion.
    connection* settle(uint64_t ud, bool final_completion) {
        uint32_t index = user_data_index(ud);
        if (index >= conns.size()) return nullptr;
        connection& c = conns[index];
        if (c.gen != user_data_gen(ud)) return nullptr;
        if (final_completion) --c.inflight;
        if (!c.open) {
            if (c.inflight == 0 && final_completion) free_slot(index);
            return nullptr;
        }
        return &c;
    }

    const ip_address& peer_of(connection& c) {
        if (!c.peer_known) {
            sockaddr_storage ss{};
            socklen_t len = sizeof ss;
            c.peer = {};
            if (::getpeername(c.fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
                if (ss.ss_family == AF_INET) {
                    c.peer.family = 4;
                    std::memcpy(c.peer.bytes, &reinterpret_cast<sockaddr_in&>(ss).sin_addr, 4);
                } else if (ss.ss_family == AF_INET6) {
                    c.peer.family = 6;
                    std::memcpy(c.peer.bytes, &reinterpret_cast<sockaddr_in6&>(ss).sin6_addr,
                                16);
                }
            }
            c.peer_known = true;
        }
        return c.peer;
    }

    // ---- answers ----------------------------------------------------------------------

    void queue_answer(uint32_t index, std::string_view bytes) noexcept {
        connection& c = conns[index];
        c.out[c.out_count++] = {const_cast<char*>(bytes.data()), bytes.size()};
    }

    // Sends everything queued in one request: one send for one answer, a sendmsg with an
    // iovec per answer for pipelined requests. One send in flight per connection keeps the
    // answers in request order.
    void flush_answers(uint32_t index) {
        connection& c = conns[index];
        if (c.send_armed || !c.open) return;
        if (c.out_count == 0) {
            if (c.close_after_send) close_connection(index);
            return;
        }
        io_uring_sqe* s = sqe();
        if (c.out_count == 1) {
            io_uring_prep_send(s, c.fd, c.out[0].iov_base, c.out[0].iov_len, MSG_NOSIGNAL);
        } else {
            c.msg = {};
            c.msg.msg_iov = c.out;
            c.msg.msg_iovlen = c.out_count;
            io_uring_prep_sendmsg(s, c.fd, &c.msg, MSG_NOSIGNAL);
        }
        io_uring_sqe_set_data64(s, encode_user_data(op::send, c.gen, index));
        c.send_armed = true;
        ++c.inflight;
    }

    void on_send(const io_uring_cqe* cqe) {
        connection* cp = settle(cqe->user_data, true);
        uint32_t index = user_data_index(cqe->user_data);
        if (!cp) return;
        connection& c = *cp;
        c.send_armed = false;
        if (cqe->res < 0) {
            close_connection(index); // -EPIPE, -ECONNRESET: the client is gone
            return;
        }
        // Drop what was sent; a short send leaves the rest of an answer first in line.
        size_t sent = size_t(cqe->res);
        uint32_t done = 0;
        while (done < c.out_count && sent >= c.out[done].iov_len) sent -= c.out[done++].iov_len;
        if (done < c.out_count && sent > 0) {
            c.out[done].iov_base = static_cast<char*>(c.out[done].iov_base) + sent;
            c.out[done].iov_len -= sent;
        }
        if (done > 0) {
            std::memmove(c.out, c.out + done, (c.out_count - done) * sizeof(iovec));
            c.out_count -= done;
        }
        // Requests held back while the queue was full.
        if (c.stage_len > 0 && !c.input_done && c.out_count < max_pending_answers)
            consume_stage(index);
        flush_answers(index);
        if (stopping && c.open && c.out_count == 0 && !c.send_armed) close_connection(index);
    }

    // ---- requests ---------------------------------------------------------------------

    static bool ends_with(std::string_view s, std::string_view suffix) noexcept {
        return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
    }

    // Routes one complete request and queues its answer. Returns false when the connection
    // must be closed after the answer.
    bool handle_request(uint32_t index, const http_request& r) {
        connection& c = conns[index];
        ++c.requests;
        bool keep_alive = r.keep_alive && c.requests < cfg.max_requests_per_connection &&
                          !stopping && !r.chunked;
        bool head = r.method == http_method::head;
        constexpr std::string_view track = "/track/";
        std::string_view path = r.path;
        bool gif = ends_with(path, ".gif");
        bool png = !gif && ends_with(path, ".png");
        if (path.size() > track.size() + 4 && path.substr(0, track.size()) == track &&
            (gif || png)) {
            if (r.method != http_method::get && !head) {
                counters.count_request(route::not_found, 405);
                queue_answer(index, responses.get(response_kind::method_not_allowed, keep_alive,
                                                  false));
                return keep_alive;
            }
            std::string_view action = path.substr(track.size(), path.size() - track.size() - 4);
            if (action.find('/') == std::string_view::npos) {
                record_pixel(c, r, action);
                counters.count_request(route::pixel, 200);
                queue_answer(index, responses.get(gif ? response_kind::pixel_gif
                                                      : response_kind::pixel_png,
                                                  keep_alive, head));
                return keep_alive;
            }
        }
        counters.count_request(route::not_found, 404);
        queue_answer(index, responses.get(response_kind::not_found, keep_alive, head));
        return keep_alive;
    }

    // Encodes the event straight into the ring: no allocation, no copy of the request.
    void record_pixel(connection& c, const http_request& r, std::string_view action) {
        pixel_hit hit;
        hit.action = action;
        hit.query = r.query;
        hit.referer = r.referer;
        hit.user_agent = r.user_agent;
        hit.host = r.host;
        hit.client = peer_of(c);
        size_t bound = max_pixel_event_size(hit, cfg.encode);
        char* slot = bound <= events.max_record() ? events.reserve(bound) : nullptr;
        if (!slot) {
            counters.events_dropped_ring_full.add();
            return;
        }
        event_id id = ids.next(now_ms);
        size_t n = encode_pixel_event(hit, cfg.encode, id, now_ms, slot);
        events.commit(n);
        counters.events_accepted.add();
    }

    // Parses and answers every complete request in data[0..len). Returns how many bytes were
    // used; the rest is an incomplete request, or requests held back because the answer
    // queue is full.
    size_t consume(uint32_t index, char* data, size_t len) {
        connection& c = conns[index];
        size_t pos = 0;
        while (pos < len && !c.input_done) {
            if (c.body_left > 0) {
                size_t skip = std::min<uint64_t>(c.body_left, len - pos);
                pos += skip;
                c.body_left -= skip;
                continue;
            }
            if (c.out_count >= max_pending_answers) break;
            parse_status st = c.parser.parse_head(data + pos, len - pos, req);
            if (st == parse_status::need_more) break;
            if (st == parse_status::error) {
                uint16_t status = c.parser.error_status();
                counters.count_request(route::invalid, status);
                queue_answer(index, responses.get(response_for_status(status), false, false));
                c.input_done = true;
                c.close_after_send = true;
                return len;
            }
            c.parser.reset();
            pos += req.head_length;
            bool keep = handle_request(index, req);
            if (req.has_content_length) c.body_left = req.content_length;
            if (!keep) {
                c.input_done = true;
                c.close_after_send = true;
                return len;
            }
        }
        return pos;
    }

    void consume_stage(uint32_t index) {
        connection& c = conns[index];
        size_t used = consume(index, c.stage, c.stage_len);
        if (used >= c.stage_len || c.input_done) {
            give_stage(c);
        } else if (used > 0) {
            std::memmove(c.stage, c.stage + used, c.stage_len - used);
            c.stage_len -= uint32_t(used);
        }
    }

    void on_recv(const io_uring_cqe* cqe) {
        bool more = cqe->flags & IORING_CQE_F_MORE;
        bool has_buffer = cqe->flags & IORING_CQE_F_BUFFER;
        unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        connection* cp = settle(cqe->user_data, !more);
        uint32_t index = user_data_index(cqe->user_data);
        if (!cp) {
            if (has_buffer) recycle_buffer(bid);
            return;
        }
        connection& c = *cp;
        if (!more) c.recv_armed = false;
        int res = cqe->res;
        if (res > 0 && has_buffer) {
            char* data = buf_base + size_t(bid) * recv_buffer_size;
            if (!c.input_done) on_bytes(index, data, size_t(res));
            recycle_buffer(bid);
        } else if (has_buffer) {
            recycle_buffer(bid);
        }
        if (!c.open) return;
        if (res == 0 || (res < 0 && res != -ENOBUFS && res != -EINTR)) {
            // The client closed its side (or the socket failed): finish what was read.
            c.input_done = true;
            if (res < 0) {
                close_connection(index);
                return;
            }
            c.close_after_send = true;
            flush_answers(index);
            return;
        }
        if (res == -ENOBUFS) counters.recv_no_buffers.add();
        if (!c.recv_armed && !c.input_done && !stopping) arm_recv(index);
        if (c.open && !c.input_done) update_timer(index);
        else if (c.open) unlink(index);
    }

    void on_bytes(uint32_t index, char* data, size_t len) {
        connection& c = conns[index];
        if (c.stage_len == 0) {
            size_t used = consume(index, data, len);
            if (used < len && !c.input_done) {
                // Keep the unfinished request; parser offsets stay valid because the
                // request starts at stage[0] as it started at data[used].
                c.stage = take_stage();
                std::memcpy(c.stage, data + used, len - used);
                c.stage_len = uint32_t(len - used);
            }
        } else {
            if (c.stage_len + len > stage_cap) {
                // A head beyond max_header_bytes is caught by the parser; this is a client
                // that keeps sending while not reading its answers.
                counters.count_request(route::invalid, 431);
                give_stage(c);
                queue_answer(index, responses.get(response_kind::headers_too_large, false,
                                                  false));
                c.input_done = true;
                c.close_after_send = true;
            } else {
                std::memcpy(c.stage + c.stage_len, data, len);
                c.stage_len += uint32_t(len);
                consume_stage(index);
            }
        }
        flush_answers(index);
    }

    // ---- loop ---------------------------------------------------------------------------

    void on_timer(const io_uring_cqe*) {
        responses.update_date(now_ms / 1000);
        counters.cq_overflows.set(*ring.cq.koverflow);
        expire_timers();
        if (!stopping || open_count > 0) arm_timer();
    }

    void begin_stop() {
        stopping = true;
        stop_deadline = mono_ms + cfg.stop_grace_ms;
        for (int fd : cfg.listen_fds) ::shutdown(fd, SHUT_RDWR); // ends the multishot accepts
        for (uint32_t i = 0; i < conns.size(); ++i) {
            connection& c = conns[i];
            if (!c.open) continue;
            c.input_done = true;
            if (c.out_count == 0 && !c.send_armed) close_connection(i);
        }
    }

    void run_loop() {
        while (!stopping || (open_count > 0 && mono_ms < stop_deadline)) {
            int ret = io_uring_submit_and_wait(&ring, 1);
            if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
                fmt::print(stderr, "pixelring: worker {}: io_uring_submit_and_wait: {}\n",
                           cfg.index, std::strerror(-ret));
                break;
            }
            now_ms = realtime_ms();
            mono_ms = monotonic_ms();
            unsigned head;
            unsigned seen = 0;
            io_uring_cqe* cqe;
            io_uring_for_each_cqe(&ring, head, cqe) {
                ++seen;
                switch (user_data_op(cqe->user_data)) {
                case op::accept: on_accept(cqe); break;
                case op::recv: on_recv(cqe); break;
                case op::send: on_send(cqe); break;
                case op::timer: on_timer(cqe); break;
                case op::wake:
                    if (!stopping) begin_stop();
                    break;
                }
            }
            io_uring_cq_advance(&ring, seen);
            if (buf_pending_advance) {
                io_uring_buf_ring_advance(buf_ring, int(buf_pending_advance));
                buf_pending_advance = 0;
            }
        }
        for (uint32_t i = 0; i < conns.size(); ++i)
            if (conns[i].open) close_connection(i);
        for (int fd : cfg.listen_fds) ::close(fd);
        cfg.listen_fds.clear();
    }
};

worker::worker(worker_settings settings, spsc_byte_ring& ring, worker_counters& counters) {
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC);
    impl_ = std::make_unique<impl>(std::move(settings), ring, counters, wake_fd_);
}

worker::~worker() {
    impl_.reset();
    if (wake_fd_ >= 0) ::close(wake_fd_);
}

std::string worker::run() {
    std::string error = impl_->start();
    if (!error.empty()) {
        state_.store(-1, std::memory_order_release);
        return error;
    }
    state_.store(1, std::memory_order_release);
    impl_->run_loop();
    return {};
}

void worker::request_stop() noexcept {
    uint64_t one = 1;
    ssize_t n = ::write(wake_fd_, &one, sizeof one);
    (void)n;
}

} // namespace pixelring
