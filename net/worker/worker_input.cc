// A worker's reading side: the bytes a connection received become requests. The PROXY
// header first when server.proxy_protocol is on, then request heads, beacon bodies (read into
// a staging buffer, or a body buffer once they outgrow it; chunks decoded in place) and the
// pause while the events ring lacks room.
// The io_uring side is net/worker/worker.cc; what a complete request does,
// net/worker/worker_requests.cc.

#include <algorithm>
#include <cstring>
#include <sched.h>

#include "core/http/proxy_protocol.hh"
#include "net/worker/worker_impl.hh"

namespace pixelring {

namespace {

constexpr std::string_view continue_100 = "HTTP/1.1 100 Continue\r\n\r\n";

} // namespace

// Memory for a beacon goes by what has arrived of it. It starts in a staging buffer, which
// every connection with a request still arriving may hold (a slow head holds one too), so a
// client trickling a body pins its own connection's memory and no one else's. Only when what
// arrived no longer fits does it move to a buffer of the worker's body pool, which is shared
// and bounded (body_memory_per_worker): to take from it a client must have sent that much.
// Returns false when the pool is spent: the beacon is answered 503 and the connection closed.
bool worker::impl::grow_body(uint32_t index) {
    connection& c = conns[index];
    if (bodies_out >= max_bodies_out) {
        if (reparse_body_head(c)) {
            counters.count_request(
                route::beacon,
                beacon_error(index, req, 503, R"({"error":"busy: retry later"})", false));
        } else {
            counters.count_request(route::beacon, 503);
            queue_response(index, responses.get(response_for_status(503), false, false));
        }
        drop_body(c);
        c.input_done = true;
        c.close_after_send = true;
        return false;
    }
    counters.body_buffers_held.set(++bodies_out);
    char* big = bodies.take();
    std::memcpy(big, c.body_buf, c.body_len);
    conns.give_stage_buffer(c.body_buf);
    c.body_buf = big;
    c.body_cap = uint32_t(bodies.size());
    c.body_big = true;
    return true;
}

// The held beacon's head, parsed again from body_buf into req (its views then point there).
bool worker::impl::reparse_body_head(connection& c) {
    c.parser.reset();
    const bool ok = c.parser.parse_head(c.body_buf, c.body_head, req) == parse_status::complete;
    c.parser.reset();
    return ok;
}

void worker::impl::give_body(char* buf, bool big) noexcept {
    if (!buf) return;
    if (big) {
        counters.body_buffers_held.set(--bodies_out);
        bodies.give(buf);
    } else {
        conns.give_stage_buffer(buf);
    }
}

void worker::impl::drop_body(connection& c) noexcept {
    give_body(c.body_buf, c.body_big);
    c.body_buf = nullptr;
    c.body_big = false;
}

// server.proxy_protocol: the PROXY header that must start the connection. Returns false when
// more bytes are needed (used = 0) or the connection is being closed.
bool worker::impl::take_proxy_header(uint32_t index, const char* data, size_t len, size_t& used) {
    connection& c = conns[index];
    used = 0;
    proxy_header h;
    parse_status st = parse_proxy_header(data, len, h, conns.stage_capacity());
    if (st == parse_status::need_more) return false;
    if (st == parse_status::error) {
        // The specification forbids answering in HTTP: the peer is not speaking it.
        counters.proxy_header_errors.add();
        c.input_done = true;
        c.close_after_send = true;
        used = len;
        return false;
    }
    c.proxy_pending = false;
    used = h.consumed;
    const ip_address& peer = peer_of(c);
    if (!h.local && h.source.family != 0) {
        const cidr_set* trusted = cfg.enrichment ? &cfg.enrichment->trusted_proxies : nullptr;
        if (trusted && trusted->contains(peer))
            c.peer = unmap_ipv4(h.source);
        else
            counters.proxy_header_untrusted.add();
    }
    return true;
}

// Bytes of the body being read: appended to body_buf (chunked framing decoded in place).
// Returns how many bytes of data belong to the body; calls finish_body when it is complete.
size_t worker::impl::feed_body(uint32_t index, const char* data, size_t len) {
    connection& c = conns[index];
    // Room for this piece (a chunked one shrinks as its framing is decoded), or the move to
    // a body buffer, which holds any body max_body_bytes allows.
    const size_t piece = c.body_chunked ? len : size_t(std::min<uint64_t>(c.body_need, len));
    if (!c.body_big && c.body_len + piece + beacon_body_padding > c.body_cap && !grow_body(index))
        return len;
    if (!c.body_chunked) {
        size_t take = size_t(std::min<uint64_t>(c.body_need, len));
        std::memcpy(c.body_buf + c.body_len, data, take);
        c.body_len += uint32_t(take);
        c.body_need -= take;
        if (c.body_need == 0) finish_body(index);
        return take;
    }
    size_t room = c.body_cap - beacon_body_padding - c.body_len;
    size_t take = std::min(len, room);
    char* at = c.body_buf + c.body_len;
    std::memcpy(at, data, take);
    size_t decoded = take;
    size_t trailing = 0;
    parse_status st = c.chunks.decode(at, &decoded, &trailing);
    if (st == parse_status::error) {
        uint16_t status = c.chunks.error_status();
        if (status == 413 && reparse_body_head(c)) {
            counters.count_request(route::beacon, body_too_large(index, req));
        } else {
            counters.count_request(route::beacon, status);
            queue_response(index, responses.get(response_for_status(status), false, false));
        }
        drop_body(c);
        c.input_done = true;
        c.close_after_send = true;
        return len;
    }
    c.body_len += uint32_t(decoded);
    if (st == parse_status::complete) {
        finish_body(index);
        return take - trailing;
    }
    return take;
}

// The body is complete: the head is parsed again from body_buf (its views then point there)
// and the request is handled.
void worker::impl::finish_body(uint32_t index) {
    connection& c = conns[index];
    const bool head_ok = reparse_body_head(c);
    char* buf = c.body_buf;
    const bool big = c.body_big;
    c.body_buf = nullptr;
    c.body_big = false;
    bool keep = head_ok && handle_request(index, req, buf + c.body_head, c.body_len - c.body_head,
                                          c.body_cap - c.body_head);
    give_body(buf, big);
    if (!keep) {
        c.input_done = true;
        c.close_after_send = true;
    }
}

// Parses and answers every complete request in data[0..len). Returns how many bytes were
// used; the rest is an incomplete request, or requests held back because the answer queue
// is full.
size_t worker::impl::consume(uint32_t index, char* data, size_t len) {
    connection& c = conns[index];
    size_t pos = 0;
    if (c.proxy_pending) {
        size_t used;
        if (!take_proxy_header(index, data, len, used)) return used;
        pos = used;
    }
    while (pos < len && !c.input_done) {
        if (c.body_buf) {
            pos += feed_body(index, data + pos, len - pos);
            continue;
        }
        if (c.body_left > 0) {
            size_t skip = std::min<uint64_t>(c.body_left, len - pos);
            pos += skip;
            c.body_left -= skip;
            continue;
        }
        if (responses_full(c)) break;
        if (event_ring_short()) {
            wait_for_event_ring(index);
            break;
        }
        parse_status st = c.parser.parse_head(data + pos, len - pos, req);
        if (st == parse_status::need_more) break;
        if (st == parse_status::error) {
            uint16_t status = c.parser.error_status();
            if (status == 413 && req.method == http_method::post && req.path == "/e") {
                // Content-Length over server.max_body_bytes: the head is whole, so the beacon
                // gets its JSON error and CORS headers.
                counters.count_request(route::beacon, body_too_large(index, req));
            } else {
                counters.count_request(route::invalid, status);
                queue_response(index, responses.get(response_for_status(status), false, false));
            }
            c.input_done = true;
            c.close_after_send = true;
            return len;
        }
        c.parser.reset();
        const size_t head = req.head_length;
        if (req.method == http_method::post && req.path == "/e" &&
            (req.chunked || (req.has_content_length && req.content_length > 0))) {
            // A beacon with a body: collect head and body, handle it once complete.
            // curl and others wait a second for this before sending a body over 1 KiB.
            const size_t have = len - pos - head;
            if (c.out_count + 2 <= max_pending_responses && req.field("Expect") == "100-continue" &&
                (req.chunked ? have == 0 : have < req.content_length))
                queue_response(index, continue_100);
            c.body_buf = conns.take_stage(); // head + padding fit: max_header_bytes < stage
            c.body_cap = uint32_t(conns.stage_capacity());
            c.body_big = false;
            std::memcpy(c.body_buf, data + pos, head);
            c.body_head = c.body_len = uint32_t(head);
            c.body_chunked = req.chunked;
            c.body_need = req.chunked ? 0 : req.content_length;
            c.chunks.reset();
            pos += head;
            continue;
        }
        pos += head;
        bool keep = handle_request(index, req, nullptr, 0, 0);
        if (req.has_content_length) c.body_left = req.content_length;
        if (!keep) {
            c.input_done = true;
            c.close_after_send = true;
            return len;
        }
    }
    return pos;
}

// Less room in the events ring than the largest request's events can need: rather than
// answer and drop the events (ring_full), stop reading requests until the sink thread has
// made room. The clients wait; TCP holds back what they send meanwhile.
bool worker::impl::event_ring_short() const noexcept {
    return events.capacity() - std::min(events.used_bytes(), events.capacity()) <
           event_ring_reserve;
}

void worker::impl::wait_for_event_ring(uint32_t index) {
    connection& c = conns[index];
    if (c.event_ring_wait) return;
    c.event_ring_wait = true;
    counters.event_ring_pauses.add();
    if (event_ring_waiters.size() < event_ring_waiters.capacity())
        event_ring_waiters.push_back({index, c.gen});
    else
        c.event_ring_wait = false; // cannot happen: room for every connection was reserved
}

// Each pass of the loop: when the ring has room again, the waiting connections go on with
// the requests they hold, oldest first.
void worker::impl::resume_event_ring_waiters() {
    if (event_ring_short()) {
        sched_yield(); // the sink thread shares a CPU with some worker
        return;
    }
    resuming.swap(event_ring_waiters);
    for (const auto& [index, gen] : resuming) {
        connection& c = conns[index];
        if (c.gen != gen || !c.open) continue;
        c.event_ring_wait = false;
        if (c.stage_len > 0 && !c.input_done) {
            consume_stage(index);
            if (c.open) update_timer(index);
        }
        flush_responses(index);
    }
    resuming.clear();
}

void worker::impl::consume_stage(uint32_t index) {
    connection& c = conns[index];
    size_t used = consume(index, c.stage, c.stage_len);
    if (used >= c.stage_len || c.input_done) {
        conns.give_stage(c);
    } else if (used > 0) {
        std::memmove(c.stage, c.stage + used, c.stage_len - used);
        c.stage_len -= uint32_t(used);
    }
}

} // namespace pixelring
