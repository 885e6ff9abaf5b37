#pragma once
// Incremental HTTP/1.1 request parser in the manner of picohttpparser: the caller owns the
// buffer, nothing is allocated, every result is complete / need more / error, and a call
// with more bytes of the same request resumes where the previous call stopped.
// Strict RFC 9112: anything ambiguous is an error with the status to answer, after which
// the connection must be closed.

#include <cstddef>
#include <cstdint>
#include <string_view>

// chunked_decoder, for the bodies whose head says Transfer-Encoding: chunked.
#include "core/http/chunked_decoder.hh"
#include "core/http/parse_status.hh"

namespace pixelring {

enum class http_method : uint8_t { get, head, post, put, delete_, options, patch, trace, connect };

// Limits applied while parsing. The collector sets max_header_bytes and max_body_bytes from
// server.max_header_bytes and server.max_body_bytes (same defaults); the others are fixed.
struct http_limits {
    size_t max_request_line = 8192;  // longer request line: 414
    size_t max_header_bytes = 16384; // request line + fields + CRLFs beyond this: 431
    size_t max_fields = 100;         // more fields: 431 (never above http_max_fields)
    size_t max_body_bytes = 65536;   // declared or decoded body beyond this: 413
};

inline constexpr size_t http_max_fields = 100;

struct http_field {
    std::string_view name;  // as sent (case preserved); compare case-insensitively
    std::string_view value; // leading and trailing whitespace removed
};

// The parsed head. Every string_view points into the caller's buffer and is valid as long as
// that buffer is.
struct http_request {
    http_method method = http_method::get;
    uint8_t version_minor = 1; // HTTP/1.<version_minor>: 0 or 1
    std::string_view target;   // request-target as sent
    std::string_view path;     // target up to the first '?'
    std::string_view query;    // after the first '?', without it; empty when absent
    std::string_view host;     // well-known fields, empty when absent; for an absolute-form
                               // target, host is its authority (RFC 9112 §3.2.2)
    std::string_view referer;
    std::string_view user_agent;
    std::string_view content_type;
    http_field fields[http_max_fields];
    uint16_t field_count = 0;
    bool keep_alive = true; // from the version and the Connection field
    bool chunked = false;   // Transfer-Encoding: chunked
    bool has_content_length = false;
    uint64_t content_length = 0; // valid when has_content_length
    size_t head_length = 0;      // bytes from the request line to the blank line, inclusive

    // First field with this name (ASCII case-insensitive), empty when absent. Linear scan.
    std::string_view field(std::string_view name) const noexcept;
};

// Parses one request head. Not thread-safe; one per connection. No allocation.
class request_parser {
public:
    // limits is kept by reference and must outlive the parser.
    explicit request_parser(const http_limits& limits) noexcept : limits_(&limits) {}
    explicit request_parser(http_limits&&) = delete;

    // Parses the head that starts at buf[0]. len is every byte received so far. After
    // need_more, call again with the same buf and a larger len: bytes already scanned are
    // not scanned again. After complete, out is filled and out.head_length says where the
    // body (or the next request) starts. After error, error_status() is the status to send.
    // Empty lines before the request line are skipped (RFC 9112 §2.2) and count in
    // head_length. After complete the parser is ready for the next request; after error it
    // keeps returning error until reset().
    parse_status parse_head(const char* buf, size_t len, http_request& out) noexcept;

    // Forget everything; the next call parses a new request.
    void reset() noexcept;

    // 400, 411, 413, 414, 431, 501 or 505; valid after parse_head returned error.
    uint16_t error_status() const noexcept { return error_status_; }
    // A short constant reason for logs and tests ("duplicate Content-Length"); after error.
    const char* error_reason() const noexcept { return error_reason_; }

private:
    const http_limits* limits_;
    size_t scanned_ = 0;          // bytes known to hold no end of head
    size_t head_start_ = 0;       // first byte of the request line (after empty lines)
    size_t request_line_end_ = 0; // one past its LF; 0 while the request line is incomplete
    uint16_t error_status_ = 0;
    const char* error_reason_ = "";
};

} // namespace pixelring
