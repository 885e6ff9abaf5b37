#include "net/http/responses.hh"

#include <cstring>
#include <ctime>
#include <string>

#include "net/http/tracker_script.hh"

namespace pixelring {

namespace {

// The 43-byte transparent GIF that nginx's empty_gif also serves.
constexpr unsigned char gif_1x1[] = {
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00,
    0x00, 0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b};

// 1x1 RGBA PNG, fully transparent; CRCs computed with zlib.crc32.
constexpr unsigned char png_1x1[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
    0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00,
    0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0b, 0x49, 0x44, 0x41, 0x54, 0x78,
    0xda, 0x63, 0x60, 0x00, 0x02, 0x00, 0x00, 0x05, 0x00, 0x01, 0xe9, 0xfa, 0xdc, 0xd8,
    0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};

// Keeps browsers, mail proxies and CDNs from answering a hit from a cache (docs/endpoints.md).
constexpr std::string_view no_cache_headers =
    "Cache-Control: no-store, no-cache, must-revalidate, private, max-age=0\r\n"
    "Pragma: no-cache\r\n"
    "Expires: 0\r\n"
    "CDN-Cache-Control: no-store\r\n";

// The one cacheable answer (docs/endpoints.md). A day is a trade: every page view of a returning
// visitor within it costs the collector and the CDN nothing, and a new script reaches every
// browser within a day of a deploy. After a day the browser revalidates with If-None-Match
// and gets a body-less 304. "public" lets shared caches (the CDN in front) keep it too.
constexpr std::string_view script_cache_control = "Cache-Control: public, max-age=86400\r\n";

// ETag and Cache-Control, for the script and its 304 (RFC 9110 §15.4.5 wants both repeated).
std::string script_headers() {
    std::string h(script_cache_control);
    h += "ETag: ";
    h += tracker_etag();
    h += "\r\n";
    return h;
}

// A 429 must not be cached either, or a proxy would keep refusing after the limit passed.
constexpr std::string_view rate_limited_headers =
    "Retry-After: 1\r\n"
    "Cache-Control: no-store, no-cache, must-revalidate, private, max-age=0\r\n"
    "Pragma: no-cache\r\n"
    "Expires: 0\r\n"
    "CDN-Cache-Control: no-store\r\n";

constexpr std::string_view date_placeholder = "Thu, 01 Jan 1970 00:00:00 GMT";

struct spec {
    uint16_t status;
    std::string_view reason;
    std::string_view content_type;
    std::string_view body;
    std::string_view extra_headers;
    bool script_cache = false; // adds script_headers()
};

spec spec_of(response_kind k) {
    auto text = [](std::string_view b) { return b; };
    switch (k) {
    case response_kind::pixel_gif:
        return {200,
                "OK",
                "image/gif",
                {reinterpret_cast<const char*>(gif_1x1), sizeof gif_1x1},
                no_cache_headers};
    case response_kind::pixel_png:
        return {200,
                "OK",
                "image/png",
                {reinterpret_cast<const char*>(png_1x1), sizeof png_1x1},
                no_cache_headers};
    case response_kind::no_content:
        return {204, "No Content", {}, {}, no_cache_headers};
    case response_kind::bad_request:
        return {400, "Bad Request", "text/plain; charset=utf-8", text("bad request\n"), {}};
    case response_kind::not_found:
        return {404, "Not Found", "text/plain; charset=utf-8", text("not found\n"), {}};
    case response_kind::method_not_allowed:
        return {405, "Method Not Allowed", "text/plain; charset=utf-8",
                text("method not allowed\n"), "Allow: GET, HEAD\r\n"};
    case response_kind::request_timeout:
        return {408, "Request Timeout", "text/plain; charset=utf-8", text("request timeout\n"), {}};
    case response_kind::length_required:
        return {411, "Length Required", "text/plain; charset=utf-8", text("length required\n"), {}};
    case response_kind::payload_too_large:
        return {
            413, "Content Too Large", "text/plain; charset=utf-8", text("content too large\n"), {}};
    case response_kind::uri_too_long:
        return {414, "URI Too Long", "text/plain; charset=utf-8", text("uri too long\n"), {}};
    case response_kind::headers_too_large:
        return {431,
                "Request Header Fields Too Large",
                "text/plain; charset=utf-8",
                text("request header fields too large\n"),
                {}};
    case response_kind::not_implemented:
        return {501, "Not Implemented", "text/plain; charset=utf-8", text("not implemented\n"), {}};
    case response_kind::unavailable:
        return {503, "Service Unavailable", "text/plain; charset=utf-8",
                text("service unavailable\n"), "Retry-After: 1\r\n"};
    case response_kind::version_unsupported:
        return {505,
                "HTTP Version Not Supported",
                "text/plain; charset=utf-8",
                text("http version not supported\n"),
                {}};
    case response_kind::tracker_script:
        return {200, "OK", "text/javascript; charset=utf-8", tracker_script(), {}, true};
    case response_kind::not_modified:
        return {304, "Not Modified", {}, {}, {}, true};
    case response_kind::too_many_requests:
        return {429, "Too Many Requests", "text/plain; charset=utf-8", text("too many requests\n"),
                rate_limited_headers};
    case response_kind::count_:
        break;
    }
    return {500, "Internal Server Error", {}, {}, {}};
}

} // namespace

uint16_t response_status(response_kind kind) noexcept {
    return spec_of(kind).status;
}

response_kind response_for_status(uint16_t status) noexcept {
    switch (status) {
    case 408:
        return response_kind::request_timeout;
    case 411:
        return response_kind::length_required;
    case 413:
        return response_kind::payload_too_large;
    case 414:
        return response_kind::uri_too_long;
    case 429:
        return response_kind::too_many_requests;
    case 431:
        return response_kind::headers_too_large;
    case 501:
        return response_kind::not_implemented;
    case 503:
        return response_kind::unavailable;
    case 505:
        return response_kind::version_unsupported;
    default:
        return response_kind::bad_request;
    }
}

void format_http_date(uint64_t unix_s, char* out) noexcept {
    static constexpr char days[7][4] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
    static constexpr char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    // Civil date from days since 1970-01-01 (Howard Hinnant's days_from_civil inverse).
    int64_t z = int64_t(unix_s / 86400) + 719468;
    uint64_t secs = unix_s % 86400;
    int64_t era = z / 146097;
    unsigned doe = unsigned(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = int64_t(yoe) + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    auto two = [](char* p, unsigned v) {
        p[0] = char('0' + v / 10);
        p[1] = char('0' + v % 10);
    };
    std::memcpy(out, days[(unix_s / 86400) % 7], 3);
    out[3] = ',';
    out[4] = ' ';
    two(out + 5, d);
    out[7] = ' ';
    std::memcpy(out + 8, months[m - 1], 3);
    out[11] = ' ';
    two(out + 12, unsigned(y / 100));
    two(out + 14, unsigned(y % 100));
    out[16] = ' ';
    two(out + 17, unsigned(secs / 3600));
    out[19] = ':';
    two(out + 20, unsigned(secs / 60 % 60));
    out[22] = ':';
    two(out + 23, unsigned(secs % 60));
    std::memcpy(out + 25, " GMT", 4);
}

response_table::response_table(uint64_t unix_s, const tracking_image* image) {
    std::string all;
    for (size_t k = 0; k < size_t(response_kind::count_); ++k) {
        spec s = spec_of(response_kind(k));
        if (image && (response_kind(k) == response_kind::pixel_gif ||
                      response_kind(k) == response_kind::pixel_png)) {
            s.content_type = image->content_type;
            s.body = image->body;
        }
        for (int close = 0; close < 2; ++close) {
            for (int head = 0; head < 2; ++head) {
                std::string r;
                r += "HTTP/1.1 ";
                r += std::to_string(s.status);
                r += ' ';
                r += s.reason;
                r += "\r\nServer: pixelring\r\nDate: ";
                size_t date_at = all.size() + r.size();
                r += date_placeholder;
                r += "\r\n";
                if (!s.content_type.empty()) {
                    r += "Content-Type: ";
                    r += s.content_type;
                    r += "\r\n";
                }
                // 204 and 304 never have a body (RFC 9110 §6.4.1), so no Content-Length.
                if (s.status != 204 && s.status != 304) {
                    r += "Content-Length: ";
                    r += std::to_string(s.body.size());
                    r += "\r\n";
                }
                r += "X-Content-Type-Options: nosniff\r\n";
                r += s.extra_headers;
                if (s.script_cache) r += script_headers();
                r += close ? "Connection: close\r\n\r\n" : "Connection: keep-alive\r\n\r\n";
                if (!head) r += s.body;
                entries_[k][close][head] = {uint32_t(all.size()), uint32_t(r.size())};
                date_offsets_.push_back(uint32_t(date_at));
                all += r;
            }
        }
    }
    arena_size_ = all.size();
    arena_.reset(new char[arena_size_]);
    std::memcpy(arena_.get(), all.data(), arena_size_);
    update_date(unix_s);
}

void response_table::update_date(uint64_t unix_s) noexcept {
    if (unix_s == date_s_) return;
    date_s_ = unix_s;
    char date[29];
    format_http_date(unix_s, date);
    for (uint32_t off : date_offsets_)
        std::memcpy(arena_.get() + off, date, sizeof date);
}

} // namespace pixelring
