#pragma once
// JSON scalars on their source text (RFC 8259), for readers built on simdjson's On Demand
// API (core/event/beacon.cc): the number grammar, which On Demand does not check on a value that
// is only passed through as text, and a string unescaper for what simdjson refuses. Pure
// functions, no allocation, any thread.

#include <string_view>

namespace pixelring {

// Whether s is exactly one RFC 8259 §6 number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
// No whitespace, no leading '+', no "NaN" or "Infinity".
bool is_json_number(std::string_view s) noexcept;

// For s with is_json_number(s): whether strict readers can hold its value: an integer (no
// fraction, no exponent) from -2^63 to 2^64 - 1, any other number without overflowing a
// double (|v| below about 1.8e308; "1e-400" is read as 0 or a subnormal and is fine). The
// grammar has no limit, but simdjson and other strict readers refuse a document holding
// "1e400" or "18446744073709551616", so such a number may never be copied into an event.
bool json_number_fits(std::string_view s) noexcept;

// s without the JSON whitespace (space, tab, LF, CR) at its end: simdjson's raw token runs up
// to the next token, trailing whitespace included.
std::string_view trim_json_whitespace(std::string_view s) noexcept;

// Unescapes the JSON string whose content starts at p (the first byte after the opening
// quote) into out, up to the closing quote, and returns the end of the output. For the
// strings simdjson refuses to unescape: a lone or mismatched surrogate escape ("\ud83d",
// what JavaScript's JSON.stringify writes for a string cut inside an emoji) becomes U+FFFD
// instead of failing; an escape that is not RFC 8259 makes it return nullptr with *bad at
// its backslash. The caller guarantees what simdjson's stage 1 checks (a closing quote, valid
// UTF-8, no control bytes) and a few readable bytes after the quote (simdjson's padding).
// The output is never longer than the input, so out may have the input's length; it may not
// overlap the input.
char* unescape_json_lenient(const char* p, char* out, const char** bad) noexcept;

} // namespace pixelring
