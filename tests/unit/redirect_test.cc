// Tests of the /r/ redirect policy (core/policy/redirect.hh): the open-redirect bypass list
// (docs/redirects.md), signatures (valid, tampered, malformed), the exact-host allowlist, sign_url
// round trips, start-up validation of redirect.secret and redirect.allow_hosts, a randomised search
// for an accepted target that leaves the allowed host, and the cost of one check.

#include "core/policy/redirect.hh"

#include "core/http/request_parser.hh"

#include <gtest/gtest.h>

#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace pixelring {
namespace {

using namespace std::string_literals;

const std::string secret = "test secret of thirty-two bytes!";

redirect_policy policy_of(std::string_view key, std::vector<std::string> hosts) {
    redirect_policy p;
    EXPECT_EQ(make_redirect_policy(key, hosts, p), "");
    return p;
}

struct outcome {
    redirect_status status;
    std::string location;
};

// A /r/click link without a campaignID unless subject says otherwise.
outcome check(const redirect_policy& p, std::string_view raw_url, std::string_view raw_sig = "",
              const redirect_subject& subject = {.action = "click"}) {
    std::string out(3 * raw_url.size() + 1, '\0');
    const auto r = check_redirect(p, raw_url, raw_sig, subject, out.data(), out.size());
    if (r.status != redirect_status::ok) {
        EXPECT_EQ(r.location_size, 0u);
    }
    out.resize(r.location_size);
    return {r.status, out};
}

// Every byte but the unreserved ones as %XX: how a careful client puts a URL in a parameter.
std::string encode(std::string_view s) {
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out += static_cast<char>(c);
        } else {
            char hex[4];
            std::snprintf(hex, sizeof hex, "%%%02X", c);
            out += hex;
        }
    }
    return out;
}

// HMAC-SHA256 as lower-case hex, computed here independently of core/policy/redirect.cc.
std::string hmac_hex(std::string_view key, std::string_view message) {
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()),
                                key.size());
    crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(message.data()),
                                  message.size());
    crypto_auth_hmacsha256_final(&st, mac);
    char hex[2 * sizeof mac + 1];
    sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
    return hex;
}

// The signed message of redirect.hh ("What is signed"), built here byte by byte.
std::string message_v2(std::string_view action, std::optional<std::string_view> campaign,
                       std::string_view target) {
    const auto length = [](size_t n) {
        return std::string{static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                           static_cast<char>(n >> 8), static_cast<char>(n)};
    };
    std::string m("pixelring-redirect-v2\0", 22);
    m += length(action.size()) + std::string(action);
    m += campaign ? "\1" + length(campaign->size()) + std::string(*campaign) : std::string(1, '\0');
    return m + std::string(target);
}

// The sig of a link to target for action and campaign (as the event records them).
std::string sig_of(std::string_view key, std::string_view target, std::string_view action = "click",
                   std::optional<std::string_view> campaign = std::nullopt) {
    return hmac_hex(key, message_v2(action, campaign, target));
}

// The value of one parameter of a link made by sign_url.
std::string param(std::string_view link, std::string_view name) {
    const std::string key = "&"s.append(name) + "=";
    const std::string first = "?"s.append(name) + "=";
    size_t at = link.find(first);
    if (at == std::string_view::npos) at = link.find(key);
    if (at == std::string_view::npos) return "";
    at += key.size();
    return std::string(link.substr(at, link.find('&', at) - at));
}

TEST(redirect, off_when_neither_secret_nor_hosts_are_set) {
    const auto p = policy_of("", {});
    EXPECT_FALSE(p.enabled());
    EXPECT_EQ(check(p, "https://good.example/").status, redirect_status::off);
    EXPECT_EQ(check(p, "https://good.example/", sig_of(secret, "https://good.example/")).status,
              redirect_status::off);
    EXPECT_TRUE(policy_of(secret, {}).enabled());
    EXPECT_TRUE(policy_of("", {"good.example"}).enabled());
}

