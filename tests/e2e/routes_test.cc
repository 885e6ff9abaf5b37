// The routes beyond the pixel (docs/endpoints.md) end to end against the real collector: beacons
// (POST /e: bodies, receipts, errors, framing: split sends, chunked, pipelined, limits), CORS
// (preflight, tracking.cors_origins), REST tuples (/tr/v1/), signed redirects (/r/, sign-url, the
// open-redirect bypass list) and tracking.allowed_events. Events are read back from the
// NDJSON file, counters from the admin /metrics.

#include <gtest/gtest.h>
#include <sodium.h>

#include <sys/socket.h>
#include <sys/time.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/e2e_events.hh"
#include "tests/support/metrics_scrape.hh"
#include "tests/support/temp_dir.hh"

using namespace pixelring::test;

namespace {

constexpr char secret[] = "routes-test-secret-0123456789";
constexpr char marker_pixel[] =
    "GET /track/marker.gif?campaignID=marker HTTP/1.1\r\nHost: px.example.com\r\n\r\n";

json_value parse_json(const std::string& text) {
    json_value v;
    std::string error;
    EXPECT_TRUE(json_reader::parse(text, v, error)) << error << " in " << text;
    return v;
}

long long dropped(const collector_process& p, const std::string& reason) {
    return static_cast<long long>(
        metric(p, "pixelring_events_dropped_total{reason=\"" + reason + "\"}").value_or(-1));
}

// One request on a fresh connection, one response.
http_response round_trip(const collector_process& p, const std::string& request,
                         bool head = false) {
    connection c(p.port());
    EXPECT_TRUE(c.ok());
    c.send_all(request);
    auto r = c.read_responses(1, head);
    EXPECT_EQ(r.size(), 1u) << request;
    return r.empty() ? http_response{} : parse_response(r[0]);
}

std::string beacon(const std::string& body,
                   const std::string& headers = "Content-Type: text/plain;charset=UTF-8\r\n",
                   const std::string& target = "/e") {
    return "POST " + target + " HTTP/1.1\r\nHost: px.example.com\r\n" + headers +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string get(const std::string& target, const std::string& headers = "") {
    return "GET " + target + " HTTP/1.1\r\nHost: px.example.com\r\n" + headers + "\r\n";
}

std::string head(const std::string& target) {
    return "HEAD " + target + " HTTP/1.1\r\nHost: px.example.com\r\n\r\n";
}

bool has_header(const http_response& r, const std::string& name) {
    return r.headers.count(name) != 0;
}

// The params member as key=value pairs in document order, each value a JSON string.
std::vector<std::pair<std::string, std::string>> params_of(const json_value& e) {
    std::vector<std::pair<std::string, std::string>> out;
    const json_value* p = e.get("params");
    EXPECT_NE(p, nullptr);
    if (!p) return out;
    EXPECT_EQ(p->kind, json_value::object_t);
    for (const auto& [k, v] : p->members) {
        EXPECT_EQ(v.kind, json_value::string_t) << "params." << k << " is not a string";
        out.emplace_back(k, v.text);
    }
    return out;
}

using pairs = std::vector<std::pair<std::string, std::string>>;

// Lower-case hex HMAC-SHA256 of text under the test secret.
std::string hmac_hex(const std::string& text) {
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(secret),
                                sizeof secret - 1);
    crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(text.data()),
                                  text.size());
    crypto_auth_hmacsha256_final(&st, mac);
    char hex[2 * sizeof mac + 1];
    sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
    return hex;
}

// The sig of a /r/<action> link to target with that campaign, as core/policy/redirect.hh defines
// the signed message ("What is signed"), built here byte by byte.
std::string link_sig(const std::string& action, std::optional<std::string> campaign,
                     const std::string& target) {
    const auto length = [](size_t n) {
        return std::string{static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                           static_cast<char>(n >> 8), static_cast<char>(n)};
    };
    std::string m("pixelring-redirect-v2\0", 22);
    m += length(action.size()) + action;
    m += campaign ? "\1" + length(campaign->size()) + *campaign : std::string(1, '\0');
    return hmac_hex(m + target);
}

// Percent-encodes every byte outside the unreserved set (a query value).
std::string encode_component(const std::string& s) {
    static const char digits[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out += char(c);
        } else {
            out += '%';
            out += digits[c >> 4];
            out += digits[c & 15];
        }
    }
    return out;
}

} // namespace

// ---- beacons --------------------------------------------------------------------------------

TEST(beacons, one_object_by_send_beacon_becomes_one_event) {
    collector_process p;
    ASSERT_TRUE(p.started()) << p.stderr_text();
    std::string body =
        R"({"action":"pageview","campaign":"spring",)"
        R"("url":"https://Shop.Example.com/blog/post%20one?utm_source=news&x=1",)"
        R"("referrer":"https://www.google.com/search?q=a",)"
        R"("params":{"scroll":70,"dark":true,"off":false,"name":"Zo\u00eb","neg":-0.5,)"
        R"("big":12345678901234567890,"exp":1e3},"ts":1732271700123,"future":{"x":[1,2]}})";
    http_response r = round_trip(
        p, beacon(body, "Content-Type: text/plain;charset=UTF-8\r\n"
                        "Origin: https://shop.example.com\r\nUser-Agent: test-agent/1.0\r\n"));
    EXPECT_EQ(r.status, 204);
    EXPECT_EQ(r.body, "");
    EXPECT_FALSE(has_header(r, "content-type"));
    EXPECT_EQ(r.headers["access-control-allow-origin"], "https://shop.example.com");
    EXPECT_EQ(r.headers["access-control-allow-credentials"], "true");
    EXPECT_EQ(r.headers["vary"], "Origin");
    EXPECT_EQ(r.headers["cache-control"],
              "no-store, no-cache, must-revalidate, private, max-age=0");

    auto ev = wait_events(p, 1);
    ASSERT_EQ(ev.size(), 1u);
    const json_value& e = ev[0];
    EXPECT_EQ(e.str("type"), "beacon");
    EXPECT_EQ(e.str("action"), "pageview");
    EXPECT_EQ(e.str("campaign"), "spring");
    EXPECT_EQ(params_of(e), (pairs{{"scroll", "70"},
                                   {"dark", "true"},
                                   {"off", "false"},
                                   {"name", "Zoë"},
                                   {"neg", "-0.5"},
                                   {"big", "12345678901234567890"},
                                   {"exp", "1e3"}}));
    EXPECT_EQ(e.str("url"), "https://Shop.Example.com/blog/post%20one?utm_source=news&x=1");
    EXPECT_EQ(e.str("path"), "/blog/post one");
    EXPECT_EQ(e.str("page_host"), "shop.example.com");
    EXPECT_EQ(e.str("referrer"), "https://www.google.com/search?q=a");
    ASSERT_TRUE(e.has("utm"));
    EXPECT_EQ(e.get("utm")->str("source"), "news");
    // The client's clock is kept verbatim as a number, never used as ts.
    ASSERT_TRUE(e.has("client_ts"));
    EXPECT_EQ(e.get("client_ts")->kind, json_value::number_t);
    EXPECT_EQ(e.get("client_ts")->text, "1732271700123");
    std::string ts = e.str("ts");
    EXPECT_EQ(ts.size(), 24u) << ts;
    EXPECT_EQ(ts.back(), 'Z') << ts;
    EXPECT_NE(ts.substr(0, 10), "2024-11-22") << ts; // 1732271700123 ms is 2024-11-22
    EXPECT_EQ(e.str("ua"), "test-agent/1.0");
    EXPECT_EQ(e.str("host"), "px.example.com");
    EXPECT_EQ(e.str("ip"), "127.0.0.0");
    EXPECT_FALSE(e.has("future"));
    EXPECT_EQ(requests(p, "beacon", 204), 1);
    EXPECT_EQ(metric(p, "pixelring_beacon_items_rejected_total"), 0);
}

