#pragma once
// Every answer the hot path sends, built once per worker at start-up into one arena that the
// worker registers with its io_uring (io_uring_register_buffers). Requests pick an answer by
// kind and never format or copy response bytes. The only bytes that change are the Date
// fields, rewritten in place once a second by the owning worker.
// No io_uring features used here; the arena is registered by net/worker/worker.cc.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "net/http/tracking_image.hh"

namespace pixelring {

enum class response_kind : uint8_t {
    pixel_gif,           // 200, 1x1 transparent GIF
    pixel_png,           // 200, 1x1 transparent PNG
    no_content,          // 204
    bad_request,         // 400
    not_found,           // 404
    method_not_allowed,  // 405, Allow: GET, HEAD
    request_timeout,     // 408
    length_required,     // 411
    payload_too_large,   // 413
    uri_too_long,        // 414
    headers_too_large,   // 431
    not_implemented,     // 501
    unavailable,         // 503
    version_unsupported, // 505
    tracker_script,      // 200, GET /t.js: the script, cacheable, with its ETag
    not_modified,        // 304, GET /t.js whose If-None-Match names the ETag
    too_many_requests,   // 429, Retry-After: 1 (server.rate_limit)
    count_
};

uint16_t response_status(response_kind kind) noexcept;
// The error answer for a parser status (400, 408, 411, 413, 414, 429, 431, 501, 503, 505);
// 400 for any other status.
response_kind response_for_status(uint16_t status) noexcept;

class response_table {
public:
    // Builds every answer. unix_s seeds the Date fields. image: tracking.image, answered for
    // both pixel kinds instead of the 1x1 GIF and PNG; nullptr for those.
    explicit response_table(uint64_t unix_s, const tracking_image* image = nullptr);

    // The bytes to send. keep_alive picks "Connection: keep-alive" or "Connection: close";
    // head drops the body (HEAD requests). The view points into arena() and stays valid
    // for the table's life.
    std::string_view get(response_kind kind, bool keep_alive, bool head) const noexcept {
        const entry& e = entries_[size_t(kind)][keep_alive ? 0 : 1][head ? 1 : 0];
        return {arena_.get() + e.offset, e.length};
    }

    // Rewrites every Date field when unix_s differs from the last call. Owning worker only.
    // A send the kernel has not yet copied (a full socket buffer) may then carry the newer
    // second, or in the worst case a mix of both: always a well-formed 29-byte date.
    void update_date(uint64_t unix_s) noexcept;

    const char* arena() const noexcept { return arena_.get(); }
    size_t arena_size() const noexcept { return arena_size_; }

private:
    struct entry {
        uint32_t offset = 0;
        uint32_t length = 0;
    };
    entry entries_[size_t(response_kind::count_)][2][2];
    std::unique_ptr<char[]> arena_;
    size_t arena_size_ = 0;
    std::vector<uint32_t> date_offsets_;
    uint64_t date_s_ = 0;
};

// "Sun, 22 Nov 2026 10:35:00 GMT" (29 bytes, IMF-fixdate) into out.
void format_http_date(uint64_t unix_s, char* out) noexcept;

} // namespace pixelring