TEST(redirect, allow_hosts_admits_exact_hosts_only) {
    const auto p = policy_of("", {"good.example", "XN--Bcher-KVA.example", "[2001:db8::1]"});
    const auto ok = [&](std::string_view raw, std::string_view location) {
        const auto r = check(p, raw);
        EXPECT_EQ(r.status, redirect_status::ok) << raw << ": " << redirect_status_text(r.status);
        EXPECT_EQ(r.location, location) << raw;
    };
    ok("https://good.example/landing?x=1&y=2#top", "https://good.example/landing?x=1&y=2#top");
    ok(encode("https://good.example/landing?x=1&y=2#top"),
       "https://good.example/landing?x=1&y=2#top");
    ok("https://GOOD.EXAMPLE/Path", "https://good.example/Path");
    ok("HtTpS://Good.Example", "https://good.example");
    ok("http://good.example:8443/a", "http://good.example:8443/a");
    ok("https://good%2Eexample/", "https://good.example/"); // the one decoding is legitimate
    ok("https://good.example%2F@evil.example", "https://good.example/@evil.example"); // a path
    ok("https://good.example/a%252Fb", "https://good.example/a%2Fb"); // second layer kept
    ok("https://good.example/a+b", "https://good.example/a+b");       // '+' is not a space
    ok("https://xn--bcher-kva.example/", "https://xn--bcher-kva.example/");
    ok("https://[2001:DB8::1]:8080/", "https://[2001:db8::1]:8080/");

    const auto refused = [&](std::string_view raw) {
        EXPECT_EQ(check(p, raw).status, redirect_status::host_not_allowed) << raw;
    };
    refused("https://sub.good.example/");
    refused("https://good.example.evil.example/");
    refused("https://evilgood.example/");
    refused("https://good.exampl/");
    refused("https://evil.example/good.example");
    refused("https://evil.example#@good.example");
    refused("https://evil.example?@good.example");
    refused("https://evil.example/?url=https://good.example/");
    refused("https://[2001:db8::2]/");
    refused("https://[2001:db8:0::1]/"); // a textual match, like every other host
}

