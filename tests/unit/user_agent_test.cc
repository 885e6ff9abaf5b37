// Tests of agent classification (core/enrich/user_agent.hh): the bot and browser corpora of
// ../shared/testdata/ua (the bar: at least 99% of bots.json labelled bot, none of
// browsers.json), browser/os/device of current browsers, each mail proxy, scanner and prefetch
// rule, precedence, edge cases, and the cost per call.

#include "core/enrich/user_agent.hh"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/guarded_memory.hh"
#include "tests/support/json_reader.hh"
#include "tests/support/testdata.hh"

namespace pixelring {
namespace {

std::vector<std::string> read_corpus(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in) << "cannot open " << path << " (tests run from the source root)";
    std::stringstream ss;
    ss << in.rdbuf();
    test::json_value doc;
    std::string error;
    EXPECT_TRUE(test::json_reader::parse(ss.str(), doc, error)) << path << ": " << error;
    std::vector<std::string> out;
    EXPECT_EQ(doc.kind, test::json_value::array_t) << path;
    for (const auto& item : doc.items) {
        EXPECT_EQ(item.kind, test::json_value::string_t) << path;
        out.push_back(item.text);
    }
    return out;
}

agent_info classify_ua(std::string_view ua) {
    agent_signals s;
    s.user_agent = ua;
    return classify_agent(s);
}

// ---- corpora -----------------------------------------------------------------------------

TEST(user_agent_corpus, bots_are_labelled_bot) {
    REQUIRE_TESTDATA("ua");
    const auto bots = read_corpus(test::testdata_path("ua/bots.json"));
    ASSERT_GT(bots.size(), 1000u);
    size_t counts[5] = {};
    for (const auto& ua : bots) {
        const agent_info a = classify_ua(ua);
        ++counts[static_cast<int>(a.label)];
        if (a.label == agent_label::browser)
            std::printf("  labelled browser: %s\n", ua.c_str());
        else if (a.label != agent_label::bot)
            std::printf("  labelled %s: %s\n", std::string(to_string(a.label)).c_str(), ua.c_str());
    }
    const auto count = [&](agent_label label) { return counts[static_cast<int>(label)]; };
    const double total = static_cast<double>(bots.size());
    const double bot_share = count(agent_label::bot) / total;
    const double non_browser = 1.0 - count(agent_label::browser) / total;
    std::printf("bots.json: %zu entries; bot %zu, mail_proxy %zu, scanner %zu, browser %zu\n"
                "bot-only share %.2f%%, non-browser share %.2f%%\n",
                bots.size(), count(agent_label::bot), count(agent_label::mail_proxy),
                count(agent_label::scanner), count(agent_label::browser), 100 * bot_share,
                100 * non_browser);
    // bots.json also holds Gmail's and Yahoo's image proxies and URL scanners; those carry
    // their own, more specific labels. Both shares are asserted.
    EXPECT_GE(non_browser, 0.99);
    EXPECT_GE(bot_share, 0.99);
    EXPECT_EQ(count(agent_label::prefetch), 0u);
}

TEST(user_agent_corpus, no_browser_is_labelled_otherwise) {
    REQUIRE_TESTDATA("ua");
    const auto browsers = read_corpus(test::testdata_path("ua/browsers.json"));
    ASSERT_GE(browsers.size(), 50u);
    size_t misses = 0;
    for (const auto& ua : browsers) {
        const agent_info a = classify_ua(ua);
        if (a.label != agent_label::browser) {
            ++misses;
            std::printf("  labelled %s: %s\n", std::string(to_string(a.label)).c_str(), ua.c_str());
        }
        // Every entry names its platform, so each gets an OS and a human device kind.
        EXPECT_FALSE(a.os.empty()) << ua;
        EXPECT_NE(a.device, device_kind::bot) << ua;
        EXPECT_NE(a.device, device_kind::unknown) << ua;
    }
    EXPECT_EQ(misses, 0u);
}

TEST(user_agent_corpus, cost_per_call) {
    REQUIRE_TESTDATA("ua");
    const auto browsers = read_corpus(test::testdata_path("ua/browsers.json"));
    ASSERT_FALSE(browsers.empty());
    // The best of several batches: the machine is shared, and the best batch is the one least
    // disturbed by other work.
    constexpr int batches = 15, rounds = 200;
    unsigned sink = 0;
    double best = 1e18, total = 0;
    for (int b = 0; b < batches; ++b) {
        const auto t0 = std::chrono::steady_clock::now();
        for (int r = 0; r < rounds; ++r)
            for (const auto& ua : browsers) {
                const agent_info a = classify_agent({.user_agent = ua}, false);
                sink += static_cast<unsigned>(a.device) + static_cast<unsigned>(a.browser.size());
            }
        const double ns =
            std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0)
                .count() /
            (static_cast<double>(rounds) * static_cast<double>(browsers.size()));
        best = std::min(best, ns);
        total += ns;
    }
    std::printf("classify_agent: %.0f ns per User-Agent over browsers.json (best batch; mean "
                "%.0f ns; checksum %u)\n",
                best, total / batches, sink);
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    // Target is well under 500 ns; the bound leaves room for a busy shared machine.
    EXPECT_LT(best, 1000.0);
#endif
}

