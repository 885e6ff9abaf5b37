// What one complete request does: the endpoint of net/http/router.hh, the event it records and the
// answer it queues. The io_uring side is net/worker/worker.cc.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include <fmt/format.h>

#include "core/event/url_fields.hh"
#include "core/http/percent_decode.hh"
#include "net/http/dynamic_response.hh"
#include "net/http/tracker_script.hh"
#include "net/listener.hh"
#include "net/worker/worker_impl.hh"

namespace pixelring {

namespace {

// The action as the allowlist compares it: percent-decoded ('+' stays), at most
// max_action_size bytes. False when longer.
bool decode_action(std::string_view raw, char (&out)[max_action_size], size_t& len) noexcept {
    auto p = reinterpret_cast<const uint8_t*>(raw.data());
    auto end = p + raw.size();
    len = 0;
    while (p < end) {
        if (len == max_action_size) return false;
        detail::decoded_byte b = detail::read_byte<true, false>(p, end);
        out[len++] = char(b.value);
        p += b.len;
    }
    return true;
}

// The raw value of the first tuple called key in "k1/v1/k2/v2" (valid_rest_tuples holds).
std::string_view tuple_value(std::string_view tuples, std::string_view key) noexcept {
    while (!tuples.empty()) {
        size_t k_end = tuples.find('/');
        if (k_end == std::string_view::npos) return {};
        std::string_view k = tuples.substr(0, k_end);
        tuples.remove_prefix(k_end + 1);
        size_t v_end = tuples.find('/');
        std::string_view v = tuples.substr(0, v_end);
        if (k == key) return v;
        if (v_end == std::string_view::npos) return {};
        tuples.remove_prefix(v_end + 1);
    }
    return {};
}

bool receipts_asked(std::string_view query) noexcept {
    return query_param(query, "receipts") == "1";
}

} // namespace

void worker::impl::queue_response(uint32_t index, std::string_view bytes) noexcept {
    connection& c = conns[index];
    if (c.out_count >= max_pending_responses) {
        // Only an error answer can come here (requests stop being parsed before): a client
        // that sends without reading. It is closed without that last answer.
        c.input_done = true;
        c.close_after_send = true;
        return;
    }
    c.owned[c.out_count] = nullptr;
    c.out[c.out_count++] = {const_cast<char*>(bytes.data()), bytes.size()};
}

char* worker::impl::take_response(bool large) {
    return large ? answers.take() : small_responses.take();
}

void worker::impl::queue_owned(uint32_t index, std::string_view bytes, char* buffer,
                               bool large) noexcept {
    connection& c = conns[index];
    if (c.out_count >= max_pending_responses) { // as in queue_response
        (large ? answers : small_responses).give(buffer);
        c.input_done = true;
        c.close_after_send = true;
        return;
    }
    c.owned[c.out_count] = buffer;
    if (large) c.owned_large |= 1u << c.out_count;
    ++c.owned_count;
    c.out[c.out_count++] = {const_cast<char*>(bytes.data()), bytes.size()};
}

void worker::impl::give_owned(connection& c, uint32_t i) noexcept {
    if (!c.owned[i]) return;
    if (c.owned_large & (1u << i))
        answers.give(c.owned[i]);
    else
        small_responses.give(c.owned[i]);
    c.owned[i] = nullptr;
    c.owned_large &= ~(1u << i);
    --c.owned_count;
}

// A text/plain answer that says why (one line), with Allow for a 405.
uint16_t worker::impl::queue_text(uint32_t index, uint16_t status, std::string_view text,
                                  bool keep_alive, bool head, std::string_view allow) {
    char* buf = small_responses.take();
    dynamic_response a{.status = status,
                       .content_type = "text/plain; charset=utf-8",
                       .allow = allow,
                       .keep_alive = keep_alive,
                       .head = head,
                       .unix_s = now_ms / 1000};
    text = text.substr(0, small_responses.size() - small_response_headroom);
    queue_owned(index, write_response(a, text, buf, small_response_headroom), buf, false);
    return status;
}

// No Origin (a server, curl): taken, no CORS headers. With tracking.cors_origins empty,
// every origin is echoed except "null" (sandboxed frames, file: pages), which is taken
// without CORS headers: echoing it with credentials would let any sandboxed page read the
// answers. With the list set, only its origins ("null" too, when listed) are taken.
worker::impl::cors worker::impl::cors_for(std::string_view origin) const noexcept {
    if (origin.empty()) return cors::none;
    if (!echoable_origin(origin)) return cors::refuse;
    if (!cfg.cors_origins || cfg.cors_origins->empty())
        return origin == "null" ? cors::none : cors::echo;
    for (const std::string& o : *cfg.cors_origins)
        if (o == origin) return cors::echo;
    return cors::refuse;
}

// A beacon answered with a JSON error, with the CORS headers its Origin earns.
uint16_t worker::impl::beacon_error(uint32_t index, const http_request& r, uint16_t status,
                                    std::string_view json, bool keep_alive) {
    char* buf = small_responses.take();
    std::string_view origin = r.field("Origin");
    dynamic_response a{.status = status,
                       .content_type = "application/json",
                       .cors_origin = cors_for(origin) == cors::echo ? origin : std::string_view{},
                       .vary_origin = true,
                       .retry_after = status == 429 || status == 503,
                       .keep_alive = keep_alive,
                       .unix_s = now_ms / 1000};
    queue_owned(index, write_response(a, json, buf, small_response_headroom), buf, false);
    return status;
}

// A beacon body over server.max_body_bytes (declared or decoded): 413 with a JSON error,
// then the connection is closed (the rest of the body is not read).
uint16_t worker::impl::body_too_large(uint32_t index, const http_request& r) {
    char json[96];
    auto res = fmt::format_to_n(json, sizeof json, R"({{"error":"body larger than {} bytes"}})",
                                cfg.limits.max_body_bytes);
    return beacon_error(index, r, 413, {json, res.size}, false);
}

bool worker::impl::handle_request(uint32_t index, const http_request& r, const char* body,
                                  size_t body_len, size_t body_cap) {
    connection& c = conns[index];
    ++c.requests;
    routed how = route_request(r);
    // A chunked body is read for beacons only; elsewhere the connection cannot go on.
    bool keep_alive = r.keep_alive && c.requests < cfg.max_requests_per_connection && !stopping &&
                      (!r.chunked || how.what == endpoint::beacon);
    uint16_t status = 0;
    switch (how.what) {
    case endpoint::pixel: {
        pixel_hit hit;
        hit.action = how.action;
        hit.query = r.query;
        record_hit(c, r, hit, how.action);
        queue_response(index, responses.get(how.response, keep_alive, how.head));
        status = response_status(how.response);
        break;
    }
    case endpoint::rest:
        status = respond_rest(index, r, how, keep_alive);
        break;
    case endpoint::redirect:
        status = respond_redirect(index, r, how, keep_alive);
        break;
    case endpoint::beacon:
        status = respond_beacon(index, r, body, body_len, body_cap, keep_alive);
        break;
    case endpoint::preflight:
        status = respond_preflight(index, r, keep_alive);
        break;
    case endpoint::script: {
        response_kind kind = tracker_etag_matches(r.field("If-None-Match"))
                                 ? response_kind::not_modified
                                 : response_kind::tracker_script;
        queue_response(index, responses.get(kind, keep_alive, how.head));
        status = response_status(kind);
        break;
    }
    case endpoint::acme:
        status = respond_acme(index, how, keep_alive);
        break;
    case endpoint::none:
        if (how.response == response_kind::method_not_allowed && how.allow != "GET, HEAD") {
            status = queue_text(index, 405, "method not allowed\n", keep_alive, false, how.allow);
        } else {
            queue_response(index, responses.get(how.response, keep_alive, how.head));
            status = response_status(how.response);
        }
        break;
    }
    counters.count_request(how.metrics_route, status);
    return keep_alive;
}

// An ACME HTTP-01 challenge (certbot certonly --webroot -w <tls.acme_webroot>): the file
// <webroot>/.well-known/acme-challenge/<token>, as certbot wrote it, as text. A token is
// base64url (RFC 8555 §8.3), so nothing else is looked up: no '/', no "..". The file is
// opened and read on the worker (a small local file, a request or two per renewal).
uint16_t worker::impl::respond_acme(uint32_t index, const routed& how, bool keep_alive) {
    constexpr std::string_view dir = "/.well-known/acme-challenge/";
    const std::string_view token = how.tuples;
    bool valid =
        cfg.acme_webroot && !cfg.acme_webroot->empty() && !token.empty() && token.size() <= 128;
    for (const char c : token)
        valid = valid && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '-' || c == '_');
    char path[4096 + 160];
    char content[1024];
    ssize_t n = -1;
    if (valid && cfg.acme_webroot->size() < 4096) {
        const auto end =
            fmt::format_to_n(path, sizeof path - 1, "{}{}{}", *cfg.acme_webroot, dir, token);
        *end.out = '\0';
        const int fd = ::open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        struct stat st;
        if (fd >= 0 && ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
            size_t(st.st_size) <= sizeof content)
            n = ::read(fd, content, sizeof content);
        if (fd >= 0) ::close(fd);
    }
    if (n < 0) {
        queue_response(index, responses.get(response_kind::not_found, keep_alive, how.head));
        return 404;
    }
    return queue_text(index, 200, {content, size_t(n)}, keep_alive, how.head);
}

