#pragma once
// Event fields taken from a page URL (docs/event.md): the utm object, from the query of the
// page URL (a pixel's Referer, a beacon's url), and a URL's host and path, for page_host and
// path (of that page URL) and the referrer host. Called on worker threads once per event:
// pure functions over caller-owned text, no allocation, no exceptions, no shared state.

#include <cstddef>
#include <string_view>

namespace pixelring {

// The five utm_* parameters of Google's campaign URL builder. Each view points into the URL
// passed to extract_utm and is the raw value, still percent-encoded with '+' for a space:
// write it with json_escape(value, out, /*percent_decode=*/true, /*plus_is_space=*/true),
// as the encoder writes every other query value. Empty when the parameter is absent or
// empty; the encoder then leaves the member out (and the whole utm object when all are).
struct utm_fields {
    std::string_view source;   // utm_source
    std::string_view medium;   // utm_medium
    std::string_view campaign; // utm_campaign
    std::string_view term;     // utm_term
    std::string_view content;  // utm_content

    bool empty() const noexcept {
        return source.empty() && medium.empty() && campaign.empty() && term.empty() &&
               content.empty();
    }
};

// The utm parameters of url's query: the text after the first '?' and before the first '#'
// (a fragment, even one that looks like a query as in "#/page?utm_source=x", is ignored).
// Parameters are '&'-separated; a key matches when it equals "utm_source" (etc.) after
// percent-decoding with '+' as a space, case-sensitively as Google Analytics does
// ("utm%5Fsource" matches, "UTM_SOURCE" does not). A repeated key keeps its first value, as
// in the params object, even when that value is empty. Any url works, absolute or not.
utm_fields extract_utm(std::string_view url) noexcept;

// A DNS name is at most 253 bytes; one byte more than the longest host url_host writes.
inline constexpr size_t max_host_size = 256;

// The host of an absolute http or https URL (scheme case-insensitive), lower-cased, without
// userinfo ("user:pw@", up to the last '@'), port and, for an IPv6 literal, its brackets:
// "HTTPS://Ann@WWW.Example.COM:8443/x" → "www.example.com", "http://[2001:DB8::1]:80/" →
// "2001:db8::1". Written into out, which holds max_host_size bytes; the result views out.
// Empty for any other scheme (android-app:, file:, about:, ...), a relative or scheme-less
// URL, an empty host, a port that is not a number up to 65535, an IPv6 literal that is not
// one, a host longer than 253 bytes, and a host with a byte the WHATWG URL standard forbids
// in a domain (controls, space, "#%/:<>?@[\]^|" and DEL; checked after %XX escapes are
// decoded, as the standard does). The authority ends at '/', '?', '#' or '\', which
// browsers treat as '/' in http(s) URLs. Other bytes (UTF-8 of an IDN) are kept as they are.
std::string_view url_host(std::string_view url, char* out) noexcept;

// A URL without its user information, as two views into url: head + tail is what is kept.
// For "scheme://user:pw@host/..." (any scheme: a letter, then letters, digits, '+', '-' or
// '.') or a scheme-relative "//user@host/...": head is up to and including "//", tail starts
// after the last '@' of the authority (which ends at the first '/', '?', '#' or ''), and
// the result is true. For any other URL, or one without '@' in its authority, head is url,
// tail is empty and the result is false. "https://alice:s3cret@shop.example/cart" gives
// "https://" and "shop.example/cart": the credentials never reach an event.
bool split_userinfo(std::string_view url, std::string_view& head, std::string_view& tail) noexcept;

// The path of an absolute http or https URL, split where url_host splits it: from the end of
// the authority ('/' or '\') to the first '?' or '#', raw as in url (still percent-encoded,
// a '\' kept as it is), a view into url. Empty when the URL has no path ("http://a.example?q")
// or is not http(s). It does not check the host: a URL whose url_host is empty has no path
// worth reporting either, which is how the event encoder uses the two.
std::string_view url_path(std::string_view url) noexcept;

// url_host, url_path and extract_utm of one URL from one split of it, for the event encoder
// (page_host, path, utm): host equals url_host(url, host_out) (a view into host_out, which
// holds max_host_size bytes), path equals url_path(url), and utm equals extract_utm(url) when
// with_utm, else it is empty.
struct page_url_fields {
    std::string_view host;
    std::string_view path;
    utm_fields utm;
};
page_url_fields split_page_url(std::string_view url, char* host_out, bool with_utm) noexcept;

// The raw value of the first '&'-separated parameter of query named exactly name (compared
// as sent, not decoded): "a=1&url=x%2F" with "url" → "x%2F". Empty when absent or empty.
std::string_view query_param(std::string_view query, std::string_view name) noexcept;

} // namespace pixelring
