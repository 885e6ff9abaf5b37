// The router and the prebuilt answers: every route, every answer's exact framing.

#include <gtest/gtest.h>

#include <cstdio>
#include <regex>
#include <string>
#include <vector>

#include "core/http/request_parser.hh"
#include "net/http/responses.hh"
#include "net/http/router.hh"
#include "net/http/tracker_script.hh"

using namespace pixelring;

namespace {

struct parsed {
    std::string text;
    http_limits limits;
    http_request req;
    bool ok = false;
};

routed route_of(const std::string& method, const std::string& target, parsed& p) {
    p.text = method + " " + target + " HTTP/1.1\r\nHost: a\r\n\r\n";
    request_parser parser(p.limits);
    p.ok = parser.parse_head(p.text.data(), p.text.size(), p.req) == parse_status::complete;
    return route_request(p.req);
}

} // namespace

TEST(router, pixels) {
    parsed p;
    routed r = route_of("GET", "/track/pageview.gif?campaignID=x", p);
    ASSERT_TRUE(p.ok);
    EXPECT_EQ(r.response, response_kind::pixel_gif);
    EXPECT_EQ(r.metrics_route, pixelring::route::pixel);
    EXPECT_EQ(r.what, endpoint::pixel);
    EXPECT_FALSE(r.head);
    EXPECT_EQ(r.action, "pageview");

    r = route_of("HEAD", "/track/email-open:ann@example.com.png", p);
    EXPECT_EQ(r.response, response_kind::pixel_png);
    EXPECT_TRUE(r.head);
    EXPECT_EQ(r.what, endpoint::pixel);
    EXPECT_EQ(r.action, "email-open:ann@example.com");

    r = route_of("GET", "/track/a%2Fb.gif", p); // an escaped slash stays in the action
    EXPECT_EQ(r.what, endpoint::pixel);
    EXPECT_EQ(r.action, "a%2Fb");
}

TEST(router, not_pixels) {
    parsed p;
    for (const char* target :
         {"/", "/track", "/track/", "/track/.gif", "/track/a/b.gif", "/track/a.jpg", "/track/a.GIF",
          "/tracker/a.gif", "/favicon.ico", "/track/a.gif/"}) {
        routed r = route_of("GET", target, p);
        ASSERT_TRUE(p.ok) << target;
        EXPECT_EQ(r.response, response_kind::not_found) << target;
        EXPECT_EQ(r.metrics_route, pixelring::route::not_found) << target;
        EXPECT_NE(r.what, endpoint::pixel) << target;
    }
    for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS", "PATCH"}) {
        std::string m = method;
        parsed q;
        q.text = m + " /track/a.gif HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n";
        request_parser parser(q.limits);
        ASSERT_EQ(parser.parse_head(q.text.data(), q.text.size(), q.req), parse_status::complete);
        routed r = route_request(q.req);
        EXPECT_EQ(r.response, response_kind::method_not_allowed) << method;
        EXPECT_NE(r.what, endpoint::pixel) << method;
    }
}

TEST(responses, every_answer_is_well_framed) {
    response_table t(1795862100); // 2026-11-28T10:35:00Z, a Saturday
    const std::regex status_line(R"(HTTP/1\.1 (\d{3}) [A-Za-z ]+\r\n)");
    for (size_t k = 0; k < size_t(response_kind::count_); ++k) {
        for (bool keep : {true, false}) {
            for (bool head : {false, true}) {
                std::string r(t.get(response_kind(k), keep, head));
                std::smatch m;
                ASSERT_TRUE(std::regex_search(r, m, status_line)) << r;
                EXPECT_EQ(m.position(0), 0);
                EXPECT_EQ(std::stoi(m[1]), response_status(response_kind(k)));
                size_t end = r.find("\r\n\r\n");
                ASSERT_NE(end, std::string::npos);
                std::string headers = r.substr(0, end + 2);
                std::string body = r.substr(end + 4);
                EXPECT_NE(headers.find("\r\nDate: Sat, 28 Nov 2026 10:35:00 GMT\r\n"),
                          std::string::npos)
                    << headers;
                EXPECT_NE(headers.find(keep ? "\r\nConnection: keep-alive\r\n"
                                            : "\r\nConnection: close\r\n"),
                          std::string::npos);
                uint16_t status = response_status(response_kind(k));
                if (status == 204 || status == 304) {
                    EXPECT_EQ(headers.find("Content-Length"), std::string::npos);
                    EXPECT_TRUE(body.empty());
                    continue;
                }
                std::smatch cl;
                ASSERT_TRUE(
                    std::regex_search(headers, cl, std::regex(R"(\r\nContent-Length: (\d+)\r\n)")));
                size_t declared = std::stoul(cl[1]);
                EXPECT_GT(declared, 0u);
                EXPECT_EQ(body.size(), head ? 0 : declared);
            }
        }
    }
}

