#include "core/http/request_parser.hh"

#include "core/base/ascii.hh"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "core/http/http_chars.hh"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace pixelring {
namespace {

using detail::cls_target;
using detail::cls_tchar;
using detail::cls_value;
using detail::find_byte;
using detail::is;
using detail::is_ows;

constexpr uint64_t ones = 0x0101010101010101ull;
constexpr uint64_t highs = 0x8080808080808080ull;

// Whether any byte of w is below n (n <= 128) or is DEL.
inline bool word_has_stop(uint64_t w, uint8_t n) {
    const uint64_t below = (w - ones * n) & ~w & highs;
    const uint64_t del = w ^ (ones * 0x7f);
    return (below | ((del - ones) & ~del & highs)) != 0;
}

// First byte at or after p that is not of class cls, where cls holds every byte from
// `below` up except DEL, plus perhaps HTAB. Values and targets are long and almost always
// clean, so this goes 16 (SSE2) or 8 (SWAR) bytes at a time and looks at single bytes only
// near a stop. Reads stay below end; the caller knows a stop byte (the CR) lies before end.
template <uint8_t cls, uint8_t below> const char* skip_run(const char* p, const char* end) {
#if defined(__SSE2__)
    const __m128i top = _mm_set1_epi8(char(below - 1));
    const __m128i del = _mm_set1_epi8(0x7f);
    while (end - p >= 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        // min_epu8(v, top) == v: v <= below - 1, unsigned.
        const __m128i stop =
            _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(v, top), v), _mm_cmpeq_epi8(v, del));
        const unsigned mask = unsigned(_mm_movemask_epi8(stop));
        if (mask == 0) {
            p += 16;
            continue;
        }
        p += __builtin_ctz(mask);
        if (!is(cls, *p)) return p;
        ++p; // HTAB inside a value
    }
#endif
    for (;;) {
        while (end - p >= 8) {
            uint64_t w;
            std::memcpy(&w, p, 8);
            if (word_has_stop(w, below)) break;
            p += 8;
        }
        const char* stop = end - p >= 8 ? p + 8 : end;
        while (p < stop && is(cls, *p))
            ++p;
        if (p != stop || p == end) return p;
    }
}

// First byte at or after p that is not a tchar. Field names are letters, digits and '-'
// nearly always: 16 of those are checked at once, anything else goes to the table.
inline const char* skip_token(const char* p, const char* end) {
#if defined(__SSE2__)
    while (end - p >= 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        // Signed compares: bytes >= 0x80 are negative and fall outside every range.
        const __m128i folded = _mm_or_si128(v, _mm_set1_epi8(0x20)); // 'A'-'Z' onto 'a'-'z'
        const __m128i alpha = _mm_and_si128(_mm_cmpgt_epi8(folded, _mm_set1_epi8('a' - 1)),
                                            _mm_cmplt_epi8(folded, _mm_set1_epi8('z' + 1)));
        const __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)),
                                            _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
        const __m128i dash = _mm_cmpeq_epi8(v, _mm_set1_epi8('-'));
        const unsigned ok =
            unsigned(_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(alpha, digit), dash)));
        if (ok == 0xffff) {
            p += 16;
            continue;
        }
        p += __builtin_ctz(~ok);
        if (!is(cls_tchar, *p)) return p;
        ++p;
    }
#endif
    while (p < end && is(cls_tchar, *p))
        ++p;
    return p;
}

std::string_view trim_ows(std::string_view v) {
    while (!v.empty() && is_ows(v.front()))
        v.remove_prefix(1);
    while (!v.empty() && is_ows(v.back()))
        v.remove_suffix(1);
    return v;
}

struct head_error {
    uint16_t status = 0; // 0: no error
    const char* reason = "";
};

constexpr head_error ok{};

