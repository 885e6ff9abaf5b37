// Tests of the beacon body parser (core/event/beacon.hh): single objects and batches, the batch
// limit, every field's type errors with their exact reason texts, numbers and booleans in
// params, escapes and surrogates, invalid JSON (a corpus and random mutations checked against
// a strict reference reader), trailing content, deep nesting, the allowlist, receipts, reads
// past the padding (guard page), zero allocations after construction, and the cost per item.

#include "core/event/beacon.hh"
#include "core/policy/action_allowlist.hh"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "tests/support/counting_allocator.hh"
#include "tests/support/guarded_memory.hh"
#include "tests/support/json_reader.hh"
#include "tests/support/utf8_check.hh"

namespace pixelring {
namespace {

// A body followed by beacon_body_padding bytes that would change the parse if they were
// taken as JSON: the parser must read them (simdjson does) but never use them.
class padded_body {
public:
    explicit padded_body(std::string_view s)
        : buf_(new char[s.size() + beacon_body_padding]), len_(s.size()) {
        std::memcpy(buf_.get(), s.data(), s.size());
        for (size_t i = 0; i < beacon_body_padding; ++i)
            buf_[s.size() + i] = "\"}]1,"[i % 5];
    }
    const char* data() const { return buf_.get(); }
    size_t size() const { return len_; }
    size_t capacity() const { return len_ + beacon_body_padding; }

private:
    std::unique_ptr<char[]> buf_;
    size_t len_;
};

std::string receipts_of(const beacon_result& r) {
    std::string out(max_receipts_size(r.size()), '\0');
    out.resize(write_receipts(r, out.data(), out.size()));
    return out;
}

class beacon_test : public ::testing::Test {
protected:
    beacon_result parse(std::string_view s) {
        body_ = std::make_unique<padded_body>(s);
        return parser_.parse(body_->data(), body_->size(), body_->capacity());
    }
    // The error body for a body error, else the receipts.
    std::string verdict(std::string_view s) {
        const beacon_result r = parse(s);
        if (r.error() != beacon_body_error::none) return std::string(r.error_body());
        return receipts_of(r);
    }
    static std::string rejected(std::string_view reason) {
        return "[{\"status\":\"rejected\",\"reason\":\"" + std::string(reason) + "\"}]";
    }

    beacon_parser parser_{beacon_limits{65536, 50}, nullptr};
    std::unique_ptr<padded_body> body_;
};

const std::string accepted_one = "[{\"status\":\"accepted\"}]";

using test::is_valid_utf8;

// ---- shapes -------------------------------------------------------------------------------

TEST_F(beacon_test, single_object_with_every_field) {
    const beacon_result r = parse(R"({"action":"pageview","campaign":"example.com",
        "url":"https://example.com/blog/post?utm_source=news","referrer":"https://www.google.com/",
        "ts":1732271700123,"params":{"scroll-depth":"70%","dark-mode":true,"w":1280}})");
    ASSERT_EQ(r.error(), beacon_body_error::none) << r.error_body();
    EXPECT_EQ(r.http_status(), 0);
    EXPECT_FALSE(r.is_array());
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r.accepted_count(), 1u);
    const beacon_item& it = r.items()[0];
    EXPECT_TRUE(it.accepted());
    EXPECT_EQ(it.action, "pageview");
    EXPECT_EQ(it.campaign, "example.com");
    EXPECT_EQ(it.url, "https://example.com/blog/post?utm_source=news");
    EXPECT_EQ(it.referrer, "https://www.google.com/");
    EXPECT_EQ(it.client_ts_type, client_ts_kind::number);
    EXPECT_EQ(it.client_ts, "1732271700123");
    ASSERT_EQ(it.params.size(), 3u);
    EXPECT_EQ(it.params[0].key, "scroll-depth");
    EXPECT_EQ(it.params[0].value, "70%");
    EXPECT_EQ(it.params[1].key, "dark-mode");
    EXPECT_EQ(it.params[1].value, "true");
    EXPECT_EQ(it.params[2].key, "w");
    EXPECT_EQ(it.params[2].value, "1280");
}

TEST_F(beacon_test, optional_fields_absent_or_null) {
    beacon_result r = parse(R"({"action":"a"})");
    ASSERT_EQ(r.size(), 1u);
    EXPECT_TRUE(r.items()[0].accepted());
    EXPECT_FALSE(r.items()[0].campaign.has_value());
    EXPECT_FALSE(r.items()[0].url.has_value());
    EXPECT_FALSE(r.items()[0].referrer.has_value());
    EXPECT_EQ(r.items()[0].client_ts_type, client_ts_kind::absent);
    EXPECT_TRUE(r.items()[0].params.empty());

    r = parse(R"({"action":"a","campaign":null,"url":null,"referrer":null,"ts":null,
                  "params":null})");
    ASSERT_EQ(r.size(), 1u);
    const beacon_item& it = r.items()[0];
    EXPECT_TRUE(it.accepted());
    EXPECT_FALSE(it.campaign || it.url || it.referrer);
    EXPECT_EQ(it.client_ts_type, client_ts_kind::absent);

    r = parse(R"({"action":"a","campaign":"","url":"","referrer":"","ts":"2026-11-22T10:35:00Z"})");
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r.items()[0].campaign, "");
    EXPECT_EQ(r.items()[0].url, "");
    EXPECT_EQ(r.items()[0].client_ts_type, client_ts_kind::string);
    EXPECT_EQ(r.items()[0].client_ts, "2026-11-22T10:35:00Z");
}

TEST_F(beacon_test, whitespace_and_unknown_fields_are_ignored) {
    const beacon_result r = parse(" \r\n\t{ \"v\" : 2 , \"action\" : \"a\" , \"future\" : "
                                  "{\"x\":[1,{\"y\":null},true,\"s\"]}, \"n\": -1.5e-3 } \n");
    ASSERT_EQ(r.error(), beacon_body_error::none) << r.error_body();
    ASSERT_EQ(r.size(), 1u);
    EXPECT_TRUE(r.items()[0].accepted());
    EXPECT_EQ(r.items()[0].action, "a");
}

