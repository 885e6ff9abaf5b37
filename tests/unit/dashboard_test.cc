// dashboard/: the Space-Saving top lists (top_counter) and the sink thread's figures
// (event_stats) from events in the encoder's layout, the minute and hour windows, and basic
// auth.

#include <atomic>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <sodium.h>

#include "dashboard/basic_auth.hh"
#include "dashboard/event_stats.hh"
#include "dashboard/top_counter.hh"
#include "tests/support/json_reader.hh"

namespace pixelring {
namespace {

using pixelring::test::json_reader;
using pixelring::test::json_value;

std::map<std::string, uint64_t> entries_of(const top_counter& t) {
    std::map<std::string, uint64_t> out;
    t.for_each([&](const top_counter::entry& e) { out[std::string(e.key)] = e.count; });
    return out;
}

TEST(top_counter, exact_while_distinct_keys_fit) {
    top_counter t(4);
    for (int i = 0; i < 5; ++i)
        t.add("open");
    t.add("click", 3);
    t.add("view");
    EXPECT_EQ(entries_of(t),
              (std::map<std::string, uint64_t>{{"open", 5}, {"click", 3}, {"view", 1}}));
    EXPECT_EQ(t.total(), 9u);
    t.clear();
    EXPECT_EQ(t.size(), 0u);
    t.add("again");
    EXPECT_EQ(entries_of(t), (std::map<std::string, uint64_t>{{"again", 1}}));
}

// A skewed stream of 200,000 keys over 5,000 distinct ones into 64 entries: every count is
// an upper bound, count - error a lower bound, and every key above total/64 is kept (the
// Space-Saving guarantee). Exercises eviction and the index's backward-shift deletion.
TEST(top_counter, bounds_and_heavy_hitters_under_eviction) {
    top_counter t(64, 42);
    std::map<std::string, uint64_t> truth;
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> u(0, 1);
    constexpr uint64_t n = 200'000;
    for (uint64_t i = 0; i < n; ++i) {
        // Zipf-like: key k with probability ~ 1/(k+1)
        const auto k = uint64_t(std::pow(5000.0, u(rng))) - 1;
        const std::string key = "key-" + std::to_string(k);
        t.add(key);
        ++truth[key];
    }
    EXPECT_EQ(t.size(), 64u);
    EXPECT_EQ(t.total(), n);
    t.for_each([&](const top_counter::entry& e) {
        const uint64_t real = truth[std::string(e.key)];
        EXPECT_GE(e.count, real) << e.key;
        EXPECT_LE(e.count - e.error, real) << e.key;
    });
    const auto kept = entries_of(t);
    for (const auto& [key, count] : truth) {
        if (count > n / 64) {
            EXPECT_TRUE(kept.count(key)) << key << " " << count;
        }
    }
    // Every kept key is still found by its hash: adding it again does not take a new entry.
    for (const auto& [key, count] : kept) {
        t.add(key);
        EXPECT_EQ(entries_of(t).at(key), count + 1);
    }
}

TEST(top_counter, merge_adds_counts_and_errors) {
    top_counter a(8), b(8), sum(8);
    a.add("x", 5);
    a.add("y", 1);
    b.add("x", 2);
    b.add("z", 4);
    sum.merge(a);
    sum.merge(b);
    EXPECT_EQ(entries_of(sum), (std::map<std::string, uint64_t>{{"x", 7}, {"y", 1}, {"z", 4}}));
    EXPECT_EQ(sum.total(), 12u);
}

TEST(top_counter, long_keys_are_cut_where_a_character_or_escape_ends) {
    EXPECT_EQ(cut_escaped("short", 64), 5u);
    const std::string escape = std::string(62, 'a') + "\\u00e9"; // the escape would straddle 64
    EXPECT_EQ(cut_escaped(escape, 64), 62u);
    const std::string quote = std::string(63, 'a') + "\\\"";
    EXPECT_EQ(cut_escaped(quote, 64), 63u);
    const std::string utf8 = std::string(62, 'a') + "\xe2\x82\xac"; // the euro sign: 3 bytes
    EXPECT_EQ(cut_escaped(utf8, 64), 62u);
    top_counter t(2);
    t.add(std::string(100, 'k'));
    EXPECT_EQ(entries_of(t).begin()->first, std::string(64, 'k'));
}

// Events as core/event/encoder.cc writes them (taken from the collector's output).
constexpr std::string_view pixel_event =
    R"({"v":1,"id":"01a250f6-d9c1-75ba-818f-d78f6351448f","ts":"2026-12-07T14:44:44.609Z","type":"pixel","action":"open","campaign":"spring","params":{"url":"not the page","x":"},\"url\":"},"url":"https://Shop.example/cart?x=1","path":"/cart","page_host":"shop.example","referrer":null,"visitor":"8aa3e97fcc265e3c8ce17bf90d7d59ce","ip":"127.0.0.0","country":"SE","region":"Stockholm","ua":"Mozilla/5.0 \"agent\":\"bot\"","agent":"browser","device":"desktop","browser":"Firefox","os":"Linux","dnt":false,"host":"px.example.com","collector":"test"})";