bool match_method(std::string_view m, http_method& out) {
    switch (m.size()) {
    case 3:
        if (m == "GET") return out = http_method::get, true;
        if (m == "PUT") return out = http_method::put, true;
        return false;
    case 4:
        if (m == "POST") return out = http_method::post, true;
        if (m == "HEAD") return out = http_method::head, true;
        return false;
    case 5:
        if (m == "PATCH") return out = http_method::patch, true;
        if (m == "TRACE") return out = http_method::trace, true;
        return false;
    case 6:
        if (m == "DELETE") return out = http_method::delete_, true;
        return false;
    case 7:
        if (m == "OPTIONS") return out = http_method::options, true;
        if (m == "CONNECT") return out = http_method::connect, true;
        return false;
    default:
        return false;
    }
}

// "HTTP/" 1*DIGIT [ "." 1*DIGIT ]: a version we could name but do not speak (505), as
// opposed to garbage (400).
bool looks_like_http_version(std::string_view v) {
    if (v.substr(0, 5) != "HTTP/") return false;
    v.remove_prefix(5);
    size_t i = 0;
    while (i < v.size() && v[i] >= '0' && v[i] <= '9')
        ++i;
    if (i == 0) return false;
    if (i == v.size()) return true;
    if (v[i] != '.') return false;
    const size_t minor = ++i;
    while (i < v.size() && v[i] >= '0' && v[i] <= '9')
        ++i;
    return i > minor && i == v.size();
}

// Splits the request-target into path, query and (absolute-form only) authority.
head_error split_target(http_method method, std::string_view target, http_request& out,
                        std::string_view& authority) {
    std::string_view rest = target;
    if (target[0] != '/') {
        if (target == "*") {
            if (method != http_method::options) return {400, "asterisk-form without OPTIONS"};
            out.path = target;
            out.query = {};
            return ok;
        }
        size_t scheme = 0;
        if (ascii_iequals(target.substr(0, 7), "http://"))
            scheme = 7;
        else if (ascii_iequals(target.substr(0, 8), "https://"))
            scheme = 8;
        else
            return {400, "invalid request-target"};
        rest = target.substr(scheme);
        const size_t auth_end = std::min(rest.find('/'), rest.find('?'));
        authority = rest.substr(0, auth_end);
        if (authority.empty()) return {400, "empty authority"};
        if (authority.find('@') != std::string_view::npos) return {400, "userinfo in target"};
        rest = auth_end == std::string_view::npos ? std::string_view{} : rest.substr(auth_end);
    }
    const size_t q = find_byte(rest, '?');
    out.path = rest.substr(0, q);
    out.query = q == std::string_view::npos ? std::string_view{} : rest.substr(q + 1);
    // "http://host" and "http://host?q" name the root; the path must still be a view.
    if (out.path.empty()) out.path = "/";
    return ok;
}

head_error parse_request_line(const char* p, const char* line_cr, const char* head_end,
                              http_request& out) {
    const char* m = p;
    p = skip_token(p, head_end);
    if (p == m || *p != ' ') return {400, "invalid method"};
    const std::string_view method(m, size_t(p - m));
    ++p;

    const char* t = p;
    p = skip_run<cls_target, 0x21>(p, head_end);
    if (p == t || *p != ' ') return {400, "invalid request-target"};
    out.target = std::string_view(t, size_t(p - t));
    ++p;

    const std::string_view version(p, size_t(line_cr - p));
    if (version.size() == 8 && version.substr(0, 7) == "HTTP/1." &&
        (version[7] == '0' || version[7] == '1')) {
        out.version_minor = uint8_t(version[7] - '0');
    } else if (looks_like_http_version(version)) {
        return {505, "unsupported HTTP version"};
    } else {
        return {400, "invalid HTTP version"};
    }

    if (!match_method(method, out.method)) return {501, "method not implemented"};
    return ok;
}

// Everything the field loop learns that is judged once all fields are read.
struct framing {
    unsigned host_count = 0;
    unsigned te_count = 0;
    bool te_chunked = false;      // one Transfer-Encoding field, exactly "chunked"
    bool te_last_chunked = false; // the last coding of the last Transfer-Encoding is chunked
    bool content_length_too_large = false;
    bool close = false;
    bool keep_alive = false;
};