TEST_F(beacon_test, array_of_items_in_order) {
    const beacon_result r =
        parse(R"([{"action":"a","params":{"n":1}},{"action":2},{"action":"c","url":"u"}])");
    ASSERT_EQ(r.error(), beacon_body_error::none) << r.error_body();
    EXPECT_TRUE(r.is_array());
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(r.accepted_count(), 2u);
    EXPECT_EQ(r.items()[0].action, "a");
    ASSERT_EQ(r.items()[0].params.size(), 1u);
    EXPECT_EQ(r.items()[0].params[0].value, "1");
    EXPECT_EQ(r.items()[1].reason, beacon_reject::action_not_string);
    EXPECT_EQ(r.items()[2].action, "c");
    EXPECT_EQ(r.items()[2].url, "u");
    EXPECT_TRUE(r.items()[2].params.empty());
}

std::string batch_of(size_t n) {
    std::string s = "[";
    for (size_t i = 0; i < n; ++i) {
        if (i) s += ',';
        s += R"({"action":"a)" + std::to_string(i) + R"(","params":{"i":)" + std::to_string(i) +
             "}}";
    }
    return s + "]";
}

TEST_F(beacon_test, batch_limit) {
    beacon_result r = parse(batch_of(50));
    ASSERT_EQ(r.error(), beacon_body_error::none) << r.error_body();
    ASSERT_EQ(r.size(), 50u);
    EXPECT_EQ(r.accepted_count(), 50u);
    EXPECT_EQ(r.items()[49].action, "a49");
    EXPECT_EQ(r.items()[49].params[0].value, "49");

    r = parse(batch_of(51));
    EXPECT_EQ(r.error(), beacon_body_error::too_many_items);
    EXPECT_EQ(r.http_status(), 413);
    EXPECT_EQ(r.error_body(), R"({"error":"more than 50 items in a batch"})");
    EXPECT_EQ(r.size(), 0u);

    beacon_parser small(beacon_limits{65536, 1}, nullptr);
    padded_body one(batch_of(1)), two(batch_of(2));
    EXPECT_EQ(small.parse(one.data(), one.size(), one.capacity()).error(), beacon_body_error::none);
    EXPECT_EQ(small.parse(two.data(), two.size(), two.capacity()).http_status(), 413);
}

TEST_F(beacon_test, whole_body_errors) {
    EXPECT_EQ(verdict(""), R"({"error":"empty body"})");
    EXPECT_EQ(verdict(" \n\t "), R"({"error":"empty body"})");
    EXPECT_EQ(verdict("[]"), R"({"error":"empty array"})");
    EXPECT_EQ(verdict(" [ ] "), R"({"error":"empty array"})");
    EXPECT_EQ(verdict(R"("pageview")"), R"({"error":"body is not a JSON object or array"})");
    EXPECT_EQ(verdict("42"), R"({"error":"body is not a JSON object or array"})");
    EXPECT_EQ(verdict("null"), R"({"error":"body is not a JSON object or array"})");
    EXPECT_EQ(parse("[]").http_status(), 400);
    EXPECT_EQ(parse("").http_status(), 400);

    // Larger than the configured body limit: 413 before any parsing.
    beacon_parser small(beacon_limits{16, 50}, nullptr);
    padded_body big(R"({"action":"pageview"})");
    const beacon_result r = small.parse(big.data(), big.size(), big.capacity());
    EXPECT_EQ(r.http_status(), 413);
    EXPECT_EQ(r.error_body(), R"({"error":"body larger than 16 bytes"})");

    // A buffer without the padding is the caller's bug: refused, nothing read past len.
    const std::string s = R"({"action":"a"})";
    const beacon_result p = parser_.parse(s.data(), s.size(), s.size() + 63);
    EXPECT_EQ(p.error(), beacon_body_error::insufficient_padding);
    EXPECT_EQ(p.http_status(), 500);
}

// ---- per-field type errors ----------------------------------------------------------------