TEST(user_agent_corpus, the_cache_gives_the_same_answers) {
    REQUIRE_TESTDATA("ua");
    auto all = read_corpus(test::testdata_path("ua/bots.json"));
    for (auto& ua : read_corpus(test::testdata_path("ua/browsers.json")))
        all.push_back(ua);
    all.push_back(std::string(300, 'a')); // longer than the cached size
    ASSERT_GT(all.size(), 256u);          // more than the cache holds: entries are replaced
    for (int pass = 0; pass < 3; ++pass) {
        for (const auto& ua : all) {
            for (bool relay : {false, true}) {
                agent_signals s;
                s.user_agent = ua;
                s.apple_private_relay = relay;
                const agent_info fresh = classify_agent(s, false);
                const agent_info cached = classify_agent(s);
                EXPECT_EQ(cached.label, fresh.label) << ua;
                EXPECT_EQ(cached.browser, fresh.browser) << ua;
                EXPECT_EQ(cached.os, fresh.os) << ua;
                EXPECT_EQ(cached.device, fresh.device) << ua;
            }
        }
    }
    // No User-Agent at all (a view without data, as for a request without the field), twice:
    // the second answer comes from the cache.
    for (int i = 0; i < 2; ++i) {
        const agent_info none = classify_agent(agent_signals{});
        EXPECT_EQ(none.label, agent_label::bot);
        EXPECT_EQ(none.device, device_kind::bot);
    }
    // A prefix of a cached User-Agent is another User-Agent.
    agent_signals full;
    full.user_agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
                      "Gecko) Chrome/131.0.0.0 Safari/537.36";
    EXPECT_EQ(classify_agent(full).browser, "Chrome");
    agent_signals cut;
    cut.user_agent = full.user_agent.substr(0, 7); // "Mozilla"
    EXPECT_EQ(classify_agent(cut).label, classify_agent(cut, false).label);
    EXPECT_EQ(classify_agent(cut).browser, classify_agent(cut, false).browser);
}

// ---- browser, os, device ----------------------------------------------------------------

struct platform_case {
    const char* ua;
    const char* browser;
    const char* os;
    device_kind device;
};

