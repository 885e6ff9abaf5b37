// Unit tests of the per-request and per-event enrichment split (core/enrich/enrichment.hh):
// enrich_request (the client address behind a trusted proxy, DNT, the agent, enrichment off),
// then enrich_visitor for the site (the campaign, else the page's or Referer's host). The
// encoder's use of the result is in tests/unit/encoder_kinds_test.cc; the collector's, end to
// end, in tests/e2e/enrichment_test.cc.

#include "core/enrich/enrichment.hh"

#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "core/enrich/user_agent.hh"
#include "core/enrich/visitor.hh"
#include "core/event/event.hh"
#include "core/http/request_parser.hh"

namespace pixelring {
namespace {

constexpr uint64_t k_ms = 1795343700123; // 2026-11-22T10:35:00.123Z

ip_address ipv4(const char* text) {
    ip_address a;
    a.family = 4;
    EXPECT_EQ(inet_pton(AF_INET, text, a.bytes), 1) << text;
    return a;
}

struct parsed_request {
    std::string text;
    http_limits limits;
    http_request r;
    explicit parsed_request(std::string head) : text(std::move(head)) {
        request_parser parser(limits);
        EXPECT_EQ(parser.parse_head(text.data(), text.size(), r), parse_status::complete) << text;
    }
};

struct enrich_fixture {
    enrichment_setup setup;
    visitor_key key;
    enrich_fixture() {
        EXPECT_EQ(cidr_set::parse({"10.0.0.0/8"}, setup.trusted_proxies), "");
        EXPECT_EQ(visitor_key::from_config("a fleet secret of thirty-two bytes", key), "");
        setup.visitor = key;
    }
};

constexpr char k_beacon_request[] =
    "GET /e HTTP/1.1\r\nHost: px.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) "
    "Gecko/20100101 Firefox/133.0\r\nX-Forwarded-For: 198.51.100.9\r\n%s\r\n";

std::string beacon_request(const char* extra) {
    char buf[512];
    std::snprintf(buf, sizeof buf, k_beacon_request, extra);
    return buf;
}

TEST(enrichment_split, request_then_visitor) {
    enrich_fixture fx;
    visitor_hasher visitors(fx.key);
    visitor_hasher reference(fx.key);
    parsed_request req(beacon_request(""));
    ip_address client = ipv4("10.1.2.3"); // a trusted proxy
    enrichment_scratch s;
    s.fields.visitor = "stale";
    enrich_request(fx.setup, req.r, client, s);
    EXPECT_EQ(std::memcmp(client.bytes, ipv4("198.51.100.9").bytes, 4), 0);
    EXPECT_FALSE(s.fields.dnt);
    EXPECT_TRUE(s.fields.visitor.empty());
    EXPECT_EQ(s.fields.geo, nullptr); // no database opened
    ASSERT_NE(s.fields.agent, nullptr);
    EXPECT_EQ(s.fields.agent->label, agent_label::browser);
    EXPECT_EQ(s.fields.agent->browser, "Firefox");

    // The site: the campaign, else the page's host (lower case).
    char expected[visitor_id_size];
    enrich_visitor(fx.setup, req.r, k_ms, visitors, client, "example.com", "https://b.example/", s);
    ASSERT_TRUE(reference.visitor_id(k_ms, "example.com", client, req.r.user_agent, expected));
    EXPECT_EQ(s.fields.visitor, std::string_view(expected, visitor_id_size));
    enrich_visitor(fx.setup, req.r, k_ms, visitors, client, "", "https://B.Example:8/p", s);
    ASSERT_TRUE(reference.visitor_id(k_ms, "b.example", client, req.r.user_agent, expected));
    EXPECT_EQ(s.fields.visitor, std::string_view(expected, visitor_id_size));
    // No address family: no id, and the earlier one is cleared.
    enrich_visitor(fx.setup, req.r, k_ms, visitors, ip_address{}, "x", "", s);
    EXPECT_TRUE(s.fields.visitor.empty());
}

TEST(enrichment_split, dnt_and_disabled) {
    enrich_fixture fx;
    visitor_hasher visitors(fx.key);
    parsed_request req(beacon_request("Sec-GPC: 1\r\n"));
    ip_address client = ipv4("10.1.2.3");
    enrichment_scratch s;
    enrich_request(fx.setup, req.r, client, s);
    EXPECT_TRUE(s.fields.dnt);
    enrich_visitor(fx.setup, req.r, k_ms, visitors, client, "example.com", "", s);
    EXPECT_TRUE(s.fields.visitor.empty());

    fx.setup.honor_dnt = false;
    enrich_request(fx.setup, req.r, client, s);
    EXPECT_FALSE(s.fields.dnt);
    enrich_visitor(fx.setup, req.r, k_ms, visitors, client, "example.com", "", s);
    EXPECT_EQ(s.fields.visitor.size(), visitor_id_size);

    // tracking.enrich off: the address only; s.fields is the default.
    fx.setup.enabled = false;
    client = ipv4("10.9.9.9");
    enrich_request(fx.setup, req.r, client, s);
    EXPECT_EQ(std::memcmp(client.bytes, ipv4("198.51.100.9").bytes, 4), 0);
    EXPECT_TRUE(s.fields.visitor.empty());
    EXPECT_EQ(s.fields.geo, nullptr);
    EXPECT_EQ(s.fields.agent, nullptr);
    EXPECT_FALSE(s.fields.dnt);
    enrich_visitor(fx.setup, req.r, k_ms, visitors, client, "example.com", "", s);
    EXPECT_TRUE(s.fields.visitor.empty());
    // An untrusted peer keeps its own address.
    client = ipv4("192.0.2.1");
    enrich_request(fx.setup, req.r, client, s);
    EXPECT_EQ(std::memcmp(client.bytes, ipv4("192.0.2.1").bytes, 4), 0);
}

// The worker's two steps for a pixel: enrich_request, then enrich_visitor for the site
// raw_campaign gives (the campaignID as sent, key compared after percent-decoding), else the
// Referer's host. The visitor is the one the hasher gives for that site directly.
TEST(enrichment_split, pixel_visitor_from_the_raw_campaign) {
    enrich_fixture fx;
    visitor_hasher a(fx.key);
    visitor_hasher b(fx.key);
    struct example {
        const char* query;
        std::string_view site;
    };
    for (const example& ex :
         {example{"campaignID=caf%C3%A9", "caf%C3%A9"}, example{"campaign%49D=y", "y"},
          example{"x=1", "shop.example"}, example{"", "shop.example"}}) {
        SCOPED_TRACE(ex.query);
        parsed_request req("GET /track/open.gif?" + std::string(ex.query) +
                           " HTTP/1.1\r\nHost: px\r\nReferer: https://Shop.Example/p\r\n"
                           "User-Agent: curl/8\r\nX-Forwarded-For: 198.51.100.9\r\n\r\n");
        pixel_hit hit;
        hit.query = req.r.query;
        hit.client = ipv4("10.0.0.1");
        enrichment_scratch s;
        enrich_request(fx.setup, req.r, hit.client, s);
        enrich_visitor(fx.setup, req.r, k_ms, a, hit.client, raw_campaign(hit), req.r.referer, s);
        EXPECT_EQ(std::memcmp(hit.client.bytes, ipv4("198.51.100.9").bytes, 4), 0);
        char expected[visitor_id_size];
        ASSERT_TRUE(b.visitor_id(k_ms, ex.site, hit.client, req.r.user_agent, expected));
        EXPECT_EQ(s.fields.visitor, std::string_view(expected, visitor_id_size));
        EXPECT_FALSE(s.fields.dnt);
    }
}

} // namespace
} // namespace pixelring