// The open-redirect bypass list (docs/redirects.md sums it up) and its relatives. Each is refused
// whether the allowlist holds good.example, a secret is set, or a signature over the very same text
// is sent along.
TEST(redirect, open_redirect_bypasses_are_refused) {
    struct bypass {
        std::string raw; // as the url parameter arrives
        redirect_status status;
    };
    using s = redirect_status;
    const std::vector<bypass> list = {
        {"//evil.example", s::not_absolute},
        {"//evil.example/", s::not_absolute},
        {"///evil.example", s::not_absolute},
        {"%2f%2fevil.example", s::not_absolute},
        {"%2F%2Fevil.example", s::not_absolute},
        {"%252f%252fevil.example", s::not_absolute}, // second layer stays encoded
        {"/\\evil.example", s::backslash},
        {"%2F%5Cevil.example", s::backslash},
        {"\\\\evil.example", s::backslash},
        {"https:evil.example", s::no_authority},
        {"https:/evil.example", s::no_authority},
        {"https:\\\\evil.example", s::backslash},
        {"https:/\\evil.example", s::backslash},
        {"https://good.example@evil.example", s::userinfo},
        {"https://good.example%40evil.example", s::userinfo},
        {"https://good.example:443@evil.example/", s::userinfo},
        {"https://user:pass@good.example/", s::userinfo},
        {"https://good.example\\@evil.example", s::backslash},
        {"https://evil.example\\good.example", s::backslash},
        {"https://evil.example\\.good.example", s::backslash},
        {"https://good.example/\\evil.example", s::backslash},
        {"https://good.example%5C@evil.example", s::backslash},
        {"https://good.exa\tmple/", s::control_character},
        {"https://good.example%09.evil.example", s::control_character},
        {"https://good.example/\n", s::control_character},
        {"https://good.example/%0d%0aSet-Cookie:%20a=1", s::control_character},
        {"https://good.example%0a.evil.example", s::control_character},
        {"https://good.example%00.evil.example", s::control_character},
        {"java\nscript:alert(1)", s::control_character},
        {"\thttps://good.example/", s::control_character},
        {" https://good.example/", s::control_character},
        {"https://good.example/ x", s::control_character},
        {"https://good.example/%7F", s::control_character},
        {"https://gööd.example/", s::non_ascii_host},
        {"https://g%C3%B6%C3%B6d.example/", s::non_ascii_host},
        {"https://go\xD0\xBE"
         "d.example/",
         s::non_ascii_host}, // Cyrillic o: a homograph
        {"https://good\xE3\x80\x82"
         "example/",
         s::non_ascii_host},                                     // ideographic full stop
        {"https://\xEF\xBD\x87ood.example/", s::non_ascii_host}, // fullwidth g
        {"javascript:alert(1)", s::bad_scheme},
        {"JaVaScRiPt:alert(1)", s::bad_scheme},
        {"javascript://good.example/?%250aalert(1)", s::bad_scheme},
        {"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", s::bad_scheme},
        {"vbscript:msgbox(1)", s::bad_scheme},
        {"file:///etc/passwd", s::bad_scheme},
        {"ftp://good.example/", s::bad_scheme},
        {"evil.example", s::not_absolute},
        {"/path", s::not_absolute},
        {"%68ttps://good.example@evil", s::userinfo},
        {"https:///evil.example", s::bad_host},
        {"https://", s::bad_host},
        {"https://.good.example/", s::bad_host},
        {"https://good.example./", s::bad_host},
        {"https://good..example/", s::bad_host},
        {"https://good%252eexample/", s::bad_host}, // '%' in the host: a second layer
        {"https://good.example%2523@evil.example", s::userinfo},
        {"https://[::1%25eth0]/", s::bad_host},
        {"https://[::1]evil/", s::bad_host},
        {"https://[not-v6]/", s::bad_host},
        {"https://good.example:/", s::bad_port},
        {"https://good.example:99999/", s::bad_port},
        {"https://good.example:80a/", s::bad_port},
        {"https://good.example:-1/", s::bad_port},
        {"", s::missing_url},
    };
    const auto allow = policy_of("", {"good.example"});
    const auto signing = policy_of(secret, {"good.example"});
    for (const auto& b : list) {
        std::string decoded;
        for (size_t i = 0; i < b.raw.size(); ++i) {
            if (b.raw[i] == '%' && i + 2 < b.raw.size() &&
                std::isxdigit(static_cast<unsigned char>(b.raw[i + 1])) &&
                std::isxdigit(static_cast<unsigned char>(b.raw[i + 2]))) {
                decoded += static_cast<char>(std::stoi(b.raw.substr(i + 1, 2), nullptr, 16));
                i += 2;
            } else {
                decoded += b.raw[i];
            }
        }
        const auto r1 = check(allow, b.raw);
        EXPECT_EQ(r1.status, b.status) << b.raw << ": got " << redirect_status_text(r1.status)
                                       << ", expected " << redirect_status_text(b.status);
        EXPECT_EQ(check(signing, b.raw, sig_of(secret, decoded)).status, b.status) << b.raw;
        EXPECT_EQ(check(signing, b.raw, sig_of(secret, b.raw)).status, b.status) << b.raw;
        // And a careful client's encoding of the same text fares no better.
        if (b.status != s::missing_url) {
            EXPECT_EQ(check(allow, encode(decoded)).status, b.status) << b.raw;
        }
    }
}

TEST(redirect, signed_target_is_admitted) {
    const auto p = policy_of(secret, {});
    const std::string target = "https://shop.example/cart?item=42&coupon=A%2BB#summary";
    const std::string sig = sig_of(secret, target);
    auto r = check(p, encode(target), sig);
    EXPECT_EQ(r.status, redirect_status::ok) << redirect_status_text(r.status);
    EXPECT_EQ(r.location, target);
    std::string upper = sig;
    std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
    EXPECT_EQ(check(p, encode(target), upper).status, redirect_status::ok);
    // Signed in canonical form, admitted in any spelling of scheme and host.
    EXPECT_EQ(
        check(p, encode("HTTPS://SHOP.Example/cart?item=42&coupon=A%2BB#summary"), sig).location,
        target);
    // Non-ASCII bytes in the rest: canonical form escapes them, whichever way they came.
    const std::string cafe = "https://shop.example/caf%C3%A9?q=%C3%BC";
    const std::string cafe_sig = sig_of(secret, cafe);
    EXPECT_EQ(check(p, encode("https://shop.example/café?q=ü"), cafe_sig).location, cafe);
    EXPECT_EQ(check(p, encode(cafe), cafe_sig).location, cafe);
}

