// The input is the byte stream of one client connection: pipelined request heads, with or
// without bodies. The harness plays it to request_parser (core/http/request_parser.hh) the way
// net/worker/worker_input.cc's consume() does: parse_head on the bytes received so far, again with
// the same request start and a larger length after need_more, the body skipped (Content-Length)
// or decoded by chunked_decoder for POST /e, route_request (net/http/router.hh) deciding whether
// the connection goes on. The bytes live in one heap buffer of exactly the input's size whose
// not-yet-received tail is ASan-poisoned, so a read past what recv delivered is reported. Each
// input is played twice, whole and in recv-sized pieces (recv_schedule), under the default
// limits and under the smallest server.max_header_bytes (1 KiB) with a tiny max_body_bytes;
// both plays must give the same requests. Every complete head is checked against the
// header's promises (views inside the head, strict framing rules, Content-Length bound, Host
// count, keep-alive), parsed again from a copy as finish_body does, and every error must be one
// of the statuses the parser documents and must stay an error.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "core/http/chunked_decoder.hh"
#include "core/http/request_parser.hh"
#include "fuzz/fuzz_support.hh"
#include "net/http/router.hh"

namespace pixelring {
namespace {

using fuzz::escaped;
using fuzz::exact_buffer;
using fuzz::inside;

// What one parse outcome looked like, as offsets into the stream, so that two plays compare.
struct outcome {
    parse_status status = parse_status::need_more;
    uint16_t error_status = 0;
    size_t start = 0;
    size_t head_length = 0;
    http_method method = http_method::get;
    uint8_t version_minor = 0;
    size_t target_at = 0, target_size = 0;
    uint16_t field_count = 0;
    bool keep_alive = false, chunked = false, has_content_length = false;
    uint64_t content_length = 0;
    size_t body_decoded = 0; // chunked beacon bodies: payload bytes

    bool operator==(const outcome&) const = default;
};

bool iequal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = char(x + 32);
        if (y >= 'A' && y <= 'Z') y = char(y + 32);
        if (x != y) return false;
    }
    return true;
}

bool is_ows(char c) {
    return c == ' ' || c == '\t';
}

bool is_tchar(char c) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= '0' && u <= '9') || ((u | 0x20) >= 'a' && (u | 0x20) <= 'z')) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool has_token(std::string_view list, std::string_view token) {
    while (true) {
        const size_t comma = list.find(',');
        std::string_view item = list.substr(0, comma);
        while (!item.empty() && is_ows(item.front()))
            item.remove_prefix(1);
        while (!item.empty() && is_ows(item.back()))
            item.remove_suffix(1);
        if (iequal(item, token)) return true;
        if (comma == std::string_view::npos) return false;
        list.remove_prefix(comma + 1);
    }
}

// The parser keeps the first non-empty value of Referer, User-Agent and Content-Type.
std::string_view first_non_empty(const http_request& r, std::string_view name) {
    for (uint16_t i = 0; i < r.field_count; ++i)
        if (iequal(r.fields[i].name, name) && !r.fields[i].value.empty()) return r.fields[i].value;
    return {};
}