// Credentials in a page URL never reach an event; params cut at 64 say so. Both are counted.
TEST(privacy, userinfo_is_removed_and_truncated_params_are_flagged) {
    collector_process p({"server.workers=1"});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    http_response r = round_trip(p, get("/track/open.gif?campaignID=c",
                                        "Referer: https://alice:s3cret@shop.example/cart\r\n"));
    EXPECT_EQ(r.status, 200);
    r = round_trip(p, beacon(R"({"action":"view","url":"https://bob:pw@shop.example/p",)"
                             R"("referrer":"http://carol@search.example/?q=x"})"));
    EXPECT_EQ(r.status, 204);
    std::string many;
    for (int i = 0; i < 70; ++i)
        many += "k" + std::to_string(i) + "=v&";
    r = round_trip(p, get("/track/open.gif?" + many + "campaignID=c"));
    EXPECT_EQ(r.status, 200);
    auto ev = wait_events(p, 3);
    ASSERT_EQ(ev.size(), 3u);
    EXPECT_EQ(ev[0].str("url"), "https://shop.example/cart");
    EXPECT_EQ(ev[0].str("page_host"), "shop.example");
    EXPECT_FALSE(ev[0].has("params_truncated"));
    EXPECT_EQ(ev[1].str("url"), "https://shop.example/p");
    EXPECT_EQ(ev[1].str("referrer"), "http://search.example/?q=x");
    ASSERT_TRUE(ev[2].has("params_truncated"));
    EXPECT_EQ(ev[2].get("params_truncated")->kind, json_value::bool_t);
    EXPECT_TRUE(ev[2].get("params_truncated")->b);
    EXPECT_EQ(ev[2].get("params")->members.size(), 64u);
    EXPECT_EQ(ev[2].str("campaign"), "c");
    for (const auto& e : ev) {
        std::string text = e.str("url") + e.str("referrer");
        EXPECT_EQ(text.find("s3cret"), std::string::npos);
        EXPECT_EQ(text.find('@'), std::string::npos) << text;
    }
    EXPECT_EQ(metric(p, "pixelring_events_userinfo_removed_total"), 2);
    EXPECT_EQ(metric(p, "pixelring_events_params_truncated_total"), 1);
}

TEST(beacons, fetch_json_array_with_receipts) {
    collector_process p;
    ASSERT_TRUE(p.started()) << p.stderr_text();
    std::string body = R"([{"action":"click","ts":"2026-01-02T03:04:05.678Z"},)"
                       R"({"campaign":"c"},)"
                       R"({"action":"a","params":{"x":{"y":1}}},)"
                       R"({"action":5},)"
                       R"({"action":"a","params":{"n":null}},)"
                       R"({"action":"b","campaign":7},)"
                       R"({"action":"c","ts":""},)"
                       R"("not an object",)"
                       R"({"action":"done","campaign":null,"url":null,"referrer":null,)"
                       R"("params":{"k":"v","a":[1]}},)"
                       R"({"action":"last","campaign":"c2","url":"/relative/page"}])";
    http_response r =
        round_trip(p, beacon(body, "Content-Type: application/json\r\n", "/e?receipts=1"));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.headers["content-type"], "application/json");
    EXPECT_FALSE(has_header(r, "access-control-allow-origin")); // no Origin sent
    EXPECT_EQ(r.headers["vary"], "Origin");
    EXPECT_EQ(r.body, R"([{"status":"accepted"},)"
                      R"({"status":"rejected","reason":"action missing"},)"
                      R"({"status":"rejected","reason":"params.x is an object"},)"
                      R"({"status":"rejected","reason":"action not a string"},)"
                      R"({"status":"rejected","reason":"params.n is null"},)"
                      R"({"status":"rejected","reason":"campaign not a string or null"},)"
                      R"({"status":"rejected","reason":"ts empty or longer than 64 bytes"},)"
                      R"({"status":"rejected","reason":"item not an object"},)"
                      R"({"status":"rejected","reason":"params.a is an array"},)"
                      R"({"status":"accepted"}])");
    parse_json(r.body);

    auto ev = wait_events(p, 2);
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[0].str("type"), "beacon");
    EXPECT_EQ(ev[0].str("action"), "click");
    EXPECT_EQ(ev[0].str("campaign"), "<null>");
    EXPECT_EQ(ev[0].str("url"), "<null>");
    EXPECT_EQ(ev[0].str("path"), "<null>");
    EXPECT_EQ(ev[0].str("page_host"), "<null>");
    EXPECT_EQ(ev[0].str("referrer"), "<null>");
    ASSERT_TRUE(ev[0].has("client_ts"));
    EXPECT_EQ(ev[0].get("client_ts")->kind, json_value::string_t);
    EXPECT_EQ(ev[0].str("client_ts"), "2026-01-02T03:04:05.678Z");
    EXPECT_NE(ev[0].str("ts"), "2026-01-02T03:04:05.678Z");
    EXPECT_EQ(params_of(ev[0]), pairs{});
    EXPECT_EQ(ev[1].str("action"), "last");
    EXPECT_EQ(ev[1].str("campaign"), "c2");
    EXPECT_EQ(ev[1].str("url"), "/relative/page");
    EXPECT_EQ(ev[1].str("page_host"), "<null>");
    EXPECT_FALSE(ev[1].has("client_ts"));
    EXPECT_EQ(ev[0].str("id").size(), 36u);
    EXPECT_NE(ev[0].str("id"), ev[1].str("id"));

    EXPECT_EQ(metric(p, "pixelring_beacon_items_rejected_total"), 8);
    EXPECT_EQ(requests(p, "beacon", 200), 1);
}

TEST(beacons, a_rejected_single_object_is_counted_and_answered_204_without_receipts) {
    collector_process p({"server.workers=1"});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    connection c(p.port());
    c.send_all(beacon(R"({"action":["x"]})"));
    c.send_all(beacon(R"({"action":"ok","params":{"a":"1","a":"2"}})", "", "/e?receipts=1"));
    c.send_all(marker_pixel);
    auto raw = c.read_responses(3);
    ASSERT_EQ(raw.size(), 3u);
    EXPECT_EQ(parse_response(raw[0]).status, 204);
    http_response receipts = parse_response(raw[1]);
    EXPECT_EQ(receipts.status, 200);
    EXPECT_EQ(receipts.body, R"([{"status":"rejected","reason":"params.a repeated"}])");
    auto ev = wait_events(p, 1);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].str("action"), "marker");
    EXPECT_EQ(metric(p, "pixelring_beacon_items_rejected_total"), 2);
}

TEST(beacons, a_receipt_never_names_an_overlong_key) {
    // A 9,000-byte params key of control bytes with an object value: its receipt once named
    // the key, six bytes per byte escaped, past the end of the answer buffer.
    collector_process p;
    ASSERT_TRUE(p.started()) << p.stderr_text();
    std::string key;
    for (int i = 0; i < 9000; ++i)
        key += "\\u001f";
    http_response r = round_trip(
        p, beacon(R"({"action":"a","params":{")" + key + R"(":{"x":1}}})", "", "/e?receipts=1"));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, R"([{"status":"rejected","reason":"params key longer than 128 bytes"}])");
    EXPECT_EQ(round_trip(p, beacon(R"({"action":"after"})")).status, 204);
}

TEST(beacons, bad_bodies_get_a_json_error_and_are_counted) {
    collector_process p({"server.workers=1", "tracking.beacon_batch=3"});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    struct bad {
        std::string body;
        int status;
        std::string error_prefix; // of the "error" member
    };
    std::vector<bad> cases = {
        {R"({"action":"x")", 400, "invalid JSON"},
        {R"({"action":"x"} {"action":"y"})", 400, "invalid JSON"},
        {R"({"action":"x",})", 400, "invalid JSON"},
        {"{\"action\":\"\xff\"}", 400, "invalid JSON"},
        {R"({"action":"x","params":{"n":01}})", 400, "invalid JSON"},
        {R"("pageview")", 400, "body is not a JSON object or array"},
        {"42", 400, "body is not a JSON object or array"},
        {"[]", 400, "empty array"},
        {"", 400, "empty body"},
        {R"([{"action":"a"},{"action":"b"},{"action":"c"},{"action":"d"}])", 413,
         "more than 3 items in a batch"},
        {std::string(40, '[') + std::string(40, ']'), 400, "JSON nested deeper than 32 levels"},
    };
    connection c(p.port());
    for (const bad& b : cases)
        c.send_all(beacon(b.body, "Content-Type: application/json\r\n"));
    c.send_all(marker_pixel);
    auto raw = c.read_responses(cases.size() + 1);
    ASSERT_EQ(raw.size(), cases.size() + 1);
    for (size_t i = 0; i < cases.size(); ++i) {
        http_response r = parse_response(raw[i]);
        EXPECT_EQ(r.status, cases[i].status) << cases[i].body;
        EXPECT_EQ(r.headers["content-type"], "application/json") << cases[i].body;
        EXPECT_EQ(r.headers["connection"], "keep-alive") << cases[i].body;
        json_value err = parse_json(r.body);
        EXPECT_EQ(err.str("error").rfind(cases[i].error_prefix, 0), 0u)
            << cases[i].body << " -> " << r.body;
    }
    EXPECT_EQ(parse_response(raw.back()).status, 200);
    auto ev = wait_events(p, 1);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].str("action"), "marker");
    EXPECT_EQ(requests(p, "beacon", 400), 10);
    EXPECT_EQ(requests(p, "beacon", 413), 1);
    EXPECT_EQ(requests(p, "beacon", 204), 0);

    // Exactly tracking.beacon_batch items is fine.
    http_response ok = round_trip(
        p, beacon(R"([{"action":"a"},{"action":"b"},{"action":"c"}])", "", "/e?receipts=1"));
    EXPECT_EQ(ok.status, 200);
    EXPECT_EQ(ok.body, R"([{"status":"accepted"},{"status":"accepted"},{"status":"accepted"}])");
}

