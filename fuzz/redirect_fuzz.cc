// The input is the request-target of a click redirect, "/r/<action>?url=...&sig=...&
// campaignID=...". The harness wraps it in a GET request, parses and routes it with the real
// parser and router, and calls check_redirect (core/policy/redirect.hh) as
// net/worker/worker_requests.cc's respond_redirect does: the url and sig parameters by query_param,
// the subject by find_redirect_subject, a policy with a secret and two allowed hosts, and the
// Location written into a heap buffer of exactly 3 * raw_url.size() bytes, the size the header says
// always suffices. Checked: an admitted target obeys the header's grammar (absolute http(s),
// no control bytes, space or backslash, no userinfo, ASCII host) and its Location is printable
// ASCII starting with the lower-case scheme; and a link that `pixelring sign-url` prints
// (sign_url) for the decoded target, action and campaign — or for an admitted Location again —
// is a request the server parses, routes to /r/ and admits, with the same canonical Location
// (so canonical(canonical(t)) == canonical(t), and sign_url never signs a target the check
// refuses); sign_url refuses such a target only when its link could not fit the request line.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "core/event/url_fields.hh"
#include "core/http/percent_decode.hh"
#include "core/http/request_parser.hh"
#include "core/policy/redirect.hh"
#include "fuzz/fuzz_support.hh"
#include "net/http/router.hh"