TEST_F(beacon_test, every_type_error_with_its_reason) {
    const std::string long_action(129, 'a'), max_action(128, 'a');
    const std::string long_key(129, 'k'), max_key(128, 'k');
    const std::string long_ts(65, '1'), max_ts(64, '1');
    std::string many = R"({"action":"a","params":{)";
    for (int i = 0; i < 64; ++i)
        many += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":1";
    const std::string params_64 = many + "}}";
    const std::string params_65 = many + ",\"k64\":1}}";

    const std::pair<std::string, std::string> cases[] = {
        {R"({})", "action missing"},
        {R"({"campaign":"x","url":"u"})", "action missing"},
        {R"({"action":1})", "action not a string"},
        {R"({"action":null})", "action not a string"},
        {R"({"action":true})", "action not a string"},
        {R"({"action":["a"]})", "action not a string"},
        {R"({"action":{"a":"b"}})", "action not a string"},
        {R"({"action":""})", "action empty"},
        {R"({"action":")" + long_action + "\"}", "action longer than 128 bytes"},
        {R"({"action":"a","campaign":1})", "campaign not a string or null"},
        {R"({"action":"a","campaign":false})", "campaign not a string or null"},
        {R"({"action":"a","campaign":["x"]})", "campaign not a string or null"},
        {R"({"action":"a","url":2})", "url not a string or null"},
        {R"({"action":"a","url":{}})", "url not a string or null"},
        {R"({"action":"a","referrer":true})", "referrer not a string or null"},
        {R"({"action":"a","referrer":[]})", "referrer not a string or null"},
        {R"({"action":"a","ts":true})", "ts not a number, string or null"},
        {R"({"action":"a","ts":[1]})", "ts not a number, string or null"},
        {R"({"action":"a","ts":{}})", "ts not a number, string or null"},
        {R"({"action":"a","ts":""})", "ts empty or longer than 64 bytes"},
        {R"({"action":"a","ts":")" + long_ts + "\"}", "ts empty or longer than 64 bytes"},
        {R"({"action":"a","ts":)" + long_ts + "}", "ts empty or longer than 64 bytes"},
        {R"({"action":"a","params":1})", "params not an object or null"},
        {R"({"action":"a","params":"x=1"})", "params not an object or null"},
        {R"({"action":"a","params":[]})", "params not an object or null"},
        {R"({"action":"a","params":true})", "params not an object or null"},
        {R"({"action":"a","params":{"x":{}}})", "params.x is an object"},
        {R"({"action":"a","params":{"ok":1,"x":{"y":1}}})", "params.x is an object"},
        {R"({"action":"a","params":{"x":[1]}})", "params.x is an array"},
        {R"({"action":"a","params":{"x":null}})", "params.x is null"},
        {R"({"action":"a","params":{"a\"b\n":{}}})", R"(params.a\"b\n is an object)"},
        {R"({"action":"a","params":{"":"v"}})", "params key empty"},
        {R"({"action":"a","params":{")" + long_key + R"(":"v"}})",
         "params key longer than 128 bytes"},
        {R"({"action":"a","params":{"a":"1","a":"2"}})", "params.a repeated"},
        {R"({"action":"a","params":{"a":"1","\u0061":2}})", "params.a repeated"},
        {params_65, "too many params"},
        {R"({"action":"a","action":"b"})", "action repeated"},
        {R"({"action":"a","url":"u","url":"v"})", "url repeated"},
        {R"({"action":"a","params":{},"params":{}})", "params repeated"},
        {R"({"action":"a","ts":1,"ts":null})", "ts repeated"},
        // The first problem in body order wins; action missing only when nothing else.
        {R"({"campaign":2})", "campaign not a string or null"},
        {R"({"action":1,"campaign":2})", "action not a string"},
        {R"({"url":1,"action":1})", "url not a string or null"},
        {R"({"params":{"x":null,"y":[]},"action":"a"})", "params.x is null"}};
    for (const auto& [body, reason] : cases) {
        EXPECT_EQ(verdict(body), rejected(reason)) << body;
        const beacon_result r = parse(body);
        ASSERT_EQ(r.size(), 1u) << body;
        EXPECT_FALSE(r.items()[0].accepted());
        EXPECT_EQ(r.accepted_count(), 0u);
    }

    const std::string fine[] = {R"({"action":")" + max_action + "\"}",
                                R"({"action":"a","params":{")" + max_key + R"(":"v"}})",
                                R"({"action":"a","ts":")" + max_ts + "\"}",
                                // 64 bytes, a number readers hold (a double)
                                R"({"action":"a","ts":1.)" + max_ts.substr(2) + "}", params_64,
                                R"({"action":"a","campaign":null})", R"({"\u0061ction":"a"})"};
    for (const std::string& body : fine)
        EXPECT_EQ(verdict(body), accepted_one) << body;

    // Items that are not objects, inside an array.
    EXPECT_EQ(verdict(R"([1,"a",null,true,[],[{"action":"a"}]])"),
              R"([{"status":"rejected","reason":"item not an object"},)"
              R"({"status":"rejected","reason":"item not an object"},)"
              R"({"status":"rejected","reason":"item not an object"},)"
              R"({"status":"rejected","reason":"item not an object"},)"
              R"({"status":"rejected","reason":"item not an object"},)"
              R"({"status":"rejected","reason":"item not an object"}])");
}

TEST_F(beacon_test, reason_texts_are_constant) {
    EXPECT_EQ(beacon_reject_text(beacon_reject::none), "accepted");
    EXPECT_EQ(beacon_reject_text(beacon_reject::action_missing), "action missing");
    EXPECT_EQ(beacon_reject_text(beacon_reject::param_is_object), "params.<key> is an object");
    EXPECT_EQ(beacon_reject_text(beacon_reject::too_many_params), "too many params");
    EXPECT_EQ(beacon_reject_text(beacon_reject::field_repeated), "<field> repeated");
    for (size_t i = 0; i < beacon_reject_count; ++i)
        EXPECT_FALSE(beacon_reject_text(static_cast<beacon_reject>(i)).empty()) << i;
}

// ---- values -------------------------------------------------------------------------------

TEST_F(beacon_test, numbers_keep_their_source_text) {
    const beacon_result r = parse(
        R"({"action":"a","ts":1.7e12 ,"params":{"e":1e3,"neg":-0.5,"big":12345678901234567890,)"
        R"("huge":123456789012345678901234567890,"zero":0,"negzero":-0,"exp":1E+2,)"
        R"("frac":3.14159265358979323846264338327950288,"small":5e-324 , "t":true,"f":false}})");
    ASSERT_EQ(r.error(), beacon_body_error::none) << r.error_body();
    const beacon_item& it = r.items()[0];
    ASSERT_TRUE(it.accepted()) << beacon_reject_text(it.reason);
    EXPECT_EQ(it.client_ts, "1.7e12");
    EXPECT_EQ(it.client_ts_type, client_ts_kind::number);
    const std::pair<const char*, const char*> want[] = {
        {"e", "1e3"},
        {"neg", "-0.5"},
        {"big", "12345678901234567890"},
        {"huge", "123456789012345678901234567890"},
        {"zero", "0"},
        {"negzero", "-0"},
        {"exp", "1E+2"},
        {"frac", "3.14159265358979323846264338327950288"},
        {"small", "5e-324"},
        {"t", "true"},
        {"f", "false"}};
    ASSERT_EQ(it.params.size(), std::size(want));
    for (size_t i = 0; i < std::size(want); ++i) {
        EXPECT_EQ(it.params[i].key, want[i].first);
        EXPECT_EQ(it.params[i].value, want[i].second);
    }
}