// Every promise of core/http/request_parser.hh about a complete head at head[0..req.head_length).
void check_complete(const char* head, size_t available, const http_request& r,
                    const http_limits& limits) {
    const size_t n = r.head_length;
    FUZZ_CHECK(n >= 4 && n <= available, "head_length %zu of %zu bytes", n, available);
    FUZZ_CHECK(n <= limits.max_header_bytes, "head of %zu bytes over max_header_bytes %zu", n,
               limits.max_header_bytes);
    FUZZ_CHECK(std::memcmp(head + n - 4, "\r\n\r\n", 4) == 0, "head does not end with CRLFCRLF");
    FUZZ_CHECK(r.version_minor <= 1, "HTTP/1.%u", unsigned(r.version_minor));
    FUZZ_CHECK(r.field_count <= std::min(limits.max_fields, http_max_fields), "%u fields",
               unsigned(r.field_count));
    FUZZ_CHECK(!r.target.empty() && inside(r.target, head, n), "target outside the head");
    for (char c : r.target)
        FUZZ_CHECK(static_cast<unsigned char>(c) > 0x20 && c != 0x7f, "control byte in target %s",
                   escaped(r.target).c_str());
    // path is the target's (or "/" for an absolute-form target without a path); query the
    // rest after the first '?'.
    FUZZ_CHECK(!r.path.empty(), "empty path");
    FUZZ_CHECK(inside(r.path, head, n) || r.path == "/", "path outside the head");
    FUZZ_CHECK(inside(r.query, head, n), "query outside the head");
    if (r.target[0] == '/') {
        const size_t q = r.target.find('?');
        FUZZ_CHECK(r.path == r.target.substr(0, q), "path %s of target %s", escaped(r.path).c_str(),
                   escaped(r.target).c_str());
        FUZZ_CHECK(r.query ==
                       (q == std::string_view::npos ? std::string_view{} : r.target.substr(q + 1)),
                   "query of target %s", escaped(r.target).c_str());
    }

    unsigned hosts = 0;
    bool close = false, keep_alive = false, saw_length = false, saw_te = false;
    for (uint16_t i = 0; i < r.field_count; ++i) {
        const http_field& f = r.fields[i];
        FUZZ_CHECK(!f.name.empty() && inside(f.name, head, n) && inside(f.value, head, n),
                   "field %u outside the head", unsigned(i));
        for (char c : f.name)
            FUZZ_CHECK(is_tchar(c), "field name %s", escaped(f.name).c_str());
        for (char c : f.value)
            FUZZ_CHECK(c == '\t' || (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f),
                       "control byte in the value of %s", escaped(f.name).c_str());
        FUZZ_CHECK(f.value.empty() || (!is_ows(f.value.front()) && !is_ows(f.value.back())),
                   "value of %s not trimmed", escaped(f.name).c_str());
        if (iequal(f.name, "host")) ++hosts;
        if (iequal(f.name, "connection")) {
            close |= has_token(f.value, "close");
            keep_alive |= has_token(f.value, "keep-alive");
        }
        if (iequal(f.name, "content-length")) {
            FUZZ_CHECK(!saw_length, "two Content-Length fields taken");
            saw_length = true;
        }
        saw_te |= iequal(f.name, "transfer-encoding");
    }
    FUZZ_CHECK(hosts <= 1 && (hosts == 1 || r.version_minor == 0), "%u Host fields in HTTP/1.%u",
               hosts, unsigned(r.version_minor));
    if (hosts == 1 && r.target[0] == '/')
        FUZZ_CHECK(r.host == r.field("Host"), "host %s is not the Host field",
                   escaped(r.host).c_str());
    FUZZ_CHECK(r.referer == first_non_empty(r, "referer") &&
                   r.user_agent == first_non_empty(r, "user-agent") &&
                   r.content_type == first_non_empty(r, "content-type"),
               "a well-known field is not the first non-empty one of its name");
    FUZZ_CHECK(r.keep_alive == (r.version_minor == 1 ? !close : keep_alive && !close),
               "keep_alive %d for HTTP/1.%u", int(r.keep_alive), unsigned(r.version_minor));
    FUZZ_CHECK(saw_length == r.has_content_length, "has_content_length");
    FUZZ_CHECK(saw_te == r.chunked, "Transfer-Encoding other than one chunked accepted");
    FUZZ_CHECK(!(r.chunked && r.has_content_length), "Content-Length with Transfer-Encoding");
    FUZZ_CHECK(!r.chunked || r.version_minor == 1, "chunked in HTTP/1.0");
    FUZZ_CHECK(!r.has_content_length || r.content_length <= limits.max_body_bytes,
               "Content-Length %llu over max_body_bytes",
               static_cast<unsigned long long>(r.content_length));
    if (r.method == http_method::post || r.method == http_method::put)
        FUZZ_CHECK(r.has_content_length || r.chunked, "POST or PUT without a length");
}

void check_error(const request_parser& parser) {
    const uint16_t s = parser.error_status();
    FUZZ_CHECK(s == 400 || s == 411 || s == 413 || s == 414 || s == 431 || s == 501 || s == 505,
               "error status %u (%s)", unsigned(s), parser.error_reason());
    FUZZ_CHECK(parser.error_reason() && *parser.error_reason(), "error without a reason");
}

// finish_body parses the head again from the body buffer: it must come out the same.
void check_reparse(const char* head, const http_request& first, const http_limits& limits) {
    exact_buffer copy(std::string_view(head, first.head_length));
    request_parser parser(limits);
    http_request again;
    FUZZ_CHECK(parser.parse_head(copy.data(), copy.size(), again) == parse_status::complete,
               "the head parses complete once but not from a copy of itself (%s)",
               parser.error_reason());
    FUZZ_CHECK(again.head_length == first.head_length && again.method == first.method &&
                   again.target == first.target && again.field_count == first.field_count &&
                   again.content_length == first.content_length && again.chunked == first.chunked &&
                   again.keep_alive == first.keep_alive,
               "the head parses differently from a copy of itself");
}