TEST(beacons, methods_other_than_post_and_options_get_405) {
    collector_process p;
    ASSERT_TRUE(p.started()) << p.stderr_text();
    http_response r = round_trip(p, get("/e"));
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(r.headers["allow"], "POST, OPTIONS");
    EXPECT_EQ(requests(p, "beacon", 405), 1);
}

TEST(beacons, a_body_split_over_several_sends) {
    collector_process p;
    ASSERT_TRUE(p.started()) << p.stderr_text();
    std::string body = R"({"action":"split","campaign":"s","params":{"k":"v"},"ts":17})";
    std::string req = beacon(body);
    size_t head_end = req.find("\r\n\r\n") + 4;
    connection c(p.port());
    // The head in two pieces, then the body in pieces of 7 bytes.
    c.send_all(req.substr(0, 20));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    c.send_all(req.substr(20, head_end - 20));
    for (size_t at = head_end; at < req.size(); at += 7) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        EXPECT_TRUE(c.read_responses(1, false, 1).empty()) << "answered before the body ended";
        c.send_all(req.substr(at, 7));
    }
    auto raw = c.read_responses(1);
    ASSERT_EQ(raw.size(), 1u);
    EXPECT_EQ(parse_response(raw[0]).status, 204);
    auto ev = wait_events(p, 1);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].str("action"), "split");
    EXPECT_EQ(params_of(ev[0]), (pairs{{"k", "v"}}));
    EXPECT_EQ(ev[0].get("client_ts")->text, "17");
}

TEST(beacons, chunked_body_in_several_chunks_keeps_the_connection) {
    collector_process p;
    ASSERT_TRUE(p.started()) << p.stderr_text();
    std::string body =
        R"([{"action":"chunked","params":{"i":1}},{"action":"chunked","params":{"i":2}}])";
    // Chunks of 10, 1 and the rest; a chunk extension; sizes in hex.
    auto hex = [](size_t n) {
        char b[16];
        snprintf(b, sizeof b, "%zx", n);
        return std::string(b);
    };
    std::string chunks = "a\r\n" + body.substr(0, 10) + "\r\n1;ext=1\r\n" + body.substr(10, 1) +
                         "\r\n" + hex(body.size() - 11) + "\r\n" + body.substr(11) +
                         "\r\n0\r\n\r\n";
    std::string head = "POST /e?receipts=1 HTTP/1.1\r\nHost: px.example.com\r\n"
                       "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    connection c(p.port());
    c.send_all(head);
    // The chunk framing in pieces that cut size lines and CRLFs.
    for (size_t at = 0; at < chunks.size(); at += 5) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        c.send_all(chunks.substr(at, 5));
    }
    auto raw = c.read_responses(1);
    ASSERT_EQ(raw.size(), 1u);
    http_response r = parse_response(raw[0]);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, R"([{"status":"accepted"},{"status":"accepted"}])");
    EXPECT_EQ(r.headers["connection"], "keep-alive");
    // The connection goes on: a chunked beacon in one send, then a pixel.
    c.send_all(head + chunks + marker_pixel);
    raw = c.read_responses(2);
    ASSERT_EQ(raw.size(), 2u);
    EXPECT_EQ(parse_response(raw[0]).status, 200);
    EXPECT_EQ(parse_response(raw[1]).status, 200);
    auto ev = wait_events(p, 5);
    ASSERT_EQ(ev.size(), 5u);
    EXPECT_EQ(ev[0].str("action"), "chunked");
    EXPECT_EQ(params_of(ev[0]), (pairs{{"i", "1"}}));
    EXPECT_EQ(params_of(ev[1]), (pairs{{"i", "2"}}));
    EXPECT_EQ(ev[4].str("action"), "marker");
    EXPECT_EQ(requests(p, "beacon", 200), 2);
}

TEST(beacons, pipelined_beacon_then_pixel_on_one_connection) {
    collector_process p;
    ASSERT_TRUE(p.started()) << p.stderr_text();
    connection c(p.port());
    c.send_all(beacon(R"({"action":"first"})") + get("/track/second.gif?campaignID=c2") +
               beacon(R"({"action":"third"})", "", "/e?receipts=1") + head("/track/fourth.gif"));
    auto raw = c.read_responses(3);
    ASSERT_EQ(raw.size(), 3u);
    EXPECT_EQ(parse_response(raw[0]).status, 204);
    http_response px = parse_response(raw[1]);
    EXPECT_EQ(px.status, 200);
    EXPECT_EQ(px.headers["content-type"], "image/gif");
    EXPECT_EQ(parse_response(raw[2]).body, R"([{"status":"accepted"}])");
    auto h = c.read_responses(1, true);
    ASSERT_EQ(h.size(), 1u);
    EXPECT_EQ(parse_response(h[0]).status, 200);
    auto ev = wait_events(p, 4);
    ASSERT_EQ(ev.size(), 4u);
    EXPECT_EQ(ev[0].str("action"), "first");
    EXPECT_EQ(ev[0].str("type"), "beacon");
    EXPECT_EQ(ev[1].str("action"), "second");
    EXPECT_EQ(ev[1].str("type"), "pixel");
    EXPECT_EQ(ev[1].str("campaign"), "c2");
    EXPECT_EQ(ev[2].str("action"), "third");
    EXPECT_EQ(ev[3].str("action"), "fourth");
}

// More pipelined beacons than the worker holds dynamic answers for at once (8 per connection)
// and than it queues answers (32): it stops parsing, sends, and goes on, in order.
TEST(beacons, many_pipelined_beacons_are_answered_in_order) {
    collector_process p({"server.workers=1"});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    connection c(p.port());
    std::string batch;
    for (int i = 0; i < 60; ++i) {
        std::string body = R"({"action":"b)" + std::to_string(i) + R"("})";
        batch += i % 3 == 0 ? beacon(body, "Origin: https://shop.example\r\n", "/e?receipts=1")
                            : beacon(body, "Origin: https://shop.example\r\n");
        batch += get("/track/p" + std::to_string(i) + ".gif");
    }
    c.send_all(batch);
    auto raw = c.read_responses(120);
    ASSERT_EQ(raw.size(), 120u);
    for (int i = 0; i < 60; ++i) {
        http_response b = parse_response(raw[2 * i]);
        EXPECT_EQ(b.status, i % 3 == 0 ? 200 : 204) << i;
        EXPECT_EQ(b.headers["access-control-allow-origin"], "https://shop.example") << i;
        if (i % 3 == 0) {
            EXPECT_EQ(b.body, R"([{"status":"accepted"}])") << i;
        }
        EXPECT_EQ(parse_response(raw[2 * i + 1]).status, 200) << i;
    }
    auto ev = wait_events(p, 120);
    ASSERT_EQ(ev.size(), 120u);
    for (int i = 0; i < 60; ++i) {
        EXPECT_EQ(ev[2 * i].str("action"), "b" + std::to_string(i));
        EXPECT_EQ(ev[2 * i + 1].str("action"), "p" + std::to_string(i));
    }
}

TEST(beacons, content_length_over_max_body_bytes_is_413_before_the_body) {
    collector_process p({"server.max_body_bytes=1024", "server.workers=1"});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    connection c(p.port());
    // The head only: the answer must come without the body being sent.
    c.send_all("POST /e HTTP/1.1\r\nHost: px.example.com\r\nContent-Type: text/plain\r\n"
               "Origin: https://shop.example\r\nContent-Length: 1025\r\n\r\n");
    auto raw = c.read_responses(1, false, 3000);
    ASSERT_EQ(raw.size(), 1u);
    http_response r = parse_response(raw[0]);
    EXPECT_EQ(r.status, 413);
    EXPECT_EQ(r.body, R"({"error":"body larger than 1024 bytes"})");
    EXPECT_EQ(r.headers["content-type"], "application/json");
    EXPECT_EQ(r.headers["access-control-allow-origin"], "https://shop.example");
    EXPECT_EQ(r.headers["connection"], "close");
    EXPECT_TRUE(c.wait_closed());
    EXPECT_EQ(requests(p, "beacon", 413), 1);

    // Exactly max_body_bytes is read.
    std::string body = R"({"action":"max","params":{"pad":")";
    body += std::string(1024 - body.size() - 3, 'x') + "\"}}";
    ASSERT_EQ(body.size(), 1024u);
    EXPECT_EQ(round_trip(p, beacon(body)).status, 204);

    // A chunked body that grows past max_body_bytes: 413, closed.
    connection chunked(p.port());
    chunked.send_all(
        "POST /e HTTP/1.1\r\nHost: px.example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
        "200\r\n" +
        std::string(512, ' ') + "\r\n201\r\n" + std::string(513, ' ') + "\r\n0\r\n\r\n");
    raw = chunked.read_responses(1, false, 3000);
    ASSERT_EQ(raw.size(), 1u);
    r = parse_response(raw[0]);
    EXPECT_EQ(r.status, 413);
    EXPECT_EQ(r.body, R"({"error":"body larger than 1024 bytes"})");
    EXPECT_TRUE(chunked.wait_closed());
    EXPECT_EQ(requests(p, "beacon", 413), 2);
    auto ev = wait_events(p, 1);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].str("action"), "max");
}

