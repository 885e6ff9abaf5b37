// Beacon bodies with simdjson's On Demand API. On Demand validates only what is read, so the
// walker below reads every value, also those it ignores (skip_value): numbers are checked
// against the RFC 8259 grammar on their source text, literals and strings by simdjson, and
// bracket structure by the iteration. simdjson's stage 1 has already checked UTF-8,
// control characters in strings and unclosed strings for the whole body.

#include "core/event/beacon.hh"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <new>

#include <simdjson.h>

#include "core/event/event.hh"
#include "core/event/json_escape.hh"
#include "core/event/json_scalars.hh"

namespace pixelring {

static_assert(beacon_body_padding == simdjson::SIMDJSON_PADDING);

namespace ondemand = simdjson::ondemand;
using jt = ondemand::json_type;
using simdjson::error_code;

// ---- reasons ------------------------------------------------------------------------------

namespace {

struct reject_spec {
    std::string_view text;   // constant text, with <key>/<field> where the detail goes
    std::string_view prefix; // receipt text = prefix + detail + suffix when has_detail
    std::string_view suffix;
    bool has_detail;
};

constexpr reject_spec reject_specs[beacon_reject_count] = {
    {"accepted", "", "", false},
    {"item not an object", "", "", false},
    {"action missing", "", "", false},
    {"action not a string", "", "", false},
    {"action empty", "", "", false},
    {"action longer than 128 bytes", "", "", false},
    {"action not allowed", "", "", false},
    {"campaign not a string or null", "", "", false},
    {"url not a string or null", "", "", false},
    {"referrer not a string or null", "", "", false},
    {"ts not a number, string or null", "", "", false},
    {"ts empty or longer than 64 bytes", "", "", false},
    {"params not an object or null", "", "", false},
    {"params key empty", "", "", false},
    {"params key longer than 128 bytes", "", "", false},
    {"params.<key> is an object", "params.", " is an object", true},
    {"params.<key> is an array", "params.", " is an array", true},
    {"params.<key> is null", "params.", " is null", true},
    {"params.<key> repeated", "params.", " repeated", true},
    {"too many params", "", "", false},
    {"<field> repeated", "", " repeated", true},
};
static_assert(static_cast<size_t>(beacon_reject::field_repeated) + 1 == beacon_reject_count);
static_assert(static_cast<size_t>(beacon_body_error::insufficient_padding) == 8);
static_assert(max_event_params == 64, "the reason texts and beacon.hh say 64");

const reject_spec& spec_of(beacon_reject r) noexcept {
    return reject_specs[static_cast<size_t>(r)];
}

// ---- simdjson errors ---------------------------------------------------------------------

const char* json_error_text(error_code e) noexcept {
    static constexpr std::pair<error_code, const char*> texts[] = {
        {simdjson::UTF8_ERROR, "not valid UTF-8"},
        {simdjson::UNESCAPED_CHARS, "control character in a string"},
        {simdjson::UNCLOSED_STRING, "unclosed string"},
        {simdjson::STRING_ERROR, "bad escape in a string"},
        {simdjson::NUMBER_ERROR, "bad number"},
        {simdjson::T_ATOM_ERROR, "bad literal"},
        {simdjson::F_ATOM_ERROR, "bad literal"},
        {simdjson::N_ATOM_ERROR, "bad literal"},
        {simdjson::INCORRECT_TYPE, "bad literal"}, // what a bad true/false/null gives
        {simdjson::INCOMPLETE_ARRAY_OR_OBJECT, "unbalanced brackets or content after the value"},
        {simdjson::TRAILING_CONTENT, "content after the value"},
    };
    for (const auto& [code, text] : texts)
        if (code == e) return text;
    return "unexpected character";
}

enum class field_id : uint8_t { action, campaign, url, referrer, params, ts, unknown };
constexpr std::string_view field_names[] = {"action",   "campaign", "url",
                                            "referrer", "params",   "ts"};

field_id field_of(std::string_view key) noexcept {
    for (size_t i = 0; i < std::size(field_names); ++i)
        if (key == field_names[i]) return static_cast<field_id>(i);
    return field_id::unknown;
}

} // namespace

std::string_view beacon_reject_text(beacon_reject reason) noexcept {
    return spec_of(reason).text;
}

// ---- result -------------------------------------------------------------------------------

uint16_t beacon_result::http_status() const noexcept {
    switch (error_) {
    case beacon_body_error::none:
        return 0;
    case beacon_body_error::too_many_items:
    case beacon_body_error::too_large:
        return 413;
    case beacon_body_error::insufficient_padding:
        return 500;
    default:
        return 400;
    }
}

// ---- parser -------------------------------------------------------------------------------

struct beacon_parser::state {
    beacon_limits limits;
    const action_filter* allowed;
    ondemand::parser json;
    std::unique_ptr<char[]> scratch; // unescape_json_lenient's output, max_body_bytes
    size_t scratch_used = 0;
    std::vector<beacon_item> items;   // max_items
    std::vector<beacon_param> params; // max_items * max_event_params
    size_t params_used = 0;
    char error_body[128]; // the longest: invalid JSON at byte N: <longest simdjson text>
};

namespace {

// One parse: walks the document and fills the state. Every method returns false after a
// body error, which it has recorded; the walk then stops.
class body_walker {
public:
    body_walker(beacon_parser::state& st, ondemand::document& doc) noexcept : st_(st), doc_(doc) {}

