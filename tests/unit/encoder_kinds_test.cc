// Tests of the encoder's event kinds beyond the plain pixel: the rest, redirect and beacon events
// (core/event/event.hh), with and without enrichment fields: exact events, each field rule, the
// rest tuple rules, the size bound under random worst-case bytes (checked with a strict JSON
// reader, a UTF-8 check and a sentinel past the bound), and no allocation. The enrichment split
// itself (enrich_request, enrich_visitor) is in tests/unit/enrichment_unit_test.cc.

#include "core/event/event.hh"

#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <cstring>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/enrich/enrichment.hh"
#include "core/enrich/geoip.hh"
#include "core/enrich/user_agent.hh"
#include "core/enrich/visitor.hh"
#include "core/event/beacon.hh"
#include "core/http/request_parser.hh"
#include "tests/support/counting_allocator.hh"
#include "tests/support/json_reader.hh"
#include "tests/support/utf8_check.hh"

namespace pixelring {
namespace {

constexpr uint64_t k_ms = 1795343700123; // 2026-11-22T10:35:00.123Z
constexpr event_id k_id = {0x01, 0x92, 0xf7, 0xa4, 0x6c, 0x1e, 0x7d, 0x2a,
                           0x9b, 0x1e, 0x3f, 0x5c, 0x2d, 0x7e, 0x8a, 0x90};
constexpr char k_head[] =
    R"({"v":1,"id":"0192f7a4-6c1e-7d2a-9b1e-3f5c2d7e8a90","ts":"2026-11-22T10:35:00.123Z",)";
constexpr size_t k_sentinel = 64;

ip_address ipv4(const char* text) {
    ip_address a;
    a.family = 4;
    EXPECT_EQ(inet_pton(AF_INET, text, a.bytes), 1) << text;
    return a;
}

ip_address ipv6(const char* text) {
    ip_address a;
    a.family = 6;
    EXPECT_EQ(inet_pton(AF_INET6, text, a.bytes), 1) << text;
    return a;
}

encode_options edge_1() {
    encode_options opt;
    opt.collector = "edge-1";
    return opt;
}

// True when no object in v (at any depth) holds a name twice.
bool unique_names(const test::json_value& v) {
    std::set<std::string> names;
    for (const auto& [name, member] : v.members) {
        if (!names.insert(name).second || !unique_names(member)) return false;
    }
    for (const auto& item : v.items)
        if (!unique_names(item)) return false;
    return true;
}

// Encodes into a buffer of exactly the bound plus a sentinel, and checks what every event
// must be: within the bound, nothing written past it, valid UTF-8, strict JSON, an object
// without a repeated name.
template <typename Size, typename Encode> std::string checked_encode(Size size, Encode encode) {
    const size_t bound = size();
    std::vector<char> buf(bound + k_sentinel, '\xA5');
    const size_t n = encode(buf.data());
    EXPECT_LE(n, bound);
    for (size_t i = bound; i < buf.size(); ++i) {
        if (buf[i] != '\xA5') {
            ADD_FAILURE() << "written past the bound at +" << i - bound;
            break;
        }
    }
    std::string json(buf.data(), std::min(n, bound));
    EXPECT_TRUE(test::is_valid_utf8(json)) << json;
    test::json_value v;
    std::string error;
    EXPECT_TRUE(test::json_reader::parse(json, v, error)) << error << ": " << json;
    EXPECT_EQ(v.kind, test::json_value::object_t) << json;
    EXPECT_TRUE(unique_names(v)) << json;
    return json;
}

std::string encode(const pixel_hit& hit, const encode_options& opt = edge_1()) {
    return checked_encode([&] { return max_pixel_event_size(hit, opt); },
                          [&](char* out) { return encode_pixel_event(hit, opt, k_id, k_ms, out); });
}

std::string encode(const beacon_hit& hit, const encode_options& opt = edge_1()) {
    return checked_encode(
        [&] { return max_beacon_event_size(hit, opt); },
        [&](char* out) { return encode_beacon_event(hit, opt, k_id, k_ms, out); });
}

test::json_value parse(const std::string& json) {
    test::json_value v;
    std::string error;
    EXPECT_TRUE(test::json_reader::parse(json, v, error)) << error << ": " << json;
    return v;
}

// The params object's members as "k=v" strings, in order.
std::vector<std::string> params_of(const std::string& json) {
    std::vector<std::string> out;
    const test::json_value v = parse(json);
    const test::json_value* params = v.get("params");
    EXPECT_NE(params, nullptr) << json;
    if (params == nullptr) return out;
    for (const auto& [k, value] : params->members)
        out.push_back(k + "=" + value.text);
    return out;
}

std::vector<std::string> names_of(const std::string& json) {
    std::vector<std::string> out;
    for (const auto& [k, value] : parse(json).members)
        out.push_back(k);
    return out;
}

pixel_hit rest_hit(std::string_view tuples) {
    pixel_hit hit;
    hit.type = event_type::rest;
    hit.query = tuples;
    hit.host = "px.example.com";
    return hit;
}

// ---- rest ----------------------------------------------------------------------------------

TEST(rest_event, exact_event) {
    pixel_hit hit = rest_hit("action/signup/campaign/example.com/plan/pro%20plus/seats/3");
    hit.referer = "https://example.com/pricing?x=1";
    hit.user_agent = "curl/8.5";
    hit.client = ipv4("198.51.100.23");
    hit.action = "ignored";
    EXPECT_EQ(encode(hit), std::string(k_head) +
                               R"("type":"rest","action":"signup","campaign":"example.com",)"
                               R"("params":{"plan":"pro plus","seats":"3"},)"
                               R"("url":"https://example.com/pricing?x=1","path":"/pricing",)"
                               R"("page_host":"example.com","referrer":null,"ip":"198.51.100.0",)"
                               R"("ua":"curl/8.5","host":"px.example.com","collector":"edge-1"})");
}

TEST(rest_event, action) {
    auto action = [](std::string_view tuples) {
        return parse(encode(rest_hit(tuples))).str("action");
    };
    EXPECT_EQ(action("k/v"), "event");              // absent
    EXPECT_EQ(action("action/"), "event");          // empty value
    EXPECT_EQ(action("action//action/x"), "event"); // the first one counts, even empty
    EXPECT_EQ(action("action/a/action/b"), "a");
    EXPECT_EQ(action("%61ction/decoded"), "decoded");   // the key is compared decoded
    EXPECT_EQ(action("Action/x"), "event");             // case-sensitive
    EXPECT_EQ(action("action/a+b%20c%2Fd"), "a+b c/d"); // no '+' as a space in a path
    EXPECT_EQ(action("action/email-open:ann@example.com"), "email-open:ann@example.com");
    // Never a params member, also the repeated ones.
    EXPECT_EQ(params_of(encode(rest_hit("action/a/k/v/action/b"))),
              std::vector<std::string>{"k=v"});
}

TEST(rest_event, campaign_and_alias) {
    auto campaign = [](std::string_view tuples) {
        return parse(encode(rest_hit(tuples))).str("campaign");
    };
    EXPECT_EQ(campaign("k/v"), "<null>");
    EXPECT_EQ(campaign("campaign/a"), "a");
    EXPECT_EQ(campaign("campaignID/b"), "b");
    EXPECT_EQ(campaign("campaignID/b/campaign/a"), "b"); // the first one wins
    EXPECT_EQ(campaign("campaign/a/campaignID/b"), "a");
    EXPECT_EQ(campaign("campaign/"), "");
    EXPECT_EQ(campaign("campaign/caf%C3%A9+x"), "café+x");
    EXPECT_EQ(campaign("campaign%49D/c"), "c");
    EXPECT_EQ(params_of(encode(rest_hit("campaign/a/k/v/campaignID/b/campaign/c"))),
              std::vector<std::string>{"k=v"});
    // raw_campaign: the same pick, still encoded, for the visitor's site.
    EXPECT_EQ(raw_campaign(rest_hit("k/v/campaign/caf%C3%A9/campaignID/b")), "caf%C3%A9");
    EXPECT_EQ(raw_campaign(rest_hit("k/v")), "");
    pixel_hit pixel;
    pixel.query = "a=1&campaign%49D=x%20y&campaignID=z";
    EXPECT_EQ(raw_campaign(pixel), "x%20y");
    pixel.type = event_type::redirect;
    EXPECT_EQ(raw_campaign(pixel), "x%20y");
    pixel.query = "campaign=x";
    EXPECT_EQ(raw_campaign(pixel), ""); // the alias is for rest only
}

TEST(rest_event, params) {
    EXPECT_EQ(params_of(encode(rest_hit("a/1/b/2/a/3"))), (std::vector<std::string>{"a=1", "b=2"}));
    EXPECT_EQ(params_of(encode(rest_hit("a/1/%61/2"))), std::vector<std::string>{"a=1"});
    EXPECT_EQ(params_of(encode(rest_hit("k/"))), std::vector<std::string>{"k="});
    EXPECT_EQ(params_of(encode(rest_hit("k%2Fx/v%3Dy&z"))), std::vector<std::string>{"k/x=v=y&z"});
    EXPECT_EQ(params_of(encode(rest_hit("q%22/%5C%0A%FF"))),
              std::vector<std::string>{"q\"=\\\n\xEF\xBF\xBD"});
    // Raw escapes in the JSON text.
    const std::string json = encode(rest_hit("k%01/%E2%80%A8"));
    EXPECT_NE(json.find(R"("params":{"k\u0001":"\u2028"})"), std::string::npos) << json;
    // Keys that escape the same (two invalid bytes, both U+FFFD) count as repeated.
    EXPECT_EQ(params_of(encode(rest_hit("%FF/1/%FE/2"))),
              std::vector<std::string>{"\xEF\xBF\xBD=1"});
    // At most max_event_params members.
    std::string tuples;
    for (size_t i = 0; i < max_event_params + 5; ++i)
        tuples += (i ? "/k" : "k") + std::to_string(i) + "/v";
    const std::vector<std::string> params = params_of(encode(rest_hit(tuples)));
    ASSERT_EQ(params.size(), max_event_params);
    EXPECT_EQ(params.back(), "k" + std::to_string(max_event_params - 1) + "=v");
}

TEST(rest_event, invalid_tuples_still_encode) {
    for (const char* tuples : {"", "/", "//", "k", "k/v/", "/v", "k/v//x", "a//b//c", "///k/"}) {
        SCOPED_TRACE(tuples);
        encode(rest_hit(tuples)); // checked: valid JSON within the bound
    }
    EXPECT_EQ(params_of(encode(rest_hit("k/v/x"))), (std::vector<std::string>{"k=v", "x="}));
    EXPECT_EQ(params_of(encode(rest_hit(""))), std::vector<std::string>{});
}

TEST(valid_rest_tuples, rules) {
    EXPECT_TRUE(valid_rest_tuples("k/v"));
    EXPECT_TRUE(valid_rest_tuples("k/"));      // empty value
    EXPECT_TRUE(valid_rest_tuples("k//k2/v")); // empty value in the middle
    EXPECT_TRUE(valid_rest_tuples("action/signup/campaign/x/a%2Fb/%20"));
    EXPECT_TRUE(valid_rest_tuples("a/1/a/2")); // repeated keys are the encoder's business
    EXPECT_TRUE(valid_rest_tuples("k/v?x"));   // bytes are not checked
    EXPECT_FALSE(valid_rest_tuples(""));
    EXPECT_FALSE(valid_rest_tuples("k"));
    EXPECT_FALSE(valid_rest_tuples("/"));    // empty key
    EXPECT_FALSE(valid_rest_tuples("/v"));   // empty key
    EXPECT_FALSE(valid_rest_tuples("k/v/")); // trailing '/': an empty key
    EXPECT_FALSE(valid_rest_tuples("k/v//v2"));
    EXPECT_FALSE(valid_rest_tuples("k/v/k2"));
    EXPECT_FALSE(valid_rest_tuples("//"));

    std::string tuples;
    for (size_t i = 0; i < max_rest_pairs; ++i)
        tuples += (i ? "/k" : "k") + std::to_string(i) + "/v";
    EXPECT_TRUE(valid_rest_tuples(tuples));
    EXPECT_FALSE(valid_rest_tuples(tuples + "/k/v"));
    EXPECT_FALSE(valid_rest_tuples(tuples + "/k"));
    EXPECT_EQ(max_rest_pairs, max_event_params + 2);
}

// ---- redirect ------------------------------------------------------------------------------

pixel_hit redirect_hit(std::string_view query) {
    pixel_hit hit;
    hit.type = event_type::redirect;
    hit.action = "click";
    hit.query = query;
    hit.target = "https://shop.example.com/sale?a=1&b=%C3%A9";
    hit.host = "px.example.com";
    return hit;
}

TEST(redirect_event, exact_event) {
    pixel_hit hit = redirect_hit("url=https%3A%2F%2Fshop.example.com%2Fsale&sig=ab12&"
                                 "campaignID=news&pos=top");
    hit.referer = "https://mail.example.net/inbox";
    hit.client = ipv6("2001:db8:1:2:3:4:5:6");
    EXPECT_EQ(encode(hit),
              std::string(k_head) +
                  R"("type":"redirect","action":"click","campaign":"news",)"
                  R"("params":{"pos":"top"},"url":"https://mail.example.net/inbox",)"
                  R"("path":"/inbox","page_host":"mail.example.net","referrer":null,)"
                  R"("target":"https://shop.example.com/sale?a=1&b=%C3%A9",)"
                  R"("ip":"2001:db8:1::","host":"px.example.com","collector":"edge-1"})");
}

TEST(redirect_event, url_and_sig_never_in_params) {
    EXPECT_EQ(params_of(encode(redirect_hit("url=a&sig=b&u%72l=c&si%67=d&url=e&x=1&sig"))),
              std::vector<std::string>{"x=1"});
    EXPECT_EQ(params_of(encode(redirect_hit("urls=a&sign=b&URL=c"))),
              (std::vector<std::string>{"urls=a", "sign=b", "URL=c"}));
}

TEST(redirect_event, target_member) {
    pixel_hit hit = redirect_hit("url=x");
    hit.action = "cl%69ck+1";
    const std::string json = encode(hit);
    const std::vector<std::string> names = names_of(json);
    const auto at = [&](const char* name) {
        return std::find(names.begin(), names.end(), name) - names.begin();
    };
    EXPECT_EQ(at("target"), at("referrer") + 1);
    EXPECT_EQ(parse(json).str("target"), hit.target);
    EXPECT_EQ(parse(json).str("action"), "click+1"); // as a pixel's action
    EXPECT_EQ(parse(json).str("type"), "redirect");
    hit.target = "";
    EXPECT_EQ(parse(encode(hit)).str("target"), "<null>");
    hit.target = "https://a.example/\"\x01";
    EXPECT_EQ(parse(encode(hit)).str("target"), "https://a.example/\"\x01");
    // Pixels and rest hits never write it.
    hit.type = event_type::pixel;
    EXPECT_FALSE(parse(encode(hit)).has("target"));
    EXPECT_EQ(params_of(encode(hit)), std::vector<std::string>{"url=x"});
    hit.type = event_type::rest;
    EXPECT_FALSE(parse(encode(hit)).has("target"));
}

// ---- beacon --------------------------------------------------------------------------------

struct beacon_fixture {
    std::vector<beacon_param> params{{"scroll", "70"}, {"dark mode", "true"}};
    beacon_item item;
    beacon_hit hit;

