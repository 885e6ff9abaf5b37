// A worker's HTTPS connections (server.tls_listen): the session of tls/tls_session.hh between
// io_uring and the HTTP code. Received ciphertext (multishot recv, provided buffers) is fed
// to the session and the plaintext goes to take_bytes as a plain connection's bytes do;
// queued answers are encrypted into the connection's ciphertext buffer and sent with one
// plain send. The handshake has server.header_timeout_ms (worker_timers.cc).

#include <algorithm>
#include <cstring>
#include <new>

#include "net/uring/user_data.hh"
#include "net/worker/worker_impl.hh"

namespace pixelring {

namespace {

static_assert(tls_failure_reasons[size_t(tls_failure::version)] == "version" &&
                  tls_failure_reasons[size_t(tls_failure::cipher)] == "cipher" &&
                  tls_failure_reasons[size_t(tls_failure::alpn)] == "alpn" &&
                  tls_failure_reasons[size_t(tls_failure::plain_http)] == "plain_http" &&
                  tls_failure_reasons[size_t(tls_failure::other)] == "other" &&
                  tls_failure_reasons[tls_too_large] == "too_large",
              "core/metrics.hh names the reasons of tls/tls_session.hh in their order");

// A TLS 1.2/1.3 record adds at most 5 bytes of header, 16 of tag and 1 of content type; an
// answer of len bytes takes len / 16384 + 1 records.
size_t ciphertext_bound(size_t len) noexcept {
    return len + (len / 16384 + 1) * 64;
}

} // namespace

// The connection's ciphertext buffer, from the pool when it has none.
void worker::impl::attach_output(connection& c) {
    if (c.tls_out) return;
    c.tls_out = tls_outputs.take();
    c.tls->set_output(c.tls_out, tls_output_size);
    c.tls_sent = 0;
}

bool worker::impl::start_tls(uint32_t index) {
    connection& c = conns[index];
    try {
        c.tls = new tls_session(cfg.tls->take(cfg.index, tls_generation, tls_now)->native());
    } catch (const std::bad_alloc&) {
        counters.accept_errors.add();
        return false;
    }
    return true;
}

void worker::impl::end_tls(connection& c) noexcept {
    delete c.tls;
    c.tls = nullptr;
    tls_outputs.give(c.tls_out);
    c.tls_out = nullptr;
    c.tls_sent = 0;
}

// The handshake failed (reason: an index of tls_failure_reasons): counted once, then the
// connection closes after sending what is queued (an alert, when OpenSSL made one).
void worker::impl::tls_refuse(connection& c, size_t reason) noexcept {
    if (!c.tls_counted) {
        c.tls_counted = true;
        if (reason == size_t(tls_failure::plain_http)) {
            counters.tls_plain_http.add();
        } else {
            counters.tls_failed.add();
            counters.tls_failures[reason].add();
        }
    }
    c.input_done = true;
    c.close_after_send = true;
}

// Holds back the first 9 bytes of a handshake (a record header and a handshake message
// header) until all have come; then a ClientHello that announces more than tls_hello_limit
// is refused. Returns false when nothing is to be fed yet or the connection is refused;
// otherwise feeds what was held back, and data and len are what is left to feed.
bool worker::impl::tls_check_hello(uint32_t index, char*& data, size_t& len) {
    connection& c = conns[index];
    tls_session& s = *c.tls;
    const size_t take = std::min(sizeof c.tls_hello - c.tls_hello_len, len);
    std::memcpy(c.tls_hello + c.tls_hello_len, data, take);
    c.tls_hello_len = uint8_t(c.tls_hello_len + take);
    data += take;
    len -= take;
    if (c.tls_hello_len < sizeof c.tls_hello) return false;
    const auto* h = reinterpret_cast<const unsigned char*>(c.tls_hello);
    const size_t announced = size_t(h[6]) << 16 | size_t(h[7]) << 8 | h[8];
    if (h[0] == 22 && h[5] == 1 && announced > tls_hello_limit) { // handshake, ClientHello
        tls_refuse(c, tls_too_large);
        flush_responses(index);
        return false;
    }
    s.feed(c.tls_hello, sizeof c.tls_hello);
    return true;
}

// Decrypts what was fed and hands the plaintext to the HTTP code, until the session wants
// more ciphertext: every byte fed is taken (the receive buffer goes back to the kernel).
tls_result worker::impl::tls_drain(uint32_t index) {
    connection& c = conns[index];
    attach_output(c);
    tls_result r;
    size_t n;
    while ((r = c.tls->read(tls_plain.get(), tls_plain_size, n)) == tls_result::ok)
        if (!c.input_done) take_bytes(index, tls_plain.get(), n);
    return r;
}

void worker::impl::on_tls_bytes(uint32_t index, char* data, size_t len) {
    connection& c = conns[index];
    tls_session& s = *c.tls;
    // A handshake that failed or was refused: what else the client sends is dropped.
    if (c.input_done && !s.handshake_done()) return;
    const bool handshaking = !s.handshake_done();
    tls_result r = tls_result::want_more;
    if (c.tls_hello_len < sizeof c.tls_hello) {
        if (!tls_check_hello(index, data, len)) return; // waits for more, or refused
        r = tls_drain(index);
    }
    if (r == tls_result::want_more && len > 0) {
        s.feed(data, len);
        r = tls_drain(index);
    }
    if (!c.tls_counted && s.handshake_done()) {
        c.tls_counted = true;
        (s.resumed() ? counters.tls_resumed : counters.tls_full).add();
        counters.tls_ciphers[tls_cipher_index(s.cipher())].add();
    }
    if (r == tls_result::closed) {
        // close_notify: what was read is answered, then the connection closes.
        c.input_done = true;
        c.close_after_send = true;
    } else if (r != tls_result::want_more) {
        // A protocol error (an alert may be in the output) or a peer that makes us send more
        // than the headroom while reading: close after sending what is queued.
        tls_refuse(c, size_t(s.failure()));
    } else if (handshaking && !s.handshake_done() &&
               (c.tls_handshake_in += uint32_t(len)) > tls_handshake_limit) {
        tls_refuse(c, tls_too_large); // a handshake that never ends
    }
    flush_responses(index);
}

// flush_responses for HTTPS: the queued answers, in order, into the ciphertext buffer while it
// has room (their plaintext buffers go back at once), then one send of what is unsent.
void worker::impl::flush_tls(uint32_t index) {
    connection& c = conns[index];
    tls_session& s = *c.tls;
    if (c.out_count > 0) attach_output(c);
    uint32_t done = 0;
    while (done < c.out_count && s.handshake_done()) {
        const iovec& answer = c.out[done];
        if (s.output_size() + ciphertext_bound(answer.iov_len) + tls_headroom > tls_output_size)
            break;
        if (s.write(static_cast<const char*>(answer.iov_base), answer.iov_len) != tls_result::ok) {
            c.input_done = true; // cannot happen with the room checked; never send half
            c.close_after_send = true;
            break;
        }
        give_owned(c, done);
        ++done;
    }
    drop_responses(c, done);
    if (c.close_after_send && c.out_count == 0 && s.handshake_done()) {
        // The last answer is out: close_notify, so that the client knows nothing was cut.
        attach_output(c);
        s.shutdown();
    }
    const size_t unsent = c.tls_out ? s.output_size() - c.tls_sent : 0;
    if (unsent == 0) {
        if (c.close_after_send && (c.out_count == 0 || c.input_done)) finish_connection(index);
        return;
    }
    io_uring_sqe* sq = sqe();
    io_uring_prep_send(sq, c.fd, s.output() + c.tls_sent, unsent, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sq, encode_user_data(op::send, c.gen, index));
    c.send_armed = true;
    ++c.inflight;
}

// A send of ciphertext completed: once all of it is out the buffer starts over, and goes back
// to the pool when nothing else waits (an idle HTTPS connection holds none).
void worker::impl::tls_sent(connection& c, size_t sent) noexcept {
    c.tls_sent += uint32_t(sent);
    if (c.tls_sent < c.tls->output_size()) return;
    c.tls->clear_output();
    c.tls_sent = 0;
    if (c.out_count == 0) {
        c.tls->set_output(nullptr, 0);
        tls_outputs.give(c.tls_out);
        c.tls_out = nullptr;
    }
}

} // namespace pixelring