    beacon_body_error error = beacon_body_error::none;
    const char* error_what = nullptr; // invalid_json: what was wrong
    const char* error_at = nullptr;   // invalid_json: where, when known

    bool fail(beacon_body_error e, const char* what = nullptr, const char* at = nullptr) {
        error = e, error_what = what, error_at = at;
        return false;
    }

    // A simdjson error: place it where the iterator stopped, when it can tell.
    bool fail_json(error_code e) {
        const char* at = nullptr;
        if (doc_.current_location().get(at) != simdjson::SUCCESS) at = nullptr;
        return fail(beacon_body_error::invalid_json, json_error_text(e), at);
    }

    // The document after its value: nothing but whitespace may follow.
    bool check_end() {
        const char* at = nullptr;
        if (doc_.current_location().get(at) == simdjson::SUCCESS)
            return fail(beacon_body_error::invalid_json, "content after the value", at);
        return true;
    }

    bool read_string(ondemand::value& v, std::string_view* out) {
        const std::string_view raw = v.raw_json_token(); // does not consume
        const error_code e = v.get_string().get(*out);
        if (e == simdjson::SUCCESS) return true;
        if (e != simdjson::STRING_ERROR) return fail_json(e);
        return unescape_slow(raw.data() + 1, out);
    }

    bool read_key(ondemand::field& f, std::string_view* out) {
        const char* raw = f.key().raw(); // unescaped_key consumes the key
        const error_code e = f.unescaped_key().get(*out);
        if (e == simdjson::SUCCESS) return true;
        if (e != simdjson::STRING_ERROR) return fail_json(e);
        return unescape_slow(raw, out);
    }

    bool read_number(ondemand::value& v, std::string_view* out) {
        const std::string_view tok = trim_json_whitespace(v.raw_json_token());
        if (!is_json_number(tok))
            return fail(beacon_body_error::invalid_json, "bad number", tok.data());
        *out = tok; // not consumed: the parent's iteration steps over it
        return true;
    }

    bool read_null(ondemand::value& v) {
        bool is_null = false;
        const error_code e = v.is_null().get(is_null);
        if (e != simdjson::SUCCESS || !is_null) return fail_json(e ? e : simdjson::N_ATOM_ERROR);
        return true;
    }