TEST(redirect, tampered_target_or_signature_is_refused) {
    const auto p = policy_of(secret, {"good.example"});
    const std::string target = "https://shop.example/offer?id=7";
    const std::string sig = sig_of(secret, target);
    ASSERT_EQ(check(p, encode(target), sig).status, redirect_status::ok);
    using s = redirect_status;
    EXPECT_EQ(check(p, encode("https://shop.example/offer?id=8"), sig).status, s::bad_signature);
    EXPECT_EQ(check(p, encode("https://shop.example/Offer?id=7"), sig).status, s::bad_signature);
    EXPECT_EQ(check(p, encode("https://shop.example/offer?id=7#x"), sig).status, s::bad_signature);
    EXPECT_EQ(check(p, encode("https://shop.example:443/offer?id=7"), sig).status,
              s::bad_signature);
    EXPECT_EQ(check(p, encode("https://evil.example/offer?id=7"), sig).status, s::bad_signature);
    EXPECT_EQ(check(p, encode("http://shop.example/offer?id=7"), sig).status, s::bad_signature);
    for (size_t i : {0ul, 31ul, 63ul}) {
        std::string flipped = sig;
        flipped[i] = flipped[i] == '0' ? '1' : '0';
        EXPECT_EQ(check(p, encode(target), flipped).status, s::bad_signature) << i;
    }
    EXPECT_EQ(check(p, encode(target), sig.substr(0, 63)).status, s::bad_signature);
    EXPECT_EQ(check(p, encode(target), sig + "0").status, s::bad_signature);
    EXPECT_EQ(check(p, encode(target), sig.substr(0, 32)).status, s::bad_signature);
    EXPECT_EQ(check(p, encode(target), "g" + sig.substr(1)).status, s::bad_signature);
    EXPECT_EQ(check(p, encode(target), std::string(64, '0')).status, s::bad_signature);
    EXPECT_EQ(check(p, encode(target), "").status, s::not_signed);
    EXPECT_EQ(check(p, encode(target), sig_of("another secret of 32 bytes......", target)).status,
              s::bad_signature);
    // The allowlist needs no signature, and a wrong one does not spoil it.
    EXPECT_EQ(check(p, "https://good.example/x", "").status, s::ok);
    EXPECT_EQ(check(p, "https://good.example/x", "junk").status, s::ok);
    // Without a secret, an unlisted host is refused whatever the sig.
    EXPECT_EQ(check(policy_of("", {"good.example"}), encode(target), sig).status,
              s::host_not_allowed);
}

TEST(redirect, sign_url_round_trips_through_check_redirect) {
    const auto p = policy_of(secret, {"good.example"});
    const std::vector<std::pair<std::string, std::string>> targets = {
        {"https://Shop.Example/cart?item=42&x=a+b#top",
         "https://shop.example/cart?item=42&x=a+b#top"},
        {"http://shop.example", "http://shop.example"},
        {"https://shop.example:8443/a/b/", "https://shop.example:8443/a/b/"},
        {"https://[2001:db8::7]/x", "https://[2001:db8::7]/x"},
        {"https://xn--bcher-kva.example/", "https://xn--bcher-kva.example/"},
        {"https://shop.example/café", "https://shop.example/caf%C3%A9"},
        {"https://shop.example/a%2Fb?next=%2F%2Fevil.example",
         "https://shop.example/a%2Fb?next=%2F%2Fevil.example"},
        {"https://shop.example/?q=\"<>'`{}|^&e=@:;,!$()*",
         "https://shop.example/?q=\"<>'`{}|^&e=@:;,!$()*"},
    };
    for (const auto& [url, canonical] : targets) {
        const auto signed_ =
            sign_url(secret, url, "click", std::nullopt, "https://px.example.com/");
        ASSERT_EQ(signed_.error, "") << url;
        const std::string& link = signed_.link;
        EXPECT_EQ(link.rfind("https://px.example.com/r/click?url=", 0), 0u) << link;
        const std::string raw_url = param(link, "url"), sig = param(link, "sig");
        EXPECT_EQ(sig, sig_of(secret, canonical)) << link;
        EXPECT_EQ(link.find_first_of("#\\ \"<>"), std::string::npos) << link;
        const auto r = check(p, raw_url, sig);
        EXPECT_EQ(r.status, redirect_status::ok) << link << ": " << redirect_status_text(r.status);
        EXPECT_EQ(r.location, canonical) << link;
    }
    const auto email = sign_url(secret, "https://shop.example/", "email-open:ann@example.com");
    EXPECT_EQ(email.link.rfind("/r/email-open:ann@example.com?url=https://shop.example/&sig=", 0),
              0u)
        << email.link;
    EXPECT_EQ(sign_url(secret, "https://shop.example/", "a b/c").link.rfind("/r/a%20b%2Fc?", 0),
              0u);
}