namespace pixelring {
namespace {

using fuzz::escaped;

constexpr std::string_view secret = "fuzzing-secret-0123456789abcdef";

struct setup {
    redirect_policy policy;
    redirect_policy signing_only;
    http_limits limits{};
    setup() {
        std::string e = make_redirect_policy(secret, {"shop.example", "[2001:db8::1]"}, policy);
        FUZZ_CHECK(e.empty(), "%s", e.c_str());
        e = make_redirect_policy(secret, {}, signing_only);
        FUZZ_CHECK(e.empty(), "%s", e.c_str());
    }
};

template <bool plus> std::string decoded(std::string_view raw) {
    std::string out;
    auto p = reinterpret_cast<const uint8_t*>(raw.data());
    const auto end = p + raw.size();
    while (p < end) {
        const auto b = detail::read_byte<true, plus>(p, end);
        out += char(b.value);
        p += b.len;
    }
    return out;
}

struct answered {
    bool parsed = false; // the request parsed and went to /r/
    const char* why = "";
    redirect_check check{redirect_status::off, 0};
    std::string location;
    std::string action;                  // decoded, '+' kept: as the event records it
    std::optional<std::string> campaign; // decoded, '+' as a space
    std::string target;                  // the url parameter decoded once, '+' kept
};

// What the server does with GET <target>.
answered answer(const setup& s, const redirect_policy& policy, std::string_view target) {
    answered a;
    const std::string request = "GET " + std::string(target) + " HTTP/1.1\r\nHost: px\r\n\r\n";
    fuzz::exact_buffer buf(request);
    request_parser parser(s.limits);
    http_request r;
    if (parser.parse_head(buf.data(), buf.size(), r) != parse_status::complete) {
        a.why = parser.error_reason();
        return a;
    }
    const routed how = route_request(r);
    if (how.what != endpoint::redirect) {
        a.why = "not routed to /r/";
        return a;
    }
    a.parsed = true;
    const std::string_view raw_url = query_param(r.query, "url");
    const redirect_subject subject = find_redirect_subject(how.action, r.query);
    fuzz::exact_buffer out(std::string(3 * raw_url.size(), '\0'));
    a.check = check_redirect(policy, raw_url, query_param(r.query, "sig"), subject, out.data(),
                             3 * raw_url.size());
    FUZZ_CHECK(a.check.status == redirect_status::ok || a.check.location_size == 0,
               "a refusal with a Location");
    FUZZ_CHECK(a.check.location_size <= 3 * raw_url.size(), "Location of %zu bytes",
               a.check.location_size);
    a.location.assign(out.data(), a.check.location_size);
    a.action = decoded<false>(how.action);
    if (subject.has_campaign) a.campaign = decoded<true>(subject.campaign);
    a.target = decoded<false>(raw_url);
    return a;
}

// The header's grammar, for an admitted target and its Location.
void check_admitted(const answered& a) {
    const std::string_view t = a.target;
    for (const char ch : t) {
        const auto c = static_cast<unsigned char>(ch);
        FUZZ_CHECK(c > 0x20 && c != 0x7f && c != '\\', "admitted target %s holds 0x%02x",
                   escaped(t).c_str(), c);
    }
    FUZZ_CHECK(t.size() <= max_redirect_target, "admitted target of %zu bytes", t.size());
    const std::string_view loc = a.location;
    FUZZ_CHECK(loc.starts_with("http://") || loc.starts_with("https://"), "Location %s",
               escaped(loc).c_str());
    for (const char ch : loc) {
        const auto c = static_cast<unsigned char>(ch);
        FUZZ_CHECK(c > 0x20 && c < 0x7f, "Location %s holds 0x%02x", escaped(loc).c_str(), c);
    }
    const size_t scheme = loc.find("//") + 2;
    const std::string_view authority =
        loc.substr(scheme, loc.find_first_of("/?#", scheme) - scheme);
    FUZZ_CHECK(authority.find('@') == std::string_view::npos && !authority.empty(),
               "Location %s with userinfo or no host", escaped(loc).c_str());
    for (const char c : authority)
        FUZZ_CHECK(!(c >= 'A' && c <= 'Z'), "host of Location %s not lower case",
                   escaped(loc).c_str());
}

// `pixelring sign-url` for this target, action and campaign: the link must be admitted by the
// server with the canonical Location. Returns that Location, or "" when sign_url refused.
std::string round_trip(const setup& s, std::string_view url, const std::string& action,
                       const std::optional<std::string>& campaign) {
    const signed_link link = sign_url(
        secret, url, action, campaign ? std::optional<std::string_view>(*campaign) : std::nullopt,
        "https://px.example");
    FUZZ_CHECK(link.link.empty() != link.error.empty(), "sign_url: link and error");
    if (link.link.empty()) {
        // sign_url may refuse a target the server admits only when no link for it fits the
        // request line, counting every character a query value could need escaped as three.
        size_t most = 4 + 3 + 3 * action.size() + 5 + 5 + 64 + 9;
        if (campaign) most += 12 + 3 * campaign->size();
        for (const char c : url)
            most += static_cast<unsigned char>(c) >= 0x80 ||
                            std::string_view("&+\"#<>[]^`{|}%").find(c) != std::string_view::npos
                        ? 3
                        : 1;
        FUZZ_CHECK(most > s.limits.max_request_line,
                   "sign_url refuses a link of at most %zu bytes (%s): %s", most,
                   link.error.c_str(), escaped(url).c_str());
        return {};
    }
    const std::string_view path = std::string_view(link.link).substr(18); // after the base
    const answered back = answer(s, s.signing_only, path);
    FUZZ_CHECK(back.parsed, "the server does not route sign_url's link (%s): %s", back.why,
               escaped(link.link).c_str());
    FUZZ_CHECK(back.check.status == redirect_status::ok,
               "the server refuses sign_url's link with \"%s\": %s",
               std::string(redirect_status_text(back.check.status)).c_str(),
               escaped(link.link).c_str());
    FUZZ_CHECK(back.action == action && back.campaign == campaign,
               "the link's action or campaign differs from what was signed");
    return back.location;
}

} // namespace
} // namespace pixelring

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace pixelring;
    static const setup s;
    const std::string_view target(reinterpret_cast<const char*>(data), size);
    const answered a = answer(s, s.policy, target);
    if (!a.parsed) return 0;
    if (a.check.status == redirect_status::ok) check_admitted(a);

    // A target the check could admit with the right signature: sign it, as sign-url would.
    const redirect_status st = a.check.status;
    if (st == redirect_status::ok || st == redirect_status::not_signed ||
        st == redirect_status::bad_signature) {
        if (a.action.empty()) return 0; // sign-url refuses an empty action
        const std::string location = round_trip(s, a.target, a.action, a.campaign);
        if (st == redirect_status::ok && !location.empty())
            FUZZ_CHECK(location == a.location, "sign_url's link gives Location %s, the request %s",
                       escaped(location).c_str(), escaped(a.location).c_str());
        // The canonical form is its own canonical form.
        if (!location.empty())
            FUZZ_CHECK(round_trip(s, location, a.action, a.campaign) == location,
                       "canonical(canonical(t)) != canonical(t) for %s", escaped(location).c_str());
    }
    return 0;
}
