#pragma once
// Answers whose bytes depend on the request: the 302 of a click redirect (Location), the
// beacon answers with CORS headers (the echoed Origin), receipts and JSON errors, and text
// errors that say why. Written into a buffer the worker takes from its pool
// (net/worker/buffer_pool.hh); the prebuilt answers of net/http/responses.hh cover everything else.
// No allocation, no exceptions.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace pixelring {

// Room kept before the body for the status line and the headers: the body is written first
// at buffer + response_headroom, then the head right before it, so nothing is moved. It holds
// the longest Location a redirect can send (3 × 4096 bytes: every byte of the longest target
// percent-encoded, core/policy/redirect.hh) and the fixed headers.
inline constexpr size_t response_headroom = 16384;
// The head room of the small answer buffers: every answer but the receipts and redirects with
// a Location over small_location_max bytes (a CORS origin is at most max_echoed_origin).
inline constexpr size_t small_response_headroom = 1536;
inline constexpr size_t small_location_max = 640;
// The longest Origin echoed back; a longer one is refused (403), never cut.
inline constexpr size_t max_echoed_origin = 512;

struct dynamic_response {
    uint16_t status = 200;
    std::string_view content_type{}; // empty: no Content-Type (and no body expected)
    std::string_view location{};     // 302: the Location value (printable ASCII, checked)
    std::string_view cors_origin{};  // non-empty: Access-Control-Allow-Origin (echoed Origin),
                                     // -Allow-Credentials: true, Vary: Origin
    bool preflight = false;          // OPTIONS: Allow-Methods, Allow-Headers, Max-Age
    bool vary_origin = false;        // Vary: Origin (every /e answer, so that no cache hands
                                     // one origin's answer to another)
    std::string_view allow{};        // 405: the Allow value
    bool retry_after = false;        // 429, 503: Retry-After: 1
    bool keep_alive = true;
    bool head = false;   // HEAD: headers only (Content-Length still the body's)
    uint64_t unix_s = 0; // Date
};

// The reason phrase of the statuses pixelring sends ("Found", "Too Many Requests").
std::string_view reason_phrase(uint16_t status) noexcept;

// Writes the head of a for a body of body_size bytes that already sits at buf + headroom,
// right before it. Returns the whole answer (head, then the body unless a.head) as a view
// into buf, or an empty view when the head does not fit in headroom (at most
// response_headroom; a bug: the inputs are bounded by the callers).
std::string_view finish_response(const dynamic_response& a, char* buf, size_t body_size,
                                 size_t headroom = response_headroom) noexcept;

// The same with the body given: copies it to buf + headroom first. buf holds headroom +
// body.size() bytes at least.
std::string_view write_response(const dynamic_response& a, std::string_view body, char* buf,
                                size_t headroom = response_headroom) noexcept;

// True when an Origin value may be echoed in a header: 1..max_echoed_origin bytes of visible
// ASCII (the parser already refused CR, LF and NUL in field values).
bool echoable_origin(std::string_view origin) noexcept;

} // namespace pixelring
