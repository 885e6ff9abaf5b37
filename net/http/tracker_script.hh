#pragma once
// The tracker script served at GET /t.js (docs/endpoints.md) and its strong ETag. Both are
// constants built at compile time: no allocation, no state, callable from any thread.
// No io_uring features used here; the bytes are sent from the response arena (net/http/responses).

#include <string_view>

namespace pixelring {

// The minified JavaScript, under 1 KB. Commented piece by piece in tracker_script.cc.
std::string_view tracker_script() noexcept;

// "\"<16 hex digits>\"": FNV-1a 64 of tracker_script(), quoted (a strong entity-tag,
// RFC 9110 §8.8.3). Changes whenever the script's bytes do.
std::string_view tracker_etag() noexcept;

// True when an If-None-Match field value names tracker_etag(): "*", or a comma-separated
// list with our tag in it, W/ ignored (If-None-Match uses the weak comparison, RFC 9110
// §13.1.2). An empty value (field absent) never matches. No allocation.
bool tracker_etag_matches(std::string_view if_none_match) noexcept;

} // namespace pixelring
