// floor_server: the io_uring floor of bench/load/run.sh. One thread, pixelring's io_uring
// set-up and wait policy, and no work: it counts the request heads ("\r\n\r\n") in each received
// chunk and answers each with pixelring's prebuilt pixel answer, all the answers of one chunk
// in one send. What it spends per request is what loopback TCP and io_uring cost any io_uring
// server answering this way: the kernel's share, under pixelring's CPU per request.
// io_uring features (as net/worker/worker.cc): multishot accept (5.19), multishot recv with a
// provided buffer ring (6.0; net/uring/provided_buffers.cc), SINGLE_ISSUER|DEFER_TASKRUN (6.1)
// falling back to COOP_TASKRUN (net/uring/uring_setup.cc), a timeout, a read of a signalfd. Minimum
// kernel: 6.0.
//
//   floor_server --listen 127.0.0.1:PORT     (port 0: the kernel picks one)
//
// stderr: "floor_server listening on 127.0.0.1:PORT" once listening; on SIGTERM or SIGINT it
// closes every connection and prints "floor_server: stopped: N requests answered, ..." (exit 0).
// The answers: the GIF of net/http/responses.cc with "Connection: keep-alive", or "Connection:
// close" (then the connection is closed once it is sent) when a head has a "Connection: close"
// field (case-insensitive); the Date is the start time. No parsing beyond that: any head is a hit.

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <memory>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string>
#include <string_view>
#include <strings.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>
#include <liburing.h>

#include "net/http/responses.hh"
#include "net/listener.hh"
#include "net/uring/provided_buffers.hh"
#include "net/uring/uring_setup.hh"
#include "net/uring/user_data.hh"

namespace pixelring {
namespace {

constexpr uint32_t max_connections = 4096;
constexpr int listen_backlog = 4096; // as pixelring's listener (app/collector.cc)
// An unfinished head is carried across receives in a buffer of a fixed pool; a head longer
// than pixelring's server.max_header_bytes default closes the connection.
constexpr size_t max_head_bytes = 16384;
constexpr size_t carry_size = max_head_bytes + provided_buffers::size;
constexpr uint32_t carry_count = 256;
// Copies of the keep-alive answer back to back: one send covers a chunk of up to this many
// requests (16 KiB of 16-byte heads). More wait for the next send.
constexpr size_t answer_copies = 1024;
// Answer bytes owed to a client that does not read them; beyond this it is closed.
constexpr uint64_t max_owed_bytes = 16u << 20;
// Out of descriptors: accept again after this pause (pixelring waits for its 250 ms tick).
constexpr long accept_pause_ns = 100'000'000;

struct connection {
    int fd = -1;
    uint32_t gen = 0;
    uint32_t inflight = 0; // submitted requests naming this slot whose last completion is due
    bool open = false;
    bool recv_armed = false;
    bool send_armed = false;
    bool input_done = false; // "Connection: close" seen, or the client closed: read no more
    char* carry = nullptr;   // the unfinished head, from the carry pool
    uint32_t carry_len = 0;
    uint32_t close_left = 0; // bytes of the close answer still to send (sent last)
    uint64_t owed = 0;       // bytes of keep-alive answers still to send
    uint32_t owed_at = 0;    // where in the answer the next owed byte is
};

struct counters {
    uint64_t requests = 0; // answers queued (keep-alive and close)
    uint64_t connections = 0;
    uint64_t accept_errors = 0;
    uint64_t rejected = 0;        // beyond max_connections
    uint64_t recv_no_buffers = 0; // -ENOBUFS: every provided buffer was in use
    uint64_t dropped = 0;         // closed: head too long, no carry buffer, or not reading
};

// Whether a head has a "Connection: close" field. Field names start after a '\n'.
bool asks_close(const char* head, size_t len) noexcept {
    const char* end = head + len;
    const char* p = static_cast<const char*>(std::memchr(head, '\n', len));
    while (p) {
        ++p;
        size_t left = size_t(end - p);
        if (left >= 17 && (p[0] | 0x20) == 'c' && strncasecmp(p, "connection:", 11) == 0) {
            const char* v = p + 11;
            while (v < end && (*v == ' ' || *v == '\t'))
                ++v;
            if (end - v >= 5 && strncasecmp(v, "close", 5) == 0) return true;
        }
        p = static_cast<const char*>(std::memchr(p, '\n', left));
    }
    return false;
}

class floor_server {
public:
    floor_server(int listen_fd, std::string_view keep_alive, std::string_view close)
        : listen_fd_(listen_fd), answer_len_(keep_alive.size()),
          answers_(new char[answer_copies * keep_alive.size()]), close_answer_(close),
          carries_(new char[carry_count * carry_size]) {
        for (size_t i = 0; i < answer_copies; ++i)
            std::memcpy(answers_.get() + i * answer_len_, keep_alive.data(), answer_len_);
        for (uint32_t i = 0; i < carry_count; ++i)
            free_carries_[i] = carries_.get() + size_t(i) * carry_size;
        free_carry_count_ = carry_count;
        for (uint32_t i = 0; i < max_connections; ++i)
            free_slots_[i] = max_connections - 1 - i;
        free_slot_count_ = max_connections;
    }
    ~floor_server() {
        if (ring_ready_) io_uring_queue_exit(&ring_);
    }
    floor_server(const floor_server&) = delete;
    floor_server& operator=(const floor_server&) = delete;