// One connection, as consume() plays it. whole: every byte at once; else recv-sized pieces.
std::vector<outcome> play(exact_buffer& stream, const http_limits& limits, bool whole,
                          uint64_t seed) {
    std::vector<outcome> outcomes;
    const char* buf = stream.data();
    const size_t n = stream.size();
    request_parser parser(limits);
    chunked_decoder chunks(limits.max_body_bytes);
    fuzz::recv_schedule schedule(seed);
    http_request req;
    size_t received = 0, pos = 0;
    uint64_t body_left = 0; // Content-Length bytes to skip
    bool in_chunked_body = false, done = false;
    size_t decoded = 0;

    while (received < n && !done) {
        received += whole ? n : schedule.next(n - received);
        stream.receive(received);
        while (pos < received && !done) {
            if (in_chunked_body) {
                // feed_body: the new bytes are copied behind the head and decoded in place.
                exact_buffer body(std::string_view(buf + pos, received - pos));
                size_t len = body.size(), trailing = 0;
                const parse_status st = chunks.decode(body.data(), &len, &trailing);
                FUZZ_CHECK(len <= body.size(), "decoded %zu of %zu bytes", len, body.size());
                decoded += len;
                FUZZ_CHECK(decoded == chunks.decoded_bytes() && decoded <= limits.max_body_bytes,
                           "decoded %zu bytes, decoder says %llu, limit %zu", decoded,
                           static_cast<unsigned long long>(chunks.decoded_bytes()),
                           limits.max_body_bytes);
                if (st == parse_status::need_more) {
                    pos = received;
                    continue;
                }
                outcomes.back().body_decoded = decoded;
                if (st == parse_status::error) {
                    done = true;
                    break;
                }
                FUZZ_CHECK(len + trailing <= body.size(), "decoded %zu and %zu trailing of %zu",
                           len, trailing, body.size());
                pos = received - trailing;
                in_chunked_body = false;
                continue;
            }
            if (body_left > 0) {
                const size_t skip = size_t(std::min<uint64_t>(body_left, received - pos));
                pos += skip;
                body_left -= skip;
                continue;
            }
            const parse_status st = parser.parse_head(buf + pos, received - pos, req);
            if (st == parse_status::need_more) break;
            outcome o;
            o.status = st;
            o.start = pos;
            if (st == parse_status::error) {
                check_error(parser);
                o.error_status = parser.error_status();
                FUZZ_CHECK(parser.parse_head(buf + pos, received - pos, req) == parse_status::error,
                           "an error is not final");
                outcomes.push_back(o);
                done = true;
                break;
            }
            check_complete(buf + pos, received - pos, req, limits);
            o.head_length = req.head_length;
            o.method = req.method;
            o.version_minor = req.version_minor;
            o.target_at = size_t(req.target.data() - buf);
            o.target_size = req.target.size();
            o.field_count = req.field_count;
            o.keep_alive = req.keep_alive;
            o.chunked = req.chunked;
            o.has_content_length = req.has_content_length;
            o.content_length = req.content_length;
            outcomes.push_back(o);
            parser.reset();
            const routed how = route_request(req);
            const bool beacon = how.what == endpoint::beacon;
            const bool with_body = req.chunked || (req.has_content_length && req.content_length);
            if (beacon && with_body) check_reparse(buf + pos, req, limits);
            pos += req.head_length;
            // handle_request: a chunked body is read for beacons only; elsewhere the
            // connection cannot go on. Connection: close ends it too.
            if (req.chunked && !beacon) {
                done = true;
                break;
            }
            if (req.chunked) {
                chunks.reset();
                decoded = 0;
                in_chunked_body = true;
            } else if (req.has_content_length) {
                body_left = req.content_length;
            }
            if (!req.keep_alive) done = true;
        }
    }
    if (!done && pos < n) {
        outcome o; // the bytes left wait for more
        o.start = pos;
        o.body_decoded = in_chunked_body ? decoded : 0;
        outcomes.push_back(o);
    }
    stream.receive(n);
    return outcomes;
}

void compare(const std::vector<outcome>& a, const std::vector<outcome>& b) {
    FUZZ_CHECK(a.size() == b.size(), "%zu outcomes whole, %zu in pieces", a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i)
        FUZZ_CHECK(a[i] == b[i],
                   "request %zu differs whole and in pieces: status %d/%d error %u/%u at "
                   "%zu/%zu head %zu/%zu",
                   i, int(a[i].status), int(b[i].status), unsigned(a[i].error_status),
                   unsigned(b[i].error_status), a[i].start, b[i].start, a[i].head_length,
                   b[i].head_length);
}

} // namespace
} // namespace pixelring

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace pixelring;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    static const http_limits defaults{};
    // The smallest head the configuration allows (server.max_header_bytes = 1 KiB) and a body
    // limit small enough for the fuzzer to cross.
    static const http_limits small{.max_header_bytes = 1024, .max_body_bytes = 16};
    const uint64_t seed = fuzz::input_hash(input);
    for (const http_limits* limits : {&defaults, &small}) {
        fuzz::exact_buffer stream(input);
        const auto whole = play(stream, *limits, true, seed);
        const auto pieces = play(stream, *limits, false, seed);
        compare(whole, pieces);
    }
    return 0;
}
