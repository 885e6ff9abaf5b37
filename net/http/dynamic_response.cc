#include "net/http/dynamic_response.hh"

#include <cstring>

#include "net/http/responses.hh"

namespace pixelring {

namespace {

// Same as the prebuilt tracking answers (net/http/responses.cc): no cache keeps a hit.
constexpr std::string_view no_cache_headers =
    "Cache-Control: no-store, no-cache, must-revalidate, private, max-age=0\r\n"
    "Pragma: no-cache\r\n"
    "Expires: 0\r\n"
    "CDN-Cache-Control: no-store\r\n";

struct writer {
    char* p;
    char* end;
    bool ok = true;
    void put(std::string_view s) noexcept {
        if (size_t(end - p) < s.size()) {
            ok = false;
            return;
        }
        std::memcpy(p, s.data(), s.size());
        p += s.size();
    }
    void number(uint64_t v) noexcept {
        char digits[20];
        size_t n = 0;
        do {
            digits[n++] = char('0' + v % 10);
            v /= 10;
        } while (v != 0);
        char out[20];
        for (size_t i = 0; i < n; ++i)
            out[i] = digits[n - 1 - i];
        put({out, n});
    }
};

} // namespace

std::string_view reason_phrase(uint16_t status) noexcept {
    switch (status) {
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Content Too Large";
    case 429:
        return "Too Many Requests";
    case 503:
        return "Service Unavailable";
    default:
        return "Internal Server Error";
    }
}

bool echoable_origin(std::string_view origin) noexcept {
    if (origin.empty() || origin.size() > max_echoed_origin) return false;
    for (char ch : origin)
        if (static_cast<unsigned char>(ch) <= ' ' || static_cast<unsigned char>(ch) >= 0x7f)
            return false;
    return true;
}

std::string_view finish_response(const dynamic_response& a, char* buf, size_t body_size,
                                 size_t headroom) noexcept {
    char head[response_headroom];
    writer w{head, head + sizeof head};
    w.put("HTTP/1.1 ");
    w.number(a.status);
    w.put(" ");
    w.put(reason_phrase(a.status));
    w.put("\r\nServer: pixelring\r\nDate: ");
    char date[29];
    format_http_date(a.unix_s, date);
    w.put({date, sizeof date});
    w.put("\r\n");
    if (!a.content_type.empty()) {
        w.put("Content-Type: ");
        w.put(a.content_type);
        w.put("\r\n");
    }
    if (a.status != 204 && a.status != 304) {
        w.put("Content-Length: ");
        w.number(body_size);
        w.put("\r\n");
    }
    if (!a.location.empty()) {
        w.put("Location: ");
        w.put(a.location);
        w.put("\r\n");
    }
    if (!a.cors_origin.empty()) {
        w.put("Access-Control-Allow-Origin: ");
        w.put(a.cors_origin);
        w.put("\r\nAccess-Control-Allow-Credentials: true\r\n");
        if (a.preflight)
            w.put("Access-Control-Allow-Methods: POST, OPTIONS\r\n"
                  "Access-Control-Allow-Headers: Content-Type\r\n"
                  "Access-Control-Max-Age: 86400\r\n");
    }
    if (a.vary_origin || !a.cors_origin.empty()) w.put("Vary: Origin\r\n");
    if (!a.allow.empty()) {
        w.put("Allow: ");
        w.put(a.allow);
        w.put("\r\n");
    }
    if (a.retry_after) w.put("Retry-After: 1\r\n");
    w.put("X-Content-Type-Options: nosniff\r\n");
    w.put(no_cache_headers);
    w.put(a.keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n");
    size_t head_size = size_t(w.p - head);
    if (!w.ok || head_size > headroom) return {};
    char* start = buf + headroom - head_size;
    std::memcpy(start, head, head_size);
    return {start, head_size + (a.head ? 0 : body_size)};
}

std::string_view write_response(const dynamic_response& a, std::string_view body, char* buf,
                                size_t headroom) noexcept {
    if (!body.empty()) std::memcpy(buf + headroom, body.data(), body.size());
    return finish_response(a, buf, body.size(), headroom);
}

} // namespace pixelring