// Found by fuzzing: a ts number the grammar allows but a 64-bit integer or a double cannot
// hold was copied into the event as a number, and simdjson (and other strict readers) refuse
// the whole event line for it. A params value is written as a string, so it may be any number.
TEST_F(beacon_test, ts_numbers_readers_cannot_hold_are_refused) {
    for (const char* number :
         {"1e400", "-2.5e308", "1.8e308", "0.00000000000000001e326", "18446744073709551616",
          "-9223372036854775809", "123456789012345678901234567890"}) {
        const std::string body = std::string(R"({"action":"a","ts":)") + number + "}";
        const beacon_result r = parse(body);
        EXPECT_EQ(r.error(), beacon_body_error::invalid_json) << body;
        EXPECT_NE(r.error_body().find("ts too large for JSON readers"), std::string::npos)
            << r.error_body();
        const beacon_result p =
            parse(std::string(R"({"action":"a","params":{"n":)") + number + "}}");
        ASSERT_EQ(p.error(), beacon_body_error::none) << p.error_body();
        EXPECT_EQ(p.items()[0].params[0].value, number);
    }
    // The largest double, numbers that round to it, underflows (read as 0 or a subnormal)
    // and zeros with any exponent are numbers every reader takes.
    for (const char* number :
         {"1.7976931348623157e308", "-1.7976931348623158e308", "1e-400", "-2.5e-330",
          "0e999999999999", "0.0E+400", "5e-324", "18446744073709551615", "-9223372036854775808",
          "0", "-0", "12345678901234567890.5", "1e19"}) {
        const std::string body = std::string(R"({"action":"a","ts":)") + number + "}";
        const beacon_result r = parse(body);
        ASSERT_EQ(r.error(), beacon_body_error::none) << body << " " << r.error_body();
        EXPECT_EQ(r.items()[0].client_ts, number);
    }
}

TEST_F(beacon_test, escaped_strings_are_unescaped) {
    const beacon_result r =
        parse(R"({"action":"caf\u00e9","url":"a\nb\t\"q\"\\\/","campaign":"\ud83d\ude00",)"
              R"("referrer":"\u0000x","params":{"k\u00e9y":"v\u00E9","raw":"é😀"}})");
    ASSERT_EQ(r.error(), beacon_body_error::none) << r.error_body();
    const beacon_item& it = r.items()[0];
    ASSERT_TRUE(it.accepted());
    EXPECT_EQ(it.action, "caf\xc3\xa9");
    EXPECT_EQ(it.url, "a\nb\t\"q\"\\/");
    EXPECT_EQ(it.campaign, "\xf0\x9f\x98\x80");
    EXPECT_EQ(it.referrer, std::string_view("\0x", 2));
    ASSERT_EQ(it.params.size(), 2u);
    EXPECT_EQ(it.params[0].key, "k\xc3\xa9y");
    EXPECT_EQ(it.params[0].value, "v\xc3\xa9");
    EXPECT_EQ(it.params[1].value, "\xc3\xa9\xf0\x9f\x98\x80");
}

// JSON.stringify writes a lone surrogate as an escape, so a string cut inside an emoji
// arrives as "\ud83d": decided to replace it with U+FFFD (the encoder's rule for invalid
// UTF-8) rather than refuse the batch. A bad escape is still invalid JSON.
TEST_F(beacon_test, lone_surrogates_become_replacement_characters) {
    const beacon_result r =
        parse(R"({"action":"a\ud800","url":"\udc00z","campaign":"\ud83d\u0041",)"
              R"("referrer":"x\ud83d\ud83d\ude00y","ts":"\uDBFF","params":{"k\udfff":"\ud800\\u"},)"
              R"("later":"fine"})");
    ASSERT_EQ(r.error(), beacon_body_error::none) << r.error_body();
    const beacon_item& it = r.items()[0];
    ASSERT_TRUE(it.accepted()) << beacon_reject_text(it.reason);
    const std::string fffd = "\xef\xbf\xbd";
    EXPECT_EQ(it.action, "a" + fffd);
    EXPECT_EQ(it.url, fffd + "z");
    EXPECT_EQ(it.campaign, fffd + "A");
    EXPECT_EQ(it.referrer, "x" + fffd + "\xf0\x9f\x98\x80y");
    EXPECT_EQ(it.client_ts, fffd);
    ASSERT_EQ(it.params.size(), 1u);
    EXPECT_EQ(it.params[0].key, "k" + fffd);
    EXPECT_EQ(it.params[0].value, fffd + "\\u");
    for (std::string_view s : {it.action, *it.url, *it.campaign, *it.referrer, it.client_ts})
        EXPECT_TRUE(is_valid_utf8(s));

    // An array of items, each with a slow-path string: their texts must not overlap.
    const beacon_result b = parse(R"([{"action":"\ud800a"},{"action":"\ud800b"}])");
    ASSERT_EQ(b.size(), 2u);
    EXPECT_EQ(b.items()[0].action, fffd + "a");
    EXPECT_EQ(b.items()[1].action, fffd + "b");
}

// ---- invalid JSON -------------------------------------------------------------------------