TEST(user_agent_platform, current_browsers) {
    const platform_case cases[] = {
        {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/131.0.0.0 Safari/537.36",
         "Chrome", "Windows", device_kind::desktop},
        {"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
         "Firefox", "Windows", device_kind::desktop},
        {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86",
         "Edge", "Windows", device_kind::desktop},
        {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0",
         "Opera", "Windows", device_kind::desktop},
        {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
         "Gecko) Version/18.2 Safari/605.1.15",
         "Safari", "macOS", device_kind::desktop},
        {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like "
         "Gecko) Chrome/131.0.0.0 Safari/537.36",
         "Chrome", "macOS", device_kind::desktop},
        {"Mozilla/5.0 (Macintosh; Intel Mac OS X 14.7; rv:133.0) Gecko/20100101 Firefox/133.0",
         "Firefox", "macOS", device_kind::desktop},
        {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like "
         "Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
         "Edge", "macOS", device_kind::desktop},
        {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/131.0.0.0 Safari/537.36",
         "Chrome", "Linux", device_kind::desktop},
        {"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
         "Firefox", "Linux", device_kind::desktop},
        {"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/131.0.0.0 Safari/537.36",
         "Chrome", "ChromeOS", device_kind::desktop},
        {"Mozilla/5.0 (iPhone; CPU iPhone OS 18_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
         "like Gecko) Version/18.2 Mobile/15E148 Safari/604.1",
         "Safari", "iOS", device_kind::mobile},
        {"Mozilla/5.0 (iPhone; CPU iPhone OS 18_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
         "like Gecko) CriOS/131.0.6778.134 Mobile/15E148 Safari/604.1",
         "Chrome", "iOS", device_kind::mobile},
        {"Mozilla/5.0 (iPhone; CPU iPhone OS 18_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
         "like Gecko) FxiOS/133.0 Mobile/15E148 Safari/605.1.15",
         "Firefox", "iOS", device_kind::mobile},
        {"Mozilla/5.0 (iPhone; CPU iPhone OS 18_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
         "like Gecko) Version/18.0 EdgiOS/131.2903.92 Mobile/15E148 Safari/605.1.15",
         "Edge", "iOS", device_kind::mobile},
        // iPad, and Android tablets without "Mobile".
        {"Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
         "Gecko) Version/17.7 Mobile/15E148 Safari/604.1",
         "Safari", "iPadOS", device_kind::tablet},
        {"Mozilla/5.0 (iPad; CPU OS 18_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
         "Gecko) CriOS/131.0.6778.134 Mobile/15E148 Safari/604.1",
         "Chrome", "iPadOS", device_kind::tablet},
        {"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/131.0.0.0 Mobile Safari/537.36",
         "Chrome", "Android", device_kind::mobile},
        {"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/131.0.0.0 Safari/537.36",
         "Chrome", "Android", device_kind::tablet},
        {"Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
         "SamsungBrowser/26.0 Chrome/122.0.0.0 Safari/537.36",
         "Samsung Internet", "Android", device_kind::tablet},
        {"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
         "SamsungBrowser/27.0 Chrome/125.0.0.0 Mobile Safari/537.36",
         "Samsung Internet", "Android", device_kind::mobile},
        {"Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0", "Firefox",
         "Android", device_kind::mobile},
        {"Mozilla/5.0 (Android 14; Tablet; rv:133.0) Gecko/133.0 Firefox/133.0", "Firefox",
         "Android", device_kind::tablet},
        {"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/131.0.0.0 Mobile Safari/537.36 EdgA/131.0.0.0",
         "Edge", "Android", device_kind::mobile},
        {"Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Silk/131.4.1 like Chrome/131.0.6778.135 Safari/537.36",
         "Silk", "Android", device_kind::tablet},
        // A Cubot phone: "bot" inside a model name is not a bot.
        {"Mozilla/5.0 (Linux; Android 11; CUBOT_X50) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/131.0.0.0 Mobile Safari/537.36",
         "Chrome", "Android", device_kind::mobile},
        // Mail clients that load images themselves (the reader's own device).
        {"Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)", "Outlook",
         "Windows", device_kind::desktop},
        {"Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 10.0; WOW64; Trident/7.0; .NET4.0C; "
         "Microsoft Outlook 16.0.5257; ms-office; MSOffice 16)",
         "Outlook", "Windows", device_kind::desktop},
        {"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.5.0",
         "Thunderbird", "Linux", device_kind::desktop},
        {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
         "Gecko)",
         "Apple Mail", "macOS", device_kind::desktop},
        {"Mozilla/5.0 (iPhone; CPU iPhone OS 18_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
         "like Gecko) Mobile/15E148",
         "Apple Mail", "iOS", device_kind::mobile},
    };
    for (const auto& c : cases) {
        const agent_info a = classify_ua(c.ua);
        EXPECT_EQ(a.label, agent_label::browser) << c.ua;
        EXPECT_EQ(a.browser, c.browser) << c.ua;
        EXPECT_EQ(a.os, c.os) << c.ua;
        EXPECT_EQ(to_string(a.device), to_string(c.device)) << c.ua;
    }
}