// The client's address as the connection's peer: read once per connection, on its first
// request that needs it.
const ip_address& worker::impl::peer_of(connection& c) {
    if (!c.peer_known) {
        c.peer = peer_address(c.fd);
        c.peer_known = true;
    }
    return c.peer;
}

template <class Hit> bool worker::impl::record_event(const Hit& hit) {
    const size_t bound = max_event_size(hit, cfg.encode);
    char* slot = bound <= events.max_record() ? events.reserve(bound) : nullptr;
    if (!slot) return false;
    const event_id id = ids.next(now_ms);
    encode_notes notes;
    events.commit(encode_event(hit, cfg.encode, id, now_ms, slot, &notes));
    counters.events_accepted.add();
    if (hit.tracking_refused) counters.events_dnt.add();
    // What the encoder changed in the event.
    if (notes.userinfo_removed) counters.events_userinfo_removed.add();
    if (notes.params_truncated) counters.events_params_truncated.add();
    return true;
}

// A pixel, rest or redirect event, encoded straight into the ring: no allocation, no copy of
// the request. Over server.rate_limit, or with an action tracking.allowed_events refuses,
// the event is counted as dropped and the answer is the same.
void worker::impl::record_hit(connection& c, const http_request& r, pixel_hit& hit,
                              std::string_view action) {
    hit.referer = r.referer;
    hit.user_agent = r.user_agent;
    hit.host = r.host;
    hit.client = peer_of(c);
    enrichment_scratch extra; // hit.enrichment points into it
    if (cfg.enrichment) enrich_request(*cfg.enrichment, r, hit.client, extra);
    if (cfg.allowed_events && !cfg.allowed_events->allows_any()) {
        char name[max_action_size];
        size_t len;
        if (!decode_action(action, name, len) ||
            !cfg.allowed_events->allows(std::string_view(name, len))) {
            counters.events_dropped_not_allowed.add();
            return;
        }
    }
    if (limiter && !limiter->allow(hit.client, mono_ms)) {
        counters.events_dropped_rate_limited.add();
        return;
    }
    // The sink could not keep it: the image is still sent (a mail client cannot retry), the
    // event is counted, never accepted and lost later.
    if (cfg.gate && !cfg.gate->is_open()) {
        counters.events_dropped_sink_unavailable.add();
        return;
    }
    if (cfg.enrichment && cfg.enrichment->enabled) {
        enrich_visitor(*cfg.enrichment, r, now_ms, *visitors, hit.client, raw_campaign(hit),
                       r.referer, extra);
        hit.enrichment = &extra.fields;
    }
    hit.tracking_refused = extra.fields.dnt;
    if (!record_event(hit)) counters.events_dropped_ring_full.add();
}