TEST(beacons, expect_100_continue_is_answered_before_the_body) {
    collector_process p;
    ASSERT_TRUE(p.started()) << p.stderr_text();
    connection c(p.port());
    const std::string body =
        R"({"action":"big","params":{"pad":")" + std::string(2000, 'x') + "\"}}";
    c.send_all("POST /e HTTP/1.1\r\nHost: px.example.com\r\nExpect: 100-continue\r\n"
               "Content-Length: " +
               std::to_string(body.size()) + "\r\n\r\n");
    // The interim answer comes before any body byte is sent.
    char interim[64] = {};
    timeval tv{3, 0};
    setsockopt(c.fd(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t n = recv(c.fd(), interim, 25, MSG_WAITALL);
    ASSERT_EQ(n, 25);
    EXPECT_EQ(std::string(interim, 25), "HTTP/1.1 100 Continue\r\n\r\n");
    c.send_all(body);
    auto raw = c.read_responses(1);
    ASSERT_EQ(raw.size(), 1u);
    EXPECT_EQ(parse_response(raw[0]).status, 204);
    auto ev = wait_events(p, 1);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].str("action"), "big");
}

TEST(beacons, slow_bodies_hold_their_own_connections_memory_only) {
    // One worker, default limits: its body pool has room for about 170 beacons. 400 clients
    // that send a head and one byte of the body, then nothing, each hold a staging buffer, as
    // a slow head does, and take nothing a real beacon needs.
    collector_process p({"server.workers=1"});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    std::vector<std::unique_ptr<connection>> held;
    for (int i = 0; i < 400; ++i) {
        held.push_back(std::make_unique<connection>(p.port()));
        held.back()->send_all("POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n{");
    }
    ASSERT_EQ(wait_metric(p, "pixelring_connections_open", 400), 400);
    std::this_thread::sleep_for(std::chrono::milliseconds(200)); // the last heads read
    for (int i = 0; i < 20; ++i)
        EXPECT_EQ(round_trip(p, beacon(R"({"action":"real"})")).status, 204) << i;
    EXPECT_EQ(metric(p, "pixelring_body_buffers_held"), 0);
    EXPECT_EQ(requests(p, "beacon", 503), 0);
    // Every slow one is still there and is taken once it finishes.
    for (auto& c : held)
        c->send_all(R"("action":"late")" + std::string(1000 - 17, ' ') + "}");
    for (auto& c : held) {
        auto raw = c->read_responses(1);
        ASSERT_EQ(raw.size(), 1u);
        EXPECT_EQ(parse_response(raw[0]).status, 204);
    }
    EXPECT_EQ(wait_events(p, 420).size(), 420u);
}

TEST(beacons, a_chunked_body_that_outgrows_a_staging_buffer_moves_whole) {
    // A staging buffer holds 16 KiB + 64 KiB whatever server.max_body_bytes says. A
    // 200,000-byte body in chunks of 16 bytes, sent in pieces that end inside chunks, moves
    // to the body pool part way with framing still undecoded; the event has every byte.
    collector_process p({"server.workers=1", "server.max_body_bytes=262144"});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    std::string body = R"({"action":"chunky","params":{"pad":")";
    const size_t prefix = body.size(), pad = 200000 - prefix - 3;
    for (size_t i = 0; i < pad; ++i)
        body += char('a' + i % 26);
    body += "\"}}";
    ASSERT_EQ(body.size(), 200000u);
    std::string wire = "POST /e HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (size_t at = 0; at < body.size(); at += 16)
        wire += "10\r\n" + body.substr(at, 16) + "\r\n";
    wire += "0\r\n\r\n";
    connection c(p.port());
    const size_t half = wire.size() / 2 + 5; // 137,500 bytes: 100,000 of the body
    for (size_t at = 0; at < half; at += 7001)
        c.send_all(wire.substr(at, std::min<size_t>(7001, half - at)));
    EXPECT_EQ(wait_metric(p, "pixelring_body_buffers_held", 1), 1);
    for (size_t at = half; at < wire.size(); at += 7001)
        c.send_all(wire.substr(at, 7001));
    auto raw = c.read_responses(1);
    ASSERT_EQ(raw.size(), 1u);
    EXPECT_EQ(parse_response(raw[0]).status, 204);
    auto ev = wait_events(p, 1);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].str("action"), "chunky");
    EXPECT_EQ(ev[0].get("params")->str("pad"), body.substr(prefix, pad));
    EXPECT_EQ(metric(p, "pixelring_body_buffers_held"), 0);
}

TEST(beacons, bodies_that_outgrow_a_staging_buffer_share_a_bounded_pool) {
    // server.max_body_bytes = 1 MiB: a body buffer is about 1.1 MiB, so one worker holds at
    // most 16 of them (the 16 MiB bound). A beacon moves to one only when more of it arrived
    // than a staging buffer holds (max_header_bytes + 64 KiB): 16 that sent 100 KiB and
    // stopped hold them all, the 17th to send that much gets 503, and a small beacon is still
    // taken.
    collector_process p({"server.max_body_bytes=1048576", "server.workers=1"});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    constexpr size_t body = 1000000, sent = 100 * 1024;
    const std::string head =
        "POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(body) + "\r\n\r\n{" +
        std::string(sent - 1, ' ');
    std::vector<std::unique_ptr<connection>> held;
    for (int i = 0; i < 16; ++i) {
        held.push_back(std::make_unique<connection>(p.port()));
        held.back()->send_all(head);
    }
    ASSERT_EQ(wait_metric(p, "pixelring_body_buffers_held", 16), 16);
    connection extra(p.port());
    extra.send_all(head);
    auto refused = extra.read_responses(1);
    ASSERT_EQ(refused.size(), 1u);
    http_response r = parse_response(refused[0]);
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.body, R"({"error":"busy: retry later"})");
    EXPECT_EQ(r.headers["retry-after"], "1");
    EXPECT_TRUE(extra.wait_closed());
    EXPECT_EQ(round_trip(p, beacon(R"({"action":"small"})")).status, 204);
    // Finishing one gives its buffer back.
    held[0]->send_all(R"("action":"late")" + std::string(body - sent - 16, ' ') + "}");
    auto raw = held[0]->read_responses(1);
    ASSERT_EQ(raw.size(), 1u);
    EXPECT_EQ(parse_response(raw[0]).status, 204);
    EXPECT_EQ(wait_metric(p, "pixelring_body_buffers_held", 15), 15);
    EXPECT_EQ(wait_events(p, 2).size(), 2u);
}

// ---- CORS -----------------------------------------------------------------------------------