constexpr std::string_view beacon_event =
    R"({"v":1,"id":"01a250f6-d9be-7764-a869-06506036df6e","ts":"2026-12-07T14:44:44.606Z","type":"beacon","action":"page\"view","campaign":"example.com","params":{"scroll":"70%"},"url":"https://www.example.com/blog/post","path":"/blog/post","page_host":"www.example.com","referrer":"https://Search.Example:8443/?q=pixel","client_ts":1764412500123,"visitor":"7db7f9e3cbac89e50e4550acb0c76b4c","agent":"bot","device":"bot","dnt":false,"host":"px.example.com","collector":"test"})";
constexpr std::string_view truncated_rest_event =
    R"({"v":1,"id":"01a250f6-d9bd-7531-b479-1c1109181c44","ts":"2026-12-07T14:44:44.605Z","type":"rest","action":"event","campaign":null,"params":{"k0":"v0"},"params_truncated":true,"url":null,"path":null,"page_host":null,"referrer":null,"agent":"mail_proxy","device":"unknown","dnt":true,"host":null,"collector":"test"})";
constexpr std::string_view redirect_event =
    R"({"v":1,"id":"01a250f6-d9c1-75ba-818f-d78f6351448f","ts":"2026-12-07T14:44:44.609Z","type":"redirect","action":"click","campaign":"","params":{},"url":null,"path":null,"page_host":null,"referrer":null,"target":"https://shop.example/","host":"px.example.com","collector":"test"})";

const json_value& at(const json_value& v) {
    return v;
}
template <class... Keys>
const json_value& at(const json_value& v, std::string_view key, Keys... keys) {
    static const json_value absent;
    const json_value* member = v.get(key);
    return at(member ? *member : absent, keys...);
}
template <class... Keys> int64_t num(const json_value& v, Keys... keys) {
    return int64_t(at(v, keys...).number);
}

json_value figures(event_stats& s, uint64_t now_ms) {
    std::string out, error;
    s.write_json(out, now_ms);
    json_value v;
    EXPECT_TRUE(json_reader::parse(out, v, error)) << error << ": " << out;
    return v;
}

std::map<std::string, int64_t> top(const json_value& v, const char* list, const char* window) {
    std::map<std::string, int64_t> out;
    for (const json_value& e : at(v, "top", list, window).items)
        out[at(e, "key").text] = num(e, "count");
    return out;
}

constexpr uint64_t t0 = 1'796'644'800'000; // a whole hour (UTC)
static_assert(t0 % 3'600'000 == 0);

