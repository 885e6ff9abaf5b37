// The tracker script end to end: the real collector serves /t.js; a page on another loopback
// origin (a small server in this test, as a real site would be) includes it; headless
// Chromium (Debian's chromium) loads the page; the beacons it sends must arrive in the
// events file. Also the script's HTTP caching (ETag, If-None-Match, 304).
// Exits 77 (skipped) when Chromium is not installed, after the tests that need no browser.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "net/http/tracker_script.hh"
#include "tests/support/browser_support.hh"
#include "tests/support/e2e_events.hh"

using namespace pixelring::test;

namespace {

std::string events_text(const std::vector<json_value>& events) {
    std::string s;
    for (const auto& e : events)
        s += e.str("action") + " url=" + e.str("url") + " referrer=" + e.str("referrer") + "\n";
    return s;
}

std::string page(int collector_port, const std::string& before, const std::string& after_load) {
    return "<!doctype html><html><head><title>pixelring</title><script>" + before +
           "</script>\n<script src=\"http://127.0.0.1:" + std::to_string(collector_port) +
           "/t.js\" data-campaign=\"example.com\"></script>\n</head><body><script>\n"
           "addEventListener('load', function () {\n" +
           after_load + "\n});\n</script></body></html>\n";
}

} // namespace

TEST(tracker_http, script_is_small_cacheable_and_revalidates_with_304) {
    collector_process p;
    ASSERT_TRUE(p.started()) << p.stderr_text();
    connection c(p.port());
    ASSERT_TRUE(c.ok());
    c.send_all("GET /t.js HTTP/1.1\r\nHost: px.example.com\r\n\r\n");
    auto raw = c.read_responses(1);
    ASSERT_EQ(raw.size(), 1u);
    http_response r = parse_response(raw[0]);
    ASSERT_EQ(r.status, 200) << raw[0];
    EXPECT_LT(r.body.size(), 1024u);
    EXPECT_EQ(r.body, pixelring::tracker_script());
    EXPECT_EQ(r.headers["content-type"], "text/javascript; charset=utf-8");
    EXPECT_EQ(r.headers["cache-control"], "public, max-age=86400");
    std::string etag = r.headers["etag"];
    EXPECT_EQ(etag, pixelring::tracker_etag());
    EXPECT_EQ(r.headers.count("pragma"), 0u);
    EXPECT_EQ(r.headers.count("cdn-cache-control"), 0u);

    // Revalidation on the same keep-alive connection: the tag, W/ the tag, a list with it.
    for (const std::string& inm : {etag, "W/" + etag, "\"other\", " + etag, std::string("*")}) {
        c.send_all("GET /t.js HTTP/1.1\r\nHost: px.example.com\r\nIf-None-Match: " + inm +
                   "\r\n\r\n");
        raw = c.read_responses(1);
        ASSERT_EQ(raw.size(), 1u) << inm;
        r = parse_response(raw[0]);
        EXPECT_EQ(r.status, 304) << inm << "\n" << raw[0];
        EXPECT_TRUE(r.body.empty());
        EXPECT_EQ(r.headers["etag"], etag);
        EXPECT_EQ(r.headers["cache-control"], "public, max-age=86400");
    }
    // Another tag: the script again.
    c.send_all("GET /t.js HTTP/1.1\r\nHost: px.example.com\r\nIf-None-Match: \"0000000000000000\""
               "\r\n\r\n");
    raw = c.read_responses(1);
    ASSERT_EQ(raw.size(), 1u);
    r = parse_response(raw[0]);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, pixelring::tracker_script());
    // HEAD: the head alone.
    c.send_all("HEAD /t.js HTTP/1.1\r\nHost: px.example.com\r\n\r\n");
    raw = c.read_responses(1, true);
    ASSERT_EQ(raw.size(), 1u);
    r = parse_response(raw[0]);
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(r.body.empty());
    EXPECT_EQ(r.headers["etag"], etag);
    // Serving the script is not a hit.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_TRUE(read_lines(p.events_path()).empty());
}

