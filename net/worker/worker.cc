// The io_uring worker: accept, recv, parse, answer, encode the event into the SPSC ring.
// io_uring features: multishot accept (5.19), multishot recv with a provided buffer ring
// (6.0, registered with the liburing 2.3 API), SINGLE_ISSUER|DEFER_TASKRUN (6.1) falling
// back to COOP_TASKRUN (5.19), registered buffers for the prebuilt answers, a re-armed
// timeout for the timers. Minimum kernel: 6.0. Turning received bytes into requests is in
// net/worker/worker_input.cc, what a complete request does (routes, events, answers) in
// net/worker/worker_requests.cc, the timeouts in net/worker/worker_timers.cc.

#include "net/worker/worker.hh"

#include <algorithm>
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

#include <fmt/format.h>

#include "core/base/clock.hh"
#include "net/http/dynamic_response.hh"
#include "net/listener.hh"
#include "net/uring/uring_setup.hh"
#include "net/uring/user_data.hh"
#include "net/worker/worker_impl.hh"

namespace pixelring {

namespace {

constexpr long tick_ns = 250'000'000;

// Clients tracked by one worker's rate limiter (server.rate_limit).
constexpr uint32_t rate_limit_clients = 65536;

// Memory one worker may hold in body buffers (at least 16 of them): the pool that beacons
// move to when what arrived of them outgrows a staging buffer (worker_input.cc). A beacon
// still arriving holds a staging buffer first, as a request head does, so clients that send
// a head and then trickle (or never send) the body pin only their own connection's memory;
// only one that sent more than a staging buffer holds takes from this. Beyond it such a
// beacon is answered 503 and its connection closed.
constexpr size_t body_memory_per_worker = 16u << 20;

// While a connection waits for room in the events ring, the worker looks again this often.
constexpr long event_ring_retry_ns = 200'000;

// A body buffer holds the head, the body and simdjson's padding, plus one receive buffer of
// chunk framing not yet decoded.
size_t body_buffer_size(const http_limits& l) {
    return l.max_header_bytes + l.max_body_bytes + beacon_body_padding + provided_buffers::size;
}

// A dynamic answer: the head room, then the largest body: receipts, or a text error.
size_t response_buffer_size(uint32_t beacon_batch) {
    return response_headroom + std::max<size_t>(max_receipts_size(beacon_batch), 4096);
}

} // namespace

worker::impl::impl(worker_settings s, spsc_byte_ring& r, worker_counters& c, int wake)
    : cfg(std::move(s)), events(r), counters(c), responses(uint64_t(time(nullptr)), cfg.image),
      ids(uint64_t(realtime_ms()) * 0x9e3779b97f4a7c15ull ^ (uint64_t(cfg.index) << 48) ^
          uint64_t(getpid())),
      conns(cfg.limits, cfg.max_connections,
            cfg.limits.max_header_bytes + 4 * provided_buffers::size),
      beacons(
          beacon_limits{.max_body_bytes = cfg.limits.max_body_bytes, .max_items = cfg.beacon_batch},
          cfg.allowed_events),
      bodies(body_buffer_size(cfg.limits)), answers(response_buffer_size(cfg.beacon_batch)),
      small_responses(small_response_headroom + 2560), tls_outputs(tls_output_size),
      max_bodies_out(
          uint32_t(std::max<size_t>(16, body_memory_per_worker / body_buffer_size(cfg.limits)))),
      event_ring_reserve(std::min<size_t>(r.capacity() / 4, 2u << 20)), tick{0, tick_ns},
      wake_fd(wake) {
    if (cfg.tls) tls_plain = std::make_unique_for_overwrite<char[]>(tls_plain_size);
    if (cfg.enrichment) visitors.emplace(cfg.enrichment->visitor);
    if (cfg.rate_limit > 0) limiter.emplace(cfg.rate_limit, cfg.rate_limit, rate_limit_clients);
}

worker::impl::~impl() {
    if (uring_ready) io_uring_queue_exit(&uring);
}

// ---- submission helpers -----------------------------------------------------------------

io_uring_sqe* worker::impl::sqe() noexcept {
    io_uring_sqe* s = io_uring_get_sqe(&uring);
    if (!s) {
        io_uring_submit(&uring);
        s = io_uring_get_sqe(&uring);
    }
    return s;
}

void worker::impl::arm_accept(uint32_t listener) {
    io_uring_sqe* s = sqe();
    io_uring_prep_multishot_accept(s, cfg.listen_fds[listener], nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(s, encode_user_data(op::accept, 0, listener));
}

void worker::impl::arm_recv(uint32_t index) {
    connection& c = conns[index];
    io_uring_sqe* s = sqe();
    io_uring_prep_recv_multishot(s, c.fd, nullptr, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = provided_buffers::group;
    io_uring_sqe_set_data64(s, encode_user_data(op::recv, c.gen, index));
    c.recv_armed = true;
    ++c.inflight;
}

void worker::impl::arm_timer() {
    io_uring_sqe* s = sqe();
    io_uring_prep_timeout(s, &tick, 0, 0);
    io_uring_sqe_set_data64(s, encode_user_data(op::timer, 0, 0));
}

void worker::impl::arm_wake() {
    io_uring_sqe* s = sqe();
    io_uring_prep_read(s, wake_fd, &wake_value, sizeof wake_value, 0);
    io_uring_sqe_set_data64(s, encode_user_data(op::wake, 0, 0));
}

// ---- set-up -----------------------------------------------------------------------------

std::string worker::impl::start() {
    if (cfg.cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cfg.cpu, &set);
        sched_setaffinity(0, sizeof set, &set); // best effort: a cpuset may forbid it
    }
    std::string error;
    if (setup_uring(uring, error) < 0) return error;
    uring_ready = true;

    // Provided buffers for multishot recv.
    if (std::string err = buffers.init(uring); !err.empty()) return err;

    // The prebuilt answers live in registered memory.
    iovec arena{const_cast<char*>(responses.arena()), responses.arena_size()};
    int ret = io_uring_register_buffers(&uring, &arena, 1);
    if (ret < 0) return fmt::format("io_uring_register_buffers: {}", std::strerror(-ret));

    accept_paused.reserve(cfg.listen_fds.size());
    event_ring_waiters.reserve(cfg.max_connections);
    resuming.reserve(cfg.max_connections);
    for (uint32_t l = 0; l < cfg.listen_fds.size(); ++l)
        arm_accept(l);
    arm_timer();
    arm_wake();
    io_uring_submit(&uring);
    return {};
}

// ---- connections ------------------------------------------------------------------------

void worker::impl::on_accept(const io_uring_cqe* cqe) {
    uint32_t listener = user_data_index(cqe->user_data);
    int fd = cqe->res;
    const bool out_of_resources = fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM;
    if (out_of_resources) counters.accept_errors.add();
    if (!(cqe->flags & IORING_CQE_F_MORE) && !stopping) {
        // Out of descriptors or memory, the pending connection stays queued and an accept
        // armed now would fail again at once: a busy loop. Wait for the next timer tick
        // (closed connections give descriptors back meanwhile).
        if (out_of_resources)
            accept_paused.push_back(listener);
        else
            arm_accept(listener);
    }
    // While stopping, an accept that completed before its cancel brings a connection that is
    // served like the others: its first answer says Connection: close.
    if (fd < 0) return; // -EMFILE, -ENFILE, -ECONNABORTED...: nothing to clean up
    if (open_count >= cfg.max_connections) {
        counters.connections_rejected.add();
        ::close(fd);
        return;
    }
    uint32_t index = conns.alloc();
    connection& c = conns[index];
    c.fd = fd;
    c.open = true;
    c.inflight = 0;
    c.recv_armed = c.send_armed = c.close_after_send = c.input_done = false;
    c.peer_closed = c.lingering = false;
    c.peer_known = false;
    c.requests = 0;
    c.stage = nullptr;
    c.stage_len = 0;
    c.body_left = 0;
    c.body_buf = nullptr;
    c.body_big = false;
    c.tls_sent = 0;
    c.tls_counted = false;
    c.tls_hello_len = 0;
    c.tls_handshake_in = 0;
    c.proxy_pending = cfg.proxy_protocol;
    c.event_ring_wait = false;
    c.out_count = 0;
    c.owned_count = 0;
    c.owned_large = 0;
    c.parser.reset();
    ++open_count;
    counters.connections_accepted.add();
    counters.connections_open.set(open_count);
    if (listener >= cfg.first_tls_listener && !start_tls(index)) {
        close_connection(index);
        return;
    }
    arm_recv(index);
    update_timer(index);
}

// The pooled buffers a connection holds: the staged bytes, a body being read and the
// dynamic answers not yet sent. Only once the kernel no longer reads them (no send in
// flight).
void worker::impl::release_buffers(connection& c) noexcept {
    end_tls(c);
    conns.give_stage(c);
    drop_body(c);
    for (uint32_t i = 0; i < c.out_count; ++i)
        give_owned(c, i);
    c.out_count = 0;
    c.owned_large = 0;
}

// Closes the socket now. The slot is reused once the kernel has returned every request that
// names it (the shutdown makes a pending recv finish at once).
void worker::impl::close_connection(uint32_t index) {
    connection& c = conns[index];
    if (!c.open) return;
    c.open = false;
    conns.unlink(index);
    if (c.inflight > 0) ::shutdown(c.fd, SHUT_RDWR);
    ::close(c.fd);
    c.fd = -1;
    --open_count;
    counters.connections_open.set(open_count);
    if (c.inflight == 0) {
        release_buffers(c);
        conns.free(index);
    }
}

// After the last answer: shut our side down and wait (closing list, linger_ms) for the client
// to close its side, reading and dropping whatever it still sends. Closing at once would make
// the kernel answer bytes the client had already sent with a reset, and a reset destroys the
// answer still unread in the client's buffer.
void worker::impl::finish_connection(uint32_t index) {
    connection& c = conns[index];
    if (!c.open || c.lingering) return;
    if (c.peer_closed) {
        close_connection(index);
        return;
    }
    c.input_done = true;
    c.lingering = true;
    ::shutdown(c.fd, SHUT_WR);
    if (!c.recv_armed) arm_recv(index);
    conns.unlink(index);
    conns.link_tail(index, timer_list::closing, mono_ms + cfg.linger_ms);
}

// A completion for a slot: returns the connection when it is current and open. Settles the
// in-flight count of a closed slot and frees it after its last completion.
connection* worker::impl::settle(uint64_t ud, bool final_completion) {
    uint32_t index = user_data_index(ud);
    if (index >= conns.size()) return nullptr;
    connection& c = conns[index];
    if (c.gen != user_data_gen(ud)) return nullptr;
    if (final_completion) --c.inflight;
    if (!c.open) {
        if (c.inflight == 0 && final_completion) {
            release_buffers(c);
            conns.free(index);
        }
        return nullptr;
    }
    return &c;
}

// ---- answers ----------------------------------------------------------------------------

// Sends everything queued in one request: one send for one answer, a sendmsg with an iovec
// per answer for pipelined requests. One send in flight per connection keeps the answers in
// request order.
void worker::impl::flush_responses(uint32_t index) {
    connection& c = conns[index];
    if (c.send_armed || !c.open) return;
    if (c.tls) {
        flush_tls(index);
        return;
    }
    if (c.out_count == 0) {
        if (c.close_after_send) finish_connection(index);
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

void worker::impl::on_send(const io_uring_cqe* cqe) {
    connection* cp = settle(cqe->user_data, true);
    uint32_t index = user_data_index(cqe->user_data);
    if (!cp) return;
    connection& c = *cp;
    c.send_armed = false;
    if (cqe->res < 0) {
        close_connection(index); // -EPIPE, -ECONNRESET: the client is gone
        return;
    }
    if (c.tls) {
        tls_sent(c, size_t(cqe->res));
    } else {
        // Drop what was sent; a short send leaves the rest of an answer first in line.
        size_t sent = size_t(cqe->res);
        uint32_t done = 0;
        while (done < c.out_count && sent >= c.out[done].iov_len) {
            sent -= c.out[done].iov_len;
            give_owned(c, done);
            ++done;
        }
        if (done < c.out_count && sent > 0) {
            c.out[done].iov_base = static_cast<char*>(c.out[done].iov_base) + sent;
            c.out[done].iov_len -= sent;
        }
        drop_responses(c, done);
    }
    // Requests held back while the queue was full.
    if (c.stage_len > 0 && !c.input_done && c.out_count < max_pending_responses) {
        consume_stage(index);
        if (c.open) update_timer(index);
    }
    flush_responses(index);
}

// The first done answers left the queue (sent, or encrypted for HTTPS); their owned buffers
// were given back.
void worker::impl::drop_responses(connection& c, uint32_t done) noexcept {
    if (done == 0) return;
    std::memmove(c.out, c.out + done, (c.out_count - done) * sizeof(iovec));
    std::memmove(c.owned, c.owned + done, (c.out_count - done) * sizeof(char*));
    c.owned_large = done < 32 ? c.owned_large >> done : 0;
    c.out_count -= done;
}

void worker::impl::on_recv(const io_uring_cqe* cqe) {
    bool more = cqe->flags & IORING_CQE_F_MORE;
    bool has_buffer = cqe->flags & IORING_CQE_F_BUFFER;
    unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
    connection* cp = settle(cqe->user_data, !more);
    uint32_t index = user_data_index(cqe->user_data);
    if (!cp) {
        if (has_buffer) buffers.recycle(bid);
        return;
    }
    connection& c = *cp;
    if (!more) c.recv_armed = false;
    int res = cqe->res;
    if (c.lingering) { // only the client's close is awaited; what it sends is dropped
        if (has_buffer) buffers.recycle(bid);
        if (res == 0 || (res < 0 && res != -ENOBUFS && res != -EINTR))
            close_connection(index);
        else if (!c.recv_armed)
            arm_recv(index);
        return;
    }
    if (res > 0 && has_buffer) {
        char* data = buffers.data(bid);
        if (c.tls)
            on_tls_bytes(index, data, size_t(res)); // HTTPS: reads even after input_done
        else if (!c.input_done)
            on_bytes(index, data, size_t(res));
        buffers.recycle(bid);
    } else if (has_buffer) {
        buffers.recycle(bid);
    }
    if (!c.open) return;
    if (res == 0 || (res < 0 && res != -ENOBUFS && res != -EINTR)) {
        // The client closed its side (or the socket failed): finish what was read.
        c.input_done = true;
        if (res < 0) {
            close_connection(index);
            return;
        }
        c.peer_closed = true;
        c.close_after_send = true;
        flush_responses(index);
        return;
    }
    if (res == -ENOBUFS) counters.recv_no_buffers.add();
    if (!c.recv_armed && !c.input_done) arm_recv(index);
    if (c.open) update_timer(index);
}

void worker::impl::on_bytes(uint32_t index, char* data, size_t len) {
    take_bytes(index, data, len);
    flush_responses(index);
}

// What on_bytes does before the flush: the bytes become requests (or wait in the stage).
void worker::impl::take_bytes(uint32_t index, char* data, size_t len) {
    connection& c = conns[index];
    if (c.stage_len == 0) {
        size_t used = consume(index, data, len);
        if (used < len && !c.input_done) {
            // Keep the unfinished request; parser offsets stay valid because the request
            // starts at stage[0] as it started at data[used].
            c.stage = conns.take_stage();
            std::memcpy(c.stage, data + used, len - used);
            c.stage_len = uint32_t(len - used);
        }
    } else {
        if (c.stage_len + len > conns.stage_capacity()) {
            // A head beyond max_header_bytes is caught by the parser; this is a client that
            // keeps sending while not reading its answers.
            counters.count_request(route::invalid, 431);
            conns.give_stage(c);
            queue_response(index, responses.get(response_kind::headers_too_large, false, false));
            c.input_done = true;
            c.close_after_send = true;
        } else {
            std::memcpy(c.stage + c.stage_len, data, len);
            c.stage_len += uint32_t(len);
            consume_stage(index);
        }
    }
}

// ---- loop -------------------------------------------------------------------------------

void worker::impl::on_timer(const io_uring_cqe*) {
    responses.update_date(now_ms / 1000);
    if (!stopping)
        for (uint32_t listener : accept_paused)
            arm_accept(listener);
    accept_paused.clear();
    counters.cq_overflows.set(*uring.cq.koverflow);
    if (cfg.tls) cfg.tls->take(cfg.index, tls_generation, tls_now); // a reload's certificates
    expire_timers();
    if (!stopping || open_count > 0) arm_timer();
}

void worker::impl::begin_stop() {
    stopping = true;
    stop_deadline = mono_ms + cfg.stop_grace_ms;
    for (uint32_t l = 0; l < cfg.listen_fds.size(); ++l) {
        if (!cfg.shared_listeners) {
            ::shutdown(cfg.listen_fds[l], SHUT_RDWR); // ends the multishot accept; refuses more
            continue;
        }
        // A shared socket stays listening (systemd holds it for the next process): cancel
        // this worker's accept instead.
        io_uring_sqe* s = sqe();
        io_uring_prep_cancel64(s, encode_user_data(op::accept, 0, l), 0);
        io_uring_sqe_set_data64(s, encode_user_data(op::cancel, 0, l));
    }
    // Connections stay open for what is already on its way: the next request on each is
    // answered with Connection: close (handle_request), and one waiting for a request gets
    // stop_idle_ms instead of idle_timeout_ms. Re-linking every idle connection now keeps the
    // idle list ordered by deadline.
    for (uint32_t i = 0; i < conns.size(); ++i) {
        connection& c = conns[i];
        if (c.open && c.list == timer_list::idle) update_timer(i);
    }
}

void worker::impl::run_loop() {
    while (!stopping || (open_count > 0 && mono_ms < stop_deadline)) {
        // Waiting connections (room in the events ring) bring the worker back every
        // event_ring_retry_ns even when nothing completes; otherwise the wait policy of
        // net/uring/uring_setup.hh.
        const int ret =
            submit_and_wait(uring, last_seen, event_ring_waiters.empty() ? 0 : event_ring_retry_ns);
        if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
            fmt::print(stderr, "pixelring: worker {}: io_uring_submit_and_wait: {}\n", cfg.index,
                       std::strerror(-ret));
            break;
        }
        now_ms = realtime_ms();
        mono_ms = monotonic_ms();
        const unsigned seen = for_each_completion(uring, [&](io_uring_cqe* cqe) {
            switch (user_data_op(cqe->user_data)) {
            case op::accept:
                on_accept(cqe);
                break;
            case op::recv:
                on_recv(cqe);
                break;
            case op::send:
                on_send(cqe);
                break;
            case op::timer:
                on_timer(cqe);
                break;
            case op::wake:
                if (!stopping) begin_stop();
                break;
            case op::cancel: // the accept it ended completes on its own
                break;
            }
        });
        last_seen = seen;
        counters.uring_waits.add();
        counters.completions.add(seen);
        // The sink thread shares a CPU with some worker (workers = CPUs, plus the sink).
        // When this worker's ring is more than half full, give that CPU away for a
        // moment, so that the sink drains the ring before it runs short and this worker
        // has to stop reading requests (event_ring_short, net/worker/worker_input.cc).
        if (events.used_bytes() > events.capacity() / 2) {
            counters.event_ring_yields.add();
            sched_yield();
        }
        if (!event_ring_waiters.empty()) resume_event_ring_waiters();
        buffers.publish();
    }
    for (uint32_t i = 0; i < conns.size(); ++i)
        if (conns[i].open) close_connection(i);
    // A slot whose requests the kernel has not returned keeps its buffers until the ring goes
    // (they are the pools'); its TLS session is the heap's: free it now.
    for (uint32_t i = 0; i < conns.size(); ++i)
        if (conns[i].tls) end_tls(conns[i]);
    for (int fd : cfg.listen_fds)
        ::close(fd);
    cfg.listen_fds.clear();
}

worker::worker(worker_settings settings, spsc_byte_ring& uring, worker_counters& counters) {
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC);
    impl_ = std::make_unique<impl>(std::move(settings), uring, counters, wake_fd_);
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
