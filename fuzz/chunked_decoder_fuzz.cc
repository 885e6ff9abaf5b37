// The input is a chunked request body: the bytes after a head that said Transfer-Encoding:
// chunked, perhaps followed by the next pipelined request. The harness feeds them to
// chunked_decoder (core/http/chunked_decoder.hh) as net/worker/worker_input.cc's feed_body does:
// each recv-sized piece is copied right behind the payload decoded so far in one body buffer and
// decoded in place there. While decode runs, only the new piece is readable (the payload before
// it and the buffer's free tail are ASan-poisoned), since the contract names buf[0..*len) only.
// Each input is decoded whole and in pieces, under the default server.max_body_bytes and a
// small one; both must give the same status, payload and trailing bytes, the payload must
// stay within the limit, and a complete body must agree with a plain reference reading of
// RFC 9112 §7.1 (sizes, data, CRLFs, trailer lines).

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "core/http/chunked_decoder.hh"
#include "fuzz/fuzz_support.hh"

namespace pixelring {
namespace {

using fuzz::escaped;

struct decoded_body {
    parse_status status = parse_status::need_more;
    uint16_t error_status = 0;
    std::string payload;
    std::string trailing; // complete: the bytes after the body

    bool operator==(const decoded_body&) const = default;
};

// A body buffer the size of the input (the payload is never longer than the framing that
// carried it). Exposes [from, to) to the decoder and poisons the rest.
class body_buffer {
public:
    explicit body_buffer(size_t size) : buf_(std::string_view(std::string(size, '\0'))) {}
    char* data() noexcept { return buf_.data(); }
    void expose(size_t from, size_t to) noexcept {
        buf_.receive(buf_.size()); // everything readable again
        if (buf_.size() == 0) return;
        ASAN_POISON_MEMORY_REGION(buf_.data(), from);
        if (to < buf_.size()) ASAN_POISON_MEMORY_REGION(buf_.data() + to, buf_.size() - to);
    }
    void expose_all() noexcept { buf_.receive(buf_.size()); }

private:
    fuzz::exact_buffer buf_;
};

decoded_body play(std::string_view input, size_t max_body, bool whole, uint64_t seed) {
    decoded_body out;
    chunked_decoder decoder(max_body);
    body_buffer body(input.size());
    fuzz::recv_schedule schedule(seed);
    size_t body_len = 0; // decoded payload at body[0..body_len)
    size_t fed = 0;
    while (fed < input.size()) {
        const size_t take = whole ? input.size() - fed : schedule.next(input.size() - fed);
        char* at = body.data() + body_len;
        body.expose_all();
        std::memcpy(at, input.data() + fed, take);
        body.expose(body_len, body_len + take);
        size_t len = take, trailing = 12345;
        const parse_status st = decoder.decode(at, &len, &trailing);
        body.expose_all();
        FUZZ_CHECK(len <= take, "decode says %zu payload bytes of %zu", len, take);
        body_len += len;
        fed += take;
        FUZZ_CHECK(decoder.decoded_bytes() == body_len, "decoded_bytes %llu, payload %zu",
                   static_cast<unsigned long long>(decoder.decoded_bytes()), body_len);
        FUZZ_CHECK(body_len <= max_body, "payload %zu over max_body_bytes %zu", body_len, max_body);
        if (st == parse_status::need_more) {
            FUZZ_CHECK(trailing == 0, "need_more with %zu trailing bytes", trailing);
            continue;
        }
        out.status = st;
        if (st == parse_status::error) {
            out.error_status = decoder.error_status();
            FUZZ_CHECK(out.error_status == 400 || out.error_status == 413, "error status %u (%s)",
                       unsigned(out.error_status), decoder.error_reason());
            // An error stays an error, and says so without decoding anything.
            char more[4] = {'0', '\r', '\n', '\r'};
            size_t more_len = sizeof more, more_trailing = 0;
            FUZZ_CHECK(decoder.decode(more, &more_len, &more_trailing) == parse_status::error &&
                           more_len == 0,
                       "an error is not final");
        } else {
            FUZZ_CHECK(len + trailing <= take, "payload %zu and trailing %zu of %zu", len, trailing,
                       take);
            // The trailing bytes are the piece's last ones, moved right behind the payload;
            // they and what follows them are the next request's.
            FUZZ_CHECK(std::string_view(at + len, trailing) ==
                           input.substr(fed - trailing, trailing),
                       "trailing bytes are not the piece's tail");
            out.trailing.assign(input.substr(fed - trailing));
        }
        break;
    }
    out.payload.assign(body.data(), body_len);
    return out;
}

bool is_hex(char c) {
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

// RFC 9112 §7.1 read plainly, for a body the decoder completed: the payload and the bytes
// after the body, or nullopt when the framing is not what the grammar allows.
std::optional<decoded_body> reference(std::string_view s) {
    decoded_body out;
    size_t i = 0;
    auto line_end = [&](size_t from) { return s.find("\r\n", from); };
    for (;;) {
        uint64_t size = 0;
        const size_t start = i;
        while (i < s.size() && is_hex(s[i])) {
            const char c = s[i++];
            if (size >> 60) return std::nullopt;
            size = size << 4 | uint64_t(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
        }
        if (i == start) return std::nullopt;
        const size_t eol = line_end(i);
        if (eol == std::string_view::npos) return std::nullopt;
        // After the size: optional whitespace and extensions, no CR or LF of their own.
        const std::string_view rest = s.substr(i, eol - i);
        if (!rest.empty() && rest.find(';') == std::string_view::npos) return std::nullopt;
        if (rest.find_first_of("\r\n") != std::string_view::npos) return std::nullopt;
        i = eol + 2;
        if (size == 0) break;
        if (s.size() - i < size + 2 || s.substr(i + size, 2) != "\r\n") return std::nullopt;
        out.payload.append(s.substr(i, size));
        i += size + 2;
    }
    for (;;) { // trailer lines, then the empty line
        const size_t eol = line_end(i);
        if (eol == std::string_view::npos) return std::nullopt;
        const std::string_view line = s.substr(i, eol - i);
        i = eol + 2;
        if (line.empty()) break;
        if (line.find(':') == std::string_view::npos || line.find('\n') != std::string_view::npos)
            return std::nullopt;
    }
    out.status = parse_status::complete;
    out.trailing.assign(s.substr(i));
    return out;
}

} // namespace
} // namespace pixelring

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace pixelring;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const uint64_t seed = fuzz::input_hash(input);
    for (size_t max_body : {size_t{65536}, size_t{64}}) {
        const decoded_body whole = play(input, max_body, true, seed);
        const decoded_body pieces = play(input, max_body, false, seed);
        FUZZ_CHECK(whole == pieces,
                   "whole: status %d (%u), %zu payload bytes; in pieces: status %d (%u), %zu",
                   int(whole.status), unsigned(whole.error_status), whole.payload.size(),
                   int(pieces.status), unsigned(pieces.error_status), pieces.payload.size());
        if (whole.status == parse_status::complete) {
            const auto expected = reference(input);
            FUZZ_CHECK(expected.has_value(), "complete, but the framing is not RFC 9112's: %s",
                       fuzz::escaped(input).c_str());
            FUZZ_CHECK(expected->payload == whole.payload && expected->trailing == whole.trailing,
                       "payload or trailing bytes differ from the reference reading of %s",
                       fuzz::escaped(input).c_str());
        }
    }
    return 0;
}
