#pragma once
// Escaping arbitrary request bytes into the body of a JSON string: the event encoder's
// (core/event/event.hh) inner loop. No allocation, no exceptions, no shared state.

#include <cstddef>
#include <string_view>

namespace pixelring {

// Appends s as the body of a JSON string (no quotes) to out, escaping '"', '\\' and control
// bytes (and DEL, U+2028, U+2029 for JavaScript) and replacing each maximal invalid UTF-8
// subpart (Unicode ch. 3, "U+FFFD substitution") with U+FFFD. When percent_decode is set,
// %XX escapes are decoded first (and '+' in a query becomes a space when plus_is_space); a
// '%' not followed by two hex digits is kept as a literal '%'. Decoded bytes are validated
// as UTF-8 like the rest, so %ED%A0%80 (a lone surrogate) becomes U+FFFD (three of them: one
// per maximal subpart). out must hold 6 * s.size() bytes; bytes past the returned length may
// be overwritten (16-byte stores). Returns bytes written.
size_t json_escape(std::string_view s, char* out, bool percent_decode = false,
                   bool plus_is_space = false) noexcept;

namespace detail {
// json_escape without its SSE2 paths: the byte-at-a-time loop, same contract and output.
// For tests (tests/unit/fast_paths_test.cc holds the fast paths to it), not for the hot path.
size_t json_escape_bytewise(std::string_view s, char* out, bool percent_decode = false,
                            bool plus_is_space = false) noexcept;
} // namespace detail

} // namespace pixelring