    beacon_fixture() {
        item.action = "pageview";
        item.campaign = "example.com";
        item.url = "https://Example.com/blog/post?utm_source=news&utm_medium=e%20mail#top";
        item.referrer = "https://search.example/?q=pixels";
        item.client_ts = "1795343699000";
        item.client_ts_type = client_ts_kind::number;
        item.params = params;
        hit.item = &item;
        hit.user_agent = "Mozilla/5.0 (X11; Linux x86_64)";
        hit.host = "px.example.com";
        hit.client = ipv4("203.0.113.77");
    }
};

TEST(beacon_event, exact_event) {
    beacon_fixture f;
    EXPECT_EQ(
        encode(f.hit),
        std::string(k_head) +
            R"("type":"beacon","action":"pageview","campaign":"example.com",)"
            R"("params":{"scroll":"70","dark mode":"true"},)"
            R"("url":"https://Example.com/blog/post?utm_source=news&utm_medium=e%20mail#top",)"
            R"("path":"/blog/post","page_host":"example.com",)"
            R"("referrer":"https://search.example/?q=pixels","client_ts":1795343699000,)"
            R"js("ip":"203.0.113.0","ua":"Mozilla/5.0 (X11; Linux x86_64)",)js"
            R"("host":"px.example.com","collector":"edge-1"})");
}

TEST(beacon_event, absent_fields) {
    beacon_fixture f;
    f.item.campaign.reset();
    f.item.url.reset();
    f.item.referrer.reset();
    f.item.client_ts = {};
    f.item.client_ts_type = client_ts_kind::absent;
    f.item.params = {};
    f.hit.user_agent = {};
    f.hit.host = {};
    f.hit.client = {};
    EXPECT_EQ(encode(f.hit),
              std::string(k_head) +
                  R"("type":"beacon","action":"pageview","campaign":null,"params":{},)"
                  R"("url":null,"path":null,"page_host":null,"referrer":null,"host":null,)"
                  R"("collector":"edge-1"})");
    // Empty url and referrer are null as well; an empty campaign is "".
    f.item.campaign = "";
    f.item.url = "";
    f.item.referrer = "";
    const test::json_value v = parse(encode(f.hit));
    EXPECT_EQ(v.str("campaign"), "");
    EXPECT_EQ(v.str("url"), "<null>");
    EXPECT_EQ(v.str("referrer"), "<null>");
    // A url that is not an absolute http(s) URL: url as given, path and page_host null.
    f.item.url = "android-app://com.example/p";
    const test::json_value app = parse(encode(f.hit));
    EXPECT_EQ(app.str("url"), "android-app://com.example/p");
    EXPECT_EQ(app.str("path"), "<null>");
    EXPECT_EQ(app.str("page_host"), "<null>");
}

TEST(beacon_event, userinfo_is_removed_from_url_and_referrer) {
    beacon_fixture f;
    f.item.url = "https://ann:pw@Example.com/blog?x=1";
    f.item.referrer = "https://bob@search.example/?q=a@b";
    encode_notes notes;
    std::vector<char> out(max_beacon_event_size(f.hit, edge_1()));
    const std::string json(out.data(),
                           encode_beacon_event(f.hit, edge_1(), event_id{}, 0, out.data(), &notes));
    const test::json_value v = parse(json);
    EXPECT_EQ(v.str("url"), "https://Example.com/blog?x=1");
    EXPECT_EQ(v.str("page_host"), "example.com");
    EXPECT_EQ(v.str("referrer"), "https://search.example/?q=a@b");
    EXPECT_TRUE(notes.userinfo_removed);
    EXPECT_FALSE(notes.params_truncated);
    f.item.url = "https://Example.com/a@b";
    f.item.referrer = "https://search.example/";
    encode_beacon_event(f.hit, edge_1(), event_id{}, 0, out.data(), &notes);
    EXPECT_FALSE(notes.userinfo_removed);
}

TEST(beacon_event, client_ts) {
    beacon_fixture f;
    auto client_ts = [&] {
        const std::string json = encode(f.hit);
        const size_t at = json.find("\"client_ts\":");
        return at == std::string::npos ? std::string("<absent>")
                                       : json.substr(at + 12, json.find(',', at) - at - 12);
    };
    EXPECT_EQ(client_ts(), "1795343699000");
    f.item.client_ts = "-1.5e+3";
    EXPECT_EQ(client_ts(), "-1.5e+3");
    f.item.client_ts = "0.25";
    EXPECT_EQ(client_ts(), "0.25");
    // Not a JSON number after all (the parser never gives one): a string, so the event stays
    // valid JSON.
    for (const char* bad : {"01", "1.", ".5", "1e", "+1", "NaN", "1 }", "", "-", "0x10"}) {
        f.item.client_ts = bad;
        EXPECT_EQ(client_ts(), "\"" + std::string(bad) + "\"") << bad;
    }
    f.item.client_ts_type = client_ts_kind::string;
    f.item.client_ts = "2026-11-22T10:35:00Z";
    EXPECT_EQ(client_ts(), "\"2026-11-22T10:35:00Z\"");
    f.item.client_ts = "1795343699000";
    EXPECT_EQ(client_ts(), "\"1795343699000\"");
    f.item.client_ts = "\"\\\x01";
    EXPECT_EQ(client_ts(), R"("\"\\\u0001")");
    f.item.client_ts_type = client_ts_kind::absent;
    EXPECT_EQ(client_ts(), "<absent>");
}

TEST(beacon_event, strings_are_escaped_not_percent_decoded) {
    beacon_fixture f;
    const std::vector<beacon_param> params{
        {"a%41", "b+%20c"}, {"q\"", "line\nbreak"}, {"\xE2\x80\xA8", "é"}, {"a%41", "again"}};
    f.item.params = params;
    f.item.action = "email-open:ann@example.com%21";
    f.item.campaign = "caf%C3%A9 \"x\"";
    f.item.referrer = "https://a.example/%7E";
    const std::string json = encode(f.hit);
    const test::json_value v = parse(json);
    EXPECT_EQ(v.str("action"), "email-open:ann@example.com%21");
    EXPECT_EQ(v.str("campaign"), "caf%C3%A9 \"x\"");
    EXPECT_EQ(v.str("referrer"), "https://a.example/%7E");
    EXPECT_EQ(params_of(json),
              (std::vector<std::string>{"a%41=b+%20c", "q\"=line\nbreak", "\xE2\x80\xA8=é"}));
    EXPECT_NE(json.find(R"("\u2028":"é")"), std::string::npos) << json;
    // The url's path and utm values are URL parts: decoded as for a pixel's Referer.
    f.item.url = "https://a.example/caf%C3%A9+x?utm_source=a+b%21";
    f.hit.enrichment = nullptr;
    EXPECT_EQ(parse(encode(f.hit)).str("path"), "/café+x");
    pixel_enrichment e;
    f.hit.enrichment = &e;
    EXPECT_EQ(parse(encode(f.hit)).get("utm")->str("source"), "a b!");
    // At most max_event_params members.
    std::vector<std::string> keys;
    for (size_t i = 0; i < max_event_params + 3; ++i)
        keys.push_back("k" + std::to_string(i));
    std::vector<beacon_param> many;
    for (const std::string& k : keys)
        many.push_back({k, "v"});
    f.item.params = many;
    EXPECT_EQ(params_of(encode(f.hit)).size(), max_event_params);
}

struct enrichment_fixture {
    geo_fields geo{"GB", "ENG", "London", 1221, "Telstra Pty Ltd"};
    agent_info agent{agent_label::browser, "Firefox", "Linux", device_kind::desktop};
    pixel_enrichment e;
    enrichment_fixture() {
        e.visitor = "5f0c8e3b9a1d2c475f0c8e3b9a1d2c47";
        e.geo = &geo;
        e.agent = &agent;
    }
};

TEST(beacon_event, enrichment) {
    beacon_fixture f;
    enrichment_fixture x;
    f.hit.enrichment = &x.e;
    EXPECT_EQ(
        encode(f.hit),
        std::string(k_head) +
            R"("type":"beacon","action":"pageview","campaign":"example.com",)"
            R"("params":{"scroll":"70","dark mode":"true"},)"
            R"("url":"https://Example.com/blog/post?utm_source=news&utm_medium=e%20mail#top",)"
            R"("path":"/blog/post","page_host":"example.com",)"
            R"("referrer":"https://search.example/?q=pixels",)"
            R"("utm":{"source":"news","medium":"e mail"},"client_ts":1795343699000,)"
            R"("visitor":"5f0c8e3b9a1d2c475f0c8e3b9a1d2c47","ip":"203.0.113.0",)"
            R"("country":"GB","region":"ENG","city":"London","asn":1221,)"
            R"js("as_org":"Telstra Pty Ltd","ua":"Mozilla/5.0 (X11; Linux x86_64)",)js"
            R"("agent":"browser","device":"desktop","browser":"Firefox","os":"Linux",)"
            R"("dnt":false,"host":"px.example.com","collector":"edge-1"})");

    // utm only from the url, and only with enrichment.
    f.item.referrer = "https://a.example/?utm_source=ref";
    f.item.url = "https://a.example/p";
    EXPECT_FALSE(parse(encode(f.hit)).has("utm"));
    x.e.utm = false;
    f.item.url = "https://a.example/p?utm_source=x";
    EXPECT_FALSE(parse(encode(f.hit)).has("utm"));
    x.e.utm = true;
    EXPECT_EQ(parse(encode(f.hit)).get("utm")->str("source"), "x");
    f.hit.enrichment = nullptr;
    const test::json_value plain = parse(encode(f.hit));
    EXPECT_FALSE(plain.has("utm") || plain.has("visitor") || plain.has("dnt") ||
                 plain.has("agent") || plain.has("country"));
}

TEST(beacon_event, dnt_drops_visitor_ip_and_ua) {
    beacon_fixture f;
    enrichment_fixture x;
    x.e.dnt = true;
    f.hit.enrichment = &x.e;
    encode_options opt = edge_1();
    opt.ip = ip_privacy::full;
    const test::json_value v = parse(encode(f.hit, opt));
    EXPECT_FALSE(v.has("visitor") || v.has("ip") || v.has("ua"));
    EXPECT_TRUE(v.get("dnt")->b);
    EXPECT_EQ(v.str("country"), "GB");
    EXPECT_EQ(v.str("agent"), "browser");
    EXPECT_EQ(v.str("client_ts"), "1795343699000");
    // The options apply as for pixels.
    x.e.dnt = false;
    opt.user_agent = false;
    const test::json_value full = parse(encode(f.hit, opt));
    EXPECT_EQ(full.str("ip"), "203.0.113.77");
    EXPECT_FALSE(full.has("ua"));
    EXPECT_EQ(full.str("visitor"), x.e.visitor);
}

// ---- the size bound ------------------------------------------------------------------------

// Bytes that cost the most or break things: controls (6 bytes each), quotes, backslashes,
// '%' escapes, separators, invalid and valid UTF-8 lead bytes, U+2028.
std::string worst_bytes(std::mt19937& rng, size_t max_len) {
    static const std::string pieces[] = {"\x01",
                                         "\x1F",
                                         "\"",
                                         "\\",
                                         "%",
                                         "%0",
                                         "%01",
                                         "%FF",
                                         "%E2%80%A8",
                                         "+",
                                         "&",
                                         "=",
                                         "/",
                                         "?",
                                         "#",
                                         ":",
                                         "@",
                                         "[",
                                         "]",
                                         "\x7F",
                                         "\x80",
                                         "\xC0",
                                         "\xE2\x80\xA8",
                                         "\xF0\x9F\x98",
                                         "\xED\xA0\x80",
                                         "\xFF",
                                         "a",
                                         "utm_source=",
                                         "utm_term=",
                                         "campaignID",
                                         "campaign",
                                         "action",
                                         "url",
                                         "sig",
                                         "http://",
                                         "https://x",
                                         "é"};
    std::string s;
    const size_t len = std::uniform_int_distribution<size_t>(0, max_len)(rng);
    while (s.size() < len)
        s += pieces[std::uniform_int_distribution<size_t>(0, std::size(pieces) - 1)(rng)];
    return s;
}

TEST(event_bound, random_worst_case_pixel_rest_redirect) {
    std::mt19937 rng(20261122);
    enrichment_fixture x;
    const std::string long_text(max_geo_text_size + 9, '\x01');
    geo_fields wide{long_text, long_text, long_text, 4294967295u, long_text};
    for (int i = 0; i < 3000; ++i) {
        const std::string action = worst_bytes(rng, 24), query = worst_bytes(rng, 200);
        const std::string referer =
            (i % 3 ? "http://" : "") + worst_bytes(rng, 60) + "?utm_source=" + worst_bytes(rng, 20);
        const std::string ua = worst_bytes(rng, 30), host = worst_bytes(rng, 20);
        const std::string target = worst_bytes(rng, 40), collector = worst_bytes(rng, 8);
        pixel_hit hit;
        hit.type = static_cast<event_type>(i % 3);
        hit.action = action;
        hit.query = query;
        hit.referer = referer;
        hit.user_agent = ua;
        hit.host = host;
        hit.target = target;
        hit.client = i % 2 ? ipv6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff") : ipv4("1.2.3.4");
        x.e.dnt = i % 5 == 0;
        x.e.geo = i % 7 == 0 ? &wide : &x.geo;
        hit.enrichment = i % 4 == 0 ? nullptr : &x.e;
        encode_options opt;
        opt.collector = collector;
        opt.ip = static_cast<ip_privacy>(i % 3);
        SCOPED_TRACE(i);
        encode(hit, opt);
        if (HasFailure()) return;
    }
}

TEST(event_bound, random_worst_case_beacon) {
    std::mt19937 rng(7);
    enrichment_fixture x;
    for (int i = 0; i < 3000; ++i) {
        std::vector<std::string> texts;
        for (int t = 0; t < 2 * 70; ++t)
            texts.push_back(worst_bytes(rng, 12));
        std::vector<beacon_param> params;
        const size_t count = std::uniform_int_distribution<size_t>(0, 70)(rng);
        for (size_t p = 0; p < count; ++p)
            params.push_back({texts[2 * p], texts[2 * p + 1]});
        const std::string action = worst_bytes(rng, 30), campaign = worst_bytes(rng, 20);
        const std::string url = (i % 3 ? "https://" : "") + worst_bytes(rng, 80);
        const std::string referrer = worst_bytes(rng, 40), ts = worst_bytes(rng, 10);
        const std::string ua = worst_bytes(rng, 30), host = worst_bytes(rng, 20);
        beacon_item item;
        item.action = action;
        if (i % 5) item.campaign = campaign;
        if (i % 6) item.url = url;
        if (i % 7) item.referrer = referrer;
        item.client_ts_type = static_cast<client_ts_kind>(i % 3);
        item.client_ts = i % 2 ? std::string_view(ts) : std::string_view("-12.5E-3");
        item.params = params;
        beacon_hit hit;
        hit.item = &item;
        hit.user_agent = ua;
        hit.host = host;
        hit.client = i % 2 ? ipv6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff") : ipv4("1.2.3.4");
        x.e.dnt = i % 4 == 1;
        hit.enrichment = i % 4 == 0 ? nullptr : &x.e;
        encode_options opt;
        opt.ip = static_cast<ip_privacy>(i % 3);
        SCOPED_TRACE(i);
        encode(hit, opt);
        if (HasFailure()) return;
    }
}

// With control bytes everywhere (6 output bytes per input byte) the bound holds and stays
// close. Rest tuples pay 12 bytes per pair for its 6 bytes of quotes, ':' and ',' (the
// bound counts 6 per byte, separators included, without counting them).
TEST(event_bound, tight_for_control_bytes) {
    std::string tuples;
    for (size_t i = 0; i < max_event_params; ++i) {
        if (i) tuples += '/';
        tuples += static_cast<char>(0x0E + i / 16);
        tuples += static_cast<char>(0x0E + i % 16);
        tuples += "/\x01";
    }
    pixel_hit hit = rest_hit(tuples);
    hit.host = "\x01";
    hit.user_agent = "\x01";
    hit.client = ipv6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    encode_options opt;
    opt.ip = ip_privacy::full;
    opt.collector = "\x01";
    const size_t rest_bound = max_pixel_event_size(hit, opt);
    const size_t rest_size = encode(hit, opt).size();
    // 6 per pair, and the default action "event" counted as 6 * 5.
    EXPECT_LE(rest_bound - rest_size, 6 * max_event_params + 30 + 32)
        << rest_size << " of " << rest_bound;

    std::vector<std::string> keys;
    for (size_t i = 0; i < max_event_params; ++i)
        keys.push_back({static_cast<char>(0x0E + i / 16), static_cast<char>(0x0E + i % 16)});
    std::vector<beacon_param> params;
    for (const std::string& k : keys)
        params.push_back({k, "\x01"});
    beacon_item item;
    item.action = "\x01";
    item.campaign = "\x01";
    item.referrer = "\x01";
    item.client_ts = "\x01";
    item.client_ts_type = client_ts_kind::string;
    item.params = params;
    beacon_hit beacon;
    beacon.item = &item;
    beacon.user_agent = "\x01";
    beacon.host = "\x01";
    beacon.client = hit.client;
    const size_t beacon_bound = max_beacon_event_size(beacon, opt);
    const size_t beacon_size = encode(beacon, opt).size();
    EXPECT_LE(beacon_bound - beacon_size, 32u) << beacon_size << " of " << beacon_bound;
}

// ---- no allocation -------------------------------------------------------------------------

TEST(encoder_kinds, allocate_nothing) {
    beacon_fixture f;
    enrichment_fixture x;
    pixel_hit rest = rest_hit("action/signup/campaign/x/plan/pro/a/1/a/2");
    pixel_hit redirect = redirect_hit("url=https%3A%2F%2Fa.example&sig=00&campaignID=c&k=v");
    redirect.referer = "https://mail.example/?utm_source=m";
    std::vector<char> slot(1 << 16);
    uuidv7_generator ids(1);
    encode_options opt = edge_1();
    size_t written = 0;
    const size_t before = test::thread_allocations();
    for (int i = 0; i < 300; ++i) {
        x.e.dnt = i % 3 == 0;
        const pixel_enrichment* e = i % 2 ? &x.e : nullptr;
        rest.enrichment = redirect.enrichment = f.hit.enrichment = e;
        written += max_pixel_event_size(rest, opt) + max_pixel_event_size(redirect, opt) +
                   max_beacon_event_size(f.hit, opt);
        written += encode_pixel_event(rest, opt, ids.next(k_ms + i), k_ms + i, slot.data());
        written += encode_pixel_event(redirect, opt, ids.next(k_ms + i), k_ms + i, slot.data());
        written += encode_beacon_event(f.hit, opt, ids.next(k_ms + i), k_ms + i, slot.data());
        written += valid_rest_tuples(rest.query) + raw_campaign(rest).size();
    }
    const size_t after = test::thread_allocations();
    EXPECT_EQ(after, before);
    EXPECT_GT(written, 0u);
    delete new std::string(100, 'x'); // the counter does count
    EXPECT_GT(test::thread_allocations(), after);
}

} // namespace
} // namespace pixelring
