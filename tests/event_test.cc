// Tests of the event encoder (core/event.hh): exact events for representative hits, each
// field rule, a hostile corpus checked with a strict UTF-8 and JSON validator, json_escape
// against a slow reference, UUIDv7 and timestamps.

#include "core/event.hh"

#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iterator>
#include <memory>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace pixelring {
namespace {

using namespace std::string_literals;

// ---- validators --------------------------------------------------------------------------

// Strict UTF-8 (RFC 3629): shortest form, no surrogates, nothing above U+10FFFF.
bool is_valid_utf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 2, cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 3, cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 4, cp = c & 0x07;
        } else {
            return false;
        }
        if (i + n > s.size()) return false;
        for (size_t k = 1; k < n; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0) != 0x80) return false;
            cp = cp << 6 | (cc & 0x3F);
        }
        static constexpr uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += n;
    }
    return true;
}

using json_members = std::vector<std::pair<std::string, std::string>>;

// A strict RFC 8259 recognizer. Also rejects duplicate names and lone surrogate escapes, and
// hands back the top-level object's members as (decoded name, raw value text).
class json_checker {
public:
    explicit json_checker(std::string_view s) : s_(s) {}

    bool parse_document(json_members* top) {
        skip_ws();
        if (!value(0, top)) return false;
        skip_ws();
        return i_ == s_.size();
    }

private:
    bool value(int depth, json_members* members) {
        if (depth > 64 || i_ >= s_.size()) return false;
        switch (s_[i_]) {
        case '{':
            return object(depth, members);
        case '[':
            return array(depth);
        case '"':
            return string(nullptr);
        case 't':
            return literal("true");
        case 'f':
            return literal("false");
        case 'n':
            return literal("null");
        default:
            return number();
        }
    }

    bool object(int depth, json_members* members) {
        ++i_;
        std::set<std::string> names;
        skip_ws();
        if (peek('}')) return ++i_, true;
        for (;;) {
            skip_ws();
            std::string name;
            if (!string(&name) || !names.insert(name).second) return false;
            skip_ws();
            if (!peek(':')) return false;
            ++i_;
            skip_ws();
            const size_t start = i_;
            if (!value(depth + 1, nullptr)) return false;
            if (members) members->emplace_back(name, std::string(s_.substr(start, i_ - start)));
            skip_ws();
            if (peek('}')) return ++i_, true;
            if (!peek(',')) return false;
            ++i_;
        }
    }

    bool array(int depth) {
        ++i_;
        skip_ws();
        if (peek(']')) return ++i_, true;
        for (;;) {
            skip_ws();
            if (!value(depth + 1, nullptr)) return false;
            skip_ws();
            if (peek(']')) return ++i_, true;
            if (!peek(',')) return false;
            ++i_;
        }
    }

    bool hex4(uint32_t& v) {
        if (s_.size() - i_ < 4) return false;
        v = 0;
        for (int k = 0; k < 4; ++k) {
            const char c = s_[i_++];
            const int d = c >= '0' && c <= '9'   ? c - '0'
                          : c >= 'a' && c <= 'f' ? c - 'a' + 10
                          : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                 : -1;
            if (d < 0) return false;
            v = v << 4 | static_cast<uint32_t>(d);
        }
        return true;
    }

    static void append_utf8(std::string& out, uint32_t cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | cp >> 6);
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | cp >> 12);
            out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | cp >> 18);
            out += static_cast<char>(0x80 | (cp >> 12 & 0x3F));
            out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }

    bool string(std::string* decoded) {
        if (!peek('"')) return false;
        ++i_;
        std::string text;
        while (i_ < s_.size()) {
            const auto c = static_cast<unsigned char>(s_[i_++]);
            if (c == '"') {
                if (decoded) *decoded = std::move(text);
                return true;
            }
            if (c < 0x20) return false;
            if (c != '\\') {
                text += static_cast<char>(c);
                continue;
            }
            if (i_ >= s_.size()) return false;
            const char e = s_[i_++];
            switch (e) {
            case '"':
                text += '"';
                break;
            case '\\':
                text += '\\';
                break;
            case '/':
                text += '/';
                break;
            case 'b':
                text += '\b';
                break;
            case 'f':
                text += '\f';
                break;
            case 'n':
                text += '\n';
                break;
            case 'r':
                text += '\r';
                break;
            case 't':
                text += '\t';
                break;
            case 'u': {
                uint32_t cp;
                if (!hex4(cp)) return false;
                if (cp >= 0xDC00 && cp <= 0xDFFF) return false;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    uint32_t low;
                    if (s_.substr(i_, 2) != "\\u") return false;
                    i_ += 2;
                    if (!hex4(low) || low < 0xDC00 || low > 0xDFFF) return false;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                }
                append_utf8(text, cp);
                break;
            }
            default:
                return false;
            }
        }
        return false;
    }

    bool number() {
        const size_t start = i_;
        if (peek('-')) ++i_;
        if (peek('0')) {
            ++i_;
        } else if (!digits()) {
            return false;
        }
        if (peek('.')) {
            ++i_;
            if (!digits()) return false;
        }
        if (peek('e') || peek('E')) {
            ++i_;
            if (peek('+') || peek('-')) ++i_;
            if (!digits()) return false;
        }
        return i_ > start;
    }

    bool digits() {
        const size_t start = i_;
        while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9')
            ++i_;
        return i_ > start;
    }

    bool literal(std::string_view word) {
        if (s_.substr(i_, word.size()) != word) return false;
        i_ += word.size();
        return true;
    }

    bool peek(char c) const { return i_ < s_.size() && s_[i_] == c; }
    void skip_ws() {
        while (i_ < s_.size() &&
               (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) {
            ++i_;
        }
    }

    std::string_view s_;
    size_t i_ = 0;
};