TEST(event_stats, counts_types_and_lists_from_the_encoders_layout) {
    event_stats s(t0, true);
    for (int i = 0; i < 3; ++i)
        s.add(pixel_event);
    s.add(beacon_event);
    s.add(truncated_rest_event);
    s.add(redirect_event);
    s.add("not an event");
    const json_value v = figures(s, t0 + 500);
    EXPECT_EQ(num(v, "totals", "pixel"), 3);
    EXPECT_EQ(num(v, "totals", "beacon"), 1);
    EXPECT_EQ(num(v, "totals", "rest"), 1);
    EXPECT_EQ(num(v, "totals", "redirect"), 1);
    EXPECT_EQ(num(v, "totals", "other"), 1);
    EXPECT_EQ(num(v, "totals", "all"), 7);
    EXPECT_EQ(num(v, "unread"), 0); // every event of a type read as the encoder writes it
    EXPECT_EQ(num(v, "last_hour", "all"), 7);
    EXPECT_EQ(num(v, "last_24h", "all"), 7);
    for (const char* w : {"hour", "day"}) {
        EXPECT_EQ(top(v, "actions", w),
                  (std::map<std::string, int64_t>{
                      {"open", 3}, {"page\"view", 1}, {"event", 1}, {"click", 1}}));
        // null and "" campaigns are not listed
        EXPECT_EQ(top(v, "campaigns", w),
                  (std::map<std::string, int64_t>{{"spring", 3}, {"example.com", 1}}));
        EXPECT_EQ(top(v, "pages", w),
                  (std::map<std::string, int64_t>{{"shop.example/cart", 3},
                                                  {"www.example.com/blog/post", 1}}));
        EXPECT_EQ(top(v, "referrers", w), (std::map<std::string, int64_t>{{"search.example", 1}}));
        EXPECT_EQ(top(v, "countries", w), (std::map<std::string, int64_t>{{"SE", 3}}));
        EXPECT_EQ(top(v, "agents", w),
                  (std::map<std::string, int64_t>{{"browser", 3}, {"bot", 1}, {"mail_proxy", 1}}));
    }
}

TEST(event_stats, without_enrichment_no_agent_or_country_is_read) {
    event_stats s(t0, false);
    s.add(pixel_event);
    const json_value v = figures(s, t0);
    EXPECT_TRUE(top(v, "agents", "hour").empty());
    EXPECT_TRUE(top(v, "countries", "hour").empty());
    EXPECT_EQ(top(v, "actions", "hour"), (std::map<std::string, int64_t>{{"open", 1}}));
}