// A signature covers the action and the campaign the event records, not only the target.
TEST(redirect, signature_covers_action_and_campaign) {
    const auto p = policy_of(secret, {});
    using st = redirect_status;
    const std::string target = "https://shop.example/sale";
    const std::string raw = encode(target);
    const std::string sig = sig_of(secret, target, "click", "spring 24");
    const redirect_subject signed_for{
        .action = "click", .campaign = "spring+24", .has_campaign = true};
    EXPECT_EQ(check(p, raw, sig, signed_for).status, st::ok);
    // The same decoded values in other spellings are the same event: still admitted.
    EXPECT_EQ(
        check(p, raw, sig, {.action = "cl%69ck", .campaign = "spring%2024", .has_campaign = true})
            .status,
        st::ok);
    // Another action, another campaign, an empty one, none: refused.
    for (const redirect_subject& other :
         {redirect_subject{.action = "anything", .campaign = "spring+24", .has_campaign = true},
          redirect_subject{.action = "click", .campaign = "spring+25", .has_campaign = true},
          redirect_subject{.action = "click", .campaign = "", .has_campaign = true},
          redirect_subject{.action = "click"},
          redirect_subject{.action = "click%2B", .campaign = "spring+24", .has_campaign = true}}) {
        EXPECT_EQ(check(p, raw, sig, other).status, st::bad_signature)
            << other.action << " " << other.campaign << " " << other.has_campaign;
    }
    // No campaign and an empty campaign are different events (null and ""), signed apart.
    EXPECT_EQ(check(p, raw, sig_of(secret, target), {.action = "click"}).status, st::ok);
    EXPECT_EQ(
        check(p, raw, sig_of(secret, target), {.action = "click", .has_campaign = true}).status,
        st::bad_signature);
    EXPECT_EQ(check(p, raw, sig_of(secret, target, "click", ""),
                    {.action = "click", .has_campaign = true})
                  .status,
              st::ok);
    // Length prefixes: bytes cannot move between the action and the campaign.
    EXPECT_EQ(check(p, raw, sig_of(secret, target, "ab", "c"),
                    {.action = "a", .campaign = "bc", .has_campaign = true})
                  .status,
              st::bad_signature);
    // An old-style signature (the HMAC of the target alone) is refused.
    EXPECT_EQ(check(p, raw, hmac_hex(secret, target)).status, st::bad_signature);
}

TEST(redirect, find_redirect_subject_reads_the_campaign_as_the_event_does) {
    auto subject = find_redirect_subject("click", "url=x&c%61mpaignID=a+b&campaignID=second");
    EXPECT_EQ(subject.action, "click");
    EXPECT_TRUE(subject.has_campaign);
    EXPECT_EQ(subject.campaign, "a+b");
    subject = find_redirect_subject("click", "url=x&campaignID&sig=1");
    EXPECT_TRUE(subject.has_campaign);
    EXPECT_EQ(subject.campaign, "");
    subject = find_redirect_subject("click", "url=x&campaign=y&sig=1");
    EXPECT_FALSE(subject.has_campaign);
}

TEST(redirect, sign_url_signs_action_and_campaign) {
    const auto p = policy_of(secret, {});
    const auto link = sign_url(secret, "https://shop.example/", "open:ann@example.com",
                               std::string_view("spring sale/24+"), "https://px.example.com");
    ASSERT_EQ(link.error, "");
    EXPECT_EQ(link.link.rfind("https://px.example.com/r/open:ann@example.com?url=", 0), 0u)
        << link.link;
    const std::string campaign = param(link.link, "campaignID");
    EXPECT_EQ(campaign, "spring%20sale%2F24%2B");
    const std::string sig = param(link.link, "sig");
    EXPECT_EQ(sig,
              sig_of(secret, "https://shop.example/", "open:ann@example.com", "spring sale/24+"));
    const std::string raw_url = param(link.link, "url");
    EXPECT_EQ(check(p, raw_url, sig,
                    {.action = "open:ann@example.com", .campaign = campaign, .has_campaign = true})
                  .status,
              redirect_status::ok);
    EXPECT_EQ(check(p, raw_url, sig, {.action = "open:ann@example.com"}).status,
              redirect_status::bad_signature);
}