    // A string (unescaped), number (source text) or boolean ("true"/"false") into *out, or
    // a null (validated, *out untouched).
    bool read_scalar(ondemand::value& v, jt type, std::string_view* out) {
        bool b;
        switch (type) {
        case jt::string:
            return read_string(v, out);
        case jt::number:
            return read_number(v, out);
        case jt::boolean:
            if (error_code e = v.get_bool().get(b)) return fail_json(e);
            *out = b ? "true" : "false";
            return true;
        case jt::null:
            return read_null(v);
        default:
            return fail(beacon_body_error::invalid_json, "unexpected character");
        }
    }

    // Validates a value that is not used. depth: containers open around v.
    bool skip_value(ondemand::value v, int depth) {
        jt type;
        if (error_code e = v.type().get(type)) return fail_json(e);
        switch (type) {
        case jt::object: {
            if (depth + 1 > max_beacon_depth) return fail(beacon_body_error::too_deep);
            ondemand::object obj;
            if (error_code e = v.get_object().get(obj)) return fail_json(e);
            for (auto member : obj) {
                ondemand::field f;
                if (error_code e = std::move(member).get(f)) return fail_json(e);
                std::string_view key;
                if (!read_key(f, &key) || !skip_value(f.value(), depth + 1)) return false;
            }
            return true;
        }
        case jt::array: {
            if (depth + 1 > max_beacon_depth) return fail(beacon_body_error::too_deep);
            ondemand::array arr;
            if (error_code e = v.get_array().get(arr)) return fail_json(e);
            for (auto element : arr) {
                ondemand::value child;
                if (error_code e = std::move(element).get(child)) return fail_json(e);
                if (!skip_value(child, depth + 1)) return false;
            }
            return true;
        }
        default: {
            std::string_view ignored;
            return read_scalar(v, type, &ignored);
        }
        }
    }

    // v is one item; depth: containers open around it (1 in an array, 0 alone).
    bool parse_item(ondemand::value v, int depth, beacon_item& item) {
        item = beacon_item{};
        jt type;
        if (error_code e = v.type().get(type)) return fail_json(e);
        if (type != jt::object) {
            reject(item, beacon_reject::item_not_object);
            return skip_value(v, depth);
        }
        ondemand::object obj;
        if (error_code e = v.get_object().get(obj)) return fail_json(e);
        return parse_members(obj, depth + 1, item);
    }

    bool parse_members(ondemand::object& obj, int depth, beacon_item& item) {
        if (depth > max_beacon_depth) return fail(beacon_body_error::too_deep);
        unsigned seen = 0;
        bool has_action = false;
        for (auto member : obj) {
            ondemand::field f;
            if (error_code e = std::move(member).get(f)) return fail_json(e);
            std::string_view key;
            if (!read_key(f, &key)) return false;
            ondemand::value& v = f.value();
            const field_id id = field_of(key);
            if (id == field_id::unknown) {
                if (!skip_value(v, depth)) return false;
                continue;
            }
            const unsigned bit = 1u << static_cast<unsigned>(id);
            if (seen & bit) {
                reject(item, beacon_reject::field_repeated, field_names[static_cast<size_t>(id)]);
                if (!skip_value(v, depth)) return false;
                continue;
            }
            seen |= bit;
            jt type;
            if (error_code e = v.type().get(type)) return fail_json(e);
            if (!parse_field(id, v, type, depth, item, has_action)) return false;
        }
        if (!item.accepted()) return true;
        if (!has_action) {
            reject(item, beacon_reject::action_missing);
        } else if (st_.allowed && !st_.allowed->allows(item.action)) {
            reject(item, beacon_reject::action_not_allowed);
        }
        return true;
    }

