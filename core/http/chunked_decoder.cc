#include "core/http/chunked_decoder.hh"

#include <algorithm>
#include <cstring>

#include "core/http/http_chars.hh"

namespace pixelring {
namespace {

using detail::cls_hex;
using detail::cls_tchar;
using detail::cls_value;
using detail::is;
using detail::is_ows;

enum chunk_state : uint8_t {
    st_size_first, // first hex digit of a chunk size
    st_size,       // further hex digits
    st_size_ws,    // BWS after the size: only ';' may follow
    st_ext,        // chunk extension, up to CR
    st_size_lf,
    st_data,
    st_data_cr,
    st_data_lf,
    st_trailer_start, // start of a trailer line or of the final empty line
    st_trailer_name,
    st_trailer_value,
    st_trailer_lf,
    st_final_lf,
    st_done,
};

inline uint8_t hex_value(char c) {
    return uint8_t(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
}

} // namespace

void chunked_decoder::reset() noexcept {
    decoded_ = 0;
    chunk_left_ = 0;
    state_ = st_size_first;
    hex_digits_ = 0;
    error_status_ = 0;
    line_bytes_ = 0;
    error_reason_ = "";
}

parse_status chunked_decoder::decode(char* buf, size_t* len, size_t* trailing) noexcept {
    const size_t n = *len;
    size_t src = 0;
    size_t dst = 0;
    *trailing = 0;
    auto fail = [&](uint16_t status, const char* reason) {
        error_status_ = status;
        error_reason_ = reason;
        *len = dst;
        return parse_status::error;
    };
    if (error_status_ != 0) return fail(error_status_, error_reason_);

    while (src < n) {
        if (state_ == st_data) {
            const size_t take = size_t(std::min<uint64_t>(chunk_left_, n - src));
            if (dst != src) std::memmove(buf + dst, buf + src, take);
            src += take;
            dst += take;
            chunk_left_ -= take;
            decoded_ += take;
            if (chunk_left_ == 0) state_ = st_data_cr;
            continue;
        }
        if (state_ == st_done) break;

        const char c = buf[src++];
        if (state_ <= st_size_lf || state_ >= st_trailer_start) {
            if (++line_bytes_ > max_framing_line) return fail(400, "chunk framing line too long");
        }
        switch (state_) {
        case st_size_first:
        case st_size:
            if (is(cls_hex, c)) {
                // hex_digits_ counts significant digits: leading zeros are harmless.
                const uint8_t digit = hex_value(c);
                if (chunk_left_ != 0 || digit != 0) {
                    if (++hex_digits_ > 16) return fail(400, "chunk size overflow");
                    chunk_left_ = chunk_left_ << 4 | digit;
                }
                state_ = st_size;
            } else if (state_ == st_size_first) {
                return fail(400, "invalid chunk size");
            } else if (c == ';') {
                state_ = st_ext;
            } else if (c == '\r') {
                state_ = st_size_lf;
            } else if (is_ows(c)) {
                state_ = st_size_ws;
            } else {
                return fail(400, "invalid chunk size");
            }
            break;
        case st_size_ws:
            if (c == ';')
                state_ = st_ext;
            else if (!is_ows(c))
                return fail(400, "invalid chunk extension");
            break;
        case st_ext:
            if (c == '\r')
                state_ = st_size_lf;
            else if (!is(cls_value, c))
                return fail(400, "control byte in chunk extension");
            break;
        case st_size_lf:
            if (c != '\n') return fail(400, "bare CR");
            line_bytes_ = 0;
            hex_digits_ = 0;
            if (chunk_left_ == 0) {
                state_ = st_trailer_start;
            } else {
                if (chunk_left_ > max_body_ - decoded_) return fail(413, "chunked body too large");
                state_ = st_data;
            }
            break;
        case st_data_cr:
            if (c != '\r') return fail(400, "chunk data not followed by CRLF");
            state_ = st_data_lf;
            break;
        case st_data_lf:
            if (c != '\n') return fail(400, "bare CR");
            state_ = st_size_first;
            break;
        case st_trailer_start:
            if (c == '\r')
                state_ = st_final_lf;
            else if (is_ows(c))
                return fail(400, "obsolete line folding");
            else if (is(cls_tchar, c))
                state_ = st_trailer_name;
            else
                return fail(400, "invalid trailer field");
            break;
        case st_trailer_name:
            if (c == ':')
                state_ = st_trailer_value;
            else if (!is(cls_tchar, c))
                return fail(400, "invalid trailer field");
            break;
        case st_trailer_value:
            if (c == '\r')
                state_ = st_trailer_lf;
            else if (!is(cls_value, c))
                return fail(400, "control byte in trailer");
            break;
        case st_trailer_lf:
            if (c != '\n') return fail(400, "bare CR");
            state_ = st_trailer_start;
            break;
        case st_final_lf:
            if (c != '\n') return fail(400, "bare CR");
            state_ = st_done;
            break;
        default:
            break;
        }
    }

    *len = dst;
    if (state_ != st_done) return parse_status::need_more;
    *trailing = n - src;
    if (dst != src) std::memmove(buf + dst, buf + src, n - src);
    return parse_status::complete;
}

} // namespace pixelring