TEST(cors, a_null_origin_is_taken_but_not_echoed_unless_listed) {
    collector_process p;
    ASSERT_TRUE(p.started()) << p.stderr_text();
    http_response r = round_trip(p, beacon(R"({"action":"x"})", "Origin: null\r\n"));
    EXPECT_EQ(r.status, 204);
    EXPECT_FALSE(has_header(r, "access-control-allow-origin"));
    EXPECT_EQ(r.headers["vary"], "Origin");
    EXPECT_EQ(wait_events(p, 1).size(), 1u);

    collector_process listed({R"(tracking.cors_origins=["null","https://a.example"])"});
    ASSERT_TRUE(listed.started()) << listed.stderr_text();
    r = round_trip(listed, beacon(R"({"action":"x"})", "Origin: null\r\n"));
    EXPECT_EQ(r.status, 204);
    EXPECT_EQ(r.headers["access-control-allow-origin"], "null");
}

TEST(cors, preflight_echoes_any_origin_by_default) {
    collector_process p;
    ASSERT_TRUE(p.started()) << p.stderr_text();
    http_response r = round_trip(p, "OPTIONS /e HTTP/1.1\r\nHost: px.example.com\r\n"
                                    "Origin: https://blog.example.org\r\n"
                                    "Access-Control-Request-Method: POST\r\n"
                                    "Access-Control-Request-Headers: content-type\r\n\r\n");
    EXPECT_EQ(r.status, 204);
    EXPECT_EQ(r.body, "");
    EXPECT_EQ(r.headers["access-control-allow-origin"], "https://blog.example.org");
    EXPECT_EQ(r.headers["access-control-allow-credentials"], "true");
    EXPECT_EQ(r.headers["vary"], "Origin");
    EXPECT_NE(r.headers["access-control-allow-methods"].find("POST"), std::string::npos);
    EXPECT_NE(r.headers["access-control-allow-headers"].find("Content-Type"), std::string::npos);

    // Without Origin: 204, no CORS grant, never '*'.
    r = round_trip(p, "OPTIONS /e HTTP/1.1\r\nHost: px.example.com\r\n\r\n");
    EXPECT_EQ(r.status, 204);
    EXPECT_FALSE(has_header(r, "access-control-allow-origin"));
    EXPECT_FALSE(has_header(r, "access-control-allow-credentials"));
    EXPECT_EQ(requests(p, "preflight", 204), 2);

    // A beacon from any origin gets its origin echoed.
    r = round_trip(p, beacon(R"({"action":"x"})", "Origin: http://localhost:3000\r\n"));
    EXPECT_EQ(r.status, 204);
    EXPECT_EQ(r.headers["access-control-allow-origin"], "http://localhost:3000");
    EXPECT_EQ(r.headers["access-control-allow-credentials"], "true");
    EXPECT_EQ(r.headers["vary"], "Origin");
}

TEST(cors, cors_origins_admits_only_the_listed_origins) {
    collector_process p(
        {R"(tracking.cors_origins=["https://shop.example.com","http://localhost:3000"])",
         "server.workers=1"});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    auto preflight = [&](const std::string& origin) {
        return round_trip(p, "OPTIONS /e HTTP/1.1\r\nHost: px.example.com\r\nOrigin: " + origin +
                                 "\r\nAccess-Control-Request-Method: POST\r\n\r\n");
    };
    http_response ok = preflight("https://shop.example.com");
    EXPECT_EQ(ok.status, 204);
    EXPECT_EQ(ok.headers["access-control-allow-origin"], "https://shop.example.com");
    EXPECT_EQ(ok.headers["access-control-allow-credentials"], "true");
    EXPECT_EQ(ok.headers["vary"], "Origin");

    for (const std::string origin :
         {"https://evil.example", "https://shop.example.com.evil.example",
          "https://SHOP.example.com", "null", "http://shop.example.com",
          "https://shop.example.com:443"}) {
        http_response no = preflight(origin);
        EXPECT_EQ(no.status, 403) << origin;
        EXPECT_FALSE(has_header(no, "access-control-allow-origin")) << origin;
        EXPECT_FALSE(has_header(no, "access-control-allow-credentials")) << origin;
    }
    EXPECT_EQ(requests(p, "preflight", 204), 1);
    EXPECT_EQ(requests(p, "preflight", 403), 6);

    // Beacons: a listed origin is echoed; another gets 403 with a JSON error and no event.
    connection c(p.port());
    c.send_all(beacon(R"({"action":"allowed"})", "Origin: http://localhost:3000\r\n"));
    c.send_all(beacon(R"({"action":"refused"})", "Origin: https://evil.example\r\n"));
    c.send_all(beacon(R"({"action":"no-origin"})", ""));
    c.send_all(marker_pixel);
    auto raw = c.read_responses(4);
    ASSERT_EQ(raw.size(), 4u);
    http_response a = parse_response(raw[0]);
    EXPECT_EQ(a.status, 204);
    EXPECT_EQ(a.headers["access-control-allow-origin"], "http://localhost:3000");
    http_response refused = parse_response(raw[1]);
    EXPECT_EQ(refused.status, 403);
    EXPECT_EQ(refused.headers["content-type"], "application/json");
    EXPECT_EQ(parse_json(refused.body).str("error"), "origin not allowed");
    EXPECT_FALSE(has_header(refused, "access-control-allow-origin"));
    EXPECT_EQ(refused.headers["vary"], "Origin");
    http_response none = parse_response(raw[2]);
    EXPECT_EQ(none.status, 204);
    EXPECT_FALSE(has_header(none, "access-control-allow-origin"));
    auto ev = wait_events(p, 3);
    ASSERT_EQ(ev.size(), 3u);
    EXPECT_EQ(ev[0].str("action"), "allowed");
    EXPECT_EQ(ev[1].str("action"), "no-origin");
    EXPECT_EQ(ev[2].str("action"), "marker");
    EXPECT_EQ(requests(p, "beacon", 403), 1);
}

// ---- REST tuples ----------------------------------------------------------------------------

TEST(rest, tuples_become_a_rest_event) {
    collector_process p({"server.workers=1"});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    connection c(p.port());
    c.send_all(get("/tr/v1/action/signup/campaignID/spring/plan/pro/seats/3",
                   "Referer: https://www.example.com/pricing?x=1\r\n"));
    c.send_all(get("/tr/v1/campaign/autumn/k/v%20x+y/action/email-open%3Aann%40example.com/k/again"
                   "?ignored=1"));
    c.send_all(get("/tr/v1/only/value/empty/"));
    auto raw = c.read_responses(3);
    ASSERT_EQ(raw.size(), 3u);
    for (const auto& one : raw) {
        http_response r = parse_response(one);
        EXPECT_EQ(r.status, 204);
        EXPECT_EQ(r.body, "");
        EXPECT_EQ(r.headers["cache-control"],
                  "no-store, no-cache, must-revalidate, private, max-age=0");
    }
    auto ev = wait_events(p, 3);
    ASSERT_EQ(ev.size(), 3u);
    EXPECT_EQ(ev[0].str("type"), "rest");
    EXPECT_EQ(ev[0].str("action"), "signup");
    EXPECT_EQ(ev[0].str("campaign"), "spring");
    EXPECT_EQ(params_of(ev[0]), (pairs{{"plan", "pro"}, {"seats", "3"}}));
    EXPECT_EQ(ev[0].str("url"), "https://www.example.com/pricing?x=1");
    EXPECT_EQ(ev[0].str("page_host"), "www.example.com");
    EXPECT_EQ(ev[1].str("type"), "rest");
    EXPECT_EQ(ev[1].str("action"), "email-open:ann@example.com");
    EXPECT_EQ(ev[1].str("campaign"), "autumn");
    EXPECT_EQ(params_of(ev[1]), (pairs{{"k", "v x+y"}}));
    EXPECT_EQ(ev[2].str("action"), "event");
    EXPECT_EQ(ev[2].str("campaign"), "<null>");
    EXPECT_EQ(params_of(ev[2]), (pairs{{"only", "value"}, {"empty", ""}}));
    EXPECT_EQ(requests(p, "rest", 204), 3);
}

TEST(rest, bad_tuples_are_400_without_event) {
    collector_process p({"server.workers=1"});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    std::vector<std::string> bad = {"/tr/v1/",         "/tr/v1/k",       "/tr/v1/k/v/",
                                    "/tr/v1//v",       "/tr/v1/k/v//v2", "/tr/v1/a/b/c",
                                    "/tr/v1/?action=x"};
    std::string many = "/tr/v1";
    for (int i = 0; i < 67; ++i)
        many += "/k" + std::to_string(i) + "/v";
    bad.push_back(many);
    connection c(p.port());
    for (const auto& path : bad)
        c.send_all(get(path));
    c.send_all(marker_pixel);
    auto raw = c.read_responses(bad.size() + 1);
    ASSERT_EQ(raw.size(), bad.size() + 1);
    for (size_t i = 0; i < bad.size(); ++i) {
        http_response r = parse_response(raw[i]);
        EXPECT_EQ(r.status, 400) << bad[i];
        EXPECT_EQ(r.headers["connection"], "keep-alive") << bad[i];
    }
    auto ev = wait_events(p, 1);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].str("action"), "marker");
    EXPECT_EQ(requests(p, "rest", 400), long(bad.size()));
    EXPECT_EQ(requests(p, "rest", 204), 0);

    // 66 pairs (64 params, action, campaign) is the most.
    std::string most = "/tr/v1/action/a/campaign/c";
    for (int i = 0; i < 64; ++i)
        most += "/k" + std::to_string(i) + "/v";
    EXPECT_EQ(round_trip(p, get(most)).status, 204);
}

