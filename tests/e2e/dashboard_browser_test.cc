// The dashboard as an operator sees it. Against the real binary on loopback with
// DASHBOARD_USER and DASHBOARD_PASSWORD set: /dashboard and /stats.json ask for credentials
// (401 with a Basic challenge) while /metrics, /healthz and /readyz stay open; wrong
// credentials are counted. Then headless Chromium (driven over the DevTools protocol) opens
// /dashboard, answers the browser's credential prompt, and the page must show the totals of
// the events sent, update live when more arrive, and list the top campaign; a screenshot is
// saved (DASHBOARD_SCREENSHOT, else dashboard.png in the working directory). The browser part
// exits 77 (skipped) without Chromium. With admin.dashboard = false both pages answer 403.

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "tests/support/browser_support.hh"
#include "tests/support/e2e_client.hh"
#include "tests/support/json_reader.hh"
#include "tests/support/metrics_scrape.hh"

using namespace pixelring::test;

namespace {

constexpr const char* user = "ann";
constexpr const char* password = "correct horse:battery";

std::string base64(const std::string& in) {
    static const char* digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const uint32_t v =
            uint32_t(uint8_t(in[i])) << 16 | uint32_t(uint8_t(in[i + 1])) << 8 | uint8_t(in[i + 2]);
        for (int s = 18; s >= 0; s -= 6)
            out += digits[(v >> s) & 63];
    }
    if (i < in.size()) {
        uint32_t v = uint32_t(uint8_t(in[i])) << 16;
        if (i + 1 < in.size()) v |= uint32_t(uint8_t(in[i + 1])) << 8;
        out += digits[(v >> 18) & 63];
        out += digits[(v >> 12) & 63];
        out += i + 1 < in.size() ? digits[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

std::vector<uint8_t> unbase64(const std::string& in) {
    std::vector<uint8_t> out;
    uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        int v;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '+')
            v = 62;
        else if (c == '/')
            v = 63;
        else
            continue;
        acc = acc << 6 | uint32_t(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(uint8_t(acc >> bits));
        }
    }
    return out;
}

http_response admin_request(int port, const std::string& path, const std::string& auth = "") {
    connection c(port);
    std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
    if (!auth.empty()) req += "Authorization: " + auth + "\r\n";
    c.send_all(req + "\r\n");
    const auto raw = c.read_responses(1);
    return raw.empty() ? http_response{} : parse_response(raw[0]);
}

int status_of(int port, const std::string& target, const std::vector<std::string>& headers = {},
              const std::string& method = "GET", const std::string& body = "") {
    connection c(port);
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: px.example\r\n";
    for (const auto& h : headers)
        req += h + "\r\n";
    if (!body.empty())
        req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
               "\r\n";
    c.send_all(req + "\r\n" + body);
    const auto raw = c.read_responses(1);
    return raw.empty() ? 0 : parse_response(raw[0]).status;
}

// Sends pixels campaigns x counts, beacons and REST hits; returns how many events.
struct sent {
    int pixel = 0, beacon = 0, rest = 0, redirect = 0;
    int all() const { return pixel + beacon + rest + redirect; }
};

void send_events(int port, int spring, int autumn, int beacons, int rests, int redirects,
                 sent& total) {
    const std::string ua = "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 "
                           "Firefox/128.0";
    for (int i = 0; i < spring; ++i)
        ASSERT_EQ(status_of(port, "/track/open.gif?campaignID=spring",
                            {ua, "Referer: https://shop.example/cart"}),
                  200);
    for (int i = 0; i < autumn; ++i)
        ASSERT_EQ(status_of(port, "/track/click.gif?campaignID=autumn", {ua}), 200);
    for (int i = 0; i < beacons; ++i)
        ASSERT_EQ(status_of(port, "/e", {ua}, "POST",
                            R"({"action":"scroll","url":"https://shop.example/cart",)"
                            R"("referrer":"https://search.example/?q=px"})"),
                  204);
    for (int i = 0; i < rests; ++i)
        ASSERT_EQ(status_of(port, "/tr/v1/action/signup/campaign/spring", {ua}), 204);
    for (int i = 0; i < redirects; ++i)
        ASSERT_EQ(
            status_of(port, "/r/go?url=https%3A%2F%2Fshop.example%2F&campaignID=spring", {ua}),
            302);
    total.pixel += spring + autumn;
    total.beacon += beacons;
    total.rest += rests;
    total.redirect += redirects;
}

collector_process start_collector() {
    return collector_process(
        {"redirect.allow_hosts=[\"shop.example\"]"},
        {std::string("DASHBOARD_USER=") + user, std::string("DASHBOARD_PASSWORD=") + password});
}

// Half a pair of credentials, or a user name basic auth cannot carry, is a configuration error
// naming the key.
TEST(dashboard, credentials_come_in_pairs) {
    run_result r = run_binary({"--set", "admin.user=ann", "--check-config"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("admin.user is set but admin.password is empty"), std::string::npos)
        << r.err;
    r = run_binary({"--check-config"}, {"DASHBOARD_PASSWORD=x"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("admin.password is set but admin.user is empty"), std::string::npos)
        << r.err;
    r = run_binary({"--set", "admin.user=a:b", "--set", "admin.password=x", "--check-config"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("admin.user = \"a:b\": a basic-auth user name cannot contain ':'"),
              std::string::npos)
        << r.err;
    r = run_binary({"--set", "admin.user=ann", "--set", "admin.password=x", "--check-config"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(dashboard, credentials_guard_the_dashboard_only) {
    collector_process px = start_collector();
    ASSERT_TRUE(px.started()) << px.stderr_text();
    EXPECT_NE(
        px.stderr_text().find("dashboard: http://127.0.0.1:" + std::to_string(px.admin_port()) +
                              "/dashboard, basic auth as admin.user \"ann\""),
        std::string::npos)
        << px.stderr_text();
    EXPECT_EQ(px.stderr_text().find("not implemented"), std::string::npos) << px.stderr_text();

    for (const char* path : {"/dashboard", "/stats.json"}) {
        const http_response r = admin_request(px.admin_port(), path);
        EXPECT_EQ(r.status, 401) << path;
        EXPECT_EQ(r.headers.count("www-authenticate") ? r.headers.at("www-authenticate") : "",
                  "Basic realm=\"pixelring dashboard\", charset=\"UTF-8\"")
            << path;
    }
    for (const char* path : {"/metrics", "/healthz", "/readyz"})
        EXPECT_EQ(admin_request(px.admin_port(), path).status, 200) << path;
    EXPECT_EQ(metric(px.admin_port(), "pixelring_admin_auth_failures_total"), 0);

    const std::string good = "Basic " + base64(std::string(user) + ":" + password);
    EXPECT_EQ(admin_request(px.admin_port(), "/dashboard", "Basic " + base64("ann:wrong")).status,
              401);
    EXPECT_EQ(admin_request(px.admin_port(), "/stats.json",
                            "Basic " + base64(std::string("bob:") + password))
                  .status,
              401);
    EXPECT_EQ(admin_request(px.admin_port(), "/dashboard", "Bearer abc").status, 401);
    EXPECT_EQ(metric(px.admin_port(), "pixelring_admin_auth_failures_total"), 3);

    const http_response page = admin_request(px.admin_port(), "/dashboard", good);
    ASSERT_EQ(page.status, 200);
    EXPECT_EQ(page.headers.at("content-type"), "text/html; charset=utf-8");
    EXPECT_NE(page.headers.at("content-security-policy").find("default-src 'none'"),
              std::string::npos);
    // Self-contained: nothing loaded from elsewhere, and small.
    EXPECT_EQ(page.body.find("src=\"http"), std::string::npos);
    EXPECT_EQ(page.body.find("@import"), std::string::npos);
    EXPECT_LT(page.body.size(), 32u * 1024);

    sent total;
    send_events(px.port(), 5, 2, 3, 1, 1, total);
    json_value stats;
    std::string error;
    ASSERT_TRUE(wait_for(
        [&] {
            const http_response r = admin_request(px.admin_port(), "/stats.json", good);
            stats = json_value{};
            return r.status == 200 && json_reader::parse(r.body, stats, error) &&
                   int(stats.get("totals")->get("all")->number) == total.all() &&
                   int(stats.get("sink")->get("written")->number) == total.all();
        },
        5000))
        << error << " " << admin_request(px.admin_port(), "/stats.json", good).body;
    const json_value& totals = *stats.get("totals");
    EXPECT_EQ(int(totals.get("pixel")->number), total.pixel);
    EXPECT_EQ(int(totals.get("beacon")->number), total.beacon);
    EXPECT_EQ(int(totals.get("rest")->number), total.rest);
    EXPECT_EQ(int(totals.get("redirect")->number), total.redirect);
    EXPECT_EQ(int(stats.get("last_hour")->get("all")->number), total.all());
    const json_value& campaigns = *stats.get("top")->get("campaigns")->get("hour");
    ASSERT_FALSE(campaigns.items.empty());
    EXPECT_EQ(campaigns.items[0].str("key"), "spring");
    EXPECT_EQ(int(campaigns.items[0].get("count")->number), 5 + 1 + 1); // pixels, rest, redirect
    EXPECT_EQ(stats.get("sink")->str("type"), "file");
    EXPECT_EQ(int(stats.get("sink")->get("written")->number), total.all());
    EXPECT_EQ(px.stop(), 0);
}

// admin.dashboard = false: /dashboard and /stats.json answer 403 naming the key, even with
// credentials set, and the start says so; /metrics, /healthz and /readyz stay open and events
// are still taken and written.
TEST(dashboard, off_when_admin_dashboard_is_false) {
    collector_process px(
        {"admin.dashboard=false", "redirect.allow_hosts=[\"shop.example\"]"},
        {std::string("DASHBOARD_USER=") + user, std::string("DASHBOARD_PASSWORD=") + password});
    ASSERT_TRUE(px.started()) << px.stderr_text();
    EXPECT_NE(px.stderr_text().find("dashboard: off: admin.dashboard is false; /metrics, "
                                    "/healthz and /readyz stay open"),
              std::string::npos)
        << px.stderr_text();
    const std::string good = "Basic " + base64(std::string(user) + ":" + password);
    for (const char* path : {"/dashboard", "/stats.json"}) {
        const http_response r = admin_request(px.admin_port(), path, good);
        EXPECT_EQ(r.status, 403) << path;
        EXPECT_EQ(r.body, "dashboard off: admin.dashboard is false\n") << path;
    }
    for (const char* path : {"/metrics", "/healthz", "/readyz"})
        EXPECT_EQ(admin_request(px.admin_port(), path).status, 200) << path;
    sent total;
    send_events(px.port(), 2, 1, 1, 1, 1, total);
    EXPECT_TRUE(wait_for(
        [&] {
            return metric(px.admin_port(), "pixelring_events_total{outcome=\"written\"}") ==
                   double(total.all());
        },
        5000));
    EXPECT_EQ(px.stop(), 0);
}

TEST(browser, dashboard_shows_the_totals_and_updates_live) {
    collector_process px = start_collector();
    ASSERT_TRUE(px.started()) << px.stderr_text();
    sent total;
    send_events(px.port(), 4, 3, 2, 1, 1, total);

    devtools_browser chrome({"--window-size=1280,1000"});
    ASSERT_TRUE(chrome.started()) << chrome.last_error() << chrome.log();
    // Every request of the page pauses in the Fetch domain: continue it, and answer the
    // credential prompt (the 401's challenge) as a user would.
    int challenges = 0, continued = 0;
    std::string challenge_scheme, challenge_realm;
    chrome.on_event = [&](const json_value& e) {
        const std::string method = e.str("method");
        const json_value* params = e.get("params");
        if (!params) return;
        if (method == "Fetch.requestPaused") {
            ++continued;
            chrome.send("Fetch.continueRequest",
                        R"({"requestId":")" + params->str("requestId") + "\"}");
        } else if (method == "Fetch.authRequired") {
            ++challenges;
            if (const json_value* c = params->get("authChallenge")) {
                challenge_scheme = c->str("scheme");
                challenge_realm = c->str("realm");
            }
            chrome.send("Fetch.continueWithAuth",
                        R"({"requestId":")" + params->str("requestId") +
                            R"(","authChallengeResponse":{"response":"ProvideCredentials",)"
                            R"("username":")" +
                            user + R"(","password":")" + password + "\"}}");
        }
    };
    chrome.call("Fetch.enable", R"({"handleAuthRequests":true,"patterns":[{"urlPattern":"*"}]})");
    const std::string url = "http://127.0.0.1:" + std::to_string(px.admin_port()) + "/dashboard";
    chrome.call("Page.navigate", R"({"url":")" + url + "\"}");

    auto text = [&](const std::string& id) {
        const json_value r = chrome.call(
            "Runtime.evaluate", R"({"expression":"(document.getElementById(')" + id +
                                    R"(') || {}).textContent || ''","returnByValue":true})");
        const json_value* inner = r.get("result");
        return inner ? inner->str("value") : std::string();
    };
    auto updates = [&] {
        const std::string n = [&] {
            const json_value r = chrome.call(
                "Runtime.evaluate",
                R"({"expression":"document.body ? (document.body.dataset.updates || '0') : '0'","returnByValue":true})");
            const json_value* inner = r.get("result");
            return inner ? inner->str("value") : std::string("0");
        }();
        return std::atoi(n.c_str());
    };
    auto shows = [&](const sent& t) {
        chrome.pump(200);
        return text("total-all") == std::to_string(t.all()) &&
               text("total-pixel") == std::to_string(t.pixel) &&
               text("total-beacon") == std::to_string(t.beacon) &&
               text("total-rest") == std::to_string(t.rest) &&
               text("total-redirect") == std::to_string(t.redirect);
    };
    ASSERT_TRUE(wait_for([&] { return shows(total); }, 15000))
        << "page shows all=" << text("total-all") << " pixel=" << text("total-pixel")
        << " error=" << text("error") << "\n"
        << chrome.log();
    EXPECT_EQ(challenges, 1); // once for the page; stats.json rides on the same credentials
    EXPECT_EQ(challenge_scheme, "basic");
    EXPECT_EQ(challenge_realm, "pixelring dashboard");
    EXPECT_GE(continued, 2);
    EXPECT_EQ(text("hour-all"), std::to_string(total.all()));
    EXPECT_EQ(text("error"), "");

    // Live: more events while the page is open; the next poll shows them.
    const int before = updates();
    send_events(px.port(), 6, 0, 1, 0, 0, total);
    ASSERT_TRUE(wait_for([&] { return shows(total); }, 15000))
        << "page shows all=" << text("total-all") << ", sent " << total.all();
    EXPECT_GT(updates(), before);
    const json_value top = chrome.call(
        "Runtime.evaluate",
        R"({"expression":"document.querySelector('#top-campaigns tr td').textContent","returnByValue":true})");
    ASSERT_NE(top.get("result"), nullptr);
    EXPECT_EQ(top.get("result")->str("value"), "spring");

    const json_value shot = chrome.call("Page.captureScreenshot", R"({"format":"png"})");
    const std::vector<uint8_t> png = unbase64(shot.str("data"));
    ASSERT_GT(png.size(), 1000u) << chrome.last_error();
    const char* where = std::getenv("DASHBOARD_SCREENSHOT");
    std::ofstream(where ? where : "dashboard.png", std::ios::binary)
        .write(reinterpret_cast<const char*>(png.data()), std::streamsize(png.size()));
    EXPECT_EQ(px.stop(), 0);
}

} // namespace

int main(int argc, char** argv) {
    testing::InitGoogleTest(&argc, argv);
    const bool have_browser = chromium_path() != nullptr;
    if (!have_browser) {
        std::fprintf(stderr, "chromium is not installed: the browser test is skipped\n");
        GTEST_FLAG_SET(filter, "-browser.*");
    }
    const int rc = RUN_ALL_TESTS();
    return rc == 0 && !have_browser ? 77 : rc;
}