// The last element of a comma-separated field value, without the optional whitespace around
// it; empty elements at the end ("chunked, ,") are skipped, as RFC 9110 §5.6.1 lets a
// recipient do.
std::string_view last_list_element(std::string_view v) noexcept {
    const auto ows = [](char c) { return c == ' ' || c == '\t'; };
    while (!v.empty() && (ows(v.back()) || v.back() == ','))
        v.remove_suffix(1);
    const size_t comma = v.rfind(',');
    if (comma != std::string_view::npos) v.remove_prefix(comma + 1);
    while (!v.empty() && ows(v.front()))
        v.remove_prefix(1);
    return v;
}

// RFC 9112 §3.2: Host is uri-host [":" port] (RFC 3986): a bracketed IP literal or a
// reg-name of unreserved, pct-encoded and sub-delims bytes, then digits after the last ':'.
// An empty value is valid (a target without authority).
bool valid_host(std::string_view v) noexcept {
    const auto digits = [](std::string_view s) {
        for (char c : s)
            if (c < '0' || c > '9') return false;
        return true;
    };
    std::string_view port;
    if (!v.empty() && v.front() == '[') {
        const size_t close = v.find(']');
        if (close == std::string_view::npos) return false;
        for (char c : v.substr(1, close - 1)) {
            const bool ok = (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
                            c == ':' || c == '.' || c == '-' || c == '_' || c == '~' ||
                            std::string_view("!$&'()*+,;=").find(c) != std::string_view::npos;
            if (!ok) return false;
        }
        v.remove_prefix(close + 1);
        if (v.empty()) return true;
        if (v.front() != ':') return false;
        return digits(v.substr(1));
    }
    const size_t colon = v.rfind(':');
    if (colon != std::string_view::npos) {
        if (!digits(v.substr(colon + 1))) return false;
        v = v.substr(0, colon);
    }
    for (char c : v) {
        const bool ok = (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
                        c == '-' || c == '.' || c == '_' || c == '~' || c == '%' ||
                        std::string_view("!$&'()*+,;=").find(c) != std::string_view::npos;
        if (!ok) return false;
    }
    return true;
}

head_error parse_content_length(std::string_view v, uint64_t max_body, http_request& out,
                                framing& f) {
    if (out.has_content_length) return {400, "duplicate Content-Length"};
    if (v.empty()) return {400, "invalid Content-Length"};
    uint64_t n = 0;
    for (char c : v) {
        if (c < '0' || c > '9') return {400, "invalid Content-Length"};
        const uint64_t digit = uint64_t(c - '0');
        // n * 10 + digit > max_body, asked without computing it: n never wraps.
        if (digit > max_body || n > (max_body - digit) / 10)
            f.content_length_too_large = true;
        else if (!f.content_length_too_large)
            n = n * 10 + digit;
    }
    out.has_content_length = true;
    out.content_length = n;
    return ok;
}

// Connection = #connection-option; only "close" and "keep-alive" mean anything here.
void parse_connection(std::string_view v, framing& f) {
    while (!v.empty()) {
        const size_t comma = v.find(',');
        const std::string_view option = trim_ows(v.substr(0, comma));
        if (ascii_equals_lower_words(option, "close"))
            f.close = true;
        else if (ascii_equals_lower_words(option, "keep-alive"))
            f.keep_alive = true;
        if (comma == std::string_view::npos) break;
        v.remove_prefix(comma + 1);
    }
}

// Records the fields the parser itself acts on. The switch on length keeps the common
// case (Accept-*, sec-ch-*) to one comparison. The field comes in registers, not as a
// reference to out.fields: a 16-byte reload of the view just stored there as two 8-byte
// halves missed store forwarding (perf: ~5% of parse_head per well-known field).
head_error note_field(std::string_view n, std::string_view value, const http_limits& limits,
                      http_request& out, framing& f) {
    switch (n.size()) {
    case 4:
        if (ascii_equals_lower_words(n, "host")) {
            if (f.host_count++ == 0) out.host = value;
        }
        break;
    case 7:
        if (ascii_equals_lower_words(n, "referer") && out.referer.empty()) out.referer = value;
        break;
    case 10:
        if (ascii_equals_lower_words(n, "user-agent")) {
            if (out.user_agent.empty()) out.user_agent = value;
        } else if (ascii_equals_lower_words(n, "connection")) {
            parse_connection(value, f);
        }
        break;
    case 12:
        if (ascii_equals_lower_words(n, "content-type") && out.content_type.empty())
            out.content_type = value;
        break;
    case 14:
        if (ascii_equals_lower_words(n, "content-length"))
            return parse_content_length(value, limits.max_body_bytes, out, f);
        break;
    case 17:
        if (ascii_equals_lower_words(n, "transfer-encoding")) {
            // A second Transfer-Encoding field extends the list: "chunked" is no longer
            // the only coding.
            f.te_chunked = ++f.te_count == 1 && ascii_equals_lower_words(value, "chunked");
            f.te_last_chunked = ascii_equals_lower_words(last_list_element(value), "chunked");
        }
        break;
    default:
        break;
    }
    return ok;
}

// Parses a head already known to end at head_end with CRLFCRLF, every LF in it preceded
// by CR. Bytes are read only below head_end.
head_error parse_head_bytes(const char* buf, size_t start, size_t line_end, size_t head_end,
                            const http_limits& limits, http_request& out) {
    const char* end = buf + head_end;
    out.field_count = 0;
    out.host = out.referer = out.user_agent = out.content_type = {};
    out.chunked = false;
    out.has_content_length = false;
    out.content_length = 0;

    head_error e = parse_request_line(buf + start, buf + line_end - 2, end, out);
    if (e.status) return e;

    const size_t max_fields = std::min(limits.max_fields, http_max_fields);
    framing f;
    const char* p = buf + line_end;
    while (*p != '\r') {
        if (is_ows(*p)) return {400, "obsolete line folding"};
        const char* name = p;
        p = skip_token(p, end);
        if (*p != ':') {
            if (p != name && is_ows(*p)) return {400, "whitespace before colon"};
            return {400, "invalid field name"};
        }
        if (p == name) return {400, "empty field name"};
        const std::string_view field_name(name, size_t(p - name));
        ++p;
        while (is_ows(*p))
            ++p;
        const char* value = p;
        p = skip_run<cls_value, 0x20>(p, end);
        if (*p != '\r') return {400, "control byte in field"};
        if (p[1] != '\n') return {400, "bare CR"};
        const char* value_end = p;
        while (value_end > value && is_ows(value_end[-1]))
            --value_end;
        p += 2;

        if (out.field_count == max_fields) return {431, "too many fields"};
        const std::string_view field_value(value, size_t(value_end - value));
        http_field& field = out.fields[out.field_count++];
        field.name = field_name;
        field.value = field_value;
        e = note_field(field_name, field_value, limits, out, f);
        if (e.status) return e;
    }
    if (p[1] != '\n') return {400, "bare CR"};
    assert(p + 2 == end);

    std::string_view authority;
    e = split_target(out.method, out.target, out, authority);
    if (e.status) return e;

    if (f.host_count > 1) return {400, "duplicate Host"};
    if (f.host_count == 0 && out.version_minor == 1) return {400, "missing Host"};
    if (f.host_count == 1 && !valid_host(out.host)) return {400, "invalid Host"};
    if (!authority.empty()) out.host = authority;
    if (f.te_count > 0) {
        if (out.version_minor == 0) return {400, "Transfer-Encoding in HTTP/1.0"};
        if (out.has_content_length) return {400, "Content-Length with Transfer-Encoding"};
        // RFC 9112 §6.3: chunked not last leaves the length unknown (400); chunked last
        // after another coding is one this server does not implement (501).
        if (!f.te_last_chunked) return {400, "chunked is not the last Transfer-Encoding"};
        if (!f.te_chunked) return {501, "unsupported Transfer-Encoding"};
        out.chunked = true;
    }
    if (f.content_length_too_large) return {413, "Content-Length too large"};
    if ((out.method == http_method::post || out.method == http_method::put) &&
        !out.has_content_length && !out.chunked)
        return {411, "length required"};

    out.keep_alive = out.version_minor == 1 ? !f.close : f.keep_alive && !f.close;
    out.head_length = head_end;
    return ok;
}

} // namespace

std::string_view http_request::field(std::string_view name) const noexcept {
    for (uint16_t i = 0; i < field_count; ++i)
        if (ascii_iequals(fields[i].name, name)) return fields[i].value;
    return {};
}

void request_parser::reset() noexcept {
    scanned_ = 0;
    head_start_ = 0;
    request_line_end_ = 0;
    error_status_ = 0;
    error_reason_ = "";
}

// Phase one looks only for line ends: find_byte to the request line's LF, then 16 bytes at a
// time (SSE2) for an LF that does not follow a CR or that ends the first empty line. It stops at
// the limits, so 414 and 431 are found as soon as enough bytes arrived. Phase two parses the
// finished head in one pass.
parse_status request_parser::parse_head(const char* buf, size_t len, http_request& out) noexcept {
    if (error_status_ != 0) return parse_status::error;
    assert(len >= scanned_);
    auto fail = [this](uint16_t status, const char* reason) {
        error_status_ = status;
        error_reason_ = reason;
        return parse_status::error;
    };

    // An LF at index i ends a head of i + 1 bytes: indices from max_header_bytes on are 431.
    const size_t scan_end = std::min(len, limits_->max_header_bytes);
    size_t pos = scanned_;
    size_t head_end = 0;
    while (pos < scan_end) {
        if (request_line_end_ == 0) {
            // The request line's LF must come before line_cap, else the line is longer than
            // max_request_line (its CR and LF excluded).
            const size_t line_cap = head_start_ + limits_->max_request_line + 2;
            const size_t limit = std::min(scan_end, line_cap);
            const char* lf = find_byte(buf + pos, buf + limit, '\n');
            if (lf == buf + limit) {
                if (limit == line_cap) return fail(414, "request line too long");
                pos = limit;
                break;
            }
            const size_t i = size_t(lf - buf);
            if (i == head_start_ || buf[i - 1] != '\r') return fail(400, "bare LF");
            if (i == head_start_ + 1)
                head_start_ = i + 1; // empty line before the request line
            else
                request_line_end_ = i + 1;
            pos = i + 1;
            continue;
        }
#if defined(__SSE2__)
        // 16 bytes at a time, the LFs of the block judged at once: no branch per line.
        const __m128i lf_byte = _mm_set1_epi8('\n');
        const __m128i cr_byte = _mm_set1_epi8('\r');
        while (scan_end - pos >= 16) {
            // pos - 2 >= request_line_end_ - 2 >= 1: the bytes before the block are the head's.
            const char* b = buf + pos;
            const __m128i lf = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i*)b), lf_byte);
            const __m128i cr_before =
                _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i*)(b - 1)), cr_byte);
            const __m128i lf_two_before =
                _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i*)(b - 2)), lf_byte);
            const auto bare = unsigned(_mm_movemask_epi8(_mm_andnot_si128(cr_before, lf)));
            const auto ends = unsigned(
                _mm_movemask_epi8(_mm_and_si128(_mm_and_si128(lf, cr_before), lf_two_before)));
            if ((bare | ends) != 0) {
                const unsigned k = unsigned(__builtin_ctz(bare | ends));
                if ((bare >> k) & 1) return fail(400, "bare LF");
                head_end = pos + k + 1;
                break;
            }
            pos += 16;
        }
        if (head_end != 0) break;
        if (pos >= scan_end) break;
#endif
        const char* lf = find_byte(buf + pos, buf + scan_end, '\n');
        if (lf == buf + scan_end) {
            pos = scan_end;
            break;
        }
        const size_t i = size_t(lf - buf);
        // i > request_line_end_ - 1, so buf[i - 2] is at worst the previous line's LF.
        if (buf[i - 1] != '\r') return fail(400, "bare LF");
        if (buf[i - 2] == '\n') {
            head_end = i + 1;
            break;
        }
        pos = i + 1;
    }

    if (head_end == 0) {
        scanned_ = pos;
        if (len >= limits_->max_header_bytes) return fail(431, "head too large");
        return parse_status::need_more;
    }

    const head_error e =
        parse_head_bytes(buf, head_start_, request_line_end_, head_end, *limits_, out);
    if (e.status != 0) return fail(e.status, e.reason);
    scanned_ = 0;
    head_start_ = 0;
    request_line_end_ = 0;
    return parse_status::complete;
}

} // namespace pixelring