TEST(user_agent_platform, bots_have_device_bot) {
    const char* bots[] = {
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, "
        "like Gecko) Chrome/131.0.6778.139 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
        "+http://www.google.com/bot.html)",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; "
        "+http://www.bing.com/bingbot.htm) Chrome/131.0.0.0 Safari/537.36",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/131.0.0.0 Safari/537.36",
        "curl/8.11.1",
        "python-requests/2.32.3",
        "Go-http-client/2.0",
        "Wget/1.21.4",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "Microsoft Office Existence Discovery",
        "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    };
    for (const char* ua : bots) {
        const agent_info a = classify_ua(ua);
        EXPECT_EQ(a.label, agent_label::bot) << ua;
        EXPECT_EQ(a.device, device_kind::bot) << ua;
        EXPECT_TRUE(a.browser.empty()) << ua;
        EXPECT_TRUE(a.os.empty()) << ua;
    }
}

// ---- mail proxies, scanners, prefetch ------------------------------------------------------

constexpr const char* k_apple_mail_mac =
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)";
constexpr const char* k_apple_mail_ios = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_2 like Mac OS X) "
                                         "AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148";

TEST(user_agent_mail_proxy, server_side_proxies) {
    struct {
        const char* ua;
        const char* service;
    } cases[] = {
        {"Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com "
         "GoogleImageProxy)",
         "Gmail"},
        {"Mozilla/5.0 (Windows; U; Windows NT 5.1; de; rv:1.9.0.7) Gecko/2009021910 "
         "Firefox/3.0.7 (via ggpht.com GoogleImageProxy)",
         "Gmail"},
        {"YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html", "Yahoo Mail"},
        {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/118.0.5993.117 Safari/537.36 FastmailUA/1.0",
         "Fastmail"},
    };
    for (const auto& c : cases) {
        const agent_info a = classify_ua(c.ua);
        EXPECT_EQ(a.label, agent_label::mail_proxy) << c.ua;
        EXPECT_EQ(a.browser, c.service) << c.ua;
        // The proxy's claims (Gmail: Windows XP) describe no reader's device.
        EXPECT_TRUE(a.os.empty()) << c.ua;
        EXPECT_EQ(a.device, device_kind::unknown) << c.ua;
    }
}

TEST(user_agent_mail_proxy, apple_privacy_protection_needs_the_relay_address) {
    for (const char* ua : {k_apple_mail_mac, k_apple_mail_ios}) {
        agent_signals s;
        s.user_agent = ua;
        EXPECT_EQ(classify_agent(s).label, agent_label::browser) << ua; // Mail with MPP off
        s.apple_private_relay = true;
        const agent_info a = classify_agent(s);
        EXPECT_EQ(a.label, agent_label::mail_proxy) << ua;
        EXPECT_EQ(a.browser, "Apple Mail") << ua;
        EXPECT_FALSE(a.os.empty()) << ua; // the reader's own Mail app built the request
    }
    // Safari through Private Relay is a person browsing, not a prefetch.
    agent_signals safari;
    safari.user_agent = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_2 like Mac OS X) "
                        "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.2 Mobile/15E148 "
                        "Safari/604.1";
    safari.apple_private_relay = true;
    EXPECT_EQ(classify_agent(safari).label, agent_label::browser);
    // A relay address does not turn a bot into a mail proxy.
    agent_signals curl;
    curl.user_agent = "curl/8.11.1";
    curl.apple_private_relay = true;
    EXPECT_EQ(classify_agent(curl).label, agent_label::bot);
}