// sign_url measures the target the server will decode from its link, the limit the server
// applies: a link it prints is never refused as too long, and one it refuses would be.
TEST(redirect, sign_url_measures_the_target_the_server_decodes) {
    const auto p = policy_of(secret, {});
    const std::string base = "https://good.example/";
    const std::string longest = base + std::string(max_redirect_target - base.size(), 'a');
    const auto link = sign_url(secret, longest);
    ASSERT_EQ(link.error, "");
    EXPECT_EQ(check(p, param(link.link, "url"), param(link.link, "sig")).location, longest);
    const auto refused = sign_url(secret, longest + "a");
    EXPECT_EQ(refused.link, "");
    EXPECT_NE(refused.error.find("too long: 4097 bytes"), std::string::npos) << refused.error;

    // 700 × "é": 1,400 bytes decoded, 4,200 canonical ("%C3%A9"), which the server admits.
    std::string cafe = base;
    for (int k = 0; k < 700; ++k)
        cafe += "é";
    const auto accented = sign_url(secret, cafe);
    ASSERT_EQ(accented.error, "");
    const auto r = check(p, param(accented.link, "url"), param(accented.link, "sig"));
    EXPECT_EQ(r.status, redirect_status::ok);
    EXPECT_EQ(r.location.size(), base.size() + 700 * 6);
    // The same target written in its canonical form, 4,221 bytes, is the same 1,421 decoded.
    const auto canonical = sign_url(secret, r.location);
    ASSERT_EQ(canonical.error, "");
    EXPECT_EQ(canonical.link, accented.link);
}

// Found by fuzzing: a target the server admitted from a request (an allowed host, 1,300 raw
// non-ASCII bytes and 1,700 '/' among them) could not be signed, because the link escaped
// every '/' and every '%' of the canonical form again ("%2F", "%25C3"). The link now keeps
// what a query value may hold and the %XX of non-ASCII bytes, so it is the size of the
// canonical target.
TEST(redirect, sign_url_link_is_no_longer_than_it_needs_to_be) {
    const auto p = policy_of(secret, {});
    const std::string target = "https://shop.example:8443/" + std::string(1700, '/') +
                               std::string(1300, '\xE4') + "?a=1&b=c+d#top";
    const std::string canonical = "https://shop.example:8443/" + std::string(1700, '/') + [] {
        std::string e;
        for (int k = 0; k < 1300; ++k)
            e += "%E4";
        return e;
    }() + "?a=1&b=c+d#top";
    const auto link = sign_url(secret, target, "click", std::nullopt, "https://px.example.com");
    ASSERT_EQ(link.error, "");
    const std::string value = param(link.link, "url");
    EXPECT_EQ(value.size(), canonical.size() + 3 * 2) << value.substr(0, 80); // '&', '+', '#'
    EXPECT_EQ(value.substr(0, 30), "https://shop.example:8443/////");
    EXPECT_NE(value.find("?a=1%26b=c%2Bd%23top"), std::string::npos);
    const auto r = check(p, value, param(link.link, "sig"));
    EXPECT_EQ(r.status, redirect_status::ok) << redirect_status_text(r.status);
    EXPECT_EQ(r.location, canonical);

    // A '%' that is not the escape of a non-ASCII byte is escaped, so that it stays literal.
    for (const std::string literal : {"https://shop.example/%41", "https://shop.example/%e4",
                                      "https://shop.example/100%", "https://shop.example/%2F%25"}) {
        const auto l = sign_url(secret, literal);
        ASSERT_EQ(l.error, "") << literal;
        EXPECT_EQ(check(p, param(l.link, "url"), param(l.link, "sig")).location, literal);
    }
}