    // Sets the ring up on the calling thread. Returns an empty string or an error message.
    std::string start(int signal_fd) {
        signal_fd_ = signal_fd;
        std::string error;
        if (setup_uring(ring_, error) < 0) return error;
        ring_ready_ = true;
        if (std::string err = buffers_.init(ring_); !err.empty()) return err;
        arm_accept();
        arm_signal();
        io_uring_submit(&ring_);
        return {};
    }

    // Runs until SIGTERM or SIGINT. Returns an empty string or an error message.
    std::string run() {
        while (!stopping_) {
            const int ret = submit_and_wait(ring_, last_seen_); // the workers' wait policy
            if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
                return fmt::format("io_uring_submit_and_wait: {}", std::strerror(-ret));
            const unsigned seen = for_each_completion(ring_, [&](io_uring_cqe* cqe) {
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
                    if (!stopping_) arm_accept();
                    break;
                case op::wake:
                    stopping_ = true;
                    break;
                default: // the worker's other kinds: never submitted here
                    break;
                }
            });
            last_seen_ = seen;
            buffers_.publish();
        }
        // Stopping: the harness stops it after wrk is done, so nothing is owed. The kernel
        // cancels what is still armed when the ring is torn down.
        ::shutdown(listen_fd_, SHUT_RDWR);
        ::close(listen_fd_);
        for (uint32_t i = 0; i < max_connections; ++i)
            if (conns_[i].open) close_connection(i);
        return {};
    }

    const counters& stats() const noexcept { return stats_; }

private:
    io_uring_sqe* sqe() noexcept {
        io_uring_sqe* s = io_uring_get_sqe(&ring_);
        if (!s) {
            io_uring_submit(&ring_);
            s = io_uring_get_sqe(&ring_);
        }
        return s;
    }

