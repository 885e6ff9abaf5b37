// The input is a page URL as the event encoder and enrich_visitor get it: a Referer value or a
// beacon item's url (any bytes: a beacon's url is unescaped JSON and may hold NUL). The
// harness calls core/event/url_fields.hh on it as core/event/encoder.cc and
// core/enrich/enrichment.cc do — url_host into a max_host_size buffer, url_path, extract_utm,
// split_page_url — and query_param on it as net/worker/worker_requests.cc does on a query, with the
// URL in a heap buffer of exactly its size and host output buffers of exactly max_host_size bytes.
// It also runs the percent decoding of core/http/percent_decode.hh (read_byte, with and without '+'
// as a space) against a plain reference, and json_escape (core/event/json_escape.hh), which decodes
// while it escapes, into exactly 6 bytes per input byte, against its bytewise twin and simdjson's
// reading of the result. Checked: a host is lower case, at most 253 bytes, and holds no byte the
// WHATWG URL standard forbids in a domain (an IPv6 literal only hex digits, ':' and '.', and
// inet_pton reads it); split_page_url agrees with the three separate calls; every view lies in the
// URL where the header says; and escaped text reads back as the (decoded) input.

#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "core/event/json_escape.hh"
#include "core/event/url_fields.hh"
#include "core/http/percent_decode.hh"
#include "fuzz/fuzz_support.hh"