// The request line "GET " + link + " HTTP/1.1" must fit the parser's 8192 bytes, or the link
// would be answered 414.
TEST(redirect, sign_url_refuses_a_link_longer_than_a_request_line) {
    const std::string pipes = "https://a.example/" + std::string(3000, '|'); // each "%7C"
    const auto r = sign_url(secret, pipes, "click", std::nullopt, "https://px.example.com");
    EXPECT_EQ(r.link, "");
    EXPECT_NE(r.error.find("request line of"), std::string::npos) << r.error;
    // Just within: the link's path and query plus "GET " and " HTTP/1.1" are 8192 bytes.
    std::string fits = "https://a.example/";
    std::string link;
    for (;;) {
        const auto next = sign_url(secret, fits + "|", "click");
        if (next.link.empty()) break;
        fits += "|";
        link = next.link;
    }
    EXPECT_LE(4 + link.size() + 9, http_limits{}.max_request_line);
    EXPECT_GT(4 + link.size() + 9 + 3, http_limits{}.max_request_line);
}

TEST(redirect, sign_url_refuses_what_check_redirect_would) {
    for (const char* url :
         {"//evil.example", "https:evil.example", "https://a@evil.example", "javascript:alert(1)",
          "https://gööd.example/", "https://a\\b/", "https://good.example/\tx", ""}) {
        const auto r = sign_url(secret, url);
        EXPECT_EQ(r.link, "") << url;
        EXPECT_NE(r.error.find("URL"), std::string::npos) << r.error;
        EXPECT_NE(r.error.find("expected an absolute http:// or https:// URL"), std::string::npos)
            << r.error;
    }
    EXPECT_NE(sign_url(secret, "https://gööd.example/").error.find("punycode"), std::string::npos);
    const auto no_secret = sign_url("", "https://shop.example/");
    EXPECT_NE(no_secret.error.find("redirect.secret is not set"), std::string::npos);
    const auto short_secret = sign_url("hunter2", "https://shop.example/");
    EXPECT_NE(short_secret.error.find("at least 16 bytes"), std::string::npos);
    EXPECT_EQ(short_secret.error.find("hunter2"), std::string::npos);
    EXPECT_NE(sign_url(secret, "https://shop.example/", "").error, "");
}

TEST(redirect, start_up_validation_names_key_value_and_what_is_accepted) {
    redirect_policy p;
    std::string error = make_redirect_policy("hunter2", {}, p);
    EXPECT_NE(error.find("redirect.secret"), std::string::npos) << error;
    EXPECT_NE(error.find("at least 16 bytes"), std::string::npos) << error;
    EXPECT_EQ(error.find("hunter2"), std::string::npos) << "the secret is echoed: " << error;

    const std::vector<std::pair<std::string, std::string>> bad = {
        {"https://good.example", "without a scheme"},
        {"good.example/landing", "without a path"},
        {"good.example:443", "without a port"},
        {"*.good.example", "no wildcards"},
        {"bücher.example", "punycode"},
        {"ann@good.example", "without user information"},
        {"good..example", "a host name"},
        {"good.example.", "a host name"},
        {"good example", "a host name"},
        {"", "a host name"},
    };
    for (const auto& [host, hint] : bad) {
        error = make_redirect_policy("", {"good.example", host}, p);
        EXPECT_EQ(error.rfind("redirect.allow_hosts: bad element \"" + host + "\"", 0), 0u)
            << error;
        EXPECT_NE(error.find(hint), std::string::npos) << error;
    }
    EXPECT_EQ(make_redirect_policy("",
                                   {"Good.Example", "[2001:db8::1]", "xn--bcher-kva.example",
                                    "127.0.0.1", "under_score.example"},
                                   p),
              "");
    EXPECT_EQ(p.allow_hosts[0], "good.example");
}

TEST(redirect, location_must_fit_the_buffer) {
    const auto p = policy_of("", {"good.example"});
    const std::string target = "https://good.example/" + std::string(100, '\xC3');
    std::string out(3 * target.size(), '\0');
    auto r = check_redirect(p, target, "", {.action = "click"}, out.data(), out.size());
    EXPECT_EQ(r.status, redirect_status::ok);
    EXPECT_EQ(r.location_size, 21u + 300u);
    r = check_redirect(p, target, "", {.action = "click"}, out.data(), 21 + 299);
    EXPECT_EQ(r.status, redirect_status::too_long);
    const std::string longest =
        "https://good.example/" + std::string(max_redirect_target - 21, 'a');
    EXPECT_EQ(check(p, longest).status, redirect_status::ok);
    EXPECT_EQ(check(p, longest + "a").status, redirect_status::too_long);
    EXPECT_EQ(check(p, encode(longest + "a")).status, redirect_status::too_long);
}

