// The routes of docs/endpoints.md beyond the pixel (tests/unit/responses_test.cc has the pixel's)
// and the dynamic answers the worker writes for them; and the socket options of the listeners.

#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <string>
#include <vector>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/http/dynamic_response.hh"
#include "net/http/router.hh"
#include "net/listener.hh"

using namespace pixelring;

namespace {

struct parsed {
    http_limits limits;
    std::string text;
    http_request req;
};

routed route_of(const std::string& method, const std::string& target, parsed& p) {
    p.text = method + " " + target + " HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n";
    request_parser parser(p.limits);
    EXPECT_EQ(parser.parse_head(p.text.data(), p.text.size(), p.req), parse_status::complete)
        << target;
    return route_request(p.req);
}

struct response {
    int status = 0;
    std::map<std::string, std::string> headers; // lower-case names
    std::string body;
};

// One answer as the worker sends it: status line, fields, blank line, body.
response parse(const std::string& raw) {
    response r;
    size_t end = raw.find("\r\n\r\n");
    EXPECT_NE(end, std::string::npos) << raw;
    if (end == std::string::npos) return r;
    r.body = raw.substr(end + 4);
    std::string head = raw.substr(0, end + 2);
    size_t eol = head.find("\r\n");
    r.status = std::stoi(head.substr(9, 3));
    for (size_t at = eol + 2; at < head.size();) {
        size_t next = head.find("\r\n", at);
        std::string line = head.substr(at, next - at);
        size_t colon = line.find(':');
        std::string name = line.substr(0, colon);
        for (char& ch : name)
            ch = char(std::tolower(static_cast<unsigned char>(ch)));
        EXPECT_EQ(r.headers.count(name), 0u) << "repeated " << name;
        r.headers[name] = line.substr(colon + 2);
        at = next + 2;
    }
    return r;
}

} // namespace

TEST(router, beacon_and_preflight) {
    parsed p;
    routed r = route_of("POST", "/e?receipts=1", p);
    EXPECT_EQ(r.what, endpoint::beacon);
    EXPECT_EQ(r.metrics_route, route::beacon);
    r = route_of("OPTIONS", "/e", p);
    EXPECT_EQ(r.what, endpoint::preflight);
    EXPECT_EQ(r.metrics_route, route::preflight);
    for (const char* m : {"GET", "HEAD", "PUT", "DELETE"}) {
        r = route_of(m, "/e", p);
        EXPECT_EQ(r.what, endpoint::none) << m;
        EXPECT_EQ(r.response, response_kind::method_not_allowed) << m;
        EXPECT_EQ(r.allow, "POST, OPTIONS") << m;
    }
    EXPECT_EQ(route_of("POST", "/e/", p).what, endpoint::none);
    EXPECT_EQ(route_of("POST", "/ev", p).response, response_kind::not_found);
}

TEST(router, rest_tuples) {
    parsed p;
    routed r = route_of("GET", "/tr/v1/action/buy/sku/42?x=1", p);
    EXPECT_EQ(r.what, endpoint::rest);
    EXPECT_EQ(r.metrics_route, route::rest);
    EXPECT_EQ(r.tuples, "action/buy/sku/42"); // the path only, not the query
    EXPECT_EQ(r.response, response_kind::no_content);
    r = route_of("HEAD", "/tr/v1/a/b", p);
    EXPECT_EQ(r.what, endpoint::rest);
    EXPECT_TRUE(r.head);
    r = route_of("POST", "/tr/v1/a/b", p);
    EXPECT_EQ(r.response, response_kind::method_not_allowed);
    EXPECT_EQ(r.allow, "GET, HEAD");
    EXPECT_EQ(route_of("GET", "/tr/v2/a/b", p).response, response_kind::not_found);
}

TEST(router, redirects) {
    parsed p;
    routed r = route_of("GET", "/r/click?url=https%3A%2F%2Fexample.com%2F", p);
    EXPECT_EQ(r.what, endpoint::redirect);
    EXPECT_EQ(r.metrics_route, route::redirect);
    EXPECT_EQ(r.action, "click");
    EXPECT_EQ(route_of("HEAD", "/r/email-click:ann%40example.com", p).action,
              "email-click:ann%40example.com");
    for (const char* t : {"/r/", "/r/a/b", "/r"})
        EXPECT_EQ(route_of("GET", t, p).response, response_kind::not_found) << t;
    EXPECT_EQ(route_of("POST", "/r/click", p).response, response_kind::method_not_allowed);
}

TEST(router, tracker_script) {
    parsed p;
    EXPECT_EQ(route_of("GET", "/t.js", p).what, endpoint::script);
    EXPECT_EQ(route_of("GET", "/t.js?v=3", p).what, endpoint::script);
    EXPECT_TRUE(route_of("HEAD", "/t.js", p).head);
    EXPECT_EQ(route_of("POST", "/t.js", p).response, response_kind::method_not_allowed);
    EXPECT_EQ(route_of("GET", "/t.jsx", p).response, response_kind::not_found);
}