TEST_F(beacon_test, invalid_json_is_a_400) {
    // clang-format off
    const std::string cases[] = {
        "{", "[", "}", "]", R"({"action":"a")", R"({"action":"a)", R"({"action":"a",})",
        R"({,"action":"a"})", R"([{"action":"a"},])", R"([,{"action":"a"}])", R"({"action" "a"})",
        R"({"action":"a" "url":"b"})", R"({"action":"a":"b"})", R"({action:"a"})",
        R"({'action':'a'})", R"({"action":"a"])", R"([{"action":"a"}})",
        R"({"action":"a","x":tru})", R"({"action":"a","x":truex})", R"({"action":"a","x":nul})",
        R"({"action":"a","x":nulll})", R"({"action":"a","x":fals})", R"({"action":"a","x":True})",
        R"({"action":"a","x":01})", R"({"action":"a","x":-})", R"({"action":"a","x":1.})",
        R"({"action":"a","x":.5})", R"({"action":"a","x":1e})", R"({"action":"a","x":1e+})",
        R"({"action":"a","x":+1})", R"({"action":"a","x":0x10})", R"({"action":"a","x":NaN})",
        R"({"action":"a","x":Infinity})", R"({"action":"a","x":1.2.3})",
        R"({"action":"a","x":[1,2}})", R"({"action":"a","x":[1,,2]})",
        R"({"action":"a","x":{"y":1]})", R"({"action":"a","x":{"y"}})",
        R"({"action":"a","x":"\x"})", R"({"action":"a","x":"\u12"})",
        R"({"action":"a","x":"\u12G4"})", R"({"action":"a","x":"\'"})", R"({"\q":"a"})",
        R"({"action":"a","params":{"n":1.2.3}})", R"({"action":"a","params":{"n":-01}})",
        R"({"action":"a","params":{"n":tru}})", R"({"action":"a","params":{"n":{"m":nul}}})",
        R"({"action":"a","params":{"n":"\z"}})", R"({"action":"a","ts":01})",
        R"({"action":"a","ts":"\u"})", R"([{"action":1},{"action":"a","x":[}])",
        R"([{"action":"a"},1 2])",
        R"({"action":1,"x":tru})", // already rejected, still validated
        R"({"action":tru})", // looks like a wrong type, is invalid
        "{\"action\":\"a\x01\"}", // raw control byte in a string
        "{\"action\":\"a\tb\"}", // raw tab in a string
        "{\"action\":\"\xff\"}", // not UTF-8
        "{\"action\":\"\xc0\xaf\"}", // overlong
        "{\"action\":\"\xed\xa0\x80\"}", // encoded surrogate
        std::string("{\"action\":\"a\"}\0", 15), // NUL after the value
    };
    // clang-format on
    for (const std::string& body : cases) {
        const beacon_result r = parse(body);
        EXPECT_EQ(r.error(), beacon_body_error::invalid_json) << body << " -> " << r.error_body();
        EXPECT_EQ(r.http_status(), 400) << body;
        EXPECT_TRUE(r.error_body().starts_with(R"({"error":"invalid JSON)")) << r.error_body();
        EXPECT_TRUE(r.error_body().ends_with("\"}")) << r.error_body();
        EXPECT_EQ(r.size(), 0u);
        // The reference agrees, where it can judge (it does not check UTF-8).
        std::string why;
        test::json_value ignored;
        if (std::none_of(body.begin(), body.end(), [](char c) { return c & 0x80; })) {
            EXPECT_FALSE(test::json_reader::parse(body, ignored, why)) << body;
        }
    }

    // Where we can tell, the error names the byte.
    std::string body = R"({"action":"a","x":01})";
    EXPECT_EQ(verdict(body), "{\"error\":\"invalid JSON at byte " +
                                 std::to_string(body.find("01")) + ": bad number\"}");
    body = R"({"action":"a","x":"ok\q"})";
    EXPECT_EQ(verdict(body), "{\"error\":\"invalid JSON at byte " +
                                 std::to_string(body.find('\\')) + ": bad escape in a string\"}");
    EXPECT_EQ(verdict("{\"action\":\"\xff\"}"), R"({"error":"invalid JSON: not valid UTF-8"})");
    EXPECT_EQ(verdict(R"({"action":"a)"), R"({"error":"invalid JSON: unclosed string"})");
}

TEST_F(beacon_test, trailing_content_is_invalid) {
    const std::string cases[] = {R"({"action":"a"} x)",
                                 R"({"action":"a"}})",
                                 R"([{"action":"a"}]])",
                                 R"({"action":"a"}{"action":"b"})",
                                 R"([{"action":"a"}] 1)",
                                 R"([{"action":"a"}] "x")",
                                 R"({"action":"a"},{"action":"b"})",
                                 R"({"action":"a"} [])"};
    for (const std::string& body : cases) {
        const beacon_result r = parse(body);
        EXPECT_EQ(r.error(), beacon_body_error::invalid_json) << body << " -> " << r.error_body();
        EXPECT_EQ(r.size(), 0u);
    }
    EXPECT_EQ(verdict(R"({"action":"a"}})"),
              R"({"error":"invalid JSON at byte 14: content after the value"})");
    EXPECT_EQ(verdict(R"({"action":"a"} x)"),
              R"({"error":"invalid JSON: unbalanced brackets or content after the value"})");
    EXPECT_EQ(verdict("{\"action\":\"a\"} \r\n\t "), accepted_one);
}

// ---- nesting ------------------------------------------------------------------------------

std::string nested(size_t depth, char open, char close, std::string_view inner = "1") {
    std::string s;
    for (size_t i = 0; i < depth; ++i)
        s += open == '{' ? "{\"k\":" : std::string(1, open);
    s += inner;
    s.append(depth, close);
    return s;
}

TEST_F(beacon_test, deep_nesting_is_refused_without_recursion) {
    const std::string too_deep = R"({"error":"JSON nested deeper than 32 levels"})";
    for (size_t depth : {40, 1000, 10000}) {
        for (char open : {'[', '{'}) {
            const char close = open == '[' ? ']' : '}';
            const std::string n = nested(depth, open, close);
            EXPECT_EQ(verdict(R"({"action":"a","params":{"x":)" + n + "}}"), too_deep);
            EXPECT_EQ(verdict(R"({"action":"a","future":)" + n + "}"), too_deep);
            EXPECT_EQ(verdict(R"({"action":1,"url":)" + n + "}"), too_deep);
            EXPECT_EQ(verdict("[" + n + "]"), too_deep);
            EXPECT_EQ(parse("[" + n + "]").http_status(), 400);
            // Unclosed: invalid or too deep, never a crash.
            EXPECT_EQ(parse(std::string(depth, open)).http_status(), 400);
        }
    }
    // 100000 levels in a parser that takes 1 MiB bodies.
    beacon_parser big(beacon_limits{1 << 20, 50}, nullptr);
    for (const std::string& s :
         {"[" + nested(100000, '[', ']') + "]",
          R"({"action":"a","params":{"x":)" + nested(100000, '{', '}') + "}}"}) {
        padded_body b(s);
        EXPECT_EQ(big.parse(b.data(), b.size(), b.capacity()).error_body(), too_deep);
    }
    // The root object is level 1: 31 more levels fit, 32 do not.
    EXPECT_EQ(verdict(R"({"action":"a","future":)" + nested(31, '[', ']') + "}"), accepted_one);
    EXPECT_EQ(verdict(R"({"action":"a","future":)" + nested(32, '[', ']') + "}"), too_deep);
    EXPECT_EQ(verdict(R"([{"action":"a","future":)" + nested(30, '{', '}') + "}]"), accepted_one);
    EXPECT_EQ(verdict(R"([{"action":"a","future":)" + nested(31, '{', '}') + "}]"), too_deep);
    // A nested params value at a depth that fits is an item rejection, not a body error.
    EXPECT_EQ(verdict(R"({"action":"a","params":{"x":)" + nested(20, '[', ']') + "}}"),
              rejected("params.x is an array"));
}

// ---- allowlist ----------------------------------------------------------------------------

TEST(action_allowlist_test, build_and_match) {
    action_allowlist any;
    EXPECT_TRUE(any.allows_any());
    EXPECT_TRUE(any.allows("anything"));

    action_allowlist list;
    ASSERT_EQ(action_allowlist::build({"pageview", "signup", "email-open:*", "click"}, list), "");
    EXPECT_FALSE(list.allows_any());
    for (const char* ok : {"pageview", "signup", "click", "email-open:", "email-open:a@b.c"})
        EXPECT_TRUE(list.allows(ok)) << ok;
    for (const char* no :
         {"", "Pageview", "pageview2", "page", "email-open", "email-ope", "clicks", "zzz", "a"})
        EXPECT_FALSE(list.allows(no)) << no;

    const std::string err = action_allowlist::build({"ok", ""}, list);
    EXPECT_EQ(err, "tracking.allowed_events: \"\": expected an action name of 1 to 128 bytes, "
                   "or a prefix ending in '*'");
    EXPECT_TRUE(list.allows("pageview")) << "unchanged after an error";
    EXPECT_FALSE(list.allows("ok"));
    EXPECT_NE(action_allowlist::build({"a*b"}, list), "");
    EXPECT_NE(action_allowlist::build({"*"}, list), "");
    EXPECT_NE(action_allowlist::build({std::string(129, 'a')}, list), "");
    EXPECT_EQ(action_allowlist::build({std::string(128, 'a')}, list), "");
    EXPECT_EQ(action_allowlist::build({}, list), "");
    EXPECT_TRUE(list.allows_any());
}

TEST(action_allowlist_test, filters_items) {
    action_allowlist list;
    ASSERT_EQ(action_allowlist::build({"pageview", "email-open:*"}, list), "");
    beacon_parser parser(beacon_limits{65536, 50}, &list);
    padded_body body(R"([{"action":"pageview"},{"action":"signup"},{"action":"email-open:x@y"},)"
                     R"({"action":"signup","params":{"x":{}}},{"campaign":"c"}])");
    const beacon_result r = parser.parse(body.data(), body.size(), body.capacity());
    ASSERT_EQ(r.error(), beacon_body_error::none);
    EXPECT_EQ(receipts_of(r), R"([{"status":"accepted"},)"
                              R"({"status":"rejected","reason":"action not allowed"},)"
                              R"({"status":"accepted"},)"
                              R"({"status":"rejected","reason":"params.x is an object"},)"
                              R"({"status":"rejected","reason":"action missing"}])");
    EXPECT_EQ(r.accepted_count(), 2u);
}

// ---- receipts -----------------------------------------------------------------------------

TEST_F(beacon_test, receipts_exact_json) {
    const beacon_result r = parse(R"([{"action":"a"},{"action":1},)"
                                  R"({"action":"b","params":{"x\u00e9\u2028":{}}},5,)"
                                  R"({"action":"c","ts":""}])");
    ASSERT_EQ(r.error(), beacon_body_error::none);
    const std::string want =
        R"([{"status":"accepted"},)"
        R"({"status":"rejected","reason":"action not a string"},)"
        "{\"status\":\"rejected\",\"reason\":\"params.x\xc3\xa9\\u2028 is "
        "an object\"},"
        R"({"status":"rejected","reason":"item not an object"},)"
        R"({"status":"rejected","reason":"ts empty or longer than 64 bytes"}])";
    EXPECT_EQ(receipts_of(r), want);
    test::json_value v;
    std::string why;
    EXPECT_TRUE(test::json_reader::parse(receipts_of(r), v, why)) << why;

    std::string out(max_receipts_size(r.size()) - 1, '\0');
    EXPECT_EQ(write_receipts(r, out.data(), out.size()), 0u) << "refuses a short buffer";

    // The largest detail fits the per-item bound: a 128-byte key of control bytes.
    std::string k;
    for (int i = 0; i < 128; ++i)
        k += "\\u001f"; // escapes to 6 bytes each in the receipt
    const beacon_result worst = parse(R"([{"action":"a","params":{")" + k +
                                      R"(":{}}},{"action":"a","params":{")" + k + R"(":{}}}])");
    ASSERT_EQ(worst.size(), 2u);
    const std::string rc = receipts_of(worst);
    EXPECT_GT(rc.size(), 2 * 6 * 128u);
    EXPECT_LE(rc.size(), max_receipts_size(2));
    EXPECT_TRUE(test::json_reader::parse(rc, v, why)) << why;

    // A params key over 128 bytes is never named in a receipt, whatever its value. With an
    // object, array or null value it once was, and a receipt of a 700-byte key ran past its
    // bound (and past the server's answer buffer): found by the fuzzer,
    // fuzz/regressions/beacon/long-key-object-value. The receipt is written to a buffer of
    // exactly the bound that ends at an unreadable page.
    for (const std::string value : {"{}", "[1]", "null", "1"}) {
        std::string long_key;
        for (int i = 0; i < 700; ++i)
            long_key += "\\u001f"; // a control byte: 6 bytes once escaped in a receipt
        const beacon_result r =
            parse(R"({"action":"a","params":{")" + long_key + R"(":)" + value + "}}");
        ASSERT_EQ(r.size(), 1u) << value;
        test::guarded_buffer mem(max_receipts_size(1));
        char* at = mem.end() - max_receipts_size(1);
        const size_t n = write_receipts(r, at, max_receipts_size(1));
        EXPECT_EQ(std::string_view(at, n),
                  R"([{"status":"rejected","reason":"params key longer than 128 bytes"}])")
            << value;
    }

    // Accepted items past the first `kept` were dropped by the server, with its reason.
    const beacon_result three = parse(R"([{"action":"a"},{"x":1},{"action":"b"},{"action":"c"}])");
    std::string buf(max_receipts_size(three.size()), '\0');
    const std::string reason(max_dropped_reason_size + 10, 'r'); // cut to the bound
    const size_t n = write_receipts(three, buf.data(), buf.size(), 1, reason);
    EXPECT_EQ(buf.substr(0, n),
              R"([{"status":"accepted"},{"status":"rejected","reason":"action missing"},)"
              R"({"status":"dropped","reason":")" +
                  reason.substr(0, max_dropped_reason_size) +
                  R"("},{"status":"dropped","reason":")" +
                  reason.substr(0, max_dropped_reason_size) + R"("}])");
    EXPECT_TRUE(test::json_reader::parse(buf.substr(0, n), v, why)) << why;

    const beacon_result bad = parse("[");
    std::string small(max_receipts_size(0), '\0');
    EXPECT_EQ(std::string_view(small.data(), write_receipts(bad, small.data(), small.size())),
              "[]");
}