// Random targets built from the pieces bypasses are made of: whatever is admitted goes to
// good.example (on some port) and is a clean header value.
TEST(redirect, random_targets_never_leave_the_allowed_host) {
    const auto p = policy_of("", {"good.example"});
    const std::vector<std::string> pieces = {"https://",
                                             "http://",
                                             "https:",
                                             "//",
                                             "/",
                                             "\\",
                                             "good.example",
                                             "evil.example",
                                             "@",
                                             "%40",
                                             "%2f",
                                             "%5c",
                                             "%2F",
                                             "%25",
                                             ":",
                                             ":443",
                                             "#",
                                             "?",
                                             ".",
                                             "%2e",
                                             "\t",
                                             "%09",
                                             " ",
                                             "%0a",
                                             "\xC3\xA9",
                                             "%C3%A9",
                                             "xn--",
                                             "[",
                                             "]",
                                             "::1",
                                             "a",
                                             "%",
                                             "2f",
                                             "%00",
                                             "&",
                                             "+",
                                             "GOOD.EXAMPLE",
                                             "javascript:",
                                             "good.example.",
                                             "%23",
                                             "%3f",
                                             "%3a"};
    std::mt19937 rng(20261122);
    size_t admitted = 0;
    for (int i = 0; i < 200'000; ++i) {
        std::string raw = i % 3 == 0 ? "https://" : "";
        const int n = 1 + static_cast<int>(rng() % 7);
        for (int k = 0; k < n; ++k)
            raw += pieces[rng() % pieces.size()];
        const auto r = check(p, raw);
        if (r.status != redirect_status::ok) continue;
        ++admitted;
        const std::string& loc = r.location;
        const size_t host_at = loc.rfind("https://", 0) == 0 ? 8 : 7;
        ASSERT_TRUE(loc.rfind("https://", 0) == 0 || loc.rfind("http://", 0) == 0) << raw;
        ASSERT_EQ(loc.substr(host_at, 12), "good.example") << raw << " -> " << loc;
        ASSERT_TRUE(loc.size() == host_at + 12 ||
                    std::string_view("/?#:").find(loc[host_at + 12]) != std::string::npos)
            << raw << " -> " << loc;
        for (unsigned char c : loc)
            ASSERT_TRUE(c > 0x20 && c < 0x7f && c != '\\') << raw << " -> " << loc;
    }
    EXPECT_GT(admitted, 100u); // the search reached the admitting paths too
}

// CPU time of this thread in ns: unlike the wall clock, it does not count the time the
// shared machine gives to other processes.
double thread_cpu_ns() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) * 1e9 + double(ts.tv_nsec);
}

TEST(redirect, cost_per_call) {
    const auto p = policy_of(secret, {"good.example"});
    const std::string allowed = encode("https://good.example/landing/page?utm_source=news&id=42");
    const std::string target = "https://shop.example/landing/page?utm_source=news&id=42";
    const std::string raw = encode(target), sig = sig_of(secret, target);
    char out[512];
    constexpr int rounds = 5, n = 20'000;
    double best_allowed = 1e9, best_signed = 1e9;
    for (int r = 0; r < rounds; ++r) {
        double start = thread_cpu_ns();
        for (int i = 0; i < n; ++i)
            ASSERT_EQ(check_redirect(p, allowed, "", {.action = "click"}, out, sizeof out).status,
                      redirect_status::ok);
        double mid = thread_cpu_ns();
        for (int i = 0; i < n; ++i)
            ASSERT_EQ(check_redirect(p, raw, sig, {.action = "click"}, out, sizeof out).status,
                      redirect_status::ok);
        double end = thread_cpu_ns();
        best_allowed = std::min(best_allowed, (mid - start) / n);
        best_signed = std::min(best_signed, (end - mid) / n);
    }
    std::printf("check_redirect: %.0f ns allowlisted, %.0f ns signed (%zu-byte encoded url), "
                "thread CPU time, best of %d rounds\n",
                best_allowed, best_signed, raw.size(), rounds);
}

} // namespace
} // namespace pixelring
