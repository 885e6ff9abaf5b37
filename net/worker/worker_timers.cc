// A worker's timers: which timeout list a connection is on after its bytes were handled, and
// what happens when a deadline passes (408, idle close, the end of a lingering close). The
// io_uring side is net/worker/worker.cc.

#include "net/worker/worker_impl.hh"

namespace pixelring {

// ---- timers -----------------------------------------------------------------------------
// Each list has one timeout at a time, so appending at the tail keeps it ordered: idle
// (idle_timeout_ms; stop_idle_ms once stopping, when every member is re-linked), header
// (header_timeout_ms) and closing (linger_ms).

namespace {

// Which request of a connection is being read: the requests answered so far, and whether the
// body of the last one is still being skipped. A beacon's body is read before its request is
// answered, so its head and body are one request here.
uint32_t timer_key(const connection& c) noexcept {
    return c.requests * 2 + (c.body_left > 0 ? 1 : 0);
}

// Requests are held (staged) but not read: the answer queue is full or the events ring lacks
// room. The client is not the one making them wait.
bool held_back(const connection& c) noexcept {
    return c.stage_len > 0 && c.body_buf == nullptr && c.body_left == 0 &&
           (c.event_ring_wait || responses_full(c));
}

} // namespace

// The timer of an open connection after its bytes were handled (a receive, a send that let
// held requests go on, room in the events ring):
// - a request partly received (head, PROXY header, TLS handshake, beacon body, a body being
//   skipped): the
//   header timeout, from the moment that request became the one being read, and not extended
//   by its later bytes (a beacon has header_timeout_ms from its first byte to its last). Each
//   request gets its own deadline, however the connection got to it (timer_key);
// - nothing held, or requests held back by the server: the idle timeout from now.
void worker::impl::update_timer(uint32_t index) noexcept {
    connection& c = conns[index];
    if (c.input_done) {
        if (!c.lingering) conns.unlink(index); // only answers left to send
        return;
    }
    bool partial = (c.stage_len > 0 && !held_back(c)) || c.body_left > 0 || c.body_buf != nullptr ||
                   (c.tls && !c.tls->handshake_done()); // a TLS handshake is a head too
    if (partial) {
        const uint32_t key = timer_key(c);
        if (c.list == timer_list::header && c.timed_request == key) return;
        conns.unlink(index);
        conns.link_tail(index, timer_list::header, mono_ms + cfg.header_timeout_ms);
        c.timed_request = key;
    } else {
        conns.unlink(index);
        conns.link_tail(index, timer_list::idle,
                        mono_ms + (stopping ? cfg.stop_idle_ms : cfg.idle_timeout_ms));
    }
}

// The connection at the head of list when its deadline has passed, else no_slot.
uint32_t worker::impl::expired(timer_list list) noexcept {
    uint32_t index = conns.first(list);
    return index != no_slot && conns[index].deadline_ms <= mono_ms ? index : no_slot;
}

void worker::impl::expire_timers() {
    for (uint32_t index; (index = expired(timer_list::header)) != no_slot;) {
        conns.unlink(index);
        counters.header_timeouts.add();
        connection& c = conns[index];
        if (c.tls && !c.tls->handshake_done()) {
            // No HTTP answer before the handshake: the connection is closed.
            counters.tls_timeouts.add();
            c.tls_counted = true;
            close_connection(index);
            continue;
        }
        if (c.proxy_pending) {
            // An unfinished PROXY header: the peer does not speak HTTP yet, no answer.
            counters.proxy_header_errors.add();
            close_connection(index);
            continue;
        }
        conns.give_stage(c);
        drop_body(c);
        c.body_left = 0;
        c.input_done = true;
        counters.count_request(route::invalid, 408);
        queue_response(index, responses.get(response_kind::request_timeout, false, false));
        c.close_after_send = true;
        flush_responses(index);
    }
    for (uint32_t index; (index = expired(timer_list::idle)) != no_slot;) {
        conns.unlink(index);
        connection& c = conns[index];
        // Stopping: answers still being sent get the rest of stop_grace_ms.
        if (stopping && (c.out_count > 0 || c.send_armed)) continue;
        counters.idle_timeouts.add();
        close_connection(index);
    }
    for (uint32_t index; (index = expired(timer_list::closing)) != no_slot;)
        close_connection(index); // the client did not close its side in time
}

} // namespace pixelring