TEST(rest, head_and_other_methods) {
    collector_process p;
    ASSERT_TRUE(p.started()) << p.stderr_text();
    connection c(p.port());
    c.send_all(head("/tr/v1/action/h"));
    auto raw = c.read_responses(1, true);
    ASSERT_EQ(raw.size(), 1u);
    http_response r = parse_response(raw[0]);
    EXPECT_EQ(r.status, 204);
    EXPECT_EQ(r.body, "");
    c.send_all(head("/tr/v1/k"));
    raw = c.read_responses(1, true);
    ASSERT_EQ(raw.size(), 1u);
    r = parse_response(raw[0]);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.body, "");               // no body after a HEAD
    c.send_all(get("/track/after.gif")); // the connection is still in step
    raw = c.read_responses(1);
    ASSERT_EQ(raw.size(), 1u);
    EXPECT_EQ(parse_response(raw[0]).status, 200);
    r = round_trip(p, "POST /tr/v1/action/x HTTP/1.1\r\nHost: px.example.com\r\n"
                      "Content-Length: 0\r\n\r\n");
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(r.headers["allow"], "GET, HEAD");
}

// ---- redirects ------------------------------------------------------------------------------

TEST(redirects, off_without_secret_or_allow_hosts) {
    collector_process p;
    ASSERT_TRUE(p.started()) << p.stderr_text();
    http_response r = round_trip(p, get("/r/click?url=https%3A%2F%2Fshop.example.com%2F"));
    EXPECT_EQ(r.status, 404);
    EXPECT_FALSE(has_header(r, "location"));
    r = round_trip(p, head("/r/click?url=https%3A%2F%2Fshop.example.com%2F"), true);
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.body, "");
    EXPECT_EQ(requests(p, "redirect", 404), 2);
}

TEST(redirects, sign_url_link_is_followed) {
    run_result help = run_binary({"sign-url", "--help"});
    EXPECT_EQ(help.exit_code, 0);
    EXPECT_NE(help.out.find("redirect.secret"), std::string::npos) << help.out;
    run_result none = run_binary({"sign-url", "https://shop.example.com/"});
    EXPECT_EQ(none.exit_code, 2);
    EXPECT_NE(none.err.find("redirect.secret"), std::string::npos) << none.err;
    run_result bad = run_binary({"sign-url", "javascript:alert(1)"},
                                {std::string("PIXELRING_REDIRECT_SECRET=") + secret});
    EXPECT_EQ(bad.exit_code, 2);
    EXPECT_EQ(bad.out, "");

    EXPECT_NE(help.out.find("--campaign"), std::string::npos) << help.out;
    run_result s = run_binary({"--set", std::string("redirect.secret=") + secret, "sign-url",
                               "--action", "promo", "--campaign", "spring",
                               "https://Shop.Example.com/sale/caf\xc3\xa9?x=1&y=a%20b#top"});
    ASSERT_EQ(s.exit_code, 0) << s.err;
    ASSERT_FALSE(s.out.empty());
    std::string link = s.out.substr(0, s.out.find('\n'));
    ASSERT_EQ(link.rfind("/r/promo?url=", 0), 0u) << link;
    std::string canonical = "https://shop.example.com/sale/caf%C3%A9?x=1&y=a%20b#top";
    // Readable: only what a query value cannot hold as it is, and the literal '%', escaped.
    EXPECT_EQ(link, "/r/promo?url=https://shop.example.com/sale/caf%C3%A9?x=1%26y=a%2520b%23top"
                    "&campaignID=spring&sig=" +
                        link_sig("promo", "spring", canonical));
    // The same key from the environment gives the same link.
    run_result env = run_binary({"sign-url", "--action", "promo", "--campaign", "spring",
                                 "https://Shop.Example.com/sale/caf\xc3\xa9?x=1&y=a%20b#top"},
                                {std::string("PIXELRING_REDIRECT_SECRET=") + secret});
    EXPECT_EQ(env.out, s.out);
    // A URL the server would refuse as too long is refused, not printed.
    run_result too_long =
        run_binary({"sign-url", "https://shop.example.com/" + std::string(4100, 'a')},
                   {std::string("PIXELRING_REDIRECT_SECRET=") + secret});
    EXPECT_EQ(too_long.exit_code, 2);
    EXPECT_EQ(too_long.out, "");
    EXPECT_NE(too_long.err.find("too long"), std::string::npos) << too_long.err;
    // 700 × "é": 1,425 bytes, 4,225 written canonically; the server admits it (below).
    std::string wide = "https://shop.example.com/";
    for (int i = 0; i < 700; ++i)
        wide += "\xc3\xa9";
    run_result wide_link =
        run_binary({"sign-url", wide}, {std::string("PIXELRING_REDIRECT_SECRET=") + secret});
    ASSERT_EQ(wide_link.exit_code, 0) << wide_link.err;

    collector_process p({std::string("redirect.secret=") + secret, "server.workers=1"});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    http_response r = round_trip(
        p, get(link + "&utm_source=mail&k=v", "Referer: https://mail.example.net/inbox\r\n"));
    EXPECT_EQ(r.status, 302);
    EXPECT_EQ(r.headers["location"], canonical);
    EXPECT_EQ(r.headers["cache-control"],
              "no-store, no-cache, must-revalidate, private, max-age=0");
    auto ev = wait_events(p, 1);
    ASSERT_GE(ev.size(), 1u);
    EXPECT_EQ(ev[0].str("type"), "redirect");
    EXPECT_EQ(ev[0].str("action"), "promo");
    EXPECT_EQ(ev[0].str("campaign"), "spring");
    EXPECT_EQ(ev[0].str("target"), canonical);
    EXPECT_EQ(params_of(ev[0]), (pairs{{"utm_source", "mail"}, {"k", "v"}}));
    EXPECT_EQ(ev[0].str("url"), "https://mail.example.net/inbox");

    // The url as sent need not be canonical: the signature covers the canonical form.
    r = round_trip(
        p, get("/r/promo?url=" +
               encode_component("HTTPS://SHOP.example.COM/sale/caf\xc3\xa9?x=1&y=a%20b#top") +
               "&sig=" + link_sig("promo", std::nullopt, canonical)));
    EXPECT_EQ(r.status, 302) << r.body;
    EXPECT_EQ(r.headers["location"], canonical);

    // HEAD: the same 302 without a body.
    r = round_trip(p, head(link), true);
    EXPECT_EQ(r.status, 302);
    EXPECT_EQ(r.headers["location"], canonical);
    EXPECT_EQ(r.body, "");

    // A signature for another URL, a truncated one, none, an old-style one (of the target
    // alone).
    std::string url_param =
        link.substr(link.find("url="), link.find("&campaignID=") - link.find("url="));
    std::string good = link_sig("promo", std::nullopt, canonical);
    for (const std::string& sig :
         {"&sig=" + link_sig("promo", std::nullopt, "https://shop.example.com/other"),
          "&sig=" + good.substr(0, 63), "&sig=" + good.substr(0, 62), std::string("&sig="),
          std::string(), "&sig=" + hmac_hex(canonical)}) {
        http_response no = round_trip(p, get("/r/promo?" + url_param + sig));
        EXPECT_EQ(no.status, 400) << sig;
        EXPECT_FALSE(has_header(no, "location")) << sig;
    }
    // The signed link with its action or campaign changed records nothing and goes nowhere.
    const std::string query = link.substr(link.find('?'));
    const std::string sig_part = link.substr(link.find("&sig="));
    for (const std::string& edited :
         {"/r/anything" + query, "/r/click" + query, "/r/promo?" + url_param + sig_part,
          "/r/promo?" + url_param + "&campaignID=autumn" + sig_part,
          "/r/promo?" + url_param + "&campaignID=" + sig_part,
          "/r/promo?" + url_param + "&campaignID=autumn&campaignID=spring" + sig_part}) {
        http_response no = round_trip(p, get(edited));
        EXPECT_EQ(no.status, 400) << edited;
        EXPECT_NE(no.body.find("sig does not match"), std::string::npos) << edited << no.body;
    }
    // The campaign may come after the sig: the parameters' order is not signed.
    r = round_trip(p, get("/r/promo?" + url_param + sig_part + "&campaignID=spring"));
    EXPECT_EQ(r.status, 302) << r.body;
    EXPECT_EQ(requests(p, "redirect", 400), 12);
    EXPECT_EQ(requests(p, "redirect", 302), 4);
    auto all = wait_events(p, 3);
    for (const auto& e : all) {
        EXPECT_EQ(e.str("action"), "promo");
        EXPECT_EQ(e.str("target"), canonical);
    }

    // The 700 × "é" link: a Location of 4,225 bytes.
    r = round_trip(p, get(wide_link.out.substr(0, wide_link.out.find('\n'))));
    EXPECT_EQ(r.status, 302) << r.body;
    EXPECT_EQ(r.headers["location"].size(), 25u + 700 * 6);
}