    bool parse_field(field_id id, ondemand::value& v, jt type, int depth, beacon_item& item,
                     bool& has_action) {
        switch (id) {
        case field_id::action:
            if (type != jt::string) break;
            if (!read_string(v, &item.action)) return false;
            has_action = true;
            if (item.action.empty()) reject(item, beacon_reject::action_empty);
            if (item.action.size() > max_action_size) reject(item, beacon_reject::action_too_long);
            return true;
        case field_id::campaign:
        case field_id::url:
        case field_id::referrer: {
            std::optional<std::string_view>& slot = id == field_id::campaign ? item.campaign
                                                    : id == field_id::url    ? item.url
                                                                             : item.referrer;
            if (type == jt::null) return read_null(v);
            if (type != jt::string) break;
            std::string_view s;
            if (!read_string(v, &s)) return false;
            slot = s;
            return true;
        }
        case field_id::params:
            if (type == jt::null) return read_null(v);
            if (type != jt::object) break;
            return parse_params(v, depth, item);
        case field_id::ts:
            if (type == jt::null) return read_null(v);
            if (type == jt::number) {
                if (!read_number(v, &item.client_ts)) return false;
                // Written into the event as a number (params values become strings): one
                // that strict readers cannot hold would make them refuse the event line.
                if (item.client_ts.size() <= max_beacon_client_ts &&
                    !json_number_fits(item.client_ts))
                    return fail(beacon_body_error::invalid_json,
                                "ts too large for JSON readers (64-bit integers, doubles)",
                                item.client_ts.data());
                item.client_ts_type = client_ts_kind::number;
            } else if (type == jt::string) {
                if (!read_string(v, &item.client_ts)) return false;
                item.client_ts_type = client_ts_kind::string;
            } else {
                break;
            }
            if (item.client_ts.empty() || item.client_ts.size() > max_beacon_client_ts)
                reject(item, beacon_reject::ts_bad_length);
            return true;
        case field_id::unknown:
            break;
        }
        static constexpr beacon_reject wrong_type[] = {
            beacon_reject::action_not_string, beacon_reject::campaign_not_string,
            beacon_reject::url_not_string,    beacon_reject::referrer_not_string,
            beacon_reject::params_not_object, beacon_reject::ts_wrong_type};
        reject(item, wrong_type[static_cast<size_t>(id)]);
        return skip_value(v, depth);
    }

    // v is the params object inside an item whose members sit at depth.
    bool parse_params(ondemand::value& v, int depth, beacon_item& item) {
        if (depth + 1 > max_beacon_depth) return fail(beacon_body_error::too_deep);
        ondemand::object obj;
        if (error_code e = v.get_object().get(obj)) return fail_json(e);
        // Fewer than max_event_params slots left cannot happen: the pool holds that many per
        // item and each item starts its own slice.
        beacon_param* const first = st_.params.data() + st_.params_used;
        size_t count = 0;
        for (auto member : obj) {
            ondemand::field f;
            if (error_code e = std::move(member).get(f)) return fail_json(e);
            std::string_view key;
            if (!read_key(f, &key)) return false;
            ondemand::value& pv = f.value();
            jt type;
            if (error_code e = pv.type().get(type)) return fail_json(e);
            // The key first: only a key within max_beacon_param_key may be named in a
            // receipt (max_receipt_item_bytes counts on it).
            if (key.empty() || key.size() > max_beacon_param_key) {
                reject(item, key.empty() ? beacon_reject::param_key_empty
                                         : beacon_reject::param_key_too_long);
                if (!skip_value(pv, depth + 1)) return false;
                continue;
            }
            if (type == jt::object || type == jt::array || type == jt::null) {
                reject(item,
                       type == jt::object  ? beacon_reject::param_is_object
                       : type == jt::array ? beacon_reject::param_is_array
                                           : beacon_reject::param_is_null,
                       key);
                if (!skip_value(pv, depth + 1)) return false;
                continue;
            }
            std::string_view value;
            if (!read_scalar(pv, type, &value)) return false;
            if (count == max_event_params) {
                reject(item, beacon_reject::too_many_params);
            } else if (std::any_of(first, first + count,
                                   [&](const beacon_param& p) { return p.key == key; })) {
                reject(item, beacon_reject::param_repeated, key);
            } else {
                first[count++] = beacon_param{key, value};
            }
        }
        item.params = std::span<const beacon_param>(first, count);
        st_.params_used += count;
        return true;
    }

private:
    static void reject(beacon_item& item, beacon_reject r, std::string_view detail = {}) {
        if (item.reason != beacon_reject::none) return; // the first problem wins
        item.reason = r;
        item.reason_detail = detail;
    }