TEST(event_stats, minute_and_hour_windows_slide) {
    event_stats s(t0, true);
    s.add(pixel_event); // minute 0
    for (int m = 1; m <= 90; ++m) {
        s.tick(t0 + uint64_t(m) * 60'000);
        if (m == 30) s.add(beacon_event);
        if (m == 90) s.add(redirect_event);
    }
    json_value v = figures(s, t0 + 90 * 60'000 + 1000);
    // The pixel (90 minutes ago) has left the last hour but not the last 24 h.
    EXPECT_EQ(num(v, "last_hour", "all"), 1);
    EXPECT_EQ(num(v, "last_24h", "all"), 3);
    EXPECT_EQ(at(v, "per_minute").items.size(), 60u);
    EXPECT_EQ(int64_t(at(v, "per_minute").items[59].number), 1);
    EXPECT_EQ(top(v, "actions", "hour"), (std::map<std::string, int64_t>{{"click", 1}}));
    EXPECT_EQ(top(v, "actions", "day"),
              (std::map<std::string, int64_t>{{"open", 1}, {"page\"view", 1}, {"click", 1}}));
    // 27 hours later only the totals since start remember them.
    v = figures(s, t0 + 27 * 3'600'000);
    EXPECT_EQ(num(v, "last_24h", "all"), 0);
    EXPECT_EQ(num(v, "totals", "all"), 3);
    EXPECT_TRUE(top(v, "actions", "day").empty());
}

TEST(event_stats, per_second_series_and_rate) {
    event_stats s(t0, true);
    for (int sec = 0; sec < 20; ++sec) {
        s.tick(t0 + uint64_t(sec) * 1000);
        for (int i = 0; i < sec; ++i)
            s.add(redirect_event);
    }
    const json_value v = figures(s, t0 + 20'000);
    ASSERT_EQ(at(v, "per_second").items.size(), 60u);
    EXPECT_EQ(int64_t(at(v, "per_second").items[59].number), 19);
    EXPECT_EQ(int64_t(at(v, "per_second").items[50].number), 10);
    EXPECT_EQ(int64_t(at(v, "per_second").items[39].number), 0);
    EXPECT_DOUBLE_EQ(at(v, "events_per_second").number, 14.5); // (10 + ... + 19) / 10
}

// Beyond full_per_second events in a second the lists read one event in sample_every and count
// it for all of them; the type counts stay exact.
TEST(event_stats, lists_sample_under_load_and_type_counts_stay_exact) {
    event_stats s(t0, true);
    constexpr int n = 5000;
    for (int i = 0; i < n; ++i)
        s.add(pixel_event);
    const json_value v = figures(s, t0 + 10);
    EXPECT_EQ(num(v, "totals", "pixel"), n);
    const int64_t listed = num(v, "listed");
    EXPECT_EQ(listed, int64_t(event_stats::full_per_second +
                              (n - event_stats::full_per_second) / event_stats::sample_every));
    const int64_t open = top(v, "actions", "hour").at("open");
    EXPECT_LE(std::abs(open - n), int64_t(event_stats::sample_every));
    // The next second reads every event again.
    s.tick(t0 + 1000);
    s.add(beacon_event);
    EXPECT_EQ(num(figures(s, t0 + 1010), "listed"), listed + 1);
}

TEST(stats_board, hands_the_sink_threads_figures_to_another_thread) {
    event_stats s(t0, true);
    stats_board board;
    s.add(pixel_event);
    std::atomic<bool> stop{false};
    std::thread sink([&] {
        while (!stop.load())
            board.serve(s, t0 + 1000);
    });
    const std::string json = board.read(5000);
    stop = true;
    sink.join();
    json_value v;
    std::string error;
    ASSERT_TRUE(json_reader::parse(json, v, error)) << error << ": " << json;
    EXPECT_EQ(num(v, "totals", "pixel"), 1);
}

std::string basic(std::string_view user_colon_password) {
    std::string out(
        sodium_base64_encoded_len(user_colon_password.size(), sodium_base64_VARIANT_ORIGINAL),
        '\0');
    sodium_bin2base64(out.data(), out.size(),
                      reinterpret_cast<const unsigned char*>(user_colon_password.data()),
                      user_colon_password.size(), sodium_base64_VARIANT_ORIGINAL);
    out.pop_back(); // the terminating NUL
    return "Basic " + out;
}

TEST(basic_auth, accepts_only_the_configured_pair) {
    EXPECT_FALSE(basic_auth("", "").enabled());
    const basic_auth auth("ann", "s3cret:with colon");
    ASSERT_TRUE(auth.enabled());
    EXPECT_TRUE(auth.allows(basic("ann:s3cret:with colon")));
    EXPECT_TRUE(auth.allows("basic " + basic("ann:s3cret:with colon").substr(6)));
    EXPECT_FALSE(auth.allows(basic("ann:s3cret")));
    EXPECT_FALSE(auth.allows(basic("bob:s3cret:with colon")));
    EXPECT_FALSE(auth.allows(basic("ann:s3cret:with colonx")));
    EXPECT_FALSE(auth.allows(""));
    EXPECT_FALSE(auth.allows("Basic"));
    EXPECT_FALSE(auth.allows("Basic !!!notbase64"));
    EXPECT_FALSE(auth.allows("Bearer " + basic("ann:s3cret:with colon").substr(6)));
    EXPECT_FALSE(auth.allows("Basic " + std::string(5000, 'A')));
}

TEST(basic_auth, loopback_addresses) {
    EXPECT_TRUE(is_loopback_listen("127.0.0.1:9090"));
    EXPECT_TRUE(is_loopback_listen("127.1.2.3:1"));
    EXPECT_TRUE(is_loopback_listen("[::1]:9090"));
    EXPECT_FALSE(is_loopback_listen("0.0.0.0:9090"));
    EXPECT_FALSE(is_loopback_listen("[::]:9090"));
    EXPECT_FALSE(is_loopback_listen("10.0.0.1:9090"));
}

} // namespace
} // namespace pixelring