TEST(redirects, allow_hosts_admit_exact_hosts) {
    collector_process p(
        {R"(redirect.allow_hosts=["good.example","xn--bcher-kva.example"])", "server.workers=1"});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    struct ok_case {
        std::string url; // the url parameter as sent
        std::string location;
    };
    std::vector<ok_case> oks = {
        {"https%3A%2F%2Fgood.example%2Fsale%3Fa%3D1%26b%3D2", "https://good.example/sale?a=1&b=2"},
        {"HTTP://GOOD.EXAMPLE:8443/P", "http://good.example:8443/P"},
        {"https://good.example", "https://good.example"},
        {"https://good.example/caf%C3%A9", "https://good.example/caf%C3%A9"},
        {"https://xn--bcher-kva.example/", "https://xn--bcher-kva.example/"},
        {"https://good.example/a%2520b", "https://good.example/a%20b"},
    };
    for (const ok_case& k : oks) {
        http_response r = round_trip(p, get("/r/go?url=" + k.url + "&campaignID=c"));
        EXPECT_EQ(r.status, 302) << k.url;
        EXPECT_EQ(r.headers["location"], k.location) << k.url;
    }
    auto ev = wait_events(p, oks.size());
    ASSERT_EQ(ev.size(), oks.size());
    for (size_t i = 0; i < oks.size(); ++i) {
        EXPECT_EQ(ev[i].str("type"), "redirect");
        EXPECT_EQ(ev[i].str("action"), "go");
        EXPECT_EQ(ev[i].str("campaign"), "c");
        EXPECT_EQ(ev[i].str("target"), oks[i].location);
        EXPECT_EQ(params_of(ev[i]), pairs{});
    }
    EXPECT_EQ(requests(p, "redirect", 302), long(oks.size()));
}

// The open-redirect bypasses: each refused with 400, no Location, no event; sent unsigned, and
// signed with the HMAC of the decoded target, so that the signature is never what saves us.
TEST(redirects, open_redirect_bypasses_are_refused) {
    collector_process p({std::string("redirect.secret=") + secret,
                         R"(redirect.allow_hosts=["good.example"])", "server.workers=1"});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    struct bypass {
        std::string param;      // the url parameter as sent (percent-encoded)
        std::string decoded;    // what the server sees after one decoding (what is signed)
        bool host_only = false; // a well-formed URL refused for its host: a valid sig admits it
    };
    std::vector<bypass> cases = {
        {"%2F%2Fevil.example", "//evil.example"},
        {"//evil.example", "//evil.example"},
        {"%2F%5Cevil.example", "/\\evil.example"},
        {"/%5Cevil.example/", "/\\evil.example/"},
        {"https:evil.example", "https:evil.example"},
        {"https%3Aevil.example%2F", "https:evil.example/"},
        {"https:/evil.example", "https:/evil.example"},
        {"https://good.example@evil.example", "https://good.example@evil.example"},
        {"https%3A%2F%2Fgood.example%40evil.example%2F", "https://good.example@evil.example/"},
        {"https://good.example:443@evil.example", "https://good.example:443@evil.example"},
        {"https://user:pw@good.example/", "https://user:pw@good.example/"},
        {"%252f%252fevil.example", "%2f%2fevil.example"},
        {"https%253A%252F%252Fevil.example", "https%3A%2F%2Fevil.example"},
        {"https://good.example%5C@evil.example", "https://good.example\\@evil.example"},
        {"https:%5C%5Cevil.example", "https:\\\\evil.example"},
        {"https://good.example%5C.evil.example", "https://good.example\\.evil.example"},
        {"https://good.example/%5Cevil", "https://good.example/\\evil"},
        {"https://good.example%09.evil.example", "https://good.example\t.evil.example"},
        {"https://good.example/%09", "https://good.example/\t"},
        {"%09//evil.example", "\t//evil.example"},
        {"https://%0Agood.example/", "https://\ngood.example/"},
        {"https://good.example/%0D%0ASet-Cookie:%20x=1",
         "https://good.example/\r\nSet-Cookie: x=1"},
        {"https://good.example%00.evil.example",
         std::string("https://good.example\0.evil.example", 34)},
        {"%20https://good.example/", " https://good.example/"},
        {"https://good.example%20/", "https://good.example /"},
        {"https://g%C3%B6od.example/", "https://g\xc3\xb6od.example/"},
        {"https://good.ex%C3%A4mple/", "https://good.ex\xc3\xa4mple/"},
        {"https://xn--gd-fkaa.example/", "https://xn--gd-fkaa.example/", true},
        {"https://xn--good-qqa.example/", "https://xn--good-qqa.example/", true},
        {"https://good.example.evil.example/", "https://good.example.evil.example/", true},
        {"https://evil.example/good.example", "https://evil.example/good.example", true},
        {"https://evil.example?good.example", "https://evil.example?good.example", true},
        {"https://evilgood.example/", "https://evilgood.example/", true},
        {"https://good.example./", "https://good.example./"},
        {"https://good%252Eexample/", "https://good%2Eexample/"},
        {"https://%2567ood.example/", "https://%67ood.example/"},
        {"javascript:alert(1)", "javascript:alert(1)"},
        {"javascript://good.example/%250Aalert(1)", "javascript://good.example/%0Aalert(1)"},
        {"JavaScript%3Aalert(document.domain)", "JavaScript:alert(document.domain)"},
        {"java%09script:alert(1)", "java\tscript:alert(1)"},
        {"data:text/html,%3Cscript%3Ealert(1)%3C/script%3E",
         "data:text/html,<script>alert(1)</script>"},
        {"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
         "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="},
        {"vbscript:msgbox(1)", "vbscript:msgbox(1)"},
        {"file:///etc/passwd", "file:///etc/passwd"},
        {"ftp://good.example/", "ftp://good.example/"},
        {"evil.example", "evil.example"},
        {"/path", "/path"},
        {"https://good.example:99999/", "https://good.example:99999/"},
        {"https://good.example:/", "https://good.example:/"},
        {"https://[::1/", "https://[::1/"},
        {"", ""},
    };
    connection c(p.port());
    size_t sent = 0;
    for (const bypass& b : cases) {
        // Where one percent-decoding of the parameter gives back the decoded form, check it.
        c.send_all(get("/r/click?url=" + b.param + "&campaignID=x"));
        c.send_all(get("/r/click?url=" + b.param + "&sig=" + link_sig("click", "x", b.decoded) +
                       "&campaignID=x"));
        sent += 2;
    }
    c.send_all(marker_pixel);
    auto raw = c.read_responses(sent + 1);
    ASSERT_EQ(raw.size(), sent + 1);
    size_t signed_ok = 0;
    for (size_t i = 0; i < sent; ++i) {
        const bypass& b = cases[i / 2];
        http_response r = parse_response(raw[i]);
        if (b.host_only && i % 2 == 1) { // signed: admitted, to exactly that target
            ++signed_ok;
            EXPECT_EQ(r.status, 302) << b.param;
            EXPECT_EQ(r.headers["location"], b.decoded) << b.param;
            continue;
        }
        EXPECT_EQ(r.status, 400) << b.param << (i % 2 ? " signed" : " unsigned") << " -> "
                                 << r.headers["location"];
        EXPECT_FALSE(has_header(r, "location")) << b.param;
        EXPECT_EQ(r.body.rfind("redirect refused: ", 0), 0u) << b.param << " -> " << r.body;
        EXPECT_EQ(r.headers["connection"], "keep-alive") << b.param;
    }
    auto ev = wait_events(p, signed_ok + 1);
    ASSERT_EQ(ev.size(), signed_ok + 1);
    for (size_t i = 0; i < signed_ok; ++i) {
        EXPECT_EQ(ev[i].str("type"), "redirect");
        EXPECT_NE(ev[i].str("target"), "<absent>");
    }
    EXPECT_EQ(ev.back().str("action"), "marker");
    EXPECT_EQ(requests(p, "redirect", 400), long(sent - signed_ok));
    EXPECT_EQ(requests(p, "redirect", 302), long(signed_ok));

    // Only the parameter called url counts: a second url parameter, a url in the fragment,
    // or one named like it cannot smuggle a target.
    for (const std::string& target :
         {std::string("/r/click?url=https://good.example/&url=https://evil.example/"),
          std::string("/r/click?URL=https://evil.example/&url=https://good.example/"),
          std::string("/r/click?xurl=https://evil.example/&url=https://good.example/")}) {
        http_response r = round_trip(p, get(target));
        EXPECT_EQ(r.status, 302) << target;
        EXPECT_EQ(r.headers["location"], "https://good.example/") << target;
    }
}