TEST(responses, tracking_answers_are_never_cached) {
    response_table t(0);
    for (auto kind : {response_kind::pixel_gif, response_kind::pixel_png}) {
        std::string r(t.get(kind, true, false));
        EXPECT_NE(r.find("\r\nCache-Control: no-store, no-cache, must-revalidate, private, "
                         "max-age=0\r\n"),
                  std::string::npos);
        EXPECT_NE(r.find("\r\nPragma: no-cache\r\n"), std::string::npos);
        EXPECT_NE(r.find("\r\nExpires: 0\r\n"), std::string::npos);
        EXPECT_NE(r.find("\r\nCDN-Cache-Control: no-store\r\n"), std::string::npos);
    }
    std::string gif(t.get(response_kind::pixel_gif, true, false));
    std::string body = gif.substr(gif.find("\r\n\r\n") + 4);
    ASSERT_EQ(body.size(), 43u);
    EXPECT_EQ(body.substr(0, 6), "GIF89a");
    EXPECT_EQ(body.back(), ';'); // GIF trailer
    std::string png(t.get(response_kind::pixel_png, true, false));
    body = png.substr(png.find("\r\n\r\n") + 4);
    EXPECT_EQ(body.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
    EXPECT_EQ(body.substr(body.size() - 8, 4), "IEND");
    std::string allow(t.get(response_kind::method_not_allowed, true, false));
    EXPECT_NE(allow.find("\r\nAllow: GET, HEAD\r\n"), std::string::npos);
}

TEST(responses, date_is_rewritten_in_place) {
    response_table t(0);
    std::string_view before = t.get(response_kind::pixel_gif, true, false);
    EXPECT_NE(std::string(before).find("Date: Thu, 01 Jan 1970 00:00:00 GMT"), std::string::npos);
    t.update_date(951782400); // 2000-02-29T00:00:00Z, a leap day
    std::string_view after = t.get(response_kind::pixel_gif, true, false);
    EXPECT_EQ(before.data(), after.data()); // same bytes, no copy
    EXPECT_NE(std::string(after).find("Date: Tue, 29 Feb 2000 00:00:00 GMT"), std::string::npos);
    char d[30] = {};
    format_http_date(4102444799, d); // 2099-12-31T23:59:59Z
    EXPECT_STREQ(d, "Thu, 31 Dec 2099 23:59:59 GMT");
}

TEST(responses, parser_statuses_map_to_their_answers) {
    for (uint16_t s : {400, 408, 411, 413, 414, 429, 431, 501, 503, 505})
        EXPECT_EQ(response_status(response_for_status(s)), s);
    EXPECT_EQ(response_for_status(418), response_kind::bad_request);
    EXPECT_EQ(response_status(response_kind::tracker_script), 200);
    EXPECT_EQ(response_status(response_kind::not_modified), 304);
    EXPECT_EQ(response_status(response_kind::too_many_requests), 429);
}

namespace {

std::string header_block(const std::string& r) {
    return r.substr(0, r.find("\r\n\r\n") + 2);
}

bool has(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

} // namespace

TEST(responses, tracker_script_is_cacheable_with_its_etag) {
    response_table t(0);
    std::string r(t.get(response_kind::tracker_script, true, false));
    std::string h = header_block(r);
    EXPECT_EQ(r.substr(0, 17), "HTTP/1.1 200 OK\r\n");
    EXPECT_TRUE(has(h, "\r\nContent-Type: text/javascript; charset=utf-8\r\n")) << h;
    EXPECT_TRUE(has(h, "\r\nCache-Control: public, max-age=86400\r\n")) << h;
    EXPECT_TRUE(has(h, "\r\nETag: " + std::string(tracker_etag()) + "\r\n")) << h;
    EXPECT_TRUE(has(h, "\r\nContent-Length: " + std::to_string(tracker_script().size()) + "\r\n"));
    // None of the tracking answers' no-cache headers.
    for (const char* no : {"no-store", "no-cache", "Pragma", "Expires", "CDN-Cache-Control"})
        EXPECT_FALSE(has(h, no)) << no;
    EXPECT_EQ(r.substr(h.size() + 2), tracker_script());

    std::string head(t.get(response_kind::tracker_script, false, true));
    EXPECT_EQ(head, header_block(head) + "\r\n"); // HEAD: the same head, no body
    EXPECT_TRUE(has(head, "\r\nETag: " + std::string(tracker_etag()) + "\r\n"));
    EXPECT_TRUE(has(head, "\r\nConnection: close\r\n"));
}

TEST(responses, not_modified_repeats_etag_and_cache_control_without_a_body) {
    response_table t(0);
    std::string r(t.get(response_kind::not_modified, true, false));
    EXPECT_EQ(r.substr(0, 27), "HTTP/1.1 304 Not Modified\r\n");
    EXPECT_EQ(r, header_block(r) + "\r\n"); // nothing after the head
    EXPECT_TRUE(has(r, "\r\nETag: " + std::string(tracker_etag()) + "\r\n")) << r;
    EXPECT_TRUE(has(r, "\r\nCache-Control: public, max-age=86400\r\n")) << r;
    EXPECT_FALSE(has(r, "Content-Length"));
    EXPECT_FALSE(has(r, "\r\nContent-Type:"));
    EXPECT_FALSE(has(r, "no-store"));
}

TEST(responses, too_many_requests_says_when_to_retry_and_is_not_cached) {
    response_table t(0);
    std::string r(t.get(response_kind::too_many_requests, true, false));
    std::string h = header_block(r);
    EXPECT_EQ(r.substr(0, 32), "HTTP/1.1 429 Too Many Requests\r\n");
    EXPECT_TRUE(has(h, "\r\nRetry-After: 1\r\n")) << h;
    EXPECT_TRUE(has(h, "\r\nCache-Control: no-store, no-cache, must-revalidate, private, "
                       "max-age=0\r\n"))
        << h;
    EXPECT_TRUE(has(h, "\r\nCDN-Cache-Control: no-store\r\n"));
    EXPECT_FALSE(has(h, "ETag"));
    EXPECT_EQ(r.substr(h.size() + 2), "too many requests\n");
}

TEST(tracker_script, is_small_and_does_what_the_issue_asks) {
    std::string_view js = tracker_script();
    EXPECT_LT(js.size(), 1024u);
    EXPECT_GT(js.size(), 200u);
    // Cheap syntax sanity (the browser test runs it for real): brackets balance, nothing
    // outside printable ASCII, one expression statement.
    int paren = 0, brace = 0;
    for (char c : js) {
        EXPECT_TRUE(c >= 0x20 && c < 0x7f) << int(c);
        paren += c == '(' ? 1 : c == ')' ? -1 : 0;
        brace += c == '{' ? 1 : c == '}' ? -1 : 0;
        ASSERT_GE(paren, 0);
        ASSERT_GE(brace, 0);
    }
    EXPECT_EQ(paren, 0);
    EXPECT_EQ(brace, 0);
    std::string s(js);
    EXPECT_EQ(s.rfind("!function(", 0), 0u);
    for (const char* part :
         {"d.currentScript", "a.campaign", "a.endpoint", "'/e'", "n.globalPrivacyControl",
          "n.sendBeacon(e,j)", "keepalive:!0", "credentials:'include'", "h.pushState=",
          "h.replaceState=", "'popstate'", "w.pixelring=", "'pageview'", "d.referrer||null"})
        EXPECT_TRUE(has(s, part)) << part;
}

TEST(tracker_script, etag_is_the_quoted_fnv1a_of_the_bytes) {
    std::string_view etag = tracker_etag();
    ASSERT_TRUE(std::regex_match(std::string(etag), std::regex(R"("[0-9a-f]{16}")"))) << etag;
    uint64_t h = 14695981039346656037ull;
    for (char c : tracker_script()) {
        h ^= uint8_t(c);
        h *= 1099511628211ull;
    }
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
    EXPECT_EQ(etag, "\"" + std::string(hex) + "\"");
    EXPECT_EQ(tracker_etag().data(), etag.data()); // a constant, not rebuilt per call
    EXPECT_EQ(tracker_script().data(), tracker_script().data());
}

TEST(tracker_script, if_none_match_uses_the_weak_comparison) {
    std::string tag(tracker_etag());
    for (const std::string& yes :
         std::vector<std::string>{tag, "W/" + tag, "*", " " + tag + " ", "\"abc\", " + tag,
                                  "\"abc\",W/" + tag + ",\"d\"", ", ," + tag})
        EXPECT_TRUE(tracker_etag_matches(yes)) << yes;
    std::string bare = tag.substr(1, tag.size() - 2);
    for (const std::string& no : std::vector<std::string>{
             std::string(), std::string(" "), bare, "\"" + bare, bare + "\"", "\"abc\"",
             "\"abc\", W/\"def\"", "w/" + tag, tag + "x", "\"0000000000000000\""})
        EXPECT_FALSE(tracker_etag_matches(no)) << no;
}