TEST(json_checker, accepts_and_rejects) {
    EXPECT_TRUE(
        json_checker(R"({"a":[1,-2.5e3,true,null,"\u00e9\ud83d\ude00"]})").parse_document(nullptr));
    EXPECT_FALSE(json_checker(R"({"a":1,"a":2})").parse_document(nullptr));
    EXPECT_FALSE(json_checker("{\"a\":\"\x01\"}").parse_document(nullptr));
    EXPECT_FALSE(json_checker(R"({"a":"\ud800"})").parse_document(nullptr));
    EXPECT_FALSE(json_checker(R"({"a":01})").parse_document(nullptr));
    EXPECT_FALSE(json_checker(R"({"a":"\x"})").parse_document(nullptr));
    EXPECT_FALSE(json_checker(R"({"a":1}x)").parse_document(nullptr));
    EXPECT_TRUE(is_valid_utf8("\xF4\x8F\xBF\xBF"));
    EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));
    EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));
    EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));
}

// ---- helpers -----------------------------------------------------------------------------

// Escapes into a heap buffer of exactly the documented size, so ASan sees any overrun.
std::string escape(std::string_view s, bool decode = false, bool plus = false) {
    const size_t cap = 6 * s.size();
    std::unique_ptr<char[]> buf(new char[cap == 0 ? 1 : cap]);
    const size_t n = json_escape(s, buf.get(), decode, plus);
    EXPECT_LE(n, cap);
    return std::string(buf.get(), n);
}

constexpr event_id k_id = {0x01, 0x92, 0xf7, 0xa4, 0x6c, 0x1e, 0x7d, 0x2a,
                           0x9b, 0x1e, 0x3f, 0x5c, 0x2d, 0x7e, 0x8a, 0x90};
constexpr uint64_t k_ms = 1795343700123; // 2026-11-22T10:35:00.123Z

ip_address ipv4(const char* text) {
    ip_address a;
    a.family = 4;
    EXPECT_EQ(inet_pton(AF_INET, text, a.bytes), 1);
    return a;
}

ip_address ipv6(const char* text) {
    ip_address a;
    a.family = 6;
    EXPECT_EQ(inet_pton(AF_INET6, text, a.bytes), 1);
    return a;
}

// Encodes into a heap buffer of exactly max_pixel_event_size bytes and checks the result is
// one strict UTF-8 JSON object with the fields in schema order.
std::string encode(const pixel_hit& hit, const encode_options& opt, json_members* out = nullptr) {
    const size_t cap = max_pixel_event_size(hit, opt);
    std::unique_ptr<char[]> buf(new char[cap]);
    const size_t n = encode_pixel_event(hit, opt, k_id, k_ms, buf.get());
    EXPECT_LE(n, cap);
    std::string json(buf.get(), n);
    EXPECT_TRUE(is_valid_utf8(json)) << json;
    json_members members;
    EXPECT_TRUE(json_checker(json).parse_document(&members)) << json;
    EXPECT_EQ(json.find('\n'), std::string::npos);
    std::vector<std::string> expected_order = {"v",      "id",        "ts",      "type",
                                               "action", "campaign",  "params",  "url",
                                               "path",   "page_host", "referrer"};
    const bool known_family = hit.client.family == 4 || hit.client.family == 6;
    if (opt.ip != ip_privacy::none && known_family) expected_order.push_back("ip");
    if (opt.user_agent && !hit.user_agent.empty()) expected_order.push_back("ua");
    expected_order.push_back("host");
    expected_order.push_back("collector");
    std::vector<std::string> order;
    for (const auto& m : members)
        order.push_back(m.first);
    EXPECT_EQ(order, expected_order) << json;
    if (out) *out = std::move(members);
    return json;
}

// The raw JSON text of one top-level field of the hit's event, "" when absent.
std::string field(const pixel_hit& hit, std::string_view name, const encode_options& opt = {}) {
    json_members members;
    encode(hit, opt, &members);
    for (const auto& m : members) {
        if (m.first == name) return m.second;
    }
    return "";
}

pixel_hit query_hit(std::string_view query) {
    pixel_hit hit;
    hit.action = "pageview";
    hit.query = query;
    return hit;
}

pixel_hit referer_hit(std::string_view referer) {
    pixel_hit hit;
    hit.action = "pageview";
    hit.referer = referer;
    return hit;
}

// ---- whole events ------------------------------------------------------------------------

TEST(encode_pixel_event, full_pageview) {
    pixel_hit hit;
    hit.action = "pageview";
    hit.query = "campaignID=dillonbaird.io&scroll-depth=70%&dark-mode=true";
    hit.referer = "https://dillonbaird.io/blog/post?utm_source=news#top";
    hit.user_agent = "Mozilla/5.0 (X11; Linux x86_64)";
    hit.host = "px.example.com";
    hit.client = ipv4("203.0.113.77");
    encode_options opt;
    opt.collector = "edge-1";
    EXPECT_EQ(
        encode(hit, opt),
        R"({"v":1,"id":"0192f7a4-6c1e-7d2a-9b1e-3f5c2d7e8a90","ts":"2026-11-22T10:35:00.123Z",)"
        R"("type":"pixel","action":"pageview","campaign":"dillonbaird.io",)"
        R"("params":{"scroll-depth":"70%","dark-mode":"true"},)"
        R"("url":"https://dillonbaird.io/blog/post?utm_source=news#top","path":"/blog/post",)"
        R"("page_host":"dillonbaird.io","referrer":null,"ip":"203.0.113.0",)"
        R"js("ua":"Mozilla/5.0 (X11; Linux x86_64)","host":"px.example.com",)js"
        R"("collector":"edge-1"})");
}

