// Tests of the event encoder (core/event/event.hh): exact events for representative hits, each
// field rule, the enrichment fields (utm, visitor, GeoIP, agent, dnt), a hostile corpus
// checked with a strict UTF-8 and JSON validator, the size bound, no allocation, json_escape
// against a slow reference, UUIDv7 and timestamps.

#include "core/event/event.hh"

#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iterator>
#include <memory>
#include <new>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/enrich/geoip.hh"
#include "core/enrich/user_agent.hh"
#include "core/enrich/visitor.hh"
#include "core/event/url_fields.hh"
#include "tests/support/json_reader.hh"
#include "tests/support/testdata.hh"
#include "tests/support/utf8_check.hh"

// ---- counting allocator -------------------------------------------------------------------
// As in tests/unit/beacon_test.cc: every form of global operator new counts, so that the encoder's
// promise of no allocation is checked. They sit on malloc/free; GCC sees free() meet an
// inlined new-expression and warns.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace {
std::atomic<size_t> g_allocations{0};

void* counted_alloc(size_t n) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    return std::malloc(n ? n : 1);
}
void* counted_alloc_aligned(size_t n, std::align_val_t al) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    const size_t a = static_cast<size_t>(al);
    return std::aligned_alloc(a, (n + a - 1) / a * a);
}
} // namespace