    void arm_accept() noexcept {
        io_uring_sqe* s = sqe();
        io_uring_prep_multishot_accept(s, listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        io_uring_sqe_set_data64(s, encode_user_data(op::accept, 0, 0));
    }

    void arm_accept_pause() noexcept {
        io_uring_sqe* s = sqe();
        io_uring_prep_timeout(s, &accept_pause_, 0, 0);
        io_uring_sqe_set_data64(s, encode_user_data(op::timer, 0, 0));
    }

    void arm_signal() noexcept {
        io_uring_sqe* s = sqe();
        io_uring_prep_read(s, signal_fd_, &signal_info_, sizeof signal_info_, 0);
        io_uring_sqe_set_data64(s, encode_user_data(op::wake, 0, 0));
    }

    void arm_recv(uint32_t index) noexcept {
        connection& c = conns_[index];
        io_uring_sqe* s = sqe();
        io_uring_prep_recv_multishot(s, c.fd, nullptr, 0, 0);
        s->flags |= IOSQE_BUFFER_SELECT;
        s->buf_group = provided_buffers::group;
        io_uring_sqe_set_data64(s, encode_user_data(op::recv, c.gen, index));
        c.recv_armed = true;
        ++c.inflight;
    }

    void on_accept(const io_uring_cqe* cqe) noexcept {
        int fd = cqe->res;
        const bool out_of_resources =
            fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM;
        if (fd < 0 && fd != -ECONNABORTED) ++stats_.accept_errors;
        if (!(cqe->flags & IORING_CQE_F_MORE) && !stopping_) {
            // Out of descriptors, an accept armed now would fail again at once: pause.
            if (out_of_resources)
                arm_accept_pause();
            else
                arm_accept();
        }
        if (fd < 0) return;
        if (stopping_ || free_slot_count_ == 0) {
            if (!stopping_) ++stats_.rejected;
            ::close(fd);
            return;
        }
        // TCP_NODELAY is inherited from the listener (net/listener.cc), as in pixelring.
        uint32_t index = free_slots_[--free_slot_count_];
        connection& c = conns_[index];
        c.fd = fd;
        c.open = true;
        c.inflight = 0;
        c.recv_armed = c.send_armed = c.input_done = false;
        c.carry = nullptr;
        c.carry_len = 0;
        c.close_left = 0;
        c.owed = 0;
        c.owed_at = 0;
        ++stats_.connections;
        arm_recv(index);
    }

    void give_carry(connection& c) noexcept {
        if (!c.carry) return;
        free_carries_[free_carry_count_++] = c.carry;
        c.carry = nullptr;
        c.carry_len = 0;
    }

    // Closes the socket now; the slot is reused after the last completion that names it (the
    // shutdown ends a pending recv at once). Sends read only the answers, never the slot.
    void close_connection(uint32_t index) noexcept {
        connection& c = conns_[index];
        if (!c.open) return;
        c.open = false;
        if (c.inflight > 0) ::shutdown(c.fd, SHUT_RDWR);
        ::close(c.fd);
        c.fd = -1;
        give_carry(c);
        if (c.inflight == 0) free_slot(index);
    }

    void free_slot(uint32_t index) noexcept {
        ++conns_[index].gen;
        free_slots_[free_slot_count_++] = index;
    }

    // The connection a completion names, when it is current and open; settles the count of
    // requests in flight and frees a closed slot after its last completion.
    connection* settle(uint64_t ud, bool final_completion) noexcept {
        uint32_t index = user_data_index(ud);
        if (index >= max_connections) return nullptr;
        connection& c = conns_[index];
        if ((c.gen & 0xffffff) != user_data_gen(ud)) return nullptr;
        if (final_completion) --c.inflight;
        if (!c.open) {
            if (c.inflight == 0 && final_completion) free_slot(index);
            return nullptr;
        }
        return &c;
    }

    // One send in flight per connection keeps the answers in order: the owed keep-alive
    // answers (one send when they fit in the copies from owed_at on), then the close answer.
    void flush(uint32_t index) noexcept {
        connection& c = conns_[index];
        if (c.send_armed || !c.open) return;
        const char* p;
        size_t n;
        if (c.owed > 0) {
            p = answers_.get() + c.owed_at;
            n = size_t(std::min<uint64_t>(c.owed, answer_copies * answer_len_ - c.owed_at));
        } else if (c.close_left > 0) {
            p = close_answer_.data() + (close_answer_.size() - c.close_left);
            n = c.close_left;
        } else {
            if (c.input_done) close_connection(index);
            return;
        }
        io_uring_sqe* s = sqe();
        io_uring_prep_send(s, c.fd, p, n, MSG_NOSIGNAL);
        io_uring_sqe_set_data64(s, encode_user_data(op::send, c.gen, index));
        c.send_armed = true;
        ++c.inflight;
    }

    void on_send(const io_uring_cqe* cqe) noexcept {
        uint32_t index = user_data_index(cqe->user_data);
        connection* cp = settle(cqe->user_data, true);
        if (!cp) return;
        connection& c = *cp;
        c.send_armed = false;
        if (cqe->res < 0) {
            close_connection(index); // -EPIPE, -ECONNRESET: the client is gone
            return;
        }
        uint64_t sent = uint64_t(cqe->res);
        if (c.owed > 0) {
            c.owed -= sent;
            c.owed_at = uint32_t((c.owed_at + sent) % answer_len_);
        } else {
            c.close_left -= uint32_t(sent);
        }
        flush(index);
    }

    // Counts the complete heads in data and owes an answer for each; stops after a head that
    // asks to close. Returns the bytes consumed (up to the end of the last complete head).
    size_t count_heads(connection& c, const char* data, size_t len) noexcept {
        size_t at = 0;
        uint64_t heads = 0;
        while (at < len) {
            const void* end = memmem(data + at, len - at, "\r\n\r\n", 4);
            if (!end) break;
            size_t head_end = size_t(static_cast<const char*>(end) - data) + 4;
            if (asks_close(data + at, head_end - at)) {
                c.input_done = true;
                c.close_left = uint32_t(close_answer_.size());
                ++stats_.requests;
                at = head_end;
                break;
            }
            ++heads;
            at = head_end;
        }
        c.owed += heads * answer_len_;
        stats_.requests += heads;
        return at;
    }

    void drop(uint32_t index) noexcept {
        ++stats_.dropped;
        close_connection(index);
    }

    void on_bytes(uint32_t index, const char* data, size_t len) noexcept {
        connection& c = conns_[index];
        if (c.carry_len == 0) {
            size_t used = count_heads(c, data, len);
            size_t rest = len - used;
            if (rest > 0 && !c.input_done) {
                if (free_carry_count_ == 0 || rest > max_head_bytes) return drop(index);
                c.carry = free_carries_[--free_carry_count_];
                std::memcpy(c.carry, data + used, rest);
                c.carry_len = uint32_t(rest);
            }
        } else {
            if (c.carry_len + len > carry_size) return drop(index);
            std::memcpy(c.carry + c.carry_len, data, len);
            c.carry_len += uint32_t(len);
            size_t used = count_heads(c, c.carry, c.carry_len);
            size_t rest = c.carry_len - used;
            if (rest == 0 || c.input_done) {
                give_carry(c);
            } else {
                if (rest > max_head_bytes) return drop(index);
                std::memmove(c.carry, c.carry + used, rest);
                c.carry_len = uint32_t(rest);
            }
        }
        if (c.owed > max_owed_bytes) return drop(index);
        flush(index);
    }

    void on_recv(const io_uring_cqe* cqe) noexcept {
        bool more = cqe->flags & IORING_CQE_F_MORE;
        bool has_buffer = cqe->flags & IORING_CQE_F_BUFFER;
        unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        uint32_t index = user_data_index(cqe->user_data);
        connection* cp = settle(cqe->user_data, !more);
        if (!cp) {
            if (has_buffer) buffers_.recycle(bid);
            return;
        }
        connection& c = *cp;
        if (!more) c.recv_armed = false;
        int res = cqe->res;
        if (res > 0 && has_buffer && !c.input_done)
            on_bytes(index, buffers_.data(bid), size_t(res));
        if (has_buffer) buffers_.recycle(bid);
        if (!c.open) return;
        if (res == 0 || (res < 0 && res != -ENOBUFS && res != -EINTR)) {
            // The client closed its side (or the socket failed): send what is owed, close.
            c.input_done = true;
            if (res < 0) {
                close_connection(index);
                return;
            }
            flush(index);
            return;
        }
        if (res == -ENOBUFS) ++stats_.recv_no_buffers;
        if (!c.recv_armed && !c.input_done && !stopping_) arm_recv(index);
    }

    int listen_fd_;
    int signal_fd_ = -1;
    io_uring ring_{};
    bool ring_ready_ = false;
    bool stopping_ = false;
    unsigned last_seen_ = 0;
    provided_buffers buffers_; // freed after ~floor_server has exited the ring
    size_t answer_len_;
    std::unique_ptr<char[]> answers_; // answer_copies keep-alive answers back to back
    std::string_view close_answer_;
    std::unique_ptr<char[]> carries_;
    char* free_carries_[carry_count];
    uint32_t free_carry_count_ = 0;
    connection conns_[max_connections];
    uint32_t free_slots_[max_connections];
    uint32_t free_slot_count_ = 0;
    counters stats_;
    signalfd_siginfo signal_info_{};
    __kernel_timespec accept_pause_{0, accept_pause_ns};
};

constexpr std::string_view usage =
    "usage: floor_server --listen ADDRESS:PORT\n"
    "  An HTTP/1.1 responder with pixelring's io_uring set-up and no work, for\n"
    "  bench/load/run.sh: every request head gets pixelring's 1x1 GIF answer.\n"
    "  Port 0: the kernel picks one. Prints \"floor_server listening on ADDRESS:PORT\"\n"
    "  on stderr; SIGTERM or SIGINT stop it.\n";

int run_main(int argc, char** argv) {
    std::string listen;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "-h" || a == "--help") {
            fmt::print("{}", usage);
            return 0;
        }
        if (a == "--listen" && i + 1 < argc) {
            listen = argv[++i];
        } else if (a.starts_with("--listen=")) {
            listen = std::string(a.substr(9));
        } else {
            fmt::print(stderr, "floor_server: unknown argument '{}'\n{}", a, usage);
            return 1;
        }
    }
    if (listen.empty()) {
        fmt::print(stderr, "floor_server: --listen ADDRESS:PORT is required\n{}", usage);
        return 1;
    }