uint16_t worker::impl::respond_rest(uint32_t index, const http_request& r, const routed& how,
                                    bool keep_alive) {
    if (!valid_rest_tuples(how.tuples))
        return queue_text(index, 400,
                          "bad /tr/v1/ path: expected /tr/v1/<key>/<value>[/<key>/<value>...] "
                          "with non-empty keys\n",
                          keep_alive, how.head);
    pixel_hit hit;
    hit.type = event_type::rest;
    hit.query = how.tuples;
    std::string_view action = tuple_value(how.tuples, "action");
    record_hit(conns[index], r, hit, action.empty() ? "event" : action);
    queue_response(index, responses.get(response_kind::no_content, keep_alive, how.head));
    return 204;
}

uint16_t worker::impl::respond_redirect(uint32_t index, const http_request& r, const routed& how,
                                        bool keep_alive) {
    if (!cfg.redirect || !cfg.redirect->enabled()) {
        queue_response(index, responses.get(response_kind::not_found, keep_alive, how.head));
        return 404;
    }
    char location[3 * max_redirect_target];
    redirect_check check =
        check_redirect(*cfg.redirect, query_param(r.query, "url"), query_param(r.query, "sig"),
                       find_redirect_subject(how.action, r.query), location, sizeof location);
    if (check.status != redirect_status::ok) {
        char text[256];
        std::string_view why = redirect_status_text(check.status);
        size_t n = 0;
        auto put = [&](std::string_view s) {
            size_t k = std::min(s.size(), sizeof text - n);
            std::memcpy(text + n, s.data(), k);
            n += k;
        };
        put("redirect refused: ");
        put(why);
        put("\n");
        return queue_text(index, 400, {text, n}, keep_alive, how.head);
    }
    std::string_view target(location, check.location_size);
    const bool large = target.size() > small_location_max;
    char* buf = take_response(large);
    dynamic_response a{.status = 302,
                       .location = target,
                       .keep_alive = keep_alive,
                       .head = how.head,
                       .unix_s = now_ms / 1000};
    std::string_view bytes = finish_response(a, buf, 0, headroom_of(large));
    if (bytes.empty()) { // cannot happen: response_headroom holds the longest Location
        (large ? answers : small_responses).give(buf);
        return queue_text(index, 400, "redirect refused: url too long\n", keep_alive, how.head);
    }
    pixel_hit hit;
    hit.type = event_type::redirect;
    hit.action = how.action;
    hit.query = r.query;
    hit.target = target;
    record_hit(conns[index], r, hit, how.action);
    queue_owned(index, bytes, buf, large);
    return 302;
}