TEST(user_agent_scanner, known_scanners) {
    struct {
        const char* ua;
        const char* vendor;
    } cases[] = {
        {"Barracuda Sentinel (EE)", "Barracuda"},
        {"Mozilla/5.0 (compatible; CloudflareRadarURLScanner; +https://radar.cloudflare.com/)",
         "URL scanner"},
        {"Mozilla/5.0 (Windows; U; MSIE 9.0; Windows NT 9.0; en-US) AppEngine-Google; "
         "(+http://code.google.com/appengine; appid: s~virustotalcloud)",
         "VirusTotal"},
        // Vendor names reported in scanner User-Agents without a published sample string
        // (docs/agent-labels.md): the rule is the name anywhere, any case.
        {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0.0.0 Safari/537.36 Proofpoint",
         "Proofpoint"},
        {"Mimecast URL Protect", "Mimecast"},
    };
    for (const auto& c : cases) {
        const agent_info a = classify_ua(c.ua);
        EXPECT_EQ(a.label, agent_label::scanner) << c.ua;
        EXPECT_EQ(a.browser, c.vendor) << c.ua;
        EXPECT_EQ(a.device, device_kind::bot) << c.ua;
    }
}

TEST(user_agent_prefetch, each_header) {
    const char* chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
                         "like Gecko) Chrome/131.0.0.0 Safari/537.36";
    struct {
        std::string_view agent_signals::*field;
        const char* value;
        bool prefetch;
    } cases[] = {
        {&agent_signals::sec_purpose, "prefetch", true},
        {&agent_signals::sec_purpose, "prefetch;prerender", true},
        {&agent_signals::sec_purpose, "prefetch;anonymous-client-ip", true},
        {&agent_signals::sec_purpose, "Prefetch", true},
        {&agent_signals::purpose, "prefetch", true},
        {&agent_signals::x_purpose, "preview", true},
        {&agent_signals::x_purpose, "prefetch", true},
        {&agent_signals::x_moz, "prefetch", true},
        {&agent_signals::x_moz, "PREFETCH", true},
        {&agent_signals::sec_purpose, "", false},
        {&agent_signals::purpose, "navigate", false},
        {&agent_signals::x_moz, "microsummary", false},
    };
    for (const auto& c : cases) {
        agent_signals s;
        s.user_agent = chrome;
        s.*c.field = c.value;
        const agent_info a = classify_agent(s);
        EXPECT_EQ(a.label, c.prefetch ? agent_label::prefetch : agent_label::browser) << c.value;
        // A prefetch keeps what its User-Agent says.
        EXPECT_EQ(a.browser, "Chrome") << c.value;
        EXPECT_EQ(a.os, "Windows") << c.value;
        EXPECT_EQ(a.device, device_kind::desktop) << c.value;
    }
}

TEST(user_agent_precedence, prefetch_over_mail_proxy_over_scanner_over_bot) {
    agent_signals s;
    // YahooMailProxy's User-Agent also carries a URL, a bot sign: the mail proxy wins.
    s.user_agent = "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html";
    EXPECT_EQ(classify_agent(s).label, agent_label::mail_proxy);
    s.sec_purpose = "prefetch";
    EXPECT_EQ(classify_agent(s).label, agent_label::prefetch);
    // A scanner token beats the bot words around it.
    s = {};
    s.user_agent = "Mozilla/5.0 (compatible; urlscan.io bot; +https://urlscan.io)";
    EXPECT_EQ(classify_agent(s).label, agent_label::scanner);
    // Both a mail proxy and a scanner: the mail proxy.
    s.user_agent = "Barracuda relay (via ggpht.com GoogleImageProxy)";
    EXPECT_EQ(classify_agent(s).label, agent_label::mail_proxy);
    // A bot that prefetches is labelled prefetch and keeps device bot.
    s = {};
    s.user_agent = "curl/8.11.1";
    s.purpose = "prefetch";
    const agent_info a = classify_agent(s);
    EXPECT_EQ(a.label, agent_label::prefetch);
    EXPECT_EQ(a.device, device_kind::bot);
}