    // Blocked so that only the signalfd, read through the ring, sees them.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigprocmask(SIG_BLOCK, &signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
    int signal_fd = ::signalfd(-1, &signals, SFD_CLOEXEC);
    if (signal_fd < 0) {
        fmt::print(stderr, "floor_server: signalfd: {}\n", std::strerror(errno));
        return 1;
    }
    if (std::string err = probe_io_uring(); !err.empty()) {
        fmt::print(stderr, "floor_server: this kernel cannot run it: {}\n", err);
        return 1;
    }
    public_listeners listeners;
    if (std::string err = open_public_listeners({listen}, 1, listen_backlog, listeners);
        !err.empty()) {
        fmt::print(stderr, "floor_server: {}\n", err);
        return 1;
    }
    // pixelring's answers, byte for byte; the Date stays the start time.
    response_table responses(uint64_t(time(nullptr)));
    auto server = std::make_unique<floor_server>(
        listeners.fds[0][0], responses.get(response_kind::pixel_gif, true, false),
        responses.get(response_kind::pixel_gif, false, false));
    if (std::string err = server->start(signal_fd); !err.empty()) {
        fmt::print(stderr, "floor_server: {}\n", err);
        return 1;
    }
    fmt::print(stderr, "floor_server listening on {}\n", listeners.bound[0]);
    std::string err = server->run();
    const counters& s = server->stats();
    if (!err.empty()) fmt::print(stderr, "floor_server: {}\n", err);
    fmt::print(stderr,
               "floor_server: stopped: {} requests answered, {} connections, {} accept errors, "
               "{} rejected (max {}), {} recv without buffers, {} closed (head too long, no "
               "carry buffer or not reading)\n",
               s.requests, s.connections, s.accept_errors, s.rejected, max_connections,
               s.recv_no_buffers, s.dropped);
    server.reset();
    ::close(signal_fd);
    return err.empty() ? 0 : 1;
}

} // namespace
} // namespace pixelring

int main(int argc, char** argv) {
    return pixelring::run_main(argc, argv);
}