uint16_t worker::impl::respond_preflight(uint32_t index, const http_request& r, bool keep_alive) {
    std::string_view origin = r.field("Origin");
    cors how = cors_for(origin);
    if (how == cors::refuse)
        return queue_text(index, 403, "origin not allowed\n", keep_alive, false);
    char* buf = small_responses.take();
    dynamic_response a{.status = 204,
                       .cors_origin = how == cors::echo ? origin : std::string_view{},
                       .preflight = true,
                       .vary_origin = true,
                       .keep_alive = keep_alive,
                       .unix_s = now_ms / 1000};
    queue_owned(index, finish_response(a, buf, 0, small_response_headroom), buf, false);
    return 204;
}

uint16_t worker::impl::respond_beacon(uint32_t index, const http_request& r, const char* body,
                                      size_t body_len, size_t body_cap, bool keep_alive) {
    connection& c = conns[index];
    std::string_view origin = r.field("Origin");
    cors how = cors_for(origin);
    if (how == cors::refuse)
        return beacon_error(index, r, 403, R"({"error":"origin not allowed"})", keep_alive);
    // No body at all (no Content-Length, or 0): the parser answers "empty body".
    static constexpr char no_body[beacon_body_padding] = {};
    beacon_result result =
        body ? beacons.parse(body, body_len, body_cap) : beacons.parse(no_body, 0, sizeof no_body);
    if (result.error() != beacon_body_error::none)
        return beacon_error(index, r, result.http_status(), result.error_body(), keep_alive);

    ip_address client = peer_of(c);
    enrichment_scratch extra;
    if (cfg.enrichment) enrich_request(*cfg.enrichment, r, client, extra);
    const bool enrich = cfg.enrichment && cfg.enrichment->enabled;
    const size_t accepted = result.accepted_count();
    counters.beacon_items_rejected.add(result.size() - accepted);
    if (limiter && accepted > 0 && !limiter->allow(client, mono_ms, uint32_t(accepted))) {
        counters.events_dropped_rate_limited.add(accepted);
        return beacon_error(index, r, 429, R"({"error":"rate limited: retry later"})", keep_alive);
    }
    // Items become events in order until one cannot be kept; that one and the rest are
    // dropped and the answer is 503 (receipts say which).
    std::string_view dropped_reason;
    if (accepted > 0 && cfg.gate && !cfg.gate->is_open()) {
        dropped_reason = sink_unavailable_text;
        counters.events_dropped_sink_unavailable.add(accepted);
    }
    size_t kept = 0;
    for (const beacon_item& item : result) {
        if (!item.accepted() || !dropped_reason.empty()) continue;
        beacon_hit hit{.item = &item,
                       .user_agent = r.user_agent,
                       .host = r.host,
                       .client = client,
                       .tracking_refused = extra.fields.dnt};
        if (enrich) {
            enrich_visitor(*cfg.enrichment, r, now_ms, *visitors, client,
                           item.campaign.value_or(std::string_view{}),
                           item.url.value_or(std::string_view{}), extra);
            hit.enrichment = &extra.fields;
        }
        if (!record_event(hit)) {
            dropped_reason = "no room for the event in the server's queue; retry later";
            counters.events_dropped_ring_full.add(accepted - kept);
            continue;
        }
        ++kept;
    }
    const bool receipts = receipts_asked(r.query);
    if (!dropped_reason.empty() && !receipts) {
        char json[max_dropped_reason_size + 16];
        auto res = fmt::format_to_n(json, sizeof json, R"({{"error":"{}"}})", dropped_reason);
        return beacon_error(index, r, 503, {json, res.size}, keep_alive);
    }
    char* buf = take_response(receipts);
    dynamic_response a{.content_type = "application/json",
                       .cors_origin = how == cors::echo ? origin : std::string_view{},
                       .vary_origin = true,
                       .retry_after = !dropped_reason.empty(),
                       .keep_alive = keep_alive,
                       .unix_s = now_ms / 1000};
    if (receipts) {
        size_t n = write_receipts(result, buf + response_headroom,
                                  answers.size() - response_headroom, kept, dropped_reason);
        a.status = dropped_reason.empty() ? 200 : 503;
        queue_owned(index, finish_response(a, buf, n), buf, true);
        return a.status;
    }
    a.status = 204;
    a.content_type = {};
    queue_owned(index, finish_response(a, buf, 0, small_response_headroom), buf, false);
    return 204;
}

} // namespace pixelring