// ---- memory safety and allocation ---------------------------------------------------------

// Bodies placed so that the padding ends exactly at an unreadable page: any read past
// len + beacon_body_padding faults.
TEST_F(beacon_test, never_reads_past_the_padding) {
    const std::string bodies[] = {R"({"action":"a"})",
                                  R"([{"action":"a","params":{"n":1e3,"b":true,"s":"\ud83d"}}])",
                                  R"({"action":"a","ts":12)",
                                  R"({"action":"a)",
                                  R"({"action":"a","x":tru)",
                                  R"({"action":"a","x":"\u)",
                                  "[",
                                  "",
                                  batch_of(50)};
    for (const std::string& s : bodies) {
        const std::string padded = s + std::string(beacon_body_padding, 'x');
        test::guarded_buffer mem(padded.size());
        const beacon_result r = parser_.parse(mem.place(padded), s.size(), padded.size());
        (void)receipts_of(r);
    }
}

// A body of about max_body_bytes with 50 items of 64 params each, every kind of value and
// both string paths (simdjson's and the lone-surrogate one).
std::string max_size_body(size_t max_bytes) {
    std::string s = "[";
    for (int i = 0; i < 50; ++i) {
        if (i) s += ',';
        s += R"({"action":"act\u00e9)" + std::to_string(i) +
             R"(","campaign":"c","url":"https://example.com/p?q=\ud83d","referrer":"r\n",)"
             R"("ts":"2026-11-22T10:35:00.123Z","future":[1,{"x":null}],"params":{)";
        for (int k = 0; k < 64; ++k) {
            if (k) s += ',';
            s += "\"k" + std::to_string(k) + "\":";
            s += k % 4 == 0   ? "\"v\\u00e9\""
                 : k % 4 == 1 ? "-1.5e3"
                 : k % 4 == 2 ? "true"
                              : "\"x\"";
        }
        s += "}}";
    }
    s += "]";
    // Pad with whitespace up to the limit: the largest body the parser takes.
    if (s.size() < max_bytes) s.append(max_bytes - s.size(), ' ');
    return s;
}