    bool unescape_slow(const char* raw, std::string_view* out) {
        char* const start = st_.scratch.get() + st_.scratch_used;
        const char* bad = nullptr;
        char* const end = unescape_json_lenient(raw, start, &bad);
        if (!end) return fail(beacon_body_error::invalid_json, "bad escape in a string", bad);
        *out = std::string_view(start, static_cast<size_t>(end - start));
        st_.scratch_used += static_cast<size_t>(end - start);
        return true;
    }

    beacon_parser::state& st_;
    ondemand::document& doc_;
};

char* put_text(char* out, std::string_view s) noexcept {
    std::memcpy(out, s.data(), s.size());
    return out + s.size();
}

char* put_number(char* out, size_t n) noexcept {
    return std::to_chars(out, out + 20, n).ptr;
}

} // namespace

beacon_parser::beacon_parser(const beacon_limits& limits, const action_filter* allowed)
    : state_(std::make_unique<state>()) {
    state& st = *state_;
    st.limits = limits;
    st.allowed = allowed && !allowed->allows_any() ? allowed : nullptr;
    const size_t max_items = std::clamp<size_t>(limits.max_items, 1, max_beacon_batch);
    st.limits.max_items = static_cast<uint32_t>(max_items);
    // Stage 1 and the string buffer for the largest body: parse never grows them.
    if (st.json.allocate(std::max<size_t>(limits.max_body_bytes, 1)) != simdjson::SUCCESS)
        throw std::bad_alloc();
    st.scratch = std::make_unique<char[]>(limits.max_body_bytes + 1);
    st.items.resize(max_items);
    st.params.resize(max_items * max_event_params);
}

beacon_parser::~beacon_parser() = default;
beacon_parser::beacon_parser(beacon_parser&&) noexcept = default;
beacon_parser& beacon_parser::operator=(beacon_parser&&) noexcept = default;

beacon_result beacon_parser::parse(const char* body, size_t len, size_t capacity) noexcept {
    state& st = *state_;
    st.scratch_used = 0;
    st.params_used = 0;
    beacon_result result;

    // {"error":"..."}: the text before and after the number the error names, if any.
    auto body_error = [&](beacon_body_error e, const char* what, const char* at) {
        static constexpr std::string_view texts[][2] = {
            {"internal error", ""},
            {"empty body", ""},
            {"invalid JSON", ""},
            {"JSON nested deeper than ", " levels"},
            {"body is not a JSON object or array", ""},
            {"empty array", ""},
            {"more than ", " items in a batch"},
            {"body larger than ", " bytes"},
            {"internal error", ""},
        };
        const size_t numbers[] = {
            0, 0, 0, max_beacon_depth, 0, 0, st.limits.max_items, st.limits.max_body_bytes, 0};
        const size_t i = static_cast<size_t>(e);
        char* p = put_text(st.error_body, "{\"error\":\"");
        p = put_text(p, texts[i][0]);
        if (!texts[i][1].empty()) p = put_text(put_number(p, numbers[i]), texts[i][1]);
        if (e == beacon_body_error::invalid_json) {
            if (at && at >= body && at <= body + len)
                p = put_number(put_text(p, " at byte "), static_cast<size_t>(at - body));
            p = put_text(put_text(p, ": "), what ? what : "unexpected character");
        }
        p = put_text(p, "\"}");
        result.error_ = e;
        result.error_body_ = {st.error_body, static_cast<size_t>(p - st.error_body)};
        return result;
    };

    if (len > st.limits.max_body_bytes)
        return body_error(beacon_body_error::too_large, nullptr, nullptr);
    if (capacity < len + beacon_body_padding)
        return body_error(beacon_body_error::insufficient_padding, nullptr, nullptr);
    ondemand::document doc;
    if (error_code e = st.json.iterate(body, len, capacity).get(doc)) {
        if (e == simdjson::EMPTY) return body_error(beacon_body_error::empty, nullptr, nullptr);
        return body_error(beacon_body_error::invalid_json, json_error_text(e), nullptr);
    }

    body_walker walk(st, doc);
    jt type;
    if (error_code e = doc.type().get(type)) {
        walk.fail_json(e);
    } else if (type == jt::array) {
        result.is_array_ = true;
        ondemand::array arr;
        size_t n = 0;
        if (error_code e = doc.get_array().get(arr)) {
            // At the root simdjson only compares the first and last bytes: no place to name.
            walk.fail(beacon_body_error::invalid_json, json_error_text(e));
        } else {
            for (auto element : arr) {
                ondemand::value v;
                if (error_code e = std::move(element).get(v)) {
                    walk.fail_json(e);
                    break;
                }
                if (n == st.limits.max_items) {
                    walk.fail(beacon_body_error::too_many_items);
                    break;
                }
                if (!walk.parse_item(v, 1, st.items[n++])) break;
            }
        }
        if (walk.error == beacon_body_error::none && n == 0 && walk.check_end())
            walk.fail(beacon_body_error::no_items);
        result.items_ = std::span<const beacon_item>(st.items.data(), n);
    } else if (type == jt::object) {
        ondemand::object obj;
        if (error_code e = doc.get_object().get(obj)) {
            walk.fail(beacon_body_error::invalid_json, json_error_text(e));
        } else {
            st.items[0] = beacon_item{};
            walk.parse_members(obj, 1, st.items[0]);
        }
        result.items_ = std::span<const beacon_item>(st.items.data(), 1);
    } else {
        walk.fail(beacon_body_error::not_object_or_array);
    }
    if (walk.error == beacon_body_error::none) walk.check_end();
    if (walk.error != beacon_body_error::none) {
        result.items_ = {};
        return body_error(walk.error, walk.error_what, walk.error_at);
    }
    for (const beacon_item& item : result.items_)
        result.accepted_ += item.accepted();
    return result;
}

size_t write_receipts(const beacon_result& result, char* out, size_t cap, size_t kept,
                      std::string_view dropped_reason) noexcept {
    if (cap < max_receipts_size(result.size())) return 0;
    dropped_reason = dropped_reason.substr(0, max_dropped_reason_size);
    char* p = out;
    *p++ = '[';
    for (const beacon_item& item : result) {
        if (p != out + 1) *p++ = ',';
        if (item.accepted() && kept > 0) {
            --kept;
            p = put_text(p, "{\"status\":\"accepted\"}");
            continue;
        }
        if (item.accepted()) {
            p = put_text(p, "{\"status\":\"dropped\",\"reason\":\"");
            p = put_text(p, dropped_reason);
            p = put_text(p, "\"}");
            continue;
        }
        const reject_spec& spec = spec_of(item.reason);
        p = put_text(p, "{\"status\":\"rejected\",\"reason\":\"");
        if (spec.has_detail) {
            p = put_text(p, spec.prefix);
            // Never more than the bound allows for, whatever the parser named.
            p += json_escape(item.reason_detail.substr(0, max_beacon_param_key), p);
            p = put_text(p, spec.suffix);
        } else {
            p = put_text(p, spec.text);
        }
        p = put_text(p, "\"}");
    }
    *p++ = ']';
    return static_cast<size_t>(p - out);
}

} // namespace pixelring