// A target up to max_redirect_target (4096 bytes) is admitted, whatever room the answer's
// head has; a refused one makes no event.
TEST(redirects, long_targets_up_to_4096_bytes) {
    collector_process p({R"(redirect.allow_hosts=["good.example"])", "server.workers=1"});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    connection c(p.port());
    std::vector<size_t> sizes = {1000, 1800, 2500, 4000};
    for (size_t n : sizes)
        c.send_all(get("/r/long?url=https://good.example/" + std::string(n, 'a')));
    // Non-ASCII bytes grow threefold in the Location: 1300 of them, a 3.9 KB header.
    std::string wide;
    for (int i = 0; i < 650; ++i)
        wide += "%C3%A9";
    c.send_all(get("/r/long?url=https://good.example/" + wide));
    c.send_all(get("/r/long?url=https://good.example/" + std::string(4100, 'a')));
    c.send_all(marker_pixel);
    auto raw = c.read_responses(sizes.size() + 3);
    ASSERT_EQ(raw.size(), sizes.size() + 3);
    for (size_t i = 0; i < sizes.size(); ++i) {
        http_response r = parse_response(raw[i]);
        EXPECT_EQ(r.status, 302) << sizes[i] << " bytes: " << r.body;
        EXPECT_TRUE(r.headers["location"] == "https://good.example/" + std::string(sizes[i], 'a'))
            << sizes[i] << " bytes: Location of " << r.headers["location"].size() << " bytes";
    }
    http_response w = parse_response(raw[sizes.size()]);
    EXPECT_EQ(w.status, 302) << "1300 non-ASCII bytes: " << w.body;
    EXPECT_TRUE(w.headers["location"] == "https://good.example/" + wide)
        << "Location of " << w.headers["location"].size() << " bytes";
    http_response over = parse_response(raw[sizes.size() + 1]);
    EXPECT_EQ(over.status, 400); // over max_redirect_target
    EXPECT_FALSE(has_header(over, "location"));
    // Events: one per 302, none for the 400.
    size_t redirects = 0;
    for (size_t i = 0; i <= sizes.size(); ++i)
        redirects += parse_response(raw[i]).status == 302;
    auto ev = wait_events(p, redirects + 1);
    EXPECT_EQ(ev.size(), redirects + 1);
    EXPECT_EQ(metric(p, "pixelring_events_total{outcome=\"accepted\"}"), long(redirects + 1))
        << "an event was recorded for a refused redirect";
    EXPECT_EQ(requests(p, "redirect", 302), long(sizes.size() + 1));
    EXPECT_EQ(requests(p, "redirect", 400), 1);
}

TEST(redirects, bad_paths_and_methods) {
    collector_process p({R"(redirect.allow_hosts=["good.example"])"});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    EXPECT_EQ(round_trip(p, get("/r/?url=https://good.example/")).status, 404);
    EXPECT_EQ(round_trip(p, get("/r/a/b?url=https://good.example/")).status, 404);
    http_response r = round_trip(p, "POST /r/click?url=https://good.example/ HTTP/1.1\r\n"
                                    "Host: px.example.com\r\nContent-Length: 0\r\n\r\n");
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(r.headers["allow"], "GET, HEAD");
    r = round_trip(p, head("/r/click?url=javascript:alert(1)"), true);
    EXPECT_EQ(r.status, 400);
    EXPECT_FALSE(has_header(r, "location"));
    EXPECT_EQ(r.body, "");
    r = round_trip(p, get("/r/click"));
    EXPECT_EQ(r.status, 400);
    EXPECT_FALSE(has_header(r, "location"));
}

// ---- tls.acme_webroot -------------------------------------------------------------------------

// certbot --webroot writes <webroot>/.well-known/acme-challenge/<token>; the ACME server
// fetches it over plain http. Only base64url tokens name a file; nothing else is read.
TEST(acme, challenges_are_answered_from_the_webroot_only) {
    temp_dir root("pixelring-acme");
    const std::string dir = root.str() + "/.well-known/acme-challenge";
    std::filesystem::create_directories(dir);
    const std::string token = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0";
    const std::string key_authz = token + ".9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";
    std::ofstream(dir + "/" + token) << key_authz;
    std::ofstream(root.str() + "/secret") << "not for the web";
    std::ofstream(dir + "/big") << std::string(2000, 'x');
    std::filesystem::create_symlink(root.str() + "/secret", dir + "/link");

    collector_process p({"tls.acme_webroot=" + root.str()});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    http_response r = round_trip(p, get("/.well-known/acme-challenge/" + token));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, key_authz);
    EXPECT_EQ(r.headers["content-type"], "text/plain; charset=utf-8");
    r = round_trip(p, head("/.well-known/acme-challenge/" + token), true);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "");
    for (const std::string& bad :
         {std::string("missing"), std::string("..%2F..%2Fsecret"), std::string("../../secret"),
          std::string("%2e%2e"), std::string("big"), std::string("link"), std::string(""),
          std::string(129, 'a')})
        EXPECT_EQ(round_trip(p, get("/.well-known/acme-challenge/" + bad)).status, 404) << bad;
    EXPECT_EQ(requests(p, "acme", 200), 2);
    EXPECT_EQ(requests(p, "acme", 404), 8);
    EXPECT_EQ(metric(p, "pixelring_events_total{outcome=\"accepted\"}"), 0); // no event

    collector_process off;
    ASSERT_TRUE(off.started()) << off.stderr_text();
    EXPECT_EQ(round_trip(off, get("/.well-known/acme-challenge/" + token)).status, 404);
}

// ---- tracking.allowed_events ----------------------------------------------------------------

TEST(allowed_events, pixels_are_answered_but_dropped_and_beacon_items_rejected) {
    collector_process p({R"(tracking.allowed_events=["pageview","marker","email-open:*"])",
                         R"(redirect.allow_hosts=["good.example"])", "server.workers=1"});
    ASSERT_TRUE(p.started()) << p.stderr_text();
    connection c(p.port());
    std::vector<std::string> reqs = {
        get("/track/pageview.gif?campaignID=a"),      // kept
        get("/track/signup.gif?campaignID=a"),        // dropped
        get("/track/email-open:ann@example.com.png"), // kept (prefix)
        get("/track/page%76iew.gif"),                 // kept (decoded)
        get("/track/PageView.gif"),                   // dropped (case-sensitive)
        get("/track/email-open.gif"),                 // dropped (not the prefix)
        get("/tr/v1/action/signup/campaign/x"),       // dropped
        get("/tr/v1/action/pageview/campaign/x"),     // kept
        get("/tr/v1/campaign/x/k/v"),                 // dropped: action "event"
        get("/r/signup?url=https://good.example/"),   // 302, dropped
        get("/r/pageview?url=https://good.example/"), // 302, kept
        head("/track/signup.gif"),                    // dropped
    };
    for (const auto& r : reqs)
        c.send_all(r);
    auto raw = c.read_responses(reqs.size() - 1);
    ASSERT_EQ(raw.size(), reqs.size() - 1);
    std::vector<int> statuses = {200, 200, 200, 200, 200, 200, 204, 204, 204, 302, 302};
    for (size_t i = 0; i < statuses.size(); ++i)
        EXPECT_EQ(parse_response(raw[i]).status, statuses[i]) << reqs[i];
    auto h = c.read_responses(1, true);
    ASSERT_EQ(h.size(), 1u);
    EXPECT_EQ(parse_response(h[0]).status, 200);

    http_response receipts = round_trip(
        p, beacon(R"([{"action":"pageview"},{"action":"signup"},{"action":"email-open:x"},)"
                  R"({"action":"email-open"},{"action":"Pageview"}])",
                  "", "/e?receipts=1"));
    EXPECT_EQ(receipts.status, 200);
    EXPECT_EQ(receipts.body, R"([{"status":"accepted"},)"
                             R"({"status":"rejected","reason":"action not allowed"},)"
                             R"({"status":"accepted"},)"
                             R"({"status":"rejected","reason":"action not allowed"},)"
                             R"({"status":"rejected","reason":"action not allowed"}])");
    auto ev = wait_events(p, 7);
    ASSERT_EQ(ev.size(), 7u);
    std::vector<std::string> actions;
    for (const auto& e : ev)
        actions.push_back(e.str("type") + ":" + e.str("action"));
    EXPECT_EQ(actions,
              (std::vector<std::string>{"pixel:pageview", "pixel:email-open:ann@example.com",
                                        "pixel:pageview", "rest:pageview", "redirect:pageview",
                                        "beacon:pageview", "beacon:email-open:x"}));
    EXPECT_EQ(dropped(p, "not_allowed"), 7);
    EXPECT_EQ(metric(p, "pixelring_beacon_items_rejected_total"), 3);
    EXPECT_EQ(metric(p, "pixelring_events_total{outcome=\"accepted\"}"), 7);
}