TEST(browser, pageviews_on_load_pushstate_and_popstate_and_a_custom_event) {
    collector_process p;
    ASSERT_TRUE(p.started()) << p.stderr_text();
    // After load: a pushState (a pageview), a replaceState (none), a custom event, then
    // back (popstate: a pageview of the first URL), then a marker fetch.
    page_server site({{"/page.html", page(p.port(), "",
                                          "history.pushState({}, '', '/next');\n"
                                          "history.replaceState({}, '', '/next?step=2');\n"
                                          "window.pixelring('signup', {plan: 'pro', n: 3});\n"
                                          "addEventListener('popstate', function () {\n"
                                          "  setTimeout(function () { fetch('/done'); }, 0); });\n"
                                          "history.back();")}});
    ASSERT_GT(site.port(), 0);
    std::string origin = site.origin();
    browser b(origin + "/page.html");
    ASSERT_TRUE(b.started());

    // Four beacons; they may reach the file in any order (each is its own request, and the
    // two workers drain separately).
    std::vector<json_value> ev;
    wait_for(
        [&] {
            ev = read_events(p.events_path());
            return ev.size() >= 4 && site.requested("/done");
        },
        15000);
    EXPECT_TRUE(site.requested("/page.html"));
    EXPECT_TRUE(site.requested("/done")) << "the page's script did not run to its end";
    std::this_thread::sleep_for(std::chrono::milliseconds(500)); // any extra beacon arrives
    ev = read_events(p.events_path());
    ASSERT_EQ(ev.size(), 4u) << events_text(ev) << p.stderr_text();

    // The event with this action, url and referrer ("<null>" for null), or nullptr.
    auto find = [&](const std::string& action, const std::string& url,
                    const std::string& referrer) -> const json_value* {
        for (const auto& e : ev)
            if (e.str("action") == action && e.str("url") == url && e.str("referrer") == referrer)
                return &e;
        return nullptr;
    };
    for (const auto& e : ev) {
        EXPECT_EQ(e.str("type"), "beacon");
        EXPECT_EQ(e.str("campaign"), "example.com");
    }
    std::string first = origin + "/page.html";
    // On load, opened directly: no referrer.
    const json_value* load = find("pageview", first, "<null>");
    // pushState: the previous URL is the referrer.
    const json_value* next = find("pageview", origin + "/next", first);
    // history.back(): a pageview of the first page, from the URL replaceState left.
    const json_value* back = find("pageview", first, origin + "/next?step=2");
    const json_value* signup = nullptr;
    for (const auto& e : ev)
        if (e.str("action") == "signup" && e.str("url") == origin + "/next?step=2") signup = &e;
    ASSERT_TRUE(load && next && back && signup) << events_text(ev);
    EXPECT_EQ(load->str("path"), "/page.html");
    EXPECT_EQ(next->str("path"), "/next");
    ASSERT_TRUE(signup->has("params")) << events_text(ev);
    const json_value* params = signup->get("params");
    EXPECT_EQ(params->str("plan"), "pro");
    ASSERT_TRUE(params->has("n"));
    EXPECT_EQ(params->get("n")->kind, json_value::string_t);
    EXPECT_EQ(params->str("n"), "3");
    EXPECT_EQ(params->members.size(), 2u);
}

TEST(browser, global_privacy_control_sends_nothing) {
    collector_process p;
    ASSERT_TRUE(p.started()) << p.stderr_text();
    // The page turns GPC on before the script runs, as a browser with it switched on would.
    page_server site(
        {{"/gpc.html", page(p.port(),
                            "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', "
                            "{get: function () { return true; }});",
                            "history.pushState({}, '', '/gpc-next');\n"
                            "window.pixelring('signup', {plan: 'pro'});\n"
                            "fetch('/done?gpc=' + navigator.globalPrivacyControl + '&api=' + "
                            "typeof window.pixelring);")}});
    ASSERT_GT(site.port(), 0);
    browser b(site.origin() + "/gpc.html");
    ASSERT_TRUE(b.started());
    // The marker proves the script ran (it defined window.pixelring) with GPC on.
    EXPECT_TRUE(wait_for([&] { return site.requested("/done?gpc=true&api=function"); }, 15000));
    std::this_thread::sleep_for(std::chrono::milliseconds(1000)); // time for any stray beacon
    EXPECT_EQ(read_events(p.events_path()).size(), 0u) << events_text(read_events(p.events_path()));
}

int main(int argc, char** argv) {
    testing::InitGoogleTest(&argc, argv);
    bool have_browser = chromium_path() != nullptr;
    if (!have_browser) {
        std::fprintf(stderr, "chromium is not installed: the browser tests are skipped\n");
        GTEST_FLAG_SET(filter, "-browser.*");
    }
    int rc = RUN_ALL_TESTS();
    return rc == 0 && !have_browser ? 77 : rc;
}