// ---- edge cases ---------------------------------------------------------------------------

TEST(user_agent_edge, empty_and_odd_input) {
    agent_info a = classify_ua("");
    EXPECT_EQ(a.label, agent_label::bot);
    EXPECT_EQ(a.device, device_kind::bot);

    // Non-ASCII and control bytes are inert.
    a = classify_ua(std::string_view("Mozilla/5.0 (Windows NT 10.0; \xC3\xA9\x00\xFF) "
                                     "Chrome/131.0.0.0 Safari/537.36",
                                     66));
    EXPECT_EQ(a.label, agent_label::browser);
    EXPECT_EQ(a.browser, "Chrome");

    // Only the first max_user_agent_scan bytes are examined.
    std::string padded = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
                         "like Gecko) Chrome/131.0.0.0 Safari/537.36 ";
    padded.resize(max_user_agent_scan, 'x');
    EXPECT_EQ(classify_ua(padded + "Googlebot").label, agent_label::browser);
    padded.resize(max_user_agent_scan - 9);
    EXPECT_EQ(classify_ua(padded + "Googlebot").label, agent_label::bot);
    // A token cut by the limit does not match partially.
    padded.resize(max_user_agent_scan - 4);
    EXPECT_EQ(classify_ua(padded + "Googlebot").label, agent_label::browser);

    // Truncated browser User-Agents (both in browsers.json) stay browsers.
    a = classify_ua("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36");
    EXPECT_EQ(a.label, agent_label::browser);
    EXPECT_TRUE(a.browser.empty());
    EXPECT_EQ(a.os, "Windows");
}

// Every User-Agent of both corpora and random byte strings, each placed right before an
// unreadable page: any read past the end of the input faults.
TEST(user_agent_edge, no_read_past_the_input) {
    REQUIRE_TESTDATA("ua");
    auto inputs = read_corpus(test::testdata_path("ua/bots.json"));
    for (auto& ua : read_corpus(test::testdata_path("ua/browsers.json")))
        inputs.push_back(std::move(ua));
    size_t longest = 700; // the random strings below
    for (const auto& ua : inputs)
        longest = std::max(longest, ua.size());
    test::guarded_buffer mem(longest);
    auto at_guard = [&](std::string_view ua) {
        agent_signals s;
        s.user_agent = mem.place_view(ua);
        s.sec_purpose = std::string_view(mem.end(), 0);
        return classify_agent(s);
    };
    for (const auto& ua : inputs)
        EXPECT_EQ(at_guard(ua).label, classify_ua(ua).label) << ua;
    std::mt19937 rng(4);
    for (int i = 0; i < 20000; ++i) {
        std::string ua(rng() % 700, '\0');
        for (char& c : ua)
            c = static_cast<char>(rng() % 4 == 0 ? "botMozilla/5.0 (x"[rng() % 17] : rng());
        const agent_info a = at_guard(ua);
        EXPECT_LE(static_cast<int>(a.label), static_cast<int>(agent_label::scanner));
    }
}

TEST(user_agent_edge, names) {
    EXPECT_EQ(to_string(agent_label::browser), "browser");
    EXPECT_EQ(to_string(agent_label::bot), "bot");
    EXPECT_EQ(to_string(agent_label::mail_proxy), "mail_proxy");
    EXPECT_EQ(to_string(agent_label::prefetch), "prefetch");
    EXPECT_EQ(to_string(agent_label::scanner), "scanner");
    EXPECT_EQ(to_string(device_kind::desktop), "desktop");
    EXPECT_EQ(to_string(device_kind::mobile), "mobile");
    EXPECT_EQ(to_string(device_kind::tablet), "tablet");
    EXPECT_EQ(to_string(device_kind::bot), "bot");
    EXPECT_EQ(to_string(device_kind::unknown), "unknown");
    static_assert(noexcept(classify_agent(agent_signals{})));
}

} // namespace
} // namespace pixelring
