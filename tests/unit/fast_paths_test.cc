// The per-request fast paths held to their simple versions: json_escape's SSE2 runs against
// its byte-at-a-time loop (detail::json_escape_bytewise), find_byte against memchr, the SSE2
// hex writer against snprintf, split_page_url against url_host/url_path/extract_utm, the
// request parser's 16-byte line-end scan against the same head fed a byte at a time, the
// event's params splitting against a plain reference, max_pixel_event_size against
// detail::event_size (tests/unit/visitor_test.cc holds the word-wise SipHash feed to libsodium).
// Inputs end right before an unreadable page and the escape output ends at one too, so an
// over-read or an over-write past the documented budget crashes.

#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "core/enrich/geoip.hh"
#include "core/enrich/user_agent.hh"
#include "core/event/event.hh"
#include "core/event/json_escape.hh"
#include "core/event/url_fields.hh"
#include "core/http/http_chars.hh"
#include "core/http/percent_decode.hh"
#include "core/http/request_parser.hh"
#include "tests/support/guarded_memory.hh"

namespace pixelring {
namespace {

using test::guarded_buffer;

// ---- json_escape ---------------------------------------------------------------------------

// Escapes s (placed before a guard page) into exactly 6 * size bytes before another guard
// page, with the fast and the simple loop, and expects the same bytes.
class escape_checker {
public:
    void check(std::string_view s, bool decode, bool plus) {
        const std::string_view in = input_.place_view(s);
        const size_t cap = 6 * s.size();
        char* const fast_out = output_.end() - cap;
        const size_t fast_n = json_escape(in, fast_out, decode, plus);
        ASSERT_LE(fast_n, cap);
        const std::string fast(fast_out, fast_n);
        char* const slow_out = output_.end() - cap;
        const size_t slow_n = detail::json_escape_bytewise(in, slow_out, decode, plus);
        ASSERT_LE(slow_n, cap);
        ASSERT_EQ(fast, std::string(slow_out, slow_n))
            << "decode " << decode << " plus " << plus << " input of " << s.size() << " bytes";
        ++checked_;
    }
    void check_all_modes(std::string_view s) {
        for (int mode = 0; mode < 4; ++mode)
            check(s, mode & 1, mode & 2);
    }
    size_t checked() const { return checked_; }

private:
    guarded_buffer input_{4096};
    guarded_buffer output_{6 * 4096};
    size_t checked_ = 0;
};

TEST(json_escape_fast_path, every_byte_value_at_every_position) {
    escape_checker c;
    for (int b = 0; b < 256; ++b) {
        for (size_t len = 1; len <= 40; ++len) {
            for (size_t at = 0; at < len; ++at) {
                std::string s(len, 'a');
                s[at] = static_cast<char>(b);
                c.check_all_modes(s);
                if (testing::Test::HasFatalFailure()) return;
            }
        }
    }
    EXPECT_GT(c.checked(), 800000u);
}

TEST(json_escape_fast_path, plain_strings_of_every_length) {
    escape_checker c;
    std::string s;
    for (size_t len = 0; len <= 100; ++len) {
        c.check_all_modes(s);
        s += static_cast<char>('a' + len % 26);
    }
    c.check_all_modes(std::string(4000, 'x'));
    EXPECT_EQ(c.checked(), 4u * 102);
}

// Escapes, percent escapes and UTF-8 sequences that straddle the 16-byte blocks and the
// 8- and 4-byte halves of the short tails.
TEST(json_escape_fast_path, sequences_across_block_boundaries) {
    const std::string pieces[] = {"%41",
                                  "%e2%82%ac",
                                  "%E2%80%A8",
                                  "%ED%A0%80",
                                  "%",
                                  "%4",
                                  "%G0",
                                  "+",
                                  "\xE2\x82\xAC",
                                  "\xF0\x9F\x98\x80",
                                  "\xE2\x80\xA9",
                                  "\xC3",
                                  "\xED\xA0\x80",
                                  "\"",
                                  "\\",
                                  "\x7F",
                                  "\x01",
                                  "%25",
                                  "%2B",
                                  "%00",
                                  "\xC3\xA9"};
    escape_checker c;
    for (const std::string& piece : pieces) {
        for (size_t before = 0; before <= 36; ++before) {
            for (size_t after = 0; after <= 20; ++after) {
                c.check_all_modes(std::string(before, 'k') + piece + std::string(after, 'v'));
                if (testing::Test::HasFatalFailure()) return;
            }
        }
    }
    EXPECT_GT(c.checked(), 15000u);
}

TEST(json_escape_fast_path, random_strings_up_to_100_bytes) {
    const std::string alphabet = "aZ09 %+=&\"\\\x01\x1f\x7f\x80\xbf\xc0\xc2\xdf\xe0\xe2\xed"
                                 "\xef\xf0\xf4\xf5\xff"
                                 "ABCDEFabcdef\xa0\x8f\x90\xa8\xa9";
    std::mt19937 rng(7);
    escape_checker c;
    for (int round = 0; round < 40000; ++round) {
        const size_t len = rng() % 101;
        std::string s;
        // Mostly plain, so that long runs reach the 16-byte loop and the tails.
        const unsigned plain_odds = rng() % 8;
        for (size_t i = 0; i < len; ++i) {
            if (rng() % 8 < plain_odds) {
                s += static_cast<char>('a' + rng() % 26);
            } else {
                s += rng() % 4 == 0 ? static_cast<char>(rng()) : alphabet[rng() % alphabet.size()];
            }
        }
        c.check(s, rng() & 1, rng() & 1);
        if (testing::Test::HasFatalFailure()) return;
    }
}

// Known answers, so that the two loops cannot agree on a wrong output.
TEST(json_escape_fast_path, known_answers) {
    char out[6 * 64];
    const auto esc = [&](std::string_view s, bool decode, bool plus) {
        return std::string(out, json_escape(s, out, decode, plus));
    };
    EXPECT_EQ(esc("pageview", true, false), "pageview");
    EXPECT_EQ(esc("70%25", true, true), "70%");
    EXPECT_EQ(esc("a+b%2Bc", true, true), "a b+c");
    EXPECT_EQ(esc("a+b%2Bc", false, false), "a+b%2Bc");
    EXPECT_EQ(esc("0123456789abcde\"", false, false), "0123456789abcde\\\"");
    EXPECT_EQ(esc("0123456\n", false, false), "0123456\\n");
    EXPECT_EQ(esc("012\x7f", false, false), "012\\u007f");
    EXPECT_EQ(esc("0123456789abcdef0123\xE2\x80\xA8", false, false), "0123456789abcdef0123\\u2028");
    EXPECT_EQ(esc("abcdefgh\xFF", false, false), "abcdefgh\xEF\xBF\xBD");
}

// ---- find_byte -----------------------------------------------------------------------------

TEST(find_byte, matches_memchr_at_every_length_and_position) {
    guarded_buffer mem(256);
    size_t checked = 0;
    for (size_t len = 0; len <= 100; ++len) {
        // The needle nowhere, then once at each position, then at each position and later.
        for (size_t at = 0; at <= len; ++at) {
            std::string s(len, 'x');
            if (at < len) s[at] = '&';
            if (at + 7 < len) s[at + 7] = '&';
            const char* p = mem.place(s);
            const char* end = p + len;
            const void* want = len == 0 ? nullptr : std::memchr(p, '&', len);
            const char* got = detail::find_byte(p, end, '&');
            ASSERT_EQ(got, want == nullptr ? end : static_cast<const char*>(want))
                << len << " " << at;
            const size_t index = detail::find_byte(std::string_view(p, len), '&');
            ASSERT_EQ(index, std::string_view(p, len).find('&'));
            ++checked;
        }
    }
    // Every byte value as the needle, with the other 255 around it.
    std::string all;
    for (int b = 0; b < 256; ++b)
        all += static_cast<char>(b);
    for (int b = 0; b < 256; ++b) {
        for (size_t len : {1u, 3u, 4u, 7u, 8u, 15u, 16u, 17u, 31u, 100u}) {
            std::string s(len, static_cast<char>(b ^ 0x55));
            s[len - 1] = static_cast<char>(b);
            const char* p = mem.place(s);
            ASSERT_EQ(detail::find_byte(p, p + len, static_cast<char>(b)), p + len - 1) << b;
            ++checked;
        }
        const char* p = mem.place(all);
        ASSERT_EQ(detail::find_byte(p, p + all.size(), static_cast<char>(b)), p + b);
    }
    EXPECT_GT(checked, 5000u);
}

// ---- hex ---------------------------------------------------------------------------------

std::string hex_reference(const uint8_t* bytes) {
    std::string s;
    char two[3];
    for (int i = 0; i < 16; ++i) {
        std::snprintf(two, sizeof two, "%02x", bytes[i]);
        s += two;
    }
    return s;
}

TEST(hex, write_hex16_and_format_uuid_match_snprintf) {
    std::mt19937_64 rng(11);
    for (int round = 0; round < 2000; ++round) {
        event_id id;
        for (auto& b : id)
            b = round == 0 ? 0 : round == 1 ? 0xFF : static_cast<uint8_t>(rng());
        if (round == 2)
            for (size_t i = 0; i < id.size(); ++i)
                id[i] = static_cast<uint8_t>(i * 17); // every nibble 0..f, high and low
        const std::string hex = hex_reference(id.data());
        char digits[32];
        detail::write_hex16(id.data(), digits);
        ASSERT_EQ(std::string(digits, 32), hex);
        char uuid[36];
        format_uuid(id, uuid);
        ASSERT_EQ(std::string(uuid, 36), hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" +
                                             hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
                                             hex.substr(20, 12));
    }
}

// ---- page URL ------------------------------------------------------------------------------

bool same_utm(const utm_fields& a, const utm_fields& b) {
    return a.source == b.source && a.medium == b.medium && a.campaign == b.campaign &&
           a.term == b.term && a.content == b.content;
}

TEST(split_page_url, equals_url_host_url_path_and_extract_utm) {
    std::vector<std::string> urls = {
        "https://example.com/blog/post?utm_source=news",
        "https://dillonbaird.io/blog/io-uring-pixels?utm_source=newsletter&utm_medium=email"
        "&utm_campaign=nov-2026#top",
        "HTTP://u:p@WWW.Example.COM:8443/a/b?x=1&utm_term=a+b#frag?utm_source=no",
        "http://[2001:DB8::1]:80/p?utm_content=c",
        "http://a.example#x?utm_source=hidden",
        "http://a.example?utm_source=q",
        "https://h.example\\path?utm_medium=m",
        "android-app://com.example/?utm_source=app",
        "/relative?utm_source=rel",
        "?utm_source=bare",
        "https://",
        "http://%41.example/%7e?utm%5Fsource=enc",
        "http://bad host/?utm_source=s",
        "",
    };
    std::mt19937 rng(3);
    const std::string alphabet = "ab:/?#@[]\\%=&+.u_tmsourcedium09";
    const std::string starts[] = {"", "http://", "https://", "HTTPS://", "ftp://"};
    for (int i = 0; i < 5000; ++i) {
        std::string u = starts[rng() % std::size(starts)];
        const size_t len = rng() % 60;
        for (size_t k = 0; k < len; ++k)
            u += alphabet[rng() % alphabet.size()];
        if (rng() % 3 == 0) u += "?utm_source=x&utm_campaign=y";
        urls.push_back(u);
    }
    guarded_buffer mem(256);
    for (const std::string& text : urls) {
        const std::string_view url = mem.place_view(text);
        char host_a[max_host_size];
        char host_b[max_host_size];
        const std::string_view want_host = url_host(url, host_a);
        for (const bool with_utm : {false, true}) {
            const page_url_fields got = split_page_url(url, host_b, with_utm);
            ASSERT_EQ(got.host, want_host) << text;
            ASSERT_EQ(got.path, url_path(url)) << text;
            ASSERT_TRUE(same_utm(got.utm, with_utm ? extract_utm(url) : utm_fields{})) << text;
        }
    }
}

// ---- request parser: the 16-byte line-end scan ----------------------------------------------

struct parse_result {
    parse_status status;
    uint16_t error_status;
    size_t head_length;
};

parse_result parse_in_steps(const http_limits& limits, std::string_view head, size_t step,
                            guarded_buffer& mem) {
    request_parser parser(limits);
    http_request req;
    parse_status st = parse_status::need_more;
    const char* buf = mem.place(head);
    for (size_t len = std::min(step, head.size());; len = std::min(len + step, head.size())) {
        // Each call sees only len bytes: the rest of the buffer is read only after it arrived.
        st = parser.parse_head(buf, len, req);
        if (st != parse_status::need_more || len == head.size()) break;
    }
    return {st, st == parse_status::error ? parser.error_status() : uint16_t{0},
            st == parse_status::complete ? req.head_length : 0};
}

TEST(http_parser_fast_path, line_ends_at_every_offset) {
    const http_limits limits;
    guarded_buffer mem(4096);
    size_t checked = 0;
    for (size_t pad = 0; pad < 40; ++pad) {
        const std::string line =
            "GET /p.gif HTTP/1.1\r\nHost: h\r\nX-Pad: " + std::string(pad, 'p');
        // A good head: the end found at every offset within the 16-byte blocks.
        const std::string good = line + "\r\nUser-Agent: u\r\n\r\n";
        // A bare LF inside a value, or ending the head, at every offset.
        const std::string bare = line + "\nX: y\r\n\r\n";
        const std::string bare_end = line + "\r\n\n";
        // An LF after CR that is not at a line start (the end needs CRLF CRLF).
        const std::string cr_only = line + "\r\r\n\r\n";
        for (const std::string* head : {&good, &bare, &bare_end, &cr_only}) {
            const parse_result whole = parse_in_steps(limits, *head, head->size(), mem);
            for (size_t step : {1u, 3u, 16u, 17u}) {
                const parse_result steps = parse_in_steps(limits, *head, step, mem);
                ASSERT_EQ(steps.status, whole.status) << pad << " step " << step;
                ASSERT_EQ(steps.error_status, whole.error_status) << pad << " step " << step;
                ASSERT_EQ(steps.head_length, whole.head_length) << pad << " step " << step;
            }
            ++checked;
        }
        EXPECT_EQ(parse_in_steps(limits, good, good.size(), mem).head_length, good.size());
        const parse_result b = parse_in_steps(limits, bare, bare.size(), mem);
        EXPECT_EQ(b.status, parse_status::error);
        EXPECT_EQ(b.error_status, 400);
        const parse_result be = parse_in_steps(limits, bare_end, bare_end.size(), mem);
        EXPECT_EQ(be.error_status, 400);
        const parse_result cr = parse_in_steps(limits, cr_only, cr_only.size(), mem);
        EXPECT_EQ(cr.status, parse_status::error); // "X-Pad: ...\r\r\n": a CR in a value
    }
    EXPECT_EQ(checked, 160u);
}

// ---- params splitting through the encoder ----------------------------------------------------

std::string decoded(std::string_view raw) {
    std::string out;
    for (size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '%' && i + 2 < raw.size() && std::isxdigit(uint8_t(raw[i + 1])) &&
            std::isxdigit(uint8_t(raw[i + 2]))) {
            out += static_cast<char>(std::stoi(std::string(raw.substr(i + 1, 2)), nullptr, 16));
            i += 2;
        } else {
            out += raw[i] == '+' ? ' ' : raw[i];
        }
    }
    return out;
}

std::string escaped(std::string_view raw) {
    std::string out(6 * raw.size() + 1, '\0');
    out.resize(detail::json_escape_bytewise(raw, out.data(), true, true));
    return out;
}

// The params object and campaign of a pixel hit as the encoder's rules say, by plain string
// splitting: '&'-separated non-empty pieces, split at the first '=', the first campaignID
// (decoded) as campaign, the first of each escaped key, at most max_event_params.
std::string reference_params(std::string_view query, std::string& campaign) {
    std::string out = "\"params\":{";
    std::vector<std::string> keys;
    bool has_campaign = false;
    bool truncated = false;
    size_t start = 0;
    while (start <= query.size()) {
        size_t amp = query.find('&', start);
        if (amp == std::string_view::npos) amp = query.size();
        const std::string_view piece = query.substr(start, amp - start);
        start = amp + 1;
        if (piece.empty()) continue;
        const size_t eq = piece.find('=');
        const std::string_view key = piece.substr(0, eq);
        const std::string_view value = eq == std::string_view::npos ? "" : piece.substr(eq + 1);
        if (decoded(key) == "campaignID") {
            if (!has_campaign) campaign = "\"" + escaped(value) + "\"";
            has_campaign = true;
            continue;
        }
        const std::string k = escaped(key);
        if (std::find(keys.begin(), keys.end(), k) != keys.end()) continue;
        if (keys.size() == max_event_params) {
            truncated = true; // a new key with no room left
            continue;
        }
        out += (keys.empty() ? "\"" : ",\"") + k + "\":\"" + escaped(value) + "\"";
        keys.push_back(k);
    }
    if (!has_campaign) campaign = "null";
    return out + (truncated ? "},\"params_truncated\":true" : "}");
}

TEST(params_fast_path, random_queries_split_as_the_reference_does) {
    const std::string alphabet = "ab&&==%2+x\xC3\xA9\"";
    const std::string words[] = {"campaignID",  "campaign%49D", "campaignI",
                                 "campaignIDs", "cam%70aignID", "scroll-depth",
                                 "k",           "%26",          "%3D"};
    std::mt19937 rng(5);
    size_t checked = 0, truncated = 0;
    for (int round = 0; round < 6000; ++round) {
        std::string query;
        const size_t parts = rng() % 8;
        for (size_t i = 0; i < parts; ++i) {
            if (rng() % 3 == 0) query += words[rng() % std::size(words)];
            const size_t len = rng() % 24;
            for (size_t k = 0; k < len; ++k)
                query += alphabet[rng() % alphabet.size()];
        }
        if (round % 50 == 0) {
            for (int i = 0; i < 70; ++i)
                query += "&p" + std::to_string(i % 66) + "=v";
        }
        pixel_hit hit;
        hit.action = "a";
        hit.query = query;
        encode_options opt;
        opt.ip = ip_privacy::none;
        std::vector<char> out(max_pixel_event_size(hit, opt));
        event_id id{};
        const std::string json(out.data(), encode_pixel_event(hit, opt, id, 0, out.data()));
        std::string campaign;
        const std::string params = reference_params(query, campaign);
        ASSERT_NE(json.find(",\"campaign\":" + campaign + "," + params + ",\"url\":"),
                  std::string::npos)
            << "query " << query << "\njson " << json << "\nwant " << params;
        ++checked;
        if (params.ends_with("true")) ++truncated;
    }
    EXPECT_EQ(checked, 6000u);
    EXPECT_GT(truncated, 0u); // the 70-key rounds with 66 distinct keys
}

// ---- max_pixel_event_size ----------------------------------------------------------------

// max_pixel_event_size works the bound out from the hit; detail::event_size from the parts
// the encoder writes (encoder.cc's pixel_parts, rebuilt here). They must agree.
TEST(max_pixel_event_size_fast_path, equals_the_bound_of_the_parts) {
    const geo_fields geo{"GB", "ENG", "London", 1221, "Telstra"};
    const agent_info agent{agent_label::mail_proxy, "Gmail", "", device_kind::unknown};
    pixel_enrichment enrichment;
    enrichment.visitor = "5f0c8e3b9a1d2c475f0c8e3b9a1d2c47";
    enrichment.geo = &geo;
    enrichment.agent = &agent;
    for (const event_type type : {event_type::pixel, event_type::rest, event_type::redirect}) {
        for (const bool enriched : {false, true}) {
            pixel_hit hit;
            hit.type = type;
            hit.action = "pageview";
            hit.query = type == event_type::rest ? "action/x/k/v" : "campaignID=c&k=v";
            hit.referer = "https://example.com/p?utm_source=s";
            hit.user_agent = "curl/8";
            hit.host = "px.example";
            hit.target = "https://example.org/landing";
            hit.enrichment = enriched ? &enrichment : nullptr;
            encode_options opt;
            opt.collector = "edge-1";

            detail::event_parts p;
            p.type = type == event_type::pixel  ? "pixel"
                     : type == event_type::rest ? "rest"
                                                : "redirect";
            p.action = type == event_type::rest ? "event" : hit.action;
            p.params = type == event_type::rest ? detail::params_format::tuples
                                                : detail::params_format::query;
            p.has_target = type == event_type::redirect;
            p.target = hit.target;
            p.params_text = hit.query;
            p.page_url = hit.referer;
            p.user_agent = hit.user_agent;
            p.host = hit.host;
            p.enrichment = hit.enrichment;
            EXPECT_EQ(max_pixel_event_size(hit, opt), detail::event_size(p, opt))
                << static_cast<int>(type) << " " << enriched;
        }
    }
}

} // namespace
} // namespace pixelring