TEST(router, acme_challenge) {
    parsed p;
    routed r = route_of("GET", "/.well-known/acme-challenge/abc-DEF_1", p);
    EXPECT_EQ(r.what, endpoint::acme);
    EXPECT_EQ(r.tuples, "abc-DEF_1");
    EXPECT_EQ(r.metrics_route, route::acme);
    EXPECT_TRUE(route_of("HEAD", "/.well-known/acme-challenge/x", p).head);
    EXPECT_EQ(route_of("POST", "/.well-known/acme-challenge/x", p).response,
              response_kind::method_not_allowed);
    EXPECT_EQ(route_of("GET", "/.well-known/other", p).response, response_kind::not_found);
}

TEST(dynamic_response, redirect_is_well_framed) {
    std::vector<char> buf(response_headroom + 64);
    dynamic_response a{.status = 302,
                       .location = "https://example.com/x?y=1",
                       .keep_alive = true,
                       .unix_s = 1795862100};
    std::string out(finish_response(a, buf.data(), 0));
    response r = parse(out);
    EXPECT_EQ(r.status, 302);
    EXPECT_EQ(r.headers["location"], "https://example.com/x?y=1");
    EXPECT_EQ(r.headers["content-length"], "0");
    EXPECT_EQ(r.headers["connection"], "keep-alive");
    EXPECT_EQ(r.headers["date"], "Sat, 28 Nov 2026 10:35:00 GMT");
    EXPECT_NE(r.headers["cache-control"].find("no-store"), std::string::npos);
    EXPECT_EQ(r.headers.count("access-control-allow-origin"), 0u);
    EXPECT_TRUE(out.ends_with("\r\n\r\n"));
}

TEST(dynamic_response, cors_echoes_the_origin_never_a_star) {
    std::vector<char> buf(response_headroom + 64);
    dynamic_response a{.status = 200,
                       .content_type = "application/json",
                       .cors_origin = "https://shop.example",
                       .vary_origin = true,
                       .keep_alive = false,
                       .unix_s = 0};
    std::string out(write_response(a, R"([{"status":"accepted"}])", buf.data()));
    response r = parse(out);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, R"([{"status":"accepted"}])");
    EXPECT_EQ(r.headers["content-length"], "23");
    EXPECT_EQ(r.headers["access-control-allow-origin"], "https://shop.example");
    EXPECT_EQ(r.headers["access-control-allow-credentials"], "true");
    EXPECT_EQ(r.headers["vary"], "Origin");
    EXPECT_EQ(r.headers["connection"], "close");
    EXPECT_EQ(out.find('*'), std::string::npos);

    a.preflight = true;
    a.status = 204;
    a.content_type = {};
    out = std::string(finish_response(a, buf.data(), 0));
    r = parse(out);
    EXPECT_EQ(r.status, 204);
    EXPECT_EQ(r.headers["access-control-allow-methods"], "POST, OPTIONS");
    EXPECT_EQ(r.headers["access-control-allow-headers"], "Content-Type");
    EXPECT_EQ(r.headers.count("content-length"), 0u);
}

TEST(dynamic_response, head_sends_the_length_without_the_body) {
    std::vector<char> buf(response_headroom + 64);
    dynamic_response a{.status = 400, .content_type = "text/plain", .head = true};
    std::string out(write_response(a, "why\n", buf.data()));
    EXPECT_NE(out.find("Content-Length: 4\r\n"), std::string::npos);
    EXPECT_TRUE(out.ends_with("\r\n\r\n"));
    a.status = 405;
    a.head = false;
    a.allow = "POST, OPTIONS";
    out = std::string(write_response(a, "x", buf.data()));
    EXPECT_NE(out.find("Allow: POST, OPTIONS\r\n"), std::string::npos);
    EXPECT_NE(out.find("405 Method Not Allowed"), std::string::npos);
}

TEST(dynamic_response, origins_that_may_be_echoed) {
    EXPECT_TRUE(echoable_origin("https://a.example"));
    EXPECT_TRUE(echoable_origin("null"));
    EXPECT_FALSE(echoable_origin(""));
    EXPECT_FALSE(echoable_origin("https://a.example x"));
    EXPECT_FALSE(echoable_origin(std::string(max_echoed_origin + 1, 'a')));
    EXPECT_FALSE(echoable_origin("https://\x80.example"));
}

// The worker sets nothing on an accepted socket: TCP_NODELAY comes from the listener.
TEST(listener, accepted_sockets_are_nodelay) {
    public_listeners listeners;
    ASSERT_EQ(open_public_listeners({"127.0.0.1:0"}, 1, 16, listeners), "");
    const int lfd = listeners.fds.at(0).at(0);
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    ASSERT_EQ(getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    const int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(client, 0);
    ASSERT_EQ(connect(client, reinterpret_cast<const sockaddr*>(&addr), len), 0);
    const int accepted = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    ASSERT_GE(accepted, 0);
    int nodelay = 0;
    socklen_t size = sizeof nodelay;
    ASSERT_EQ(getsockopt(accepted, IPPROTO_TCP, TCP_NODELAY, &nodelay, &size), 0);
    EXPECT_EQ(nodelay, 1);
    close(accepted);
    close(client);
    for (int fd : listeners.fds.at(0))
        close(fd);
}
