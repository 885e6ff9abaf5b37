#pragma once
// The chunked transfer coding of a request body (RFC 9112 §7.1). The request parser
// (core/http/request_parser.hh) says when a body is chunked; the decoder takes the bytes after the
// head.

#include <cstddef>
#include <cstdint>

#include "core/http/parse_status.hh"

namespace pixelring {

// Decodes a chunked body in place, resumable, in the manner of phr_decode_chunked.
// Not thread-safe; one per connection. No allocation.
class chunked_decoder {
public:
    explicit chunked_decoder(size_t max_body_bytes) noexcept : max_body_(max_body_bytes) {}

    // Chunk extensions and trailers are never used by the clients we serve; the bound keeps
    // a client from streaming framing forever without sending payload.
    static constexpr uint32_t max_framing_line = 4096;

    // buf[0..*len) holds the body bytes received since the previous call (the first call
    // starts right after the head). On return buf[0..*len) holds the decoded payload of
    // those bytes (chunk framing removed). On complete, *trailing is the number of bytes
    // after the final CRLF of the chunked body, which now sit at buf[*len ..
    // *len + *trailing) and belong to the next request. On error, error_status() is 400 or
    // 413 (decoded body beyond max_body_bytes). A chunk-size line or the trailer section
    // longer than max_framing_line bytes is a 400.
    parse_status decode(char* buf, size_t* len, size_t* trailing) noexcept;

    void reset() noexcept;
    uint16_t error_status() const noexcept { return error_status_; }
    // A short constant reason for logs and tests; after error.
    const char* error_reason() const noexcept { return error_reason_; }
    uint64_t decoded_bytes() const noexcept { return decoded_; }

private:
    size_t max_body_;
    uint64_t decoded_ = 0;
    uint64_t chunk_left_ = 0;
    uint8_t state_ = 0;
    uint8_t hex_digits_ = 0;
    uint16_t error_status_ = 0;
    uint32_t line_bytes_ = 0; // bytes of the current chunk-size line or trailer section
    const char* error_reason_ = "";
};

} // namespace pixelring
