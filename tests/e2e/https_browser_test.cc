// HTTPS in a real browser: headless Chromium (Debian's chromium) opens an https page of a web
// site (a small TLS page server in this test) that embeds pixelring's pixel and its tracker
// script from pixelring's HTTPS listener; the pixel and the script's beacons must arrive in
// the events file. Both servers use certificates from a CA made in the test, which Chromium
// trusts by their public keys (--ignore-certificate-errors-spki-list), so a certificate
// pixelring does not serve properly fails the page's loads; a resolver rule sends the names
// px.example and shop.example to 127.0.0.1. Exits 77 (skipped) when Chromium is missing.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/browser_support.hh"
#include "tests/support/e2e_events.hh"
#include "tests/support/metrics_scrape.hh"
#include "tests/support/temp_dir.hh"
#include "tests/support/tls_test_certs.hh"

using namespace pixelring::test;

namespace {

// The port of the collector's HTTPS listener, from its start line; 0 when not there.
int tls_port_of(const collector_process& p) {
    std::smatch m;
    const std::string text = p.stderr_text();
    return std::regex_search(text, m, std::regex(R"( https 127\.0\.0\.1:(\d+) admin )"))
               ? std::stoi(m[1])
               : 0;
}

std::string events_text(const std::vector<json_value>& events) {
    std::string s;
    for (const auto& e : events)
        s += e.str("type") + " " + e.str("action") + " campaign=" + e.str("campaign") +
             " host=" + e.str("host") + " url=" + e.str("url") + " referrer=" + e.str("referrer") +
             "\n";
    return s;
}

// The site's page: the tracker script and the pixel from pixelring over https, and the same
// pixel over plain http (mixed content: an https page must not load it). After load, a custom
// event, then a marker fetch that reports the page's scheme and the two images' widths.
std::string https_page(int tls_port, int plain_port) {
    const std::string px = "https://px.example:" + std::to_string(tls_port);
    return "<!doctype html><html><head><title>pixelring over https</title>\n"
           "<script src=\"" +
           px +
           "/t.js\" data-campaign=\"shop.example\"></script>\n"
           "</head><body>\n<img id=\"pixel\" src=\"" +
           px +
           "/track/open.gif?campaignID=tls-page\">\n"
           "<img id=\"mixed\" src=\"http://px.example:" +
           std::to_string(plain_port) +
           "/track/open.gif?campaignID=mixed\">\n"
           "<script>\naddEventListener('load', function () {\n"
           "  window.pixelring('signup', {plan: 'pro'});\n"
           "  fetch('/done?proto=' + location.protocol + '&pixel=' +\n"
           "        document.getElementById('pixel').naturalWidth + '&mixed=' +\n"
           "        document.getElementById('mixed').naturalWidth);\n"
           "});\n</script></body></html>\n";
}

} // namespace

TEST(https_browser, an_https_page_gets_the_pixel_and_the_script_from_pixelring_over_https) {
    if (!chromium_path()) GTEST_SKIP() << "chromium is not installed";
    temp_dir certs("pixelring-https-browser");
    test_ca ca(certs.str());
    const issued_certificate px = ca.issue("px", {"px.example"});
    const issued_certificate shop = ca.issue("shop", {"shop.example"});
    collector_process p(
        {"server.tls_listen=127.0.0.1:0", "tls.cert=" + px.chain, "tls.key=" + px.key});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    const int tls_port = tls_port_of(p);
    ASSERT_GT(tls_port, 0) << p.stderr_text();

    page_server site({{"/page.html", https_page(tls_port, p.port())}}, shop.chain, shop.key);
    ASSERT_GT(site.port(), 0);
    const std::string origin = "https://shop.example:" + std::to_string(site.port());
    const std::string px_spki = spki_sha256_base64(px.chain);
    const std::string shop_spki = spki_sha256_base64(shop.chain);
    ASSERT_EQ(px_spki.size(), 44u);
    browser b(origin + "/page.html",
              {"--host-resolver-rules=MAP px.example 127.0.0.1, MAP shop.example 127.0.0.1",
               "--ignore-certificate-errors-spki-list=" + px_spki + "," + shop_spki});
    ASSERT_TRUE(b.started());

    // The page ran to its end over https, the https pixel showed (a 1x1 GIF), the http one
    // did not.
    const std::string done = "/done?proto=https:&pixel=1&mixed=0";
    std::vector<json_value> ev;
    wait_for(
        [&] {
            ev = read_events(p.events_path());
            return ev.size() >= 3 && site.requested(done);
        },
        20000);
    EXPECT_TRUE(site.requested("/page.html")) << b.log();
    EXPECT_TRUE(site.requested(done)) << "no marker " << done << "\n" << b.log();
    std::this_thread::sleep_for(std::chrono::milliseconds(500)); // any extra event arrives
    ev = read_events(p.events_path());
    // The pixel, the pageview and the custom event; nothing of the http pixel.
    ASSERT_EQ(ev.size(), 3u) << events_text(ev) << p.stderr_text();

    const std::string host = "px.example:" + std::to_string(tls_port);
    const json_value* pixel = nullptr;
    const json_value* pageview = nullptr;
    const json_value* signup = nullptr;
    for (const auto& e : ev) {
        EXPECT_EQ(e.str("host"), host) << events_text(ev);
        EXPECT_NE(e.str("ua").find("Chrome/"), std::string::npos) << e.str("ua");
        if (e.str("type") == "pixel") pixel = &e;
        if (e.str("type") == "beacon" && e.str("action") == "pageview") pageview = &e;
        if (e.str("type") == "beacon" && e.str("action") == "signup") signup = &e;
    }
    ASSERT_TRUE(pixel && pageview && signup) << events_text(ev);
    EXPECT_EQ(pixel->str("campaign"), "tls-page");
    EXPECT_EQ(pixel->str("action"), "open");
    // The pixel's url is its Referer: Chromium's default policy sends the page's origin to
    // another site, https://..., so the page was https.
    EXPECT_EQ(pixel->str("url"), origin + "/") << events_text(ev);
    EXPECT_EQ(pageview->str("campaign"), "shop.example");
    EXPECT_EQ(pageview->str("url"), origin + "/page.html");
    EXPECT_EQ(signup->str("url"), origin + "/page.html");
    ASSERT_TRUE(signup->has("params")) << events_text(ev);
    EXPECT_EQ(signup->get("params")->str("plan"), "pro");
    // The script, the pixel and both beacons came over the HTTPS listener.
    EXPECT_EQ(requests(p, "script", 200), 1);
    EXPECT_EQ(requests(p, "pixel", 200), 1);
    EXPECT_EQ(metric(p, "pixelring_tls_handshakes_total{result=\"failed\"}"), 0);
}

int main(int argc, char** argv) {
    testing::InitGoogleTest(&argc, argv);
    const int rc = RUN_ALL_TESTS();
    if (rc == 0 && !chromium_path()) {
        std::fprintf(stderr, "chromium is not installed: the browser test is skipped\n");
        return 77;
    }
    return rc;
}