TEST(encode_pixel_event, bare_hit) {
    pixel_hit hit;
    encode_options opt;
    opt.ip = ip_privacy::none;
    const std::string json = encode(hit, opt);
    EXPECT_EQ(
        json,
        R"({"v":1,"id":"0192f7a4-6c1e-7d2a-9b1e-3f5c2d7e8a90","ts":"2026-11-22T10:35:00.123Z",)"
        R"("type":"pixel","action":"","campaign":null,"params":{},"url":null,"path":null,)"
        R"("page_host":null,"referrer":null,"host":null,"collector":""})");
}

TEST(encode_pixel_event, email_open_ipv6_no_ua) {
    pixel_hit hit;
    hit.action = "email-open%3Aann%40example.com";
    hit.query = "campaignID=newsletter-42&variant=b&variant=c";
    hit.user_agent = "GoogleImageProxy";
    hit.host = "PX.example.com";
    hit.client = ipv6("2001:db8:abcd:12::1");
    encode_options opt;
    opt.user_agent = false;
    opt.collector = "edge-2";
    EXPECT_EQ(
        encode(hit, opt),
        R"({"v":1,"id":"0192f7a4-6c1e-7d2a-9b1e-3f5c2d7e8a90","ts":"2026-11-22T10:35:00.123Z",)"
        R"("type":"pixel","action":"email-open:ann@example.com","campaign":"newsletter-42",)"
        R"("params":{"variant":"b"},"url":null,"path":null,"page_host":null,"referrer":null,)"
        R"("ip":"2001:db8:abcd::","host":"PX.example.com","collector":"edge-2"})");
}