void* operator new(size_t n) {
    if (void* p = counted_alloc(n)) return p;
    throw std::bad_alloc();
}
void* operator new[](size_t n) {
    if (void* p = counted_alloc(n)) return p;
    throw std::bad_alloc();
}
void* operator new(size_t n, const std::nothrow_t&) noexcept {
    return counted_alloc(n);
}
void* operator new[](size_t n, const std::nothrow_t&) noexcept {
    return counted_alloc(n);
}
void* operator new(size_t n, std::align_val_t al) {
    if (void* p = counted_alloc_aligned(n, al)) return p;
    throw std::bad_alloc();
}
void* operator new[](size_t n, std::align_val_t al) {
    if (void* p = counted_alloc_aligned(n, al)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete[](void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, size_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, size_t) noexcept {
    std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete(void* p, size_t, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, size_t, std::align_val_t) noexcept {
    std::free(p);
}

namespace pixelring {
namespace {

using namespace std::string_literals;

// ---- validators --------------------------------------------------------------------------

using test::is_valid_utf8;

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

// The members the event of this hit must have, in docs/event.md order: every rule of
// presence from core/event/event.hh, written out independently of the encoder.
std::vector<std::string> expected_members(const pixel_hit& hit, const encode_options& opt) {
    std::vector<std::string> expected_order = {"v",      "id",        "ts",      "type",
                                               "action", "campaign",  "params",  "url",
                                               "path",   "page_host", "referrer"};
    const pixel_enrichment* const e = hit.enrichment;
    const bool refused = e != nullptr && e->dnt;
    if (e != nullptr && e->utm && !extract_utm(hit.referer).empty()) {
        expected_order.push_back("utm");
    }
    if (e != nullptr && !refused && !e->visitor.empty()) expected_order.push_back("visitor");
    const bool known_family = hit.client.family == 4 || hit.client.family == 6;
    if (opt.ip != ip_privacy::none && known_family && !refused) expected_order.push_back("ip");
    if (e != nullptr && e->geo != nullptr) {
        if (!e->geo->country.empty()) expected_order.push_back("country");
        if (!e->geo->region.empty()) expected_order.push_back("region");
        if (!e->geo->city.empty()) expected_order.push_back("city");
        if (e->geo->asn != 0) expected_order.push_back("asn");
        if (!e->geo->as_org.empty()) expected_order.push_back("as_org");
    }
    if (opt.user_agent && !hit.user_agent.empty() && !refused) expected_order.push_back("ua");
    if (e != nullptr && e->agent != nullptr) {
        expected_order.push_back("agent");
        expected_order.push_back("device");
        if (!e->agent->browser.empty()) expected_order.push_back("browser");
        if (!e->agent->os.empty()) expected_order.push_back("os");
    }
    if (e != nullptr) expected_order.push_back("dnt");
    expected_order.push_back("host");
    expected_order.push_back("collector");
    return expected_order;
}

// Encodes into a heap buffer of exactly max_pixel_event_size bytes and checks the result is
// one strict UTF-8 JSON object with the fields in schema order.
std::string encode(const pixel_hit& hit, const encode_options& opt, json_members* out = nullptr) {
    const size_t cap = max_pixel_event_size(hit, opt);
    std::unique_ptr<char[]> buf(new char[cap]);
    encode_notes notes;
    const size_t n = encode_pixel_event(hit, opt, k_id, k_ms, buf.get(), &notes);
    EXPECT_LE(n, cap);
    std::string json(buf.get(), n);
    EXPECT_TRUE(is_valid_utf8(json)) << json;
    json_members members;
    EXPECT_TRUE(json_checker(json).parse_document(&members)) << json;
    EXPECT_EQ(json.find('\n'), std::string::npos);
    std::vector<std::string> expected_order = expected_members(hit, opt);
    // The encoder's note and the member agree; whether it is right, params_are_capped and
    // fast_paths_test check.
    if (notes.params_truncated)
        expected_order.insert(expected_order.begin() + 7, "params_truncated");
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
    EXPECT_EQ(members[7].first, "params_truncated");
    EXPECT_EQ(members[7].second, "true");

    // Exactly 64 distinct keys, with repeats and reserved keys past them: nothing was cut.
    const auto truncated = [](const std::string& q) {
        encode_notes notes;
        const pixel_hit h = query_hit(q);
        std::vector<char> out(max_pixel_event_size(h, {}));
        const std::string json(out.data(),
                               encode_pixel_event(h, {}, k_id, k_ms, out.data(), &notes));
        EXPECT_EQ(json.find("\"params_truncated\":true") != std::string::npos,
                  notes.params_truncated)
            << json;
        return notes.params_truncated;
    };
    std::string full;
    for (int i = 0; i < 64; ++i)
        full += "k" + std::to_string(i) + "=v&";
    EXPECT_FALSE(truncated(full));
    EXPECT_FALSE(truncated(full + "k0=again&k%363=again&campaignID=c&k63"));
    EXPECT_TRUE(truncated(full + "k0=again&k64=new"));
    EXPECT_TRUE(truncated(full + "k64"));
    EXPECT_FALSE(truncated("a=1&b=2"));
    // A redirect's url and sig are not params: 64 params plus them are not cut either.
    const std::string with_url_and_sig = full + "url=x&sig=y"; // outlives the hit's views
    pixel_hit redirect = query_hit(with_url_and_sig);
    redirect.type = event_type::redirect;
    encode_notes notes;
    std::vector<char> out(max_pixel_event_size(redirect, {}));
    encode_pixel_event(redirect, {}, k_id, k_ms, out.data(), &notes);
    EXPECT_FALSE(notes.params_truncated);
}

TEST(encode_pixel_event, userinfo_is_never_written) {
    struct userinfo_case {
        std::string_view referer, url;
        bool removed;
    };
    const userinfo_case cases[] = {
        {"https://alice:s3cret@shop.example/cart", R"("https://shop.example/cart")", true},
        {"https://alice@shop.example", R"("https://shop.example")", true},
        {"HTTP://a:b@c@Shop.example:8080/x?y=@z#@", R"("HTTP://Shop.example:8080/x?y=@z#@")", true},
        {"ftp://u:p@files.example/f", R"("ftp://files.example/f")", true},
        {"android-app://u@com.example.app/", R"("android-app://com.example.app/")", true},
        {"//u:p@cdn.example/x", R"("//cdn.example/x")", true},
        {"https://shop.example/path@x", R"("https://shop.example/path@x")", false},
        {"https://shop.example?q=a@b", R"("https://shop.example?q=a@b")", false},
        {"https://shop.example\\u@x", R"("https://shop.example\\u@x")", false},
        {"mailto:ann@example.com", R"("mailto:ann@example.com")", false},
        {"1http://u@x/", R"("1http://u@x/")", false},
    };
    for (const auto& c : cases) {
        const pixel_hit hit = referer_hit(c.referer);
        EXPECT_EQ(field(hit, "url"), c.url) << c.referer;
        encode_notes notes;
        std::vector<char> out(max_pixel_event_size(hit, {}));
        encode_pixel_event(hit, {}, k_id, k_ms, out.data(), &notes);
        EXPECT_EQ(notes.userinfo_removed, c.removed) << c.referer;
    }
    // page_host and path are those of the whole URL, as before.
    const pixel_hit hit = referer_hit("https://alice:s3cret@Shop.example/cart");
    EXPECT_EQ(field(hit, "page_host"), R"("shop.example")");
    EXPECT_EQ(field(hit, "path"), R"("/cart")");
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
         R"("https://Host.example:8443/a%20b/c+d/%E2%82%AC?q")", R"("/a b/c+d/€")",
         R"("host.example")"},
        {"http://[::1]:8080/x", R"("http://[::1]:8080/x")", R"("/x")", R"("::1")"},
        {"http://[2001:DB8::1]/", R"("http://[2001:DB8::1]/")", R"("/")", R"("2001:db8::1")"},
        {"http://a@b@c.example/", R"("http://c.example/")", R"("/")", R"("c.example")"},
        {"https://example.com/%22q%22%0A", R"("https://example.com/%22q%22%0A")", R"("/\"q\"\n")",
         R"("example.com")"},
        {"android-app://com.google.android.gm/", R"("android-app://com.google.android.gm/")",
         "null", "null"},
        {"ftp://example.com/x", R"("ftp://example.com/x")", "null", "null"},
        {"/relative/path", R"("/relative/path")", "null", "null"},
        {"example.com/x", R"("example.com/x")", "null", "null"},
        {"http://", R"("http://")", "null", "null"},
        {"http:///x", R"("http:///x")", "null", "null"},
        {"http://user@:80/", R"("http://:80/")", "null", "null"},
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
    // Found by fuzzing: inet_pton stops at a NUL, so a bracketed literal with a NUL in it
    // passed and was returned whole as page_host (and fed the visitor hash).
    for (const std::string& referer :
         {std::string("http://[::1\0<script>x]/p", 24), std::string("http://[::1 x]/p"),
          std::string("http://[::1%00]/p"), std::string("http://[fe80::1%eth0]/p"),
          std::string("http://[::1\n]/p")}) {
        const pixel_hit hit = referer_hit(referer);
        EXPECT_EQ(field(hit, "page_host"), "null") << referer;
        EXPECT_EQ(field(hit, "path"), "null") << referer;
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
    // The bound also pays for ",\"params_truncated\":true" (24 bytes), not written here.
    EXPECT_LE(bound - json.size(), 32u + 24u) << json.size() << " of " << bound;
}

// ---- Referer host and path (url_host, url_path) ------------------------------------------

// page_host is url_host's answer (lower-cased, %XX decoded, validated) and path is url_path's;
// both are null when url_host finds no valid host.
TEST(encode_pixel_event, page_host_is_url_host) {
    struct referer_case {
        std::string_view referer, path, page_host;
    };
    const referer_case cases[] = {
        {"https://ex%41mple.COM/a", R"("/a")", R"("example.com")"},
        {"https://b%C3%BCcher.example/", R"("/")", R"("bücher.example")"},
        {"https://b%FFcher.example/", R"("/")",
         "\"b\xEF\xBF\xBD"
         "cher.example\""},
        {"https://exa\"mple.com/x", R"("/x")", R"("exa\"mple.com")"},
        {"https://example.com\\p", R"("\\p")", R"("example.com")"}, // '\' ends the authority
        {"https://example.com:443/x", R"("/x")", R"("example.com")"},
        {"https://example.com:/x", R"("/x")", R"("example.com")"},
        {"http://example.com:80a/x", "null", "null"}, // not a port
        {"http://example.com:65536/x", "null", "null"},
        {"https://exa mple.com/x", "null", "null"}, // forbidden in a host
        {"https://exa%2Fmple.com/x", "null", "null"},
        {"http://[fe80::1%25eth0]/x", "null", "null"},
    };
    for (const auto& c : cases) {
        const pixel_hit hit = referer_hit(c.referer);
        EXPECT_EQ(field(hit, "path"), c.path) << c.referer;
        EXPECT_EQ(field(hit, "page_host"), c.page_host) << c.referer;
    }
    const std::string longest(253, 'a');
    EXPECT_EQ(field(referer_hit("https://" + longest + "/x"), "page_host"), '"' + longest + '"');
    EXPECT_EQ(field(referer_hit("https://" + longest + "a/x"), "page_host"), "null");
}

// ---- enrichment ------------------------------------------------------------------------

// The example hit of docs/event.md, with every enrichment field the worker can give.
struct enriched_hit {
    geo_fields geo;
    agent_info agent;
    pixel_enrichment enrichment;
    pixel_hit hit;

    enriched_hit() {
        geo.country = "GB";
        geo.region = "ENG";
        geo.city = "London";
        geo.asn = 1221;
        geo.as_org = "Telstra Pty Ltd";
        agent.label = agent_label::browser;
        agent.browser = "Firefox";
        agent.os = "Linux";
        agent.device = device_kind::desktop;
        enrichment.visitor = "5f0c8e3b9a1d2c475f0c8e3b9a1d2c47";
        enrichment.geo = &geo;
        enrichment.agent = &agent;
        hit.action = "pageview";
        hit.query = "campaignID=example.com&scroll-depth=70%";
        hit.referer = "https://example.com/blog/post?utm_source=news&utm_medium=email";
        hit.user_agent = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
        hit.host = "px.example.com";
        hit.client = ipv4("203.0.113.77");
        hit.enrichment = &enrichment;
    }
    enriched_hit(const enriched_hit&) = delete; // hit points into this object
};

encode_options edge_1() {
    encode_options opt;
    opt.collector = "edge-1";
    return opt;
}

test::json_value parse_event(const std::string& json) {
    test::json_value event;
    std::string error;
    EXPECT_TRUE(test::json_reader::parse(json, event, error)) << error << ": " << json;
    EXPECT_EQ(event.kind, test::json_value::object_t);
    return event;
}

TEST(encode_pixel_event, full_enrichment) {
    const enriched_hit e;
    const std::string json = encode(e.hit, edge_1());
    EXPECT_EQ(
        json,
        R"({"v":1,"id":"0192f7a4-6c1e-7d2a-9b1e-3f5c2d7e8a90","ts":"2026-11-22T10:35:00.123Z",)"
        R"("type":"pixel","action":"pageview","campaign":"example.com",)"
        R"("params":{"scroll-depth":"70%"},)"
        R"("url":"https://example.com/blog/post?utm_source=news&utm_medium=email",)"
        R"("path":"/blog/post","page_host":"example.com","referrer":null,)"
        R"("utm":{"source":"news","medium":"email"},"visitor":"5f0c8e3b9a1d2c475f0c8e3b9a1d2c47",)"
        R"("ip":"203.0.113.0","country":"GB","region":"ENG","city":"London","asn":1221,)"
        R"("as_org":"Telstra Pty Ltd",)"
        R"js("ua":"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",)js"
        R"("agent":"browser","device":"desktop","browser":"Firefox","os":"Linux","dnt":false,)"
        R"("host":"px.example.com","collector":"edge-1"})");

    // Every field with the type docs/event.md gives it, as a JSON reader sees it.
    const test::json_value event = parse_event(json);
    using kind = test::json_value::kind_t;
    const std::pair<std::string_view, kind> types[] = {
        {"v", kind::number_t},         {"id", kind::string_t},      {"ts", kind::string_t},
        {"type", kind::string_t},      {"action", kind::string_t},  {"campaign", kind::string_t},
        {"params", kind::object_t},    {"url", kind::string_t},     {"path", kind::string_t},
        {"page_host", kind::string_t}, {"referrer", kind::null_t},  {"utm", kind::object_t},
        {"visitor", kind::string_t},   {"ip", kind::string_t},      {"country", kind::string_t},
        {"region", kind::string_t},    {"city", kind::string_t},    {"asn", kind::number_t},
        {"as_org", kind::string_t},    {"ua", kind::string_t},      {"agent", kind::string_t},
        {"device", kind::string_t},    {"browser", kind::string_t}, {"os", kind::string_t},
        {"dnt", kind::bool_t},         {"host", kind::string_t},    {"collector", kind::string_t},
    };
    ASSERT_EQ(event.members.size(), std::size(types));
    for (size_t i = 0; i < std::size(types); ++i) {
        EXPECT_EQ(event.members[i].first, types[i].first);
        EXPECT_EQ(event.members[i].second.kind, types[i].second) << types[i].first;
    }
    EXPECT_EQ(event.get("asn")->number, 1221);
    EXPECT_FALSE(event.get("dnt")->b);
    const test::json_value& utm = *event.get("utm");
    ASSERT_EQ(utm.members.size(), 2u);
    EXPECT_EQ(utm.str("source"), "news");
    EXPECT_EQ(utm.str("medium"), "email");
    EXPECT_EQ(utm.get("source")->kind, kind::string_t);
}

// The same hit without enrichment is the event of before: no new member, not even dnt.
TEST(encode_pixel_event, no_enrichment_adds_nothing) {
    enriched_hit e;
    const std::string with = encode(e.hit, edge_1());
    e.hit.enrichment = nullptr;
    const std::string without = encode(e.hit, edge_1());
    EXPECT_EQ(
        without,
        R"({"v":1,"id":"0192f7a4-6c1e-7d2a-9b1e-3f5c2d7e8a90",)"
        R"("ts":"2026-11-22T10:35:00.123Z","type":"pixel","action":"pageview",)"
        R"("campaign":"example.com","params":{"scroll-depth":"70%"},)"
        R"("url":"https://example.com/blog/post?utm_source=news&utm_medium=email",)"
        R"("path":"/blog/post","page_host":"example.com","referrer":null,)"
        R"("ip":"203.0.113.0",)"
        R"js("ua":"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",)js"
        R"("host":"px.example.com","collector":"edge-1"})");
    EXPECT_LT(without.size(), with.size());
}

// Enrichment with nothing known: only dnt (and utm, which comes from the Referer).
TEST(encode_pixel_event, missing_enrichment_fields_are_left_out) {
    enriched_hit e;
    e.enrichment = pixel_enrichment{};
    e.hit.referer = "https://example.com/blog/post";
    json_members members;
    encode(e.hit, edge_1(), &members); // checks the members against expected_members
    ASSERT_GE(members.size(), 3u);
    EXPECT_EQ(members[members.size() - 4].first, "ua");
    EXPECT_EQ(members[members.size() - 3].first, "dnt");
    EXPECT_EQ(members[members.size() - 3].second, "false");

    // Empty geo strings and asn 0, an agent without browser and os: those members go.
    e.geo = geo_fields{};
    e.geo.city = "Milton";
    e.agent = agent_info{};
    e.agent.label = agent_label::bot;
    e.agent.device = device_kind::bot;
    e.enrichment.geo = &e.geo;
    e.enrichment.agent = &e.agent;
    const test::json_value event = parse_event(encode(e.hit, edge_1()));
    EXPECT_EQ(event.str("city"), "Milton");
    for (const char* absent :
         {"utm", "visitor", "country", "region", "asn", "as_org", "browser", "os"}) {
        EXPECT_FALSE(event.has(absent)) << absent;
    }
    EXPECT_EQ(event.str("agent"), "bot");
    EXPECT_EQ(event.str("device"), "bot");
    EXPECT_EQ(event.str("ip"), "203.0.113.0");

    e.geo = geo_fields{};
    e.geo.asn = 4294967295;
    EXPECT_EQ(field(e.hit, "asn", edge_1()), "4294967295");
    e.geo.asn = 7;
    EXPECT_EQ(field(e.hit, "asn", edge_1()), "7");
    e.geo.asn = 0;
    EXPECT_EQ(field(e.hit, "asn", edge_1()), "");

    // Without privacy settings that keep them, ip and ua go as before.
    encode_options opt = edge_1();
    opt.ip = ip_privacy::none;
    opt.user_agent = false;
    EXPECT_EQ(field(e.hit, "ip", opt), "");
    EXPECT_EQ(field(e.hit, "ua", opt), "");
    EXPECT_EQ(field(e.hit, "dnt", opt), "false");
}

TEST(encode_pixel_event, every_agent_and_device_word) {
    enriched_hit e;
    const agent_label labels[] = {agent_label::browser, agent_label::bot, agent_label::mail_proxy,
                                  agent_label::prefetch, agent_label::scanner};
    const device_kind devices[] = {device_kind::desktop, device_kind::mobile, device_kind::tablet,
                                   device_kind::bot, device_kind::unknown};
    for (const agent_label label : labels) {
        for (const device_kind device : devices) {
            e.agent.label = label;
            e.agent.device = device;
            const test::json_value event = parse_event(encode(e.hit, edge_1()));
            EXPECT_EQ(event.str("agent"), to_string(label));
            EXPECT_EQ(event.str("device"), to_string(device));
        }
    }
    e.agent.browser = "Samsung Internet";
    e.agent.os = "Windows Phone";
    EXPECT_EQ(field(e.hit, "browser", edge_1()), R"("Samsung Internet")");
    EXPECT_EQ(field(e.hit, "os", edge_1()), R"("Windows Phone")");
}

// DNT / Sec-GPC honoured: visitor, ip and ua go whatever privacy.ip and privacy.user_agent
// say; the rest of the enrichment stays.
TEST(encode_pixel_event, dnt_drops_visitor_ip_and_ua) {
    enriched_hit e;
    for (const ip_privacy ip : {ip_privacy::full, ip_privacy::truncate, ip_privacy::none}) {
        encode_options opt = edge_1();
        opt.ip = ip;
        opt.user_agent = true;
        e.enrichment.dnt = true;
        const test::json_value refused = parse_event(encode(e.hit, opt));
        EXPECT_FALSE(refused.has("visitor"));
        EXPECT_FALSE(refused.has("ip"));
        EXPECT_FALSE(refused.has("ua"));
        ASSERT_TRUE(refused.has("dnt"));
        EXPECT_EQ(refused.get("dnt")->kind, test::json_value::bool_t);
        EXPECT_TRUE(refused.get("dnt")->b);
        for (const char* kept : {"utm", "country", "region", "city", "asn", "as_org", "agent",
                                 "device", "browser", "os", "host", "collector"}) {
            EXPECT_TRUE(refused.has(kept)) << kept;
        }

        e.enrichment.dnt = false;
        const test::json_value kept = parse_event(encode(e.hit, opt));
        EXPECT_EQ(kept.str("visitor"), e.enrichment.visitor);
        EXPECT_EQ(kept.has("ip"), ip != ip_privacy::none);
        EXPECT_EQ(kept.str("ua"), e.hit.user_agent);
        EXPECT_FALSE(kept.get("dnt")->b);
    }
    // Also over IPv6 and with the full address configured.
    e.hit.client = ipv6("2001:db8:abcd:12::1");
    e.enrichment.dnt = true;
    encode_options opt = edge_1();
    opt.ip = ip_privacy::full;
    EXPECT_EQ(field(e.hit, "ip", opt), "");
    EXPECT_EQ(field(e.hit, "dnt", opt), "true");
}

// The utm object: from the Referer's query, values percent-decoded with '+' as a space, the
// first of a repeated key, members in the fixed order source, medium, campaign, term, content.
TEST(encode_pixel_event, utm_from_the_referer) {
    auto utm = [](std::string_view referer, bool on = true) {
        pixel_enrichment enrichment;
        enrichment.utm = on;
        pixel_hit hit = referer_hit(referer);
        hit.enrichment = &enrichment;
        return field(hit, "utm");
    };
    EXPECT_EQ(utm("https://example.com/?utm_content=c&utm_term=t&utm_campaign=n&utm_medium=m"
                  "&utm_source=s"),
              R"({"source":"s","medium":"m","campaign":"n","term":"t","content":"c"})");
    EXPECT_EQ(utm("https://example.com/p?utm%5Fsource=caf%C3%A9+news&utm_campaign=a%26b%3Dc"
                  "&utm_source=second&utm_term=%22q%22%5C%0A&utm_medium=%E2%80%A8%FF"),
              "{\"source\":\"café news\",\"medium\":\"\\u2028\xEF\xBF\xBD\","
              "\"campaign\":\"a&b=c\",\"term\":\"\\\"q\\\"\\\\\\n\"}");
    EXPECT_EQ(utm("https://example.com/?utm_source=first&utm_source=second&utm_%73ource=third"),
              R"({"source":"first"})");
    // The first value wins even when it is empty, and an empty value is left out.
    EXPECT_EQ(utm("https://example.com/?utm_source=&utm_source=second&utm_medium=m"),
              R"({"medium":"m"})");
    EXPECT_EQ(utm("https://example.com/?utm_source=&utm_medium"), "");
    EXPECT_EQ(utm("https://example.com/?UTM_SOURCE=x&utm_sourcex=y&utm_=z"), "");
    EXPECT_EQ(utm("https://example.com/#/page?utm_source=spa"), ""); // a fragment is no query
    EXPECT_EQ(utm("https://example.com/?utm_source=a#&utm_medium=b"), R"({"source":"a"})");
    EXPECT_EQ(utm("https://example.com/blog"), "");
    EXPECT_EQ(utm(""), "");
    EXPECT_EQ(utm("https://example.com/?utm_source=news", false), "");
    // A Referer that is no absolute URL still carries its query.
    EXPECT_EQ(utm("/landing?utm_medium=cpc"), R"({"medium":"cpc"})");

    // utm parameters of the pixel URL itself stay params: the page is the Referer.
    pixel_enrichment enrichment;
    pixel_hit hit = query_hit("utm_source=pixel");
    hit.enrichment = &enrichment;
    EXPECT_EQ(field(hit, "utm"), "");
    EXPECT_EQ(field(hit, "params"), R"({"utm_source":"pixel"})");
}

// GeoIP strings come from an external file: escaped like request bytes, cut at
// max_geo_text_size on a character boundary.
TEST(encode_pixel_event, geo_strings_are_escaped_and_cut) {
    enriched_hit e;
    const std::string k_fffd = "\xEF\xBF\xBD";
    const std::string city = "Quote\"Back\\slash\x01\x1f\n\x7f\xFF\xC3 \xE2\x80\xA8!";
    const std::string region("E\0N", 3);
    const std::string as_org = "\xED\xA0\x80 Org \xF4\x90\x80\x80";
    e.geo.city = city;
    e.geo.region = region;
    e.geo.as_org = as_org;
    e.geo.country = "\"}";
    const std::string json = encode(e.hit, edge_1());
    EXPECT_NE(json.find(R"("city":"Quote\"Back\\slash\u0001\u001f\n\u007f)"), std::string::npos)
        << json;
    const test::json_value event = parse_event(json);
    EXPECT_EQ(event.str("city"),
              "Quote\"Back\\slash\x01\x1f\n\x7f" + k_fffd + k_fffd + " \xE2\x80\xA8!");
    EXPECT_EQ(event.str("region"), region);
    EXPECT_EQ(event.str("as_org"),
              k_fffd + k_fffd + k_fffd + " Org " + k_fffd + k_fffd + k_fffd + k_fffd);
    EXPECT_EQ(event.str("country"), "\"}");
    EXPECT_EQ(event.str("ua"), e.hit.user_agent);

    auto city_of = [&](const std::string& text) {
        e.geo.city = text;
        return parse_event(encode(e.hit, edge_1())).str("city");
    };
    EXPECT_EQ(city_of(std::string(max_geo_text_size, 'x')), std::string(max_geo_text_size, 'x'));
    EXPECT_EQ(city_of(std::string(200, 'x')), std::string(max_geo_text_size, 'x'));
    std::string e_acute;
    for (int i = 0; i < 100; ++i)
        e_acute += "é";
    EXPECT_EQ(city_of(e_acute), e_acute.substr(0, 128)); // 64 é, the cut falls between two
    EXPECT_EQ(city_of("a" + e_acute), "a" + e_acute.substr(0, 126)); // not inside the 64th
    std::string emoji;
    for (int i = 0; i < 40; ++i)
        emoji += "😀";
    EXPECT_EQ(city_of("ab" + emoji), "ab" + emoji.substr(0, 124)); // 31 whole emoji
    std::string tail_cut = std::string(125, 'x') + "😀";
    EXPECT_EQ(city_of(tail_cut), std::string(125, 'x'));
    // Invalid UTF-8 is cut after at most three steps back and read as U+FFFD.
    std::string fffds;
    for (int i = 0; i < 125; ++i)
        fffds += k_fffd;
    EXPECT_EQ(city_of(std::string(200, '\x80')), fffds);
}

// The worker's path for real: GeoIP from the test database, the agent from classify_agent, the
// visitor from visitor_hasher, the DNT test from tracking_refused.
TEST(encode_pixel_event, enrichment_from_the_building_blocks) {
    REQUIRE_TESTDATA("geoip");
    geoip_databases geoip;
    geoip_config cfg;
    cfg.city_db = test::testdata_path("geoip/GeoIP2-City-Test.mmdb");
    cfg.asn_db = test::testdata_path("geoip/GeoLite2-ASN-Test.mmdb");
    ASSERT_EQ(geoip.open(cfg), "") << "run from the project directory";
    visitor_key key;
    ASSERT_EQ(visitor_key::from_config("a fleet secret of thirty-two bytes", key), "");
    visitor_hasher hasher(key);

    pixel_hit hit;
    hit.action = "pageview";
    hit.query = "campaignID=example.com";
    hit.referer = "https://Example.com/p?utm_source=news&utm_campaign=caf%C3%A9";
    hit.user_agent =
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
    hit.client = ipv4("89.160.20.112");
    const geo_fields geo = geoip.lookup(hit.client);
    agent_signals signals;
    signals.user_agent = hit.user_agent;
    const agent_info agent = classify_agent(signals);
    char visitor[visitor_id_size];
    ASSERT_TRUE(hasher.visitor_id(k_ms, "example.com", hit.client, hit.user_agent, visitor));
    pixel_enrichment enrichment;
    enrichment.visitor = {visitor, sizeof visitor};
    enrichment.geo = &geo;
    enrichment.agent = &agent;
    enrichment.dnt = tracking_refused("", "");
    hit.enrichment = &enrichment;

    const test::json_value event = parse_event(encode(hit, edge_1()));
    EXPECT_EQ(event.str("page_host"), "example.com");
    EXPECT_EQ(event.get("utm")->str("source"), "news");
    EXPECT_EQ(event.get("utm")->str("campaign"), "café");
    EXPECT_TRUE(std::regex_match(event.str("visitor"), std::regex("^[0-9a-f]{32}$")));
    EXPECT_EQ(event.str("ip"), "89.160.20.0");
    EXPECT_EQ(event.str("country"), "SE");
    EXPECT_EQ(event.str("region"), "E");
    EXPECT_EQ(event.str("city"), "Linköping");
    EXPECT_EQ(event.get("asn")->text, "29518");
    EXPECT_EQ(event.str("as_org"), "Bredband2 AB");
    EXPECT_EQ(event.str("agent"), "browser");
    EXPECT_EQ(event.str("device"), "desktop");
    EXPECT_EQ(event.str("browser"), "Firefox");
    EXPECT_EQ(event.str("os"), "Windows");
    EXPECT_FALSE(event.get("dnt")->b);

    enrichment.dnt = tracking_refused(" 1\t", "");
    const test::json_value refused = parse_event(encode(hit, edge_1()));
    EXPECT_TRUE(refused.get("dnt")->b);
    EXPECT_FALSE(refused.has("visitor") || refused.has("ip") || refused.has("ua"));
}

// ---- enrichment against the size bound -----------------------------------------------------

TEST(encode_pixel_event, hostile_corpus_with_enrichment_stays_valid_json_within_bound) {
    size_t events = 0;
    const agent_label labels[] = {agent_label::browser, agent_label::bot, agent_label::mail_proxy,
                                  agent_label::prefetch, agent_label::scanner};
    for (const std::string& h : hostile_corpus()) {
        const std::string referers[] = {
            "https://a.example/?utm_source=" + h,
            "http://" + h + "/" + h + "?utm_medium=" + h + "&utm_term=" + h + "#" + h,
            "https://" + h + "?" + h + "&utm_content=" + h,
            h + "?utm_campaign=" + h,
            "HTTP://u@[" + h + "]:1/" + h + "?utm_source=" + h + "&utm_source=" + h,
            h,
        };
        for (size_t t = 0; t < std::size(referers); ++t) {
            geo_fields geo;
            geo.country = h;
            geo.region = h;
            geo.city = h;
            geo.as_org = h;
            geo.asn = t % 2 ? 4294967295u : 0;
            agent_info agent;
            agent.label = labels[t % std::size(labels)];
            agent.device = static_cast<device_kind>(t % 5);
            agent.browser = h;
            agent.os = h;
            pixel_enrichment enrichment;
            enrichment.visitor = h;
            enrichment.geo = &geo;
            enrichment.agent = &agent;
            enrichment.dnt = t % 3 == 2;
            enrichment.utm = t != 5;
            pixel_hit hit;
            hit.action = h;
            const std::string query = "campaignID=" + h + "&" + h;
            hit.query = query;
            hit.referer = referers[t];
            hit.user_agent = h;
            hit.host = h;
            hit.client = t % 2 ? ipv6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff") : ipv4("1.2.3.4");
            hit.enrichment = &enrichment;
            encode_options opt;
            opt.collector = h;
            opt.ip = t % 3 == 0 ? ip_privacy::full : ip_privacy::truncate;
            encode(hit, opt); // the buffer is exactly the bound: ASan sees any overrun
            ++events;
        }
    }
    EXPECT_GT(events, 400u);
}

// Random hits with random enrichment: the bound holds and the event parses.
TEST(encode_pixel_event, random_enriched_hits_stay_within_bound) {
    const std::string alphabet = "aZ09 %+=&?#/:@[]\\\"\x01\x1f\x7f\x80\xbf\xc3\xe2\xed\xf0\xff"
                                 "utm_sourcemediumcampaigntermcontent.http://";
    std::mt19937 rng(2024);
    auto text = [&](size_t max_len) {
        std::string s;
        const size_t len = rng() % (max_len + 1);
        for (size_t i = 0; i < len; ++i)
            s += rng() % 5 == 0 ? static_cast<char>(rng()) : alphabet[rng() % alphabet.size()];
        return s;
    };
    const char* const keys[] = {
        "utm_source=",   "utm_medium=", "utm_campaign=", "utm_term=", "utm_content=",
        "utm%5Fsource=", "x="};
    for (int round = 0; round < 3000; ++round) {
        std::string referer = rng() % 2 ? "https://" + text(20) + "/" + text(20) : text(30);
        referer += '?';
        for (int k = rng() % 8; k > 0; --k)
            referer += std::string(keys[rng() % std::size(keys)]) + text(20) + "&";
        if (rng() % 4 == 0) referer += "#" + text(10);
        const std::string visitor = text(40), country = text(4), region = text(6);
        const std::string city = text(300), as_org = text(300), browser = text(20), os = text(20);
        const std::string action = text(20), query = text(60), ua = text(80), host = text(20);
        geo_fields geo{country, region, city, static_cast<uint32_t>(rng()), as_org};
        agent_info agent;
        agent.label = static_cast<agent_label>(rng() % 5);
        agent.device = static_cast<device_kind>(rng() % 5);
        agent.browser = browser;
        agent.os = os;
        pixel_enrichment enrichment;
        enrichment.visitor = visitor;
        enrichment.geo = rng() % 4 ? &geo : nullptr;
        enrichment.agent = rng() % 4 ? &agent : nullptr;
        enrichment.dnt = rng() % 3 == 0;
        enrichment.utm = rng() % 5 != 0;
        pixel_hit hit;
        hit.action = action;
        hit.query = query;
        hit.referer = referer;
        hit.user_agent = ua;
        hit.host = host;
        hit.client = rng() % 2 ? ipv6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff") : ipv4("1.2.3.4");
        hit.enrichment = &enrichment;
        encode_options opt;
        opt.ip = static_cast<ip_privacy>(rng() % 3);
        opt.user_agent = rng() % 2;
        const std::string json = encode(hit, opt);
        ASSERT_FALSE(::testing::Test::HasFailure()) << "round " << round << ": " << json;
    }
}

// Every enrichment member at its widest: the bound holds and stays close.
TEST(encode_pixel_event, bound_is_tight_for_widest_enrichment) {
    const std::string controls(max_geo_text_size, '\x01');    // each byte written as \u0001
    const std::string longer(max_geo_text_size + 50, '\x01'); // cut to max_geo_text_size
    geo_fields geo{controls, controls, longer, 4294967295u, longer};
    agent_info agent;
    agent.label = agent_label::mail_proxy;
    agent.device = device_kind::desktop;
    agent.browser = "\x01\x01";
    agent.os = "\x01";
    pixel_enrichment enrichment;
    enrichment.visitor = "\x01\x01\x01";
    enrichment.geo = &geo;
    enrichment.agent = &agent;
    enrichment.dnt = false;
    // Referer bytes are all in url, and each also in exactly one of page_host, path, utm.
    pixel_hit hit;
    hit.referer = "http://\x01/\x01?utm_source=\x01&utm_medium=\x01&utm_campaign=\x01&"
                  "utm_term=\x01&utm_content=\x01";
    hit.client = ipv6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    hit.user_agent = "\x01";
    hit.enrichment = &enrichment;
    encode_options opt;
    opt.ip = ip_privacy::full;
    const std::string json = encode(hit, opt);
    EXPECT_LE(json.size(), max_pixel_event_size(hit, opt));

    // What enrichment adds to the bound against what it adds to the event, without the utm
    // object (paid for by the Referer's 12 bytes per byte): the slack is the utm skeleton.
    enrichment.utm = false;
    const size_t bound = max_pixel_event_size(hit, opt);
    const size_t size = encode(hit, opt).size();
    hit.enrichment = nullptr;
    const size_t bound_without = max_pixel_event_size(hit, opt);
    const size_t size_without = encode(hit, opt).size();
    EXPECT_GE(bound - bound_without, size - size_without);
    EXPECT_LE((bound - bound_without) - (size - size_without), 80u)
        << size - size_without << " of " << bound - bound_without;
}

// ---- no allocation -------------------------------------------------------------------------

TEST(encode_pixel_event, allocates_nothing) {
    enriched_hit e;
    e.hit.referer = "https://Example.com/blog/post?utm_source=news&utm_medium=email&utm_term=a+b";
    encode_options opt = edge_1();
    std::vector<char> slot(max_pixel_event_size(e.hit, opt) + 4096);
    uuidv7_generator ids(1);
    const size_t before = g_allocations.load();
    size_t written = 0;
    for (int i = 0; i < 1000; ++i) {
        e.enrichment.dnt = i % 3 == 0;
        e.hit.enrichment = i % 2 ? &e.enrichment : nullptr;
        opt.ip = static_cast<ip_privacy>(i % 3);
        written += max_pixel_event_size(e.hit, opt);
        written += encode_pixel_event(e.hit, opt, ids.next(k_ms + i), k_ms + i, slot.data());
    }
    const size_t after = g_allocations.load();
    EXPECT_EQ(after, before);
    EXPECT_GT(written, 0u);
    // The counter does count: a string of this size allocates.
    const std::string probe(1000, 'x');
    EXPECT_GT(g_allocations.load(), after);
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
