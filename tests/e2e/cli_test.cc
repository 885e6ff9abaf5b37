// The pixelring command line beyond running the collector: `sign-url`, and the start-up checks
// of feature keys (trusted proxies, redirects, visitor secret, allowed actions, GeoIP) that
// --check-config and the collector both run. The real binary.

#include <gtest/gtest.h>

#include <string>

#include "core/policy/redirect.hh"
#include "tests/support/e2e_client.hh"
#include "tests/support/testdata.hh"

using pixelring::test::run_binary;
using pixelring::test::testdata_path;

namespace {

constexpr char secret[] = "redirect.secret=0123456789abcdef0123456789abcdef";

// The query parameter `name` of a link, still percent-encoded.
std::string param(const std::string& link, const std::string& name) {
    size_t at = link.find(name + "=");
    if (at == std::string::npos) return {};
    at += name.size() + 1;
    return link.substr(at, link.find('&', at) - at);
}

} // namespace

// --version names the malloc the process really runs on: mimalloc in the default build (then
// a block from malloc() must lie in mimalloc's heap, or it says "not in use"), the system's
// under the sanitizers.
TEST(cli, version_names_the_malloc_in_use) {
    auto r = run_binary({"--version"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out.rfind("pixelring 0.", 0), 0u) << r.out;
    const std::string expected = PIXELRING_MALLOC_USED == std::string("mimalloc")
                                     ? "(malloc: mimalloc 2."
                                     : "(malloc: system (glibc ";
    EXPECT_NE(r.out.find(expected), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("not in use"), std::string::npos) << r.out;
}

TEST(cli, version_says_how_the_binary_was_optimised) {
    auto r = run_binary({"--version"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string pgo = PIXELRING_PGO;
    EXPECT_EQ(r.out.find(", profile-guided)") != std::string::npos, pgo == "use") << r.out;
    EXPECT_EQ(r.out.find(", instrumented for profiling") != std::string::npos, pgo == "generate")
        << r.out;
}

TEST(cli, sign_url_prints_a_link_the_collector_accepts) {
    auto r = run_binary({"--set", secret, "sign-url", "https://shop.example.com/sale?x=1&y=2",
                         "--base", "https://px.example.com", "--action", "newsletter"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::string link = r.out.substr(0, r.out.find('\n'));
    EXPECT_EQ(
        link.rfind(
            "https://px.example.com/r/newsletter?url=https://shop.example.com/sale?x=1%26y=2&sig=",
            0),
        0u)
        << link;
    // The same check the /r/ route runs, with the same secret.
    pixelring::redirect_policy policy;
    ASSERT_EQ(pixelring::make_redirect_policy("0123456789abcdef0123456789abcdef", {}, policy), "");
    char location[8192];
    auto ok = pixelring::check_redirect(policy, param(link, "url"), param(link, "sig"),
                                        {.action = "newsletter"}, location, sizeof location);
    EXPECT_EQ(ok.status, pixelring::redirect_status::ok);
    EXPECT_EQ(std::string(location, ok.location_size), "https://shop.example.com/sale?x=1&y=2");
    // Another secret does not accept it.
    ASSERT_EQ(pixelring::make_redirect_policy("another secret of enough bytes", {}, policy), "");
    EXPECT_EQ(pixelring::check_redirect(policy, param(link, "url"), param(link, "sig"),
                                        {.action = "newsletter"}, location, sizeof location)
                  .status,
              pixelring::redirect_status::bad_signature);
}

TEST(cli, sign_url_refuses_an_open_redirect_and_a_missing_secret) {
    auto evil = run_binary({"--set", secret, "sign-url", "https://good.example@evil.example/"});
    EXPECT_EQ(evil.exit_code, 2);
    EXPECT_NE(evil.err.find("good.example@evil.example"), std::string::npos) << evil.err;
    EXPECT_TRUE(evil.out.empty());
    auto none = run_binary({"sign-url", "https://shop.example.com/"});
    EXPECT_EQ(none.exit_code, 2);
    EXPECT_NE(none.err.find("sign-url needs redirect.secret"), std::string::npos) << none.err;
    auto no_url = run_binary({"--set", secret, "sign-url"});
    EXPECT_NE(no_url.exit_code, 0);
    EXPECT_NE(no_url.err.find("URL"), std::string::npos) << no_url.err;
}

TEST(cli, feature_keys_are_checked_at_start_up_naming_key_and_value) {
    REQUIRE_TESTDATA("geoip");
    struct bad {
        std::string set, expected;
    };
    const bad cases[] = {
        {"redirect.secret=short", "redirect.secret: expected at least 16 bytes"},
        {R"(redirect.allow_hosts=["https://good.example"])", "redirect.allow_hosts"},
        {"privacy.visitor_secret=short", "privacy.visitor_secret"},
        {R"(tracking.allowed_events=[""])", "tracking.allowed_events"},
        {"geoip.city_db=/nonexistent/city.mmdb", "geoip.city_db=\"/nonexistent/city.mmdb\""},
        {"geoip.asn_db=" + testdata_path("geoip/GeoIP2-City-Test.mmdb"), "geoip.asn_db"},
    };
    for (const auto& c : cases) {
        auto r = run_binary({"--set", c.set, "--check-config"});
        EXPECT_EQ(r.exit_code, 2) << c.set;
        EXPECT_NE(r.err.find("configuration error: " + c.expected), std::string::npos)
            << c.set << "\n"
            << r.err;
    }
    auto good = run_binary(
        {"--set", "geoip.city_db=" + testdata_path("geoip/GeoIP2-City-Test.mmdb"), "--set",
         "geoip.asn_db=" + testdata_path("geoip/GeoLite2-ASN-Test.mmdb"), "--set",
         R"(server.trusted_proxies=["10.0.0.0/8", "::1/128"])", "--set", secret, "--check-config"});
    EXPECT_EQ(good.exit_code, 0) << good.err;
}