// The pixel URLs of NanoTrack, split as the HTTP parser splits them.
TEST(encode_pixel_event, nanotrack_urls) {
    struct nanotrack_case {
        std::string_view action, query, campaign, params;
    };
    const nanotrack_case cases[] = {
        {"pageview", "campaignID=dillonbaird.io&scroll-depth=70%&dark-mode=true",
         R"("dillonbaird.io")", R"({"scroll-depth":"70%","dark-mode":"true"})"},
        {"email-open%3Aann%40example.com", "campaignID=spring-sale", R"("spring-sale")", "{}"},
        {"email-open:ann@example.com", "campaignID=spring-sale&recipient=ann%40example.com",
         R"("spring-sale")", R"({"recipient":"ann@example.com"})"},
        {"click", "campaignID=dillonbaird.io&target=https%3A%2F%2Fexample.com%2Fa%3Fb%3Dc",
         R"("dillonbaird.io")", R"({"target":"https://example.com/a?b=c"})"},
        {"pageview", "scroll-depth=100%25&title=Hello+World%21", "null",
         R"({"scroll-depth":"100%","title":"Hello World!"})"},
    };
    for (const auto& c : cases) {
        pixel_hit hit;
        hit.action = c.action;
        hit.query = c.query;
        EXPECT_EQ(field(hit, "campaign"), c.campaign) << c.query;
        EXPECT_EQ(field(hit, "params"), c.params) << c.query;
        EXPECT_EQ(field(hit, "type"), R"("pixel")");
    }
}

// ---- field rules -------------------------------------------------------------------------

TEST(encode_pixel_event, action_is_percent_decoded_without_plus) {
    pixel_hit hit;
    for (std::string_view action : {"email-open%3Aann%40example.com", "email-open:ann@example.com",
                                    "email-open%3aann%40example.com"}) {
        hit.action = action;
        EXPECT_EQ(field(hit, "action"), R"("email-open:ann@example.com")") << action;
    }
    hit.action = "a+b%20c%2Bd";
    EXPECT_EQ(field(hit, "action"), R"("a+b c+d")");
    hit.action = "%22%5C%0A%";
    EXPECT_EQ(field(hit, "action"), R"("\"\\\n%")");
}

TEST(encode_pixel_event, query_splitting) {
    auto params = [](std::string_view q) { return field(query_hit(q), "params"); };
    EXPECT_EQ(params(""), "{}");
    EXPECT_EQ(params("&&&"), "{}");
    EXPECT_EQ(params("&a=1&&b=2&"), R"({"a":"1","b":"2"})");
    EXPECT_EQ(params("flag"), R"({"flag":""})");
    EXPECT_EQ(params("a=&b"), R"({"a":"","b":""})");
    EXPECT_EQ(params("a==b=c"), R"({"a":"=b=c"})");
    EXPECT_EQ(params("=v"), R"({"":"v"})");
    EXPECT_EQ(params("a+b=c+d&e%20f=g%2Bh"), R"({"a b":"c d","e f":"g+h"})");
    EXPECT_EQ(params("k%3Dx=v%26w"), R"({"k=x":"v&w"})");
    EXPECT_EQ(params("p=%zz%4&q=%"), R"({"p":"%zz%4","q":"%"})");
    EXPECT_EQ(params("q=%C3%A9t%C3%A9"), R"({"q":"été"})");
}

TEST(encode_pixel_event, repeated_keys_keep_the_first_value) {
    auto params = [](std::string_view q) { return field(query_hit(q), "params"); };
    EXPECT_EQ(params("a=1&a=2&b=3&a=4"), R"({"a":"1","b":"3"})");
    EXPECT_EQ(params("a=1&%61=2"), R"({"a":"1"})");
    EXPECT_EQ(params("a+b=1&a%20b=2"), R"({"a b":"1"})");
    EXPECT_EQ(params("flag&flag=x"), R"({"flag":""})");
    EXPECT_EQ(params("A=1&a=2"), R"({"A":"1","a":"2"})"); // case-sensitive
    // Two different invalid byte strings both read as U+FFFD: one member, not a duplicate.
    EXPECT_EQ(params("%FF=1&%FE=2"), "{\"\xEF\xBF\xBD\":\"1\"}");
}

TEST(encode_pixel_event, params_are_capped) {
    std::string query;
    for (int i = 0; i < 70; ++i)
        query += "k" + std::to_string(i) + "=v&";
    query += "campaignID=last";
    json_members members;
    const pixel_hit hit = query_hit(query);
    encode(hit, {}, &members);
    const std::string params = members[6].second;
    EXPECT_NE(params.find(R"("k63":"v")"), std::string::npos);
    EXPECT_EQ(params.find(R"("k64")"), std::string::npos);
    EXPECT_EQ(members[5].second, R"("last")"); // the campaign is found past the cap
    size_t count = 0;
    for (size_t at = 0; (at = params.find("\":\"", at)) != std::string::npos; ++at)
        ++count;
    EXPECT_EQ(count, max_event_params);
}

TEST(encode_pixel_event, campaign) {
    auto campaign = [](std::string_view q) { return field(query_hit(q), "campaign"); };
    EXPECT_EQ(campaign(""), "null");
    EXPECT_EQ(campaign("a=1"), "null");
    EXPECT_EQ(campaign("campaignID=x"), R"("x")");
    EXPECT_EQ(campaign("campaignID=x&campaignID=y"), R"("x")");
    EXPECT_EQ(campaign("campaignID"), R"("")");
    EXPECT_EQ(campaign("campaign%49D=en%20c"), R"("en c")");
    EXPECT_EQ(campaign("campaignid=x"), "null");
    EXPECT_EQ(campaign("campaignID=a+b%2Bc"), R"("a b+c")");
    // campaignID never shows up in params, also when repeated.
    EXPECT_EQ(field(query_hit("campaignID=x&campaignID=y&z=1"), "params"), R"({"z":"1"})");
    EXPECT_EQ(field(query_hit("campaignid=x"), "params"), R"({"campaignid":"x"})");
}

TEST(encode_pixel_event, referer_fields) {
    struct referer_case {
        std::string_view referer, url, path, page_host;
    };
    const referer_case cases[] = {
        {"https://example.com/blog/post?utm_source=news&utm_medium=email#top",
         R"("https://example.com/blog/post?utm_source=news&utm_medium=email#top")",
         R"("/blog/post")", R"("example.com")"},
        {"http://Example.COM", R"("http://Example.COM")", R"("/")", R"("example.com")"},
        {"HTTPS://WWW.Example.com?x=1", R"("HTTPS://WWW.Example.com?x=1")", R"("/")",
         R"("www.example.com")"},
        {"http://example.com#frag", R"("http://example.com#frag")", R"("/")", R"("example.com")"},
        {"https://user:pw@Host.example:8443/a%20b/c+d/%E2%82%AC?q",
         R"("https://user:pw@Host.example:8443/a%20b/c+d/%E2%82%AC?q")", R"("/a b/c+d/€")",
         R"("host.example")"},
        {"http://[::1]:8080/x", R"("http://[::1]:8080/x")", R"("/x")", R"("::1")"},
        {"http://[2001:DB8::1]/", R"("http://[2001:DB8::1]/")", R"("/")", R"("2001:db8::1")"},
        {"http://a@b@c.example/", R"("http://a@b@c.example/")", R"("/")", R"("c.example")"},
        {"https://example.com/%22q%22%0A", R"("https://example.com/%22q%22%0A")", R"("/\"q\"\n")",
         R"("example.com")"},
        {"android-app://com.google.android.gm/", R"("android-app://com.google.android.gm/")",
         "null", "null"},
        {"ftp://example.com/x", R"("ftp://example.com/x")", "null", "null"},
        {"/relative/path", R"("/relative/path")", "null", "null"},
        {"example.com/x", R"("example.com/x")", "null", "null"},
        {"http://", R"("http://")", "null", "null"},
        {"http:///x", R"("http:///x")", "null", "null"},
        {"http://user@:80/", R"("http://user@:80/")", "null", "null"},
        {"http://[::1/x", R"("http://[::1/x")", "null", "null"},
        {"https:example.com", R"("https:example.com")", "null", "null"},
    };
    for (const auto& c : cases) {
        const pixel_hit hit = referer_hit(c.referer);
        EXPECT_EQ(field(hit, "url"), c.url) << c.referer;
        EXPECT_EQ(field(hit, "path"), c.path) << c.referer;
        EXPECT_EQ(field(hit, "page_host"), c.page_host) << c.referer;
        EXPECT_EQ(field(hit, "referrer"), "null") << c.referer;
    }
    const pixel_hit none = referer_hit("");
    EXPECT_EQ(field(none, "url"), "null");
    EXPECT_EQ(field(none, "path"), "null");
    EXPECT_EQ(field(none, "page_host"), "null");
}

TEST(encode_pixel_event, client_address) {
    auto ip = [](const ip_address& a, ip_privacy p) {
        pixel_hit hit;
        hit.client = a;
        encode_options opt;
        opt.ip = p;
        return field(hit, "ip", opt);
    };
    EXPECT_EQ(ip(ipv4("203.0.113.77"), ip_privacy::truncate), R"("203.0.113.0")");
    EXPECT_EQ(ip(ipv4("203.0.113.77"), ip_privacy::full), R"("203.0.113.77")");
    EXPECT_EQ(ip(ipv4("203.0.113.77"), ip_privacy::none), "");
    EXPECT_EQ(ip(ipv6("2001:db8:abcd:12::1"), ip_privacy::truncate), R"("2001:db8:abcd::")");
    EXPECT_EQ(ip(ipv6("2001:db8:abcd:12::1"), ip_privacy::full), R"("2001:db8:abcd:12::1")");
    EXPECT_EQ(ip(ipv6("2001:db8:abcd:12::1"), ip_privacy::none), "");
    EXPECT_EQ(ip(ipv6("::ffff:203.0.113.77"), ip_privacy::truncate), R"("203.0.113.0")");
    EXPECT_EQ(ip(ipv6("::ffff:203.0.113.77"), ip_privacy::full), R"("203.0.113.77")");
    EXPECT_EQ(ip(ipv6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), ip_privacy::full),
              R"("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")");
    EXPECT_EQ(ip(ipv6("::1"), ip_privacy::truncate), R"("::")");
    EXPECT_EQ(ip(ipv6("::1"), ip_privacy::full), R"("::1")");
    EXPECT_EQ(ip(ipv6("::1.2.3.4"), ip_privacy::full), R"("::102:304")");
    EXPECT_EQ(ip(ipv6("1:0:0:2:0:0:0:3"), ip_privacy::full), R"("1:0:0:2::3")");
    EXPECT_EQ(ip(ipv6("1:0:0:2:0:0:3:4"), ip_privacy::full), R"("1::2:0:0:3:4")");
    EXPECT_EQ(ip(ipv6("1:0:2:3:4:5:6:7"), ip_privacy::full), R"("1:0:2:3:4:5:6:7")");
    EXPECT_EQ(ip(ipv6("2001:DB8::"), ip_privacy::full), R"("2001:db8::")");
    EXPECT_EQ(ip(ipv4("0.0.0.0"), ip_privacy::full), R"("0.0.0.0")");
    EXPECT_EQ(ip(ipv4("255.255.255.255"), ip_privacy::full), R"("255.255.255.255")");
    EXPECT_EQ(ip(ipv4("10.9.100.99"), ip_privacy::full), R"("10.9.100.99")");
    EXPECT_EQ(ip(ip_address{}, ip_privacy::full), "");
    ip_address bogus = ipv4("1.2.3.4");
    bogus.family = 9;
    EXPECT_EQ(ip(bogus, ip_privacy::full), "");
}

// The encoder formats addresses itself; they must read as inet_ntop writes them.
TEST(encode_pixel_event, client_address_matches_inet_ntop) {
    std::mt19937 rng(11);
    for (int i = 0; i < 20000; ++i) {
        pixel_hit hit;
        encode_options opt;
        opt.ip = i % 2 ? ip_privacy::full : ip_privacy::truncate;
        uint8_t shown[16] = {};
        int af;
        if (i % 3 == 0) {
            af = AF_INET;
            hit.client.family = 4;
            for (int k = 0; k < 4; ++k)
                hit.client.bytes[k] = static_cast<uint8_t>(rng());
            std::memcpy(shown, hit.client.bytes, 4);
            if (opt.ip == ip_privacy::truncate) shown[3] = 0;
        } else {
            af = AF_INET6;
            hit.client.family = 6;
            // Mostly zero groups, so that runs of every length and position occur.
            for (int g = 0; g < 8; ++g) {
                const uint32_t r = rng();
                const uint16_t v = r % 3 != 0 ? 0 : r % 2 ? static_cast<uint16_t>(r >> 16) : 1;
                hit.client.bytes[2 * g] = static_cast<uint8_t>(v >> 8);
                hit.client.bytes[2 * g + 1] = static_cast<uint8_t>(v);
            }
            std::memcpy(shown, hit.client.bytes, 16);
            if (opt.ip == ip_privacy::truncate) std::memset(shown + 6, 0, 10);
            // glibc writes ::a.b.c.d and ::ffff:a.b.c.d with a dotted tail; the encoder
            // writes the first in hex and the second as IPv4 (tested above).
            static const uint8_t zeros[10] = {};
            if (std::memcmp(shown, zeros, 10) == 0) continue;
        }
        char expect[INET6_ADDRSTRLEN];
        ASSERT_NE(inet_ntop(af, shown, expect, sizeof expect), nullptr);
        ASSERT_EQ(field(hit, "ip", opt), "\"" + std::string(expect) + "\"");
    }
}

TEST(encode_pixel_event, user_agent_host_collector) {
    pixel_hit hit;
    hit.user_agent = "Mozilla/5.0 \"quoted\"";
    hit.host = "px.example.com:8080";
    encode_options opt;
    opt.collector = "edge\\1";
    EXPECT_EQ(field(hit, "ua", opt), R"("Mozilla/5.0 \"quoted\"")");
    EXPECT_EQ(field(hit, "host", opt), R"("px.example.com:8080")");
    EXPECT_EQ(field(hit, "collector", opt), R"("edge\\1")");
    opt.user_agent = false;
    EXPECT_EQ(field(hit, "ua", opt), "");
    opt.user_agent = true;
    hit.user_agent = "";
    EXPECT_EQ(field(hit, "ua", opt), "");
    hit.host = "";
    EXPECT_EQ(field(hit, "host", opt), "null");
}

// ---- json_escape -------------------------------------------------------------------------

const std::string k_fffd = "\xEF\xBF\xBD";

TEST(json_escape, ascii_and_controls) {
    EXPECT_EQ(escape(""), "");
    EXPECT_EQ(escape("plain text / ok"), "plain text / ok");
    EXPECT_EQ(escape("\"\\"), R"(\"\\)");
    EXPECT_EQ(escape("\b\f\n\r\t"), R"(\b\f\n\r\t)");
    EXPECT_EQ(escape("\x01\x1f\x7f"), R"(\u0001\u001f\u007f)");
    EXPECT_EQ(escape("\0"s), R"(\u0000)");
    for (int c = 0; c < 0x20; ++c) {
        const std::string e = escape(std::string(1, static_cast<char>(c)));
        EXPECT_EQ(e[0], '\\') << c;
        EXPECT_TRUE(json_checker("\"" + e + "\"").parse_document(nullptr)) << c;
    }
}

TEST(json_escape, utf8_validation) {
    EXPECT_EQ(escape("é€😀"), "é€😀");
    EXPECT_EQ(escape("\xF4\x8F\xBF\xBF"), "\xF4\x8F\xBF\xBF"); // U+10FFFF
    EXPECT_EQ(escape("\xEF\xBF\xBF"), "\xEF\xBF\xBF");         // U+FFFF is a valid scalar
    EXPECT_EQ(escape("\xE2\x80\xA8|\xE2\x80\xA9"), R"(\u2028|\u2029)");
    // Maximal subparts: one U+FFFD each.
    EXPECT_EQ(escape("\xC0\xAF"), k_fffd + k_fffd);
    EXPECT_EQ(escape("\xE0\x80\xAF"), k_fffd + k_fffd + k_fffd);
    EXPECT_EQ(escape("\xED\xA0\x80"), k_fffd + k_fffd + k_fffd);
    EXPECT_EQ(escape("\xED\xBF\xBF"), k_fffd + k_fffd + k_fffd);
    EXPECT_EQ(escape("\xF4\x90\x80\x80"), k_fffd + k_fffd + k_fffd + k_fffd);
    EXPECT_EQ(escape("\xF5\x80"), k_fffd + k_fffd);
    EXPECT_EQ(escape("\xFF"), k_fffd);
    EXPECT_EQ(escape("\x80"), k_fffd);
    EXPECT_EQ(escape("a\xE2\x82"), "a" + k_fffd);     // truncated at the end
    EXPECT_EQ(escape("\xF0\x9F\x98"), k_fffd);        // truncated 4-byte form
    EXPECT_EQ(escape("\xE2\x82x"), k_fffd + "x");     // truncated mid-string
    EXPECT_EQ(escape("\xE2\x82\""), k_fffd + "\\\""); // the breaking byte is kept
    EXPECT_EQ(escape("\xC3\xC3\xA9"), k_fffd + "é");
}

TEST(json_escape, percent_decoding) {
    EXPECT_EQ(escape("%41%42c", true), "ABc");
    EXPECT_EQ(escape("70%", true), "70%");
    EXPECT_EQ(escape("%", true), "%");
    EXPECT_EQ(escape("%4", true), "%4");
    EXPECT_EQ(escape("%G1%1G", true), "%G1%1G");
    EXPECT_EQ(escape("%2525", true), "%25"); // decoded once
    EXPECT_EQ(escape("a+b", true), "a+b");
    EXPECT_EQ(escape("a+b", true, true), "a b");
    EXPECT_EQ(escape("%2B", true, true), "+");
    EXPECT_EQ(escape("%00%0a%22%5c%7F", true), R"(\u0000\n\"\\\u007f)");
    EXPECT_EQ(escape("%C3%A9%c3%a9\xC3%A9", true), "ééé");
    EXPECT_EQ(escape("%C0%AF", true), k_fffd + k_fffd);
    EXPECT_EQ(escape("%ED%A0%80", true), k_fffd + k_fffd + k_fffd);
    EXPECT_EQ(escape("%E2%80%A8", true), R"(\u2028)");
    EXPECT_EQ(escape("%E2%82", true), k_fffd);
    EXPECT_EQ(escape("%E2%82%", true), k_fffd + "%");
    EXPECT_EQ(escape("%F0%9F%98%80", true), "😀");
    EXPECT_EQ(escape("%C3%A9", false), "%C3%A9");
}

// A slow, literal reading of the rules: decode first, then take the longest prefix that can
// still begin a well-formed sequence (tried by completing it with 0x80 and 0xBF bytes).
std::string reference_escape(std::string_view s, bool decode, bool plus) {
    auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
    std::string bytes;
    for (size_t i = 0; i < s.size(); ++i) {
        if (decode && s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) && hex(s[i + 2])) {
            bytes += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
            i += 2;
        } else if (plus && s[i] == '+') {
            bytes += ' ';
        } else {
            bytes += s[i];
        }
    }
    auto sequence_len = [](unsigned char c) -> size_t {
        return (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    };
    auto can_begin_valid = [&](std::string_view prefix, size_t n) {
        for (const char fill : {'\x80', '\xBF'}) {
            std::string full(prefix);
            full.resize(n, fill);
            if (is_valid_utf8(full)) return true;
        }
        return false;
    };
    std::string out;
    size_t i = 0;
    while (i < bytes.size()) {
        const auto c = static_cast<unsigned char>(bytes[i]);
        if (c < 0x80) {
            static const char* const short_forms[] = {"\\b", "\\t", "\\n", nullptr, "\\f", "\\r"};
            if (c == '"' || c == '\\') {
                out += '\\';
                out += static_cast<char>(c);
            } else if (c >= 8 && c <= 13 && short_forms[c - 8]) {
                out += short_forms[c - 8];
            } else if (c < 0x20 || c == 0x7F) {
                char u[8];
                std::snprintf(u, sizeof u, "\\u%04x", c);
                out += u;
            } else {
                out += static_cast<char>(c);
            }
            ++i;
            continue;
        }
        const size_t n = sequence_len(c);
        size_t k = 0;
        while (n != 0 && k < n && i + k < bytes.size() &&
               can_begin_valid(std::string_view(bytes).substr(i, k + 1), n)) {
            ++k;
        }
        if (n != 0 && k == n) {
            const std::string cp = bytes.substr(i, n);
            out += cp == "\xE2\x80\xA8" ? "\\u2028" : cp == "\xE2\x80\xA9" ? "\\u2029" : cp;
            i += n;
        } else {
            out += k_fffd;
            i += k == 0 ? 1 : k;
        }
    }
    return out;
}

// Inputs that must not break the output, whatever field carries them.
std::vector<std::string> hostile_corpus() {
    std::vector<std::string> corpus = {
        "\"",
        "\\",
        "\"\\\"",
        "\\\"}]",
        "\x7F",
        "\xC0\xAF",
        "\xC1\xBF",
        "\xE0\x80\xAF",
        "\xF0\x80\x80\xAF",
        "\xED\xA0\x80",
        "\xED\xBF\xBF",
        "\xED\xA0\x80\xED\xB0\x80",
        "%ED%A0%80",
        "%ED%B0%80",
        "%C0%AF",
        "%E0%80%AF",
        "%F4%90%80%80",
        "%FF%FE",
        "x\xE2\x82",
        "x\xF0\x9F\x98",
        "x\xC3",
        "x%E2%82",
        "x%F0%9F%98",
        "\xF4\x8F\xBF\xBF",
        "%F4%8F%BF%BF",
        "\xF4\x90\x80\x80",
        "\xF5\x80\x80\x80",
        "\xF8\x88\x80\x80\x80",
        "\xFE\xFF",
        "\x80\x80\xBF",
        "\xE2\x80\xA8\xE2\x80\xA9",
        "%E2%80%A8",
        "%",
        "%%",
        "%4",
        "%G0",
        "a%",
        "x=%",
        "%2",
        "+%2B+",
        "=",
        "&",
        "&&=&=",
        "==",
        "@",
        "[",
        "]",
        ":",
        "#",
        "?",
        "/",
        "http://",
        "https://[",
        "http://@",
        "http://:@[]:/",
        "http://\"\\/\"",
        "http://EXAMPLE.com\x01/\x02",
        "%22%5C%00%1F%7F",
        "\xEF\xBB\xBF",
        "\xEF\xBF\xBD",
        std::string(1, '\0'),
        std::string("a\0b", 3),
        "null",
        "}{",
        "\\u0000",
        "\\ud800",
        std::string(16 * 1024, '\x01'),
        std::string(16 * 1024, '"'),
        std::string(16 * 1024, '\xFF'),
        std::string(5000, '%') + "E2",
        std::string(16 * 1024, '&'),
        std::string(3000, 'k') + "=" + std::string(3000, '\x7F'),
    };
    std::string controls;
    for (int c = 0; c < 0x20; ++c)
        controls += static_cast<char>(c);
    corpus.push_back(controls);
    std::string encoded_controls;
    for (int c = 0; c < 0x100; ++c) {
        char e[4];
        std::snprintf(e, sizeof e, "%%%02X", c);
        encoded_controls += e;
    }
    corpus.push_back(encoded_controls);
    std::string all_bytes;
    for (int c = 0; c < 0x100; ++c)
        all_bytes += static_cast<char>(c);
    corpus.push_back(all_bytes);
    std::string control_keys;
    for (int i = 0; i < 100; ++i)
        control_keys += {static_cast<char>(1 + i / 16), static_cast<char>(1 + i % 16), '&'};
    corpus.push_back(control_keys);
    std::string many_params;
    for (int i = 0; i < 200; ++i)
        many_params += "%FF" + std::to_string(i % 70) + "=\xFF&";
    corpus.push_back(many_params);
    return corpus;
}

TEST(json_escape, matches_reference_on_hostile_corpus) {
    for (const std::string& s : hostile_corpus()) {
        for (int mode = 0; mode < 4; ++mode) {
            const bool decode = mode & 1, plus = mode & 2;
            const std::string got = escape(s, decode, plus);
            ASSERT_EQ(got, reference_escape(s, decode, plus)) << "mode " << mode << ": " << s;
            ASSERT_TRUE(is_valid_utf8(got));
            ASSERT_TRUE(json_checker("\"" + got + "\"").parse_document(nullptr));
        }
    }
}

TEST(json_escape, matches_reference_on_random_input) {
    // Bytes weighted toward the interesting ones, at every offset around the 16-byte blocks.
    const std::string alphabet = "aZ09 %+=&\"\\\x01\x1f\x7f\x80\xbf\xc0\xc2\xdf\xe0\xe2\xed"
                                 "\xef\xf0\xf4\xf5\xff"
                                 "ABCDEF\xa0\x8f\x90\xa8\xa9";
    std::mt19937 rng(42);
    for (int round = 0; round < 20000; ++round) {
        const size_t len = rng() % 70;
        std::string s;
        for (size_t i = 0; i < len; ++i) {
            s += rng() % 4 == 0 ? static_cast<char>(rng()) : alphabet[rng() % alphabet.size()];
        }
        const bool decode = rng() & 1, plus = rng() & 1;
        ASSERT_EQ(escape(s, decode, plus), reference_escape(s, decode, plus)) << s;
    }
}

// ---- hostile corpus through the whole encoder --------------------------------------------

TEST(encode_pixel_event, hostile_corpus_stays_valid_json_within_bound) {
    size_t events = 0;
    for (const std::string& h : hostile_corpus()) {
        const std::string templates[] = {h,           "k=" + h,  h + "=v", "campaignID=" + h,
                                         h + "&" + h, "a=1&" + h};
        const std::string referers[] = {h,
                                        "http://" + h,
                                        "https://" + h + "/" + h + "?" + h,
                                        "http://a/" + h,
                                        "http://[" + h + "]:1/" + h,
                                        "HTTP://u@" + h + ":1#" + h};
        for (size_t t = 0; t < std::size(templates); ++t) {
            pixel_hit hit;
            hit.action = h;
            hit.query = templates[t];
            hit.referer = referers[t];
            hit.user_agent = h;
            hit.host = h;
            hit.client = t % 2 ? ipv6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff") : ipv4("1.2.3.4");
            encode_options opt;
            opt.collector = h;
            opt.ip = t % 3 == 0 ? ip_privacy::full : ip_privacy::truncate;
            encode(hit, opt);
            ++events;
        }
    }
    EXPECT_GT(events, 400u);
}

// The bound must hold with every optional field at its widest.
TEST(encode_pixel_event, bound_covers_widest_fields) {
    pixel_hit hit;
    hit.client = ipv6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    hit.referer = "http://[\x01]"; // url, path "/" and page_host, all escaped
    hit.query = "campaignID=\x01&\x01";
    hit.action = "\x01";
    hit.user_agent = "\x01";
    hit.host = "\x01";
    encode_options opt;
    opt.ip = ip_privacy::full;
    opt.collector = "\x01";
    const std::string json = encode(hit, opt);
    EXPECT_LE(json.size(), max_pixel_event_size(hit, opt));
}

// Distinct keys of control bytes without '=' cost 6 output bytes per input byte, '&' included:
// the worst case of the query part of the bound, which must still hold and stay close.
TEST(encode_pixel_event, bound_is_tight_for_control_byte_keys) {
    std::string query;
    for (int i = 0; i < static_cast<int>(max_event_params); ++i) {
        query += static_cast<char>(0x0E + i / 16); // 0x0E..0x1F: all written as \u00XX
        query += static_cast<char>(0x0E + i % 16);
        query += '&';
    }
    pixel_hit hit = query_hit(query);
    hit.action = "";
    hit.client = ipv6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    hit.user_agent = "\x01";
    hit.host = "\x01";
    encode_options opt;
    opt.ip = ip_privacy::full;
    const std::string json = encode(hit, opt);
    const size_t bound = max_pixel_event_size(hit, opt);
    EXPECT_LE(json.size(), bound);
    EXPECT_LE(bound - json.size(), 32u) << json.size() << " of " << bound;
}

// ---- ids and timestamps ------------------------------------------------------------------

std::string uuid_text(const event_id& id) {
    char text[36];
    format_uuid(id, text);
    return std::string(text, sizeof text);
}

uint64_t uuid_ms(const event_id& id) {
    uint64_t ms = 0;
    for (int i = 0; i < 6; ++i)
        ms = ms << 8 | id[i];
    return ms;
}

TEST(uuidv7, format_and_bits) {
    EXPECT_EQ(uuid_text(k_id), "0192f7a4-6c1e-7d2a-9b1e-3f5c2d7e8a90");
    const std::regex shape("^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
    uuidv7_generator gen(1);
    for (int i = 0; i < 1000; ++i) {
        const event_id id = gen.next(k_ms + i / 3);
        EXPECT_EQ(id[6] >> 4, 7);
        EXPECT_EQ(id[8] >> 6, 2);
        EXPECT_EQ(uuid_ms(id), k_ms + i / 3);
        EXPECT_TRUE(std::regex_match(uuid_text(id), shape)) << uuid_text(id);
    }
}

TEST(uuidv7, strictly_increasing_in_one_ms) {
    uuidv7_generator gen(7);
    event_id prev = gen.next(k_ms);
    for (int i = 1; i < 100000; ++i) {
        const event_id id = gen.next(k_ms);
        ASSERT_LT(prev, id) << i;
        ASSERT_GE(uuid_ms(id), k_ms);
        // The counter starts in its low half, so 2048 ids always fit in the real ms.
        if (i < 2048) {
            ASSERT_EQ(uuid_ms(id), k_ms);
        }
        prev = id;
    }
}

TEST(uuidv7, strictly_increasing_across_ms_and_backwards_clock) {
    uuidv7_generator gen(99);
    std::mt19937_64 rng(5);
    uint64_t ms = k_ms;
    event_id prev = gen.next(ms);
    for (int i = 0; i < 100000; ++i) {
        const uint64_t step = rng() % 8;
        if (step == 0) {
            ms -= rng() % 1000; // the clock jumps back
        } else if (step < 4) {
            ms += step;
        }
        const event_id id = gen.next(ms);
        ASSERT_LT(prev, id) << i;
        prev = id;
    }
}

TEST(uuidv7, new_ms_starts_counter_in_low_half_and_seeds_differ) {
    uuidv7_generator a(1), b(2);
    std::set<std::string> seen;
    for (uint64_t ms = k_ms; ms < k_ms + 2000; ++ms) {
        const event_id ia = a.next(ms), ib = b.next(ms);
        EXPECT_LT((ia[6] & 0x0F) << 8 | ia[7], 0x800);
        EXPECT_NE(ia, ib);
        EXPECT_TRUE(seen.insert(uuid_text(ia)).second);
        EXPECT_TRUE(seen.insert(uuid_text(ib)).second);
    }
}

std::string timestamp(uint64_t ms) {
    char text[24];
    format_timestamp(ms, text);
    return std::string(text, sizeof text);
}

TEST(format_timestamp, known_instants) {
    EXPECT_EQ(timestamp(0), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(timestamp(1), "1970-01-01T00:00:00.001Z");
    EXPECT_EQ(timestamp(94694399500), "1972-12-31T23:59:59.500Z");
    EXPECT_EQ(timestamp(951868799999), "2000-02-29T23:59:59.999Z");
    EXPECT_EQ(timestamp(1709208000000), "2024-02-29T12:00:00.000Z");
    EXPECT_EQ(timestamp(k_ms), "2026-11-22T10:35:00.123Z");
    EXPECT_EQ(timestamp(4102444799999), "2099-12-31T23:59:59.999Z");
    EXPECT_EQ(timestamp(4107542400000), "2100-03-01T00:00:00.000Z");
    EXPECT_EQ(timestamp(253402300799999), "9999-12-31T23:59:59.999Z");
    EXPECT_EQ(timestamp(~uint64_t{0}), "9999-12-31T23:59:59.999Z");
    // Same second again after another one: the cache must follow.
    EXPECT_EQ(timestamp(k_ms + 1), "2026-11-22T10:35:00.124Z");
    EXPECT_EQ(timestamp(0), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(timestamp(k_ms + 877), "2026-11-22T10:35:01.000Z");
}

TEST(format_timestamp, agrees_with_gmtime) {
    std::mt19937_64 rng(3);
    for (int i = 0; i < 100000; ++i) {
        const uint64_t ms = rng() % 253402300800000;
        const time_t secs = static_cast<time_t>(ms / 1000);
        tm t{};
        ASSERT_NE(gmtime_r(&secs, &t), nullptr);
        char expect[64];
        std::snprintf(expect, sizeof expect, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                      t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                      static_cast<int>(ms % 1000));
        ASSERT_EQ(timestamp(ms), expect) << ms;
    }
}

} // namespace
} // namespace pixelring