TEST(beacon_alloc_test, no_allocation_after_construction) {
    const size_t max_body = 65536;
    const std::string s = max_size_body(max_body);
    ASSERT_EQ(s.size(), max_body);
    padded_body body(s);
    beacon_parser parser(beacon_limits{max_body, 50}, nullptr);
    std::string out(max_receipts_size(50), '\0');

    const size_t probe = test::thread_allocations();
    delete new std::string(100, 'x'); // the counter sees allocations at all
    ASSERT_GT(test::thread_allocations(), probe);

    const size_t before_first = test::thread_allocations();
    beacon_result r = parser.parse(body.data(), body.size(), body.capacity());
    const size_t first = test::thread_allocations() - before_first;
    ASSERT_EQ(r.error(), beacon_body_error::none) << r.error_body();
    ASSERT_EQ(r.size(), 50u);
    ASSERT_EQ(r.accepted_count(), 50u);
    EXPECT_EQ(r.items()[49].params.size(), 64u);
    EXPECT_EQ(r.items()[0].url, "https://example.com/p?q=\xef\xbf\xbd");

    padded_body small(R"({"action":"a","params":{"x":{}}})");
    padded_body invalid(R"({"action":"a","x":tru})");
    const size_t before = test::thread_allocations();
    for (int i = 0; i < 20; ++i) {
        r = parser.parse(body.data(), body.size(), body.capacity());
        (void)write_receipts(r, out.data(), out.size());
        r = parser.parse(small.data(), small.size(), small.capacity());
        (void)write_receipts(r, out.data(), out.size());
        r = parser.parse(invalid.data(), invalid.size(), invalid.capacity());
    }
    const size_t after = test::thread_allocations() - before;
    std::printf("allocations: first parse of a %zu-byte body: %zu; 60 parses after: %zu\n",
                s.size(), first, after);
    EXPECT_EQ(first, 0u) << "the constructor sizes every buffer";
    EXPECT_EQ(after, 0u);
}