namespace pixelring {
namespace {

using fuzz::escaped;
using fuzz::inside;

bool same_view(std::string_view a, std::string_view b) {
    return a.size() == b.size() && (a.empty() || a.data() == b.data());
}

bool same_utm(const utm_fields& a, const utm_fields& b) {
    return same_view(a.source, b.source) && same_view(a.medium, b.medium) &&
           same_view(a.campaign, b.campaign) && same_view(a.term, b.term) &&
           same_view(a.content, b.content);
}

void check_host(std::string_view url, std::string_view host, const char* out) {
    if (host.empty()) return;
    FUZZ_CHECK(host.data() == out && host.size() < max_host_size, "host of %zu bytes at %p",
               host.size(), static_cast<const void*>(host.data()));
    FUZZ_CHECK(host.size() <= 253, "host of %zu bytes from %s", host.size(), escaped(url).c_str());
    const bool ipv6 = host.find(':') != std::string_view::npos;
    for (const char ch : host) {
        const auto c = static_cast<unsigned char>(ch);
        FUZZ_CHECK(!(c >= 'A' && c <= 'Z'), "host %s not lower case", escaped(host).c_str());
        if (ipv6) {
            FUZZ_CHECK((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == ':' || c == '.',
                       "IPv6 host %s holds 0x%02x; from %s", escaped(host).c_str(), c,
                       escaped(url).c_str());
        } else {
            FUZZ_CHECK(c >= 0x20 && c != 0x7f &&
                           std::string_view(" #%/:<>?@[\\]^|").find(ch) == std::string_view::npos,
                       "host %s holds the forbidden byte 0x%02x; from %s", escaped(host).c_str(), c,
                       escaped(url).c_str());
        }
    }
    if (ipv6) {
        const std::string text(host);
        in6_addr addr;
        FUZZ_CHECK(inet_pton(AF_INET6, text.c_str(), &addr) == 1, "IPv6 host %s is no address",
                   escaped(host).c_str());
    }
}

// The part of url after the first '?' and before the first '#' that follows it.
std::string_view query_of(std::string_view url) {
    const size_t q = url.find('?');
    if (q == std::string_view::npos) return {};
    const std::string_view rest = url.substr(q + 1);
    return rest.substr(0, rest.find('#'));
}

void check_utm(std::string_view url, const utm_fields& utm) {
    const std::string_view query = query_of(url);
    for (const std::string_view v : {utm.source, utm.medium, utm.campaign, utm.term, utm.content})
        FUZZ_CHECK(inside(v, query.data(), query.size()), "utm value %s outside the query of %s",
                   escaped(v).c_str(), escaped(url).c_str());
}

// read_byte's contract, written out: %XX with two hex digits is one byte, '+' is a space
// when plus, anything else is itself.
template <bool plus> std::string reference_decode(std::string_view s) {
    auto hex = [](char c) {
        return c >= '0' && c <= '9'   ? c - '0'
               : c >= 'a' && c <= 'f' ? c - 'a' + 10
               : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                      : -1;
    };
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
            out += char(hex(s[i + 1]) << 4 | hex(s[i + 2]));
            i += 2;
        } else if (plus && s[i] == '+') {
            out += ' ';
        } else {
            out += s[i];
        }
    }
    return out;
}

template <bool plus> std::string read_bytes(std::string_view s) {
    std::string out;
    auto p = reinterpret_cast<const uint8_t*>(s.data());
    const auto end = p + s.size();
    while (p < end) {
        const detail::decoded_byte b = detail::read_byte<true, plus>(p, end);
        FUZZ_CHECK(b.len == 1 || b.len == 3, "read_byte took %u bytes", unsigned(b.len));
        FUZZ_CHECK(b.len <= end - p, "read_byte took bytes past the end");
        out += char(b.value);
        p += b.len;
    }
    return out;
}

// json_escape and its bytewise twin into exactly 6 bytes per input byte; the result read back
// as a JSON string is the (decoded) text when that is valid UTF-8.
void check_escape(std::string_view s, bool decode, bool plus) {
    fuzz::exact_buffer fast(std::string(6 * s.size(), '\0'));
    fuzz::exact_buffer slow(std::string(6 * s.size(), '\0'));
    const size_t n = json_escape(s, fast.data(), decode, plus);
    const size_t m = detail::json_escape_bytewise(s, slow.data(), decode, plus);
    FUZZ_CHECK(n <= 6 * s.size(), "json_escape wrote %zu bytes for %zu", n, s.size());
    FUZZ_CHECK(std::string_view(fast.data(), n) == std::string_view(slow.data(), m),
               "json_escape and json_escape_bytewise differ (decode %d, plus %d) on %s",
               int(decode), int(plus), escaped(s).c_str());
    const std::string quoted = "\"" + std::string(fast.data(), n) + "\"";
    std::string_view text;
    FUZZ_CHECK(!fuzz::parse_json_or_abort(quoted, "json_escape's output").get(text),
               "json_escape's output is not a JSON string");
    const std::string plain = !decode ? std::string(s)
                              : plus  ? reference_decode<true>(s)
                                      : reference_decode<false>(s);
    if (fuzz::is_valid_utf8(plain))
        FUZZ_CHECK(text == plain, "json_escape(%s) reads back as %s", escaped(s).c_str(),
                   escaped(text).c_str());
}

} // namespace
} // namespace pixelring

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace pixelring;
    const fuzz::exact_buffer buf(std::string_view(reinterpret_cast<const char*>(data), size));
    const std::string_view url = buf.view();

    fuzz::exact_buffer host_out(std::string(max_host_size, '\0'));
    const std::string_view host = url_host(url, host_out.data());
    check_host(url, host, host_out.data());

    const std::string_view path = url_path(url);
    FUZZ_CHECK(inside(path, url.data(), url.size()), "path outside the URL");
    FUZZ_CHECK(path.find_first_of("?#") == std::string_view::npos, "path %s holds '?' or '#'",
               escaped(path).c_str());
    if (!path.empty())
        FUZZ_CHECK(path[0] == '/' || path[0] == '\\', "path %s", escaped(path).c_str());

    const utm_fields utm = extract_utm(url);
    check_utm(url, utm);

    fuzz::exact_buffer split_out(std::string(max_host_size, '\0'));
    for (const bool with_utm : {true, false}) {
        const page_url_fields page = split_page_url(url, split_out.data(), with_utm);
        FUZZ_CHECK(page.host == host && (page.host.empty() || page.host.data() == split_out.data()),
                   "split_page_url host %s, url_host %s", escaped(page.host).c_str(),
                   escaped(host).c_str());
        FUZZ_CHECK(same_view(page.path, path), "split_page_url path differs from url_path");
        FUZZ_CHECK(with_utm ? same_utm(page.utm, utm) : page.utm.empty(),
                   "split_page_url utm differs from extract_utm");
    }

    // The URL as a query string: the worker's query_param lookups.
    for (const std::string_view name : {"url", "sig", "campaignID", "receipts", "utm_source"}) {
        const std::string_view value = query_param(url, name);
        FUZZ_CHECK(inside(value, url.data(), url.size()), "query_param value outside the query");
        if (value.empty()) continue;
        const size_t at = size_t(value.data() - url.data());
        FUZZ_CHECK(at > name.size() && url[at - 1] == '=' &&
                       url.substr(at - 1 - name.size(), name.size()) == name &&
                       (at - 1 - name.size() == 0 || url[at - 2 - name.size()] == '&') &&
                       value.find('&') == std::string_view::npos,
                   "query_param(%s) = %s is not a parameter's value", std::string(name).c_str(),
                   escaped(value).c_str());
    }

    FUZZ_CHECK(read_bytes<false>(url) == reference_decode<false>(url), "read_byte<%%> on %s",
               escaped(url).c_str());
    FUZZ_CHECK(read_bytes<true>(url) == reference_decode<true>(url), "read_byte<%%,+> on %s",
               escaped(url).c_str());
    check_escape(url, false, false);
    check_escape(url, true, false);
    check_escape(url, true, true);
    return 0;
}
