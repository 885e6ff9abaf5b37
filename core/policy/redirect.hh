#pragma once
// Click redirects, GET /r/<action>?url=<target>&sig=<hex>&campaignID=… (docs/redirects.md):
// which targets may be answered with a 302, and the signed links that admit them.
// A target is admitted when sig is the HMAC-SHA256 (libsodium crypto_auth_hmacsha256) under
// redirect.secret of everything the redirect event records from the link (the action, the
// campaign and the canonical target; see "What is signed" below), or when its host is exactly
// one of redirect.allow_hosts. Everything else is refused: no open redirect, and no signed
// link turned into a different action or campaign.
//
// The target (what the url parameter holds after exactly one percent-decoding; '+' stays a
// '+'; a second layer of escapes is never decoded) must be, byte by byte:
//   scheme ":" "//" host [":" port] rest
//   scheme  "http" or "https", any case. javascript:, data:, vbscript:, file:, ... refused.
//   "//"    required: "https:evil.example", "//evil.example", "/\evil.example" are refused.
//   host    a DNS name: labels of ASCII letters, digits, '-' and '_' joined by single dots
//           (no empty label, so no leading or trailing dot), at most 253 bytes; or an IPv6
//           literal in brackets ("[2001:db8::1]", no zone). Internationalised names only in
//           their punycode form ("xn--bcher-kva.example"): a non-ASCII byte in the host is
//           refused. No '%' (an escape in the host would be a second layer).
//   port    1 to 5 digits, at most 65535.
//   rest    empty, or starting with '/', '?' or '#': anything that follows.
// Refused anywhere in the target, never stripped: control characters (NUL to 0x1F, DEL),
// space, tab, CR, LF; and backslash (browsers read '\' as '/', the root of "/\evil" and
// "https://good.example\@evil.example"). An '@' in the authority (userinfo) is refused:
// "https://good.example@evil.example" goes to evil.example.
//
// Canonical form (what is signed, what the Location header carries): the scheme and the host
// in lower case, the port digits as given, then the rest as given except that every byte
// 0x80–0xFF is written as %XX (upper-case hex), so the Location header is printable ASCII.
// canonical(canonical(t)) == canonical(t); sign_url and check_redirect share the function.
//
// What is signed (version 2; a version-1 signature, of the target alone, does not match):
//   "pixelring-redirect-v2" NUL
//   u32 big-endian length, then the action percent-decoded ('+' stays '+'), as the event's
//     action
//   one byte 1 and a u32 length and the value of the first campaignID parameter decoded
//     ('+' as space), as the event's campaign; or one byte 0 when there is none (null)
//   the canonical target
// The lengths make the message unambiguous whatever bytes the action or campaign hold.

#include <sodium/crypto_auth_hmacsha256.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pixelring {

// The longest target accepted, after decoding and before canonicalisation.
inline constexpr size_t max_redirect_target = 4096;

// Built once at start-up from redirect.secret and redirect.allow_hosts, then shared read-only
// by every worker (check_redirect does not modify it).
struct redirect_policy {
    bool signing = false;                   // redirect.secret was set
    crypto_auth_hmacsha256_state keyed_mac; // HMAC state after the key: copied per check
    std::vector<std::string> allow_hosts;   // validated, lower case

    // /r/ is off when neither a secret nor an allowed host is configured.
    bool enabled() const noexcept { return signing || !allow_hosts.empty(); }
};

// Start-up. secret: redirect.secret, "" for none, else at least 16 bytes. allow_hosts:
// redirect.allow_hosts, each a host as defined above, without scheme, port, path or
// wildcard; matched case-insensitively. Returns "" and fills out, or an error naming the key,
// the value and what is accepted (never the secret's value). Calls sodium_init().
std::string make_redirect_policy(std::string_view secret,
                                 const std::vector<std::string>& allow_hosts, redirect_policy& out);

enum class redirect_status : uint8_t {
    ok,                // location holds the canonical target
    off,               // neither redirect.secret nor redirect.allow_hosts is set
    missing_url,       // no url parameter, or an empty one
    too_long,          // target over max_redirect_target, or the Location does not fit out
    control_character, // control character, space, tab, CR, LF or DEL in the target
    backslash,         // '\' in the target
    not_absolute,      // no scheme: "//evil", "/path", "evil.example"
    bad_scheme,        // a scheme other than http and https
    no_authority,      // scheme not followed by "//": "https:evil.example"
    userinfo,          // '@' in the authority
    non_ascii_host,    // IDN not in punycode form
    bad_host,          // empty or malformed host
    bad_port,          // empty, non-numeric or over 65535
    not_signed,        // host not allowed and no sig
    bad_signature,     // sig is not 64 hex digits, or not the target's HMAC
    host_not_allowed,  // host not in allow_hosts and no secret to check a sig with
};

// A short English reason for the 400 answer or a log line ("url is not an absolute http or
// https URL"). Static storage.
std::string_view redirect_status_text(redirect_status status) noexcept;

// The parts of a /r/ link besides the target that its event records, as received (still
// percent-encoded): views into the request.
struct redirect_subject {
    std::string_view action{};   // <action> of /r/<action>
    std::string_view campaign{}; // value of the first campaignID parameter
    bool has_campaign = false;   // a campaignID parameter is present (perhaps empty)
};

// The subject of a request: raw_action as given, the campaign found in query the way the
// event encoder finds it (the first parameter whose decoded name is campaignID).
redirect_subject find_redirect_subject(std::string_view raw_action,
                                       std::string_view query) noexcept;

struct redirect_check {
    redirect_status status;
    size_t location_size; // bytes of out when status is ok, else 0
};

// Hot path, any worker thread, reentrant; allocates nothing (the decoded target lives in a
// max_redirect_target stack buffer). raw_url and raw_sig are the url and sig query values
// as received (still percent-encoded; "" when absent). On ok, out[0..location_size) is the
// canonical target to send as Location; out_size = 3 * raw_url.size() always suffices. The
// host is admitted by allow_hosts first; otherwise the sig is checked against the subject
// and the target, in constant time.
redirect_check check_redirect(const redirect_policy& policy, std::string_view raw_url,
                              std::string_view raw_sig, const redirect_subject& subject, char* out,
                              size_t out_size) noexcept;

// For `pixelring sign-url URL` (start-up code, allocates). url is the target as a user
// writes it (not percent-encoded as a parameter; it is canonicalised, not decoded); action
// and campaign as the event is to record them (campaign null: no campaignID parameter). link
// is base (e.g. "https://px.example.com", "" for a path only) + "/r/" + action encoded +
// "?url=" + the canonical target encoded as a query value [+ "&campaignID=" + campaign
// encoded] + "&sig=" + 64 lower-case hex digits; the target's '/', ':', '?', '=' and its %XX
// escapes of non-ASCII bytes stay as they are, so the link is about as long as the URL.
// Exactly one of link and error is non-empty; error names the URL and the reason: one the
// check would refuse, longer than max_redirect_target, or a link longer than
// the request line the server accepts; or the secret's problem.
struct signed_link {
    std::string link;
    std::string error;
};
signed_link sign_url(std::string_view secret, std::string_view url,
                     std::string_view action = "click",
                     std::optional<std::string_view> campaign = std::nullopt,
                     std::string_view base = "");

} // namespace pixelring
