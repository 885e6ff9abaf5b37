// Enrichment on the request path, end to end: the real collector with the GeoIP test
// databases and trusted proxies; events read back from the NDJSON file. Agent labels,
// visitor ids, DNT, utm, the client address behind a trusted proxy, spoofing from an
// untrusted peer.

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/e2e_events.hh"
#include "tests/support/testdata.hh"

using namespace pixelring::test;

namespace {

constexpr char chrome[] = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
                          "like Gecko) Chrome/131.0.0.0 Safari/537.36";
const std::string city_db = "geoip.city_db=" + testdata_path("geoip/GeoIP2-City-Test.mmdb");
const std::string asn_db = "geoip.asn_db=" + testdata_path("geoip/GeoLite2-ASN-Test.mmdb");

// Sends each request on one keep-alive connection and returns the events, in order.
std::vector<json_value> events_for(const collector_process& p,
                                   const std::vector<std::string>& requests) {
    connection c(p.port());
    for (const auto& r : requests)
        c.send_all(r);
    EXPECT_EQ(c.read_responses(requests.size()).size(), requests.size());
    return wait_events(p, requests.size());
}

std::string pixel(const std::string& campaign, const std::string& headers) {
    return "GET /track/open.gif?campaignID=" + campaign + " HTTP/1.1\r\nHost: px.example.com\r\n" +
           headers + "\r\n";
}

} // namespace

TEST(enrichment, geo_agent_visitor_and_utm_behind_a_trusted_proxy) {
    REQUIRE_TESTDATA("geoip");
    collector_process p({city_db, asn_db, R"(server.trusted_proxies=["127.0.0.1/32"])"});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    std::string ua = std::string("User-Agent: ") + chrome + "\r\n";
    std::string referer =
        "Referer: https://Shop.Example.com/sale?utm_source=news%20letter&utm_medium=email\r\n";
    auto ev = events_for(
        p, {pixel("spring", "X-Forwarded-For: 89.160.20.112\r\n" + ua + referer),
            pixel("spring", "X-Forwarded-For: 89.160.20.112\r\n" + ua),
            pixel("autumn", "X-Forwarded-For: 89.160.20.112\r\n" + ua),
            pixel("spring", "X-Forwarded-For: 89.160.20.112\r\nDNT: 1\r\n" + ua),
            pixel("spring", "User-Agent: Googlebot/2.1 (+http://www.google.com/bot.html)\r\n"),
            pixel("spring", "Sec-Purpose: prefetch\r\n" + ua)});
    ASSERT_EQ(ev.size(), 6u);

    const json_value& e = ev[0];
    EXPECT_EQ(e.str("ip"), "89.160.20.0"); // the forwarded client, truncated to /24
    EXPECT_EQ(e.str("country"), "SE");
    EXPECT_EQ(e.str("city"), "Linköping");
    ASSERT_TRUE(e.has("asn"));
    EXPECT_EQ(e.get("asn")->text, "29518");
    EXPECT_EQ(e.str("agent"), "browser");
    EXPECT_EQ(e.str("device"), "desktop");
    EXPECT_EQ(e.str("browser"), "Chrome");
    EXPECT_EQ(e.str("os"), "Windows");
    EXPECT_EQ(e.str("page_host"), "shop.example.com");
    ASSERT_TRUE(e.has("utm"));
    EXPECT_EQ(e.get("utm")->str("source"), "news letter");
    EXPECT_EQ(e.get("utm")->str("medium"), "email");
    ASSERT_TRUE(e.has("dnt"));
    EXPECT_FALSE(e.get("dnt")->b);
    std::string visitor = e.str("visitor");
    EXPECT_EQ(visitor.size(), 32u) << visitor;
    // Same client, user agent and campaign the same day: the same visitor; another campaign
    // (another site): another visitor.
    EXPECT_EQ(ev[1].str("visitor"), visitor);
    EXPECT_NE(ev[2].str("visitor"), visitor);
    EXPECT_EQ(ev[2].str("visitor").size(), 32u);

    // DNT: 1 keeps the event without visitor, ip and ua, marked and counted.
    EXPECT_EQ(ev[3].str("visitor"), "<absent>");
    EXPECT_EQ(ev[3].str("ip"), "<absent>");
    EXPECT_EQ(ev[3].str("ua"), "<absent>");
    ASSERT_TRUE(ev[3].has("dnt"));
    EXPECT_TRUE(ev[3].get("dnt")->b);
    EXPECT_EQ(ev[3].str("country"), "SE");
    std::string metrics = admin_get(p.admin_port(), "/metrics");
    EXPECT_NE(metrics.find("\npixelring_events_dnt_total 1\n"), std::string::npos) << metrics;

    EXPECT_EQ(ev[4].str("agent"), "bot");
    EXPECT_EQ(ev[4].str("device"), "bot");
    EXPECT_EQ(ev[4].str("country"), "<absent>"); // 127.0.0.1 is in no test database
    EXPECT_EQ(ev[5].str("agent"), "prefetch");
}

TEST(enrichment, forwarding_headers_from_an_untrusted_peer_are_ignored) {
    REQUIRE_TESTDATA("geoip");
    collector_process p({city_db, R"(server.trusted_proxies=["10.0.0.0/8"])"});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    auto ev = events_for(p, {pixel("c", "X-Forwarded-For: 89.160.20.112\r\n"
                                        "Forwarded: for=89.160.20.112\r\n"
                                        "CF-Connecting-IP: 89.160.20.112\r\n"
                                        "True-Client-IP: 89.160.20.112\r\n")});
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].str("ip"), "127.0.0.0");
    EXPECT_EQ(ev[0].str("country"), "<absent>");
}

// Without enrichment the event has no enrichment members; privacy.honor_dnt still holds: DNT: 1
// or Sec-GPC: 1 leaves out ip and ua (and is counted), as with enrichment.
TEST(enrichment, tracking_enrich_false_gives_the_plain_event) {
    REQUIRE_TESTDATA("geoip");
    collector_process p({"tracking.enrich=false", city_db});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    const std::string ua = std::string("User-Agent: ") + chrome + "\r\n";
    auto ev = events_for(p, {pixel("c", ua), pixel("c", ua + "DNT: 1\r\n"),
                             pixel("c", ua + "Sec-GPC: 1\r\n"), pixel("c", ua + "DNT: 0\r\n")});
    ASSERT_EQ(ev.size(), 4u);
    for (const json_value& e : ev)
        for (const char* field : {"agent", "device", "visitor", "dnt", "utm", "country"})
            EXPECT_FALSE(e.has(field)) << field;
    EXPECT_EQ(ev[0].str("ip"), "127.0.0.0");
    EXPECT_EQ(ev[0].str("ua"), chrome);
    for (size_t i : {1, 2}) {
        EXPECT_FALSE(ev[i].has("ip")) << i;
        EXPECT_FALSE(ev[i].has("ua")) << i;
    }
    EXPECT_EQ(ev[3].str("ip"), "127.0.0.0");
    const std::string metrics = admin_get(p.admin_port(), "/metrics");
    EXPECT_NE(metrics.find("\npixelring_events_dnt_total 2\n"), std::string::npos) << metrics;

    // With privacy.honor_dnt = false the headers are not looked at.
    collector_process q({"tracking.enrich=false", "privacy.honor_dnt=false"});
    ASSERT_TRUE(q.started()) << q.stderr_text();
    ev = events_for(q, {pixel("c", ua + "DNT: 1\r\n")});
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].str("ip"), "127.0.0.0");
    EXPECT_EQ(ev[0].str("ua"), chrome);
}