// ---- random mutations against a strict reference reader -------------------------------------

TEST_F(beacon_test, mutations_agree_with_a_strict_reader) {
    const std::string seeds[] = {
        R"({"action":"pageview","campaign":"c","url":"https://e.com/?a=1","ts":123,"params":{"a":"1","b":2.5e1,"c":false}})",
        R"([{"action":"a","params":{"x":[1,{"y":null}]}},{"action":"b","referrer":null,"z":[true,false,"s\n"]}])",
        R"({"action":"\u00e9\"","params":{"k":-0.5,"l":"\\"},"ts":"2026-01-01T00:00:00Z"})"};
    const std::string_view alphabet = "{}[]\":, \\0123456789-+.eEtrufalsn/ux";
    std::mt19937 rng(20261122);
    size_t agreed_valid = 0, agreed_invalid = 0;
    for (int round = 0; round < 30000; ++round) {
        std::string s = seeds[round % std::size(seeds)];
        const int edits = 1 + static_cast<int>(rng() % 3);
        for (int e = 0; e < edits && !s.empty(); ++e) {
            const size_t at = rng() % s.size();
            const char c = alphabet[rng() % alphabet.size()];
            switch (rng() % 3) {
            case 0:
                s[at] = c;
                break;
            case 1:
                s.insert(s.begin() + static_cast<long>(at), c);
                break;
            default:
                s.erase(at, 1);
            }
        }
        test::json_value ref;
        std::string why;
        const bool ref_ok = test::json_reader::parse(s, ref, why);
        if (!ref_ok && why.find("surrogate") != std::string::npos) continue; // we replace those
        const beacon_result r = parse(s);
        if (!ref_ok) {
            // A body that does not start with [ or { may be refused as not an object or
            // array before its validity matters.
            const size_t first = s.find_first_not_of(" \t\r\n");
            const bool scalar = first != std::string::npos && s[first] != '[' && s[first] != '{';
            EXPECT_TRUE(r.error() == beacon_body_error::invalid_json ||
                        r.error() == beacon_body_error::empty ||
                        (scalar && r.error() == beacon_body_error::not_object_or_array))
                << s << " reference: " << why << " ours: " << r.error_body();
            ++agreed_invalid;
            continue;
        }
        EXPECT_NE(r.error(), beacon_body_error::invalid_json) << s << " " << r.error_body();
        if (r.error() != beacon_body_error::none) continue;
        ++agreed_valid;
        // Accepted items carry exactly what the reference read.
        std::vector<const test::json_value*> objs;
        if (ref.kind == test::json_value::array_t)
            for (const auto& v : ref.items)
                objs.push_back(&v);
        else
            objs.push_back(&ref);
        ASSERT_EQ(objs.size(), r.size()) << s;
        for (size_t i = 0; i < r.size(); ++i) {
            const beacon_item& it = r.items()[i];
            if (!it.accepted()) continue;
            EXPECT_EQ(it.action, objs[i]->str("action")) << s;
            const test::json_value* params = objs[i]->get("params");
            if (!params || params->kind == test::json_value::null_t) {
                EXPECT_TRUE(it.params.empty());
                continue;
            }
            ASSERT_EQ(params->members.size(), it.params.size()) << s;
            for (size_t k = 0; k < it.params.size(); ++k) {
                const test::json_value& pv = params->members[k].second;
                EXPECT_EQ(it.params[k].key, params->members[k].first) << s;
                const std::string want =
                    pv.kind == test::json_value::bool_t ? (pv.b ? "true" : "false") : pv.text;
                EXPECT_EQ(it.params[k].value, want) << s;
            }
        }
    }
    std::printf("mutations: %zu valid and %zu invalid bodies agreed with the reference\n",
                agreed_valid, agreed_invalid);
    EXPECT_GT(agreed_valid, 1000u);
    EXPECT_GT(agreed_invalid, 1000u);
}

// ---- cost ---------------------------------------------------------------------------------

TEST(beacon_cost_test, per_item_parse_cost) {
    const std::string item =
        R"({"action":"pageview","campaign":"example.com","url":"https://example.com/blog/post?utm_source=news",)"
        R"("referrer":"https://www.google.com/","ts":1732271700123,)"
        R"("params":{"scroll-depth":"70%","dark-mode":true,"w":1280}})";
    std::string batch = "[";
    for (int i = 0; i < 50; ++i)
        batch += (i ? "," : "") + item;
    batch += "]";
    beacon_parser parser(beacon_limits{65536, 50}, nullptr);
    for (const auto& [name, text, items] :
         {std::tuple{"one item", item, 1}, std::tuple{"50 items", batch, 50}}) {
        padded_body body(text);
        // 200000 items, or 0.3 s (a sanitizer build is ~100 times slower).
        size_t iterations = 0, accepted = 0;
        const auto t0 = std::chrono::steady_clock::now();
        auto t1 = t0;
        while (iterations < 200000u / items && t1 - t0 < std::chrono::milliseconds(300)) {
            for (int i = 0; i < 16; ++i, ++iterations)
                accepted +=
                    parser.parse(body.data(), body.size(), body.capacity()).accepted_count();
            t1 = std::chrono::steady_clock::now();
        }
        ASSERT_EQ(accepted, iterations * items);
        const double ns = std::chrono::duration<double, std::nano>(t1 - t0).count();
        std::printf("beacon parse, %s (%zu bytes): %.0f ns per body, %.0f ns per item\n", name,
                    text.size(), ns / iterations, ns / iterations / items);
    }
}

} // namespace
} // namespace pixelring
