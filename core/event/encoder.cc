// The event encoder: an event's parts (detail::event_parts) written as one JSON object
// straight into caller memory, the size bound that is reserved before it, and what each event
// type (pixel, rest, redirect, beacon) is made of.

#include "core/event/event.hh"

#include <cstring>
#include <iterator>

#include "core/event/beacon.hh"
#include "core/event/enrichment_fields.hh"
#include "core/event/event_layout.hh"
#include "core/event/event_params.hh"
#include "core/event/ip_text.hh"
#include "core/event/json_scalars.hh"
#include "core/event/url_fields.hh"
#include "core/http/http_chars.hh"

namespace pixelring {
namespace {

using detail::client_ts_format;
using detail::decoded_equals;
using detail::event_parts;
using detail::format_client_ip;
using detail::is_campaign_key;
using detail::is_reserved_key;
using detail::k_decodes;
using detail::k_ip_text_max;
using detail::k_plus;
using detail::key_is;
using detail::next_param;
using detail::next_tuple;
using detail::param_pair;
using detail::param_reader;
using detail::params_format;
using detail::same_bytes;

constexpr std::string_view k_campaign_key = "campaignID";

// ---- encoder -----------------------------------------------------------------------------

using namespace event_layout;

constexpr size_t k_quote_pairs = 3; // ip, ua and collector close their quotes

// Everything but the type word, the escaped field contents and the redirect and beacon
// members, with every optional field present.
constexpr size_t k_skeleton_size =
    k_open_id.size() + k_uuid_len + k_ts.size() + k_timestamp_len + k_type.size() +
    k_action.size() + k_campaign.size() + k_params.size() + k_params_truncated.size() +
    k_url.size() + k_path.size() + k_page_host.size() + k_referrer.size() + k_ip.size() +
    k_ip_text_max + k_ua.size() + k_host.size() + k_collector.size() + k_close.size() +
    k_nullable_slots * k_null.size() + k_quote_pairs;

// The members of the utm object in output order, each with its opening quote, and their
// source fields.
constexpr std::string_view k_utm_members[] = {"\"source\":\"", "\"medium\":\"", "\"campaign\":\"",
                                              "\"term\":\"", "\"content\":\""};
constexpr std::string_view utm_fields::*k_utm_fields[] = {&utm_fields::source, &utm_fields::medium,
                                                          &utm_fields::campaign, &utm_fields::term,
                                                          &utm_fields::content};
static_assert(std::size(k_utm_members) == std::size(k_utm_fields));

constexpr size_t k_u32_digits_max = 10; // 4294967295

constexpr size_t utm_skeleton_size() {
    size_t size = k_utm.size() + 1; // and its '}'
    for (const std::string_view member : k_utm_members)
        size += member.size() + 2; // the closing quote, and a ',' (one too many: no matter)
    return size;
}

// Everything of the enrichment but the escaped field contents and the agent and device words,
// with every member present (k_dnt_false is the longer dnt).
constexpr size_t k_enrichment_skeleton_size =
    utm_skeleton_size() + k_visitor.size() + 1 + k_country.size() + 1 + k_region.size() + 1 +
    k_city.size() + 1 + k_asn.size() + k_u32_digits_max + k_as_org.size() + 1 + k_agent.size() +
    k_device.size() + 1 + k_browser.size() + 1 + k_os.size() + 1 + k_dnt_false.size();

// s cut to max_geo_text_size bytes, backing off over at most three continuation bytes so that
// a character is not split (a cut inside invalid UTF-8 is as good as anywhere else).
std::string_view clip_geo_text(std::string_view s) noexcept {
    if (s.size() <= max_geo_text_size) return s;
    size_t cut = max_geo_text_size;
    for (int i = 0; i < 3 && (static_cast<uint8_t>(s[cut]) & 0xC0) == 0x80; ++i)
        --cut;
    return s.substr(0, cut);
}

size_t enrichment_size(const pixel_enrichment& e) noexcept {
    size_t size = k_enrichment_skeleton_size + 6 * e.visitor.size();
    if (e.geo != nullptr) {
        size += 6 * (clip_geo_text(e.geo->country).size() + clip_geo_text(e.geo->region).size() +
                     clip_geo_text(e.geo->city).size() + clip_geo_text(e.geo->as_org).size());
    }
    if (e.agent != nullptr) {
        size += to_string(e.agent->label).size() + to_string(e.agent->device).size() +
                6 * (e.agent->browser.size() + e.agent->os.size());
    }
    return size;
}

inline char* put(char* o, std::string_view s) noexcept {
    std::memcpy(o, s.data(), s.size());
    return o + s.size();
}

inline char* put_escaped(char* o, std::string_view s, bool decode = false,
                         bool plus = false) noexcept {
    return o + json_escape(s, o, decode, plus);
}

inline char* put_quoted(char* o, std::string_view s, bool decode = false,
                        bool plus = false) noexcept {
    *o++ = '"';
    o = put_escaped(o, s, decode, plus);
    *o++ = '"';
    return o;
}

// A member with an escaped string value; nothing when value is empty. name holds the ',', the
// quoted name, ':' and the opening quote.
inline char* put_string_member(char* o, std::string_view name, std::string_view value) noexcept {
    if (value.empty()) return o;
    o = put(o, name);
    o = put_escaped(o, value);
    *o++ = '"';
    return o;
}

char* put_u32(char* o, uint32_t v) noexcept {
    char digits[k_u32_digits_max];
    char* d = digits + sizeof digits;
    do {
        *--d = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return put(o, {d, static_cast<size_t>(digits + sizeof digits - d)});
}

// The utm object of the page URL; nothing when it has no utm parameter.
char* put_utm(char* o, const utm_fields& utm) noexcept {
    if (utm.empty()) return o;
    o = put(o, k_utm);
    bool first = true;
    for (size_t i = 0; i < std::size(k_utm_members); ++i) {
        const std::string_view value = utm.*k_utm_fields[i];
        if (value.empty()) continue;
        if (!first) *o++ = ',';
        first = false;
        o = put(o, k_utm_members[i]);
        o = put_escaped(o, value, true, true);
        *o++ = '"';
    }
    *o++ = '}';
    return o;
}

char* put_geo(char* o, const geo_fields& geo) noexcept {
    o = put_string_member(o, k_country, clip_geo_text(geo.country));
    o = put_string_member(o, k_region, clip_geo_text(geo.region));
    o = put_string_member(o, k_city, clip_geo_text(geo.city));
    if (geo.asn != 0) {
        o = put(o, k_asn);
        o = put_u32(o, geo.asn);
    }
    return put_string_member(o, k_as_org, clip_geo_text(geo.as_org));
}

// agent and device are words of our own (to_string), written as they are.
char* put_agent(char* o, const agent_info& agent) noexcept {
    o = put(o, k_agent);
    o = put(o, to_string(agent.label));
    o = put(o, k_device);
    o = put(o, to_string(agent.device));
    *o++ = '"';
    o = put_string_member(o, k_browser, agent.browser);
    return put_string_member(o, k_os, agent.os);
}

// Writes the params members. Keys are compared in their escaped form, which is what the
// reader sees: a later key that escapes the same as an earlier one is dropped, so the object
// never holds a duplicate name (also not when two different invalid byte strings both became
// U+FFFD). The dropped key's bytes are written first and then given back.
template <params_format F>
char* put_params(char* const out, char* o, const event_parts& parts, bool& truncated) noexcept {
    struct written_key {
        uint32_t offset;
        uint32_t len;
    };
    written_key keys[max_event_params];
    size_t count = 0;
    constexpr bool decode = k_decodes<F>;
    constexpr bool plus = k_plus<F>;
    param_reader<F> params(parts);
    param_pair param;
    while (count < max_event_params && params.next(param)) {
        if (is_reserved_key<F>(parts, param.key)) continue;
        char* const member = o;
        if (count != 0) *o++ = ',';
        *o++ = '"';
        char* const key = o;
        o = put_escaped(o, param.key, decode, plus);
        const auto key_len = static_cast<uint32_t>(o - key);
        bool repeated = false;
        for (size_t i = 0; i < count && !repeated; ++i) {
            repeated = keys[i].len == key_len && same_bytes(out + keys[i].offset, key, key_len);
        }
        if (repeated) {
            o = member;
            continue;
        }
        keys[count++] = {static_cast<uint32_t>(key - out), key_len};
        o = put(o, "\":");
        o = put_quoted(o, param.value, decode, plus);
    }
    // Full: is anything left that would have been written? Its key is escaped as scratch
    // after the members (inside the reserved bound, which counts every param) and compared.
    truncated = false;
    while (!truncated && count == max_event_params && params.next(param)) {
        if (is_reserved_key<F>(parts, param.key)) continue;
        char* const end = put_escaped(o, param.key, decode, plus);
        const auto key_len = static_cast<uint32_t>(end - o);
        bool repeated = false;
        for (size_t i = 0; i < count && !repeated; ++i)
            repeated = keys[i].len == key_len && same_bytes(out + keys[i].offset, o, key_len);
        truncated = !repeated;
    }
    return o;
}

// A URL as given but without its user information (split_userinfo), escaped and quoted.
char* put_url(char* o, std::string_view url, encode_notes& notes) noexcept {
    std::string_view head, tail;
    if (!split_userinfo(url, head, tail)) return put_quoted(o, url);
    notes.userinfo_removed = true;
    *o++ = '"';
    o = put_escaped(o, head);
    o = put_escaped(o, tail);
    *o++ = '"';
    return o;
}

// url, path and page_host of the page URL; all three null when it is empty. page is
// split_page_url's answer for it.
char* put_page_fields(char* o, std::string_view url, const page_url_fields& page,
                      encode_notes& notes) noexcept {
    o = put(o, k_url);
    if (url.empty()) {
        o = put(o, k_null);
        o = put(o, k_path);
        o = put(o, k_null);
        o = put(o, k_page_host);
        return put(o, k_null);
    }
    o = put_url(o, url, notes);
    o = put(o, k_path);
    if (page.host.empty()) {
        o = put(o, k_null);
    } else if (page.path.empty()) {
        o = put(o, "\"/\"");
    } else {
        o = put_quoted(o, page.path, true, false);
    }
    o = put(o, k_page_host);
    return page.host.empty() ? put(o, k_null) : put_quoted(o, page.host);
}

} // namespace

std::string_view event_timestamp_text(std::string_view event) noexcept {
    constexpr size_t at = k_open_id.size() + k_uuid_len + k_ts.size();
    if (event.size() < at + k_timestamp_len || !event.starts_with(k_open_id) ||
        event.substr(k_open_id.size() + k_uuid_len, k_ts.size()) != k_ts)
        return {};
    return event.substr(at, k_timestamp_len);
}

std::string_view raw_campaign(const pixel_hit& hit) noexcept {
    std::string_view rest = hit.query;
    param_pair param;
    if (hit.type == event_type::rest) {
        while (next_tuple(rest, param)) {
            if (decoded_equals<false>(param.key, k_campaign_key) ||
                decoded_equals<false>(param.key, "campaign"))
                return param.value;
        }
        return {};
    }
    while (next_param(rest, param)) {
        if (decoded_equals<true>(param.key, k_campaign_key)) return param.value;
    }
    return {};
}

namespace detail {

namespace {

// The terms of event_size that every event has. Escaping writes at most 6 bytes per input
// byte. The page URL is written whole as url; path, page_host and the utm values are disjoint
// parts of it (the host lies in the authority, the path between the authority and the first
// '?' or '#', the utm values after the first '?'), and url_host's percent-decoding only
// shortens the host.
size_t common_size(std::string_view type, std::string_view action, std::string_view user_agent,
                   std::string_view host, std::string_view page_url,
                   const pixel_enrichment* enrichment, const encode_options& opt) noexcept {
    size_t size = k_skeleton_size + type.size() +
                  6 * (action.size() + user_agent.size() + host.size() + opt.collector.size()) +
                  12 * page_url.size();
    if (enrichment != nullptr) size += enrichment_size(*enrichment);
    return size;
}

// A query or tuples params member adds 6 bytes of quotes, ':' and ',' to its escaped key and
// value: the '&' after it, or the '=' inside it, pays for them (in tuples the '/' inside and
// the '/' after it), which leaves 6 for a last piece without '='.
size_t params_text_size(std::string_view params_text) noexcept {
    return 6 * (params_text.size() + 1);
}

size_t target_size(std::string_view target) noexcept {
    return k_target.size() + k_null.size() + 6 * target.size();
}

} // namespace

size_t event_size(const event_parts& parts, const encode_options& opt) noexcept {
    // An items member pays the 6 bytes of its quotes, ':' and ',' itself. The quotes of
    // campaign and referrer take their null's slot.
    size_t size = common_size(parts.type, parts.action, parts.user_agent, parts.host,
                              parts.page_url, parts.enrichment, opt);
    if (parts.params == params_format::items) {
        for (size_t i = 0; i < parts.item_count; ++i)
            size += 6 * (parts.items[i].key.size() + parts.items[i].value.size() + 1);
    } else {
        size += params_text_size(parts.params_text);
    }
    if (parts.has_campaign) size += 6 * parts.campaign.size();
    if (parts.has_referrer) size += 6 * parts.referrer.size();
    if (parts.has_target) size += target_size(parts.target);
    if (parts.client_ts != client_ts_format::absent)
        size += k_client_ts.size() + 2 + 6 * parts.client_ts_text.size();
    return size;
}

size_t hit_event_size(const pixel_hit& hit, std::string_view type, std::string_view action,
                      const encode_options& opt) noexcept {
    // pixel_parts: query or tuples params from hit.query, the Referer as page URL, no campaign
    // or referrer of its own, no client_ts; a target for a redirect.
    size_t size =
        common_size(type, action, hit.user_agent, hit.host, hit.referer, hit.enrichment, opt) +
        params_text_size(hit.query);
    if (hit.type == event_type::redirect) size += target_size(hit.target);
    return size;
}

namespace {

template <params_format F>
size_t write_event_as(const event_parts& parts, const encode_options& opt, const event_id& id,
                      uint64_t unix_ms, char* out, encode_notes& notes) noexcept {
    const pixel_enrichment* const enrichment = parts.enrichment;
    const bool refused = parts.tracking_refused;
    constexpr bool decode = k_decodes<F>;
    constexpr bool plus = k_plus<F>;

    char* o = put(out, k_open_id);
    format_uuid(id, o);
    o = put(o + k_uuid_len, k_ts);
    format_timestamp(unix_ms, o);
    o = put(o + k_timestamp_len, k_type);
    o = put(o, parts.type);
    o = put(o, k_action);

    // The action and the campaign from the params, when they come from there: one pass.
    param_pair param;
    std::string_view action;
    bool has_action = parts.action_key.empty();
    bool has_campaign = parts.campaign_key_count == 0;
    std::string_view campaign;
    for (param_reader<F> params(parts); !(has_action && has_campaign) && params.next(param);) {
        if (!has_action && key_is<F>(param.key, parts.action_key)) {
            has_action = true;
            action = param.value;
        } else if (!has_campaign && is_campaign_key<F>(parts, param.key)) {
            has_campaign = true;
            campaign = param.value;
        }
    }
    if (action.empty()) {
        o = put_escaped(o, parts.action, parts.action_decode, false);
    } else {
        o = put_escaped(o, action, decode, plus);
    }

    o = put(o, k_campaign);
    if (parts.campaign_key_count == 0) {
        o = parts.has_campaign ? put_quoted(o, parts.campaign) : put(o, k_null);
    } else {
        o = has_campaign ? put_quoted(o, campaign, decode, plus) : put(o, k_null);
    }

    o = put(o, k_params);
    o = put_params<F>(out, o, parts, notes.params_truncated);
    o = notes.params_truncated ? put(o, k_params_truncated) : put(o, "}");
    // The page URL split once for page_host, path and utm.
    const bool with_utm = enrichment != nullptr && enrichment->utm;
    char host_buf[max_host_size];
    page_url_fields page;
    if (!parts.page_url.empty()) page = split_page_url(parts.page_url, host_buf, with_utm);
    o = put_page_fields(o, parts.page_url, page, notes);
    o = put(o, k_referrer);
    o = parts.has_referrer ? put_url(o, parts.referrer, notes) : put(o, k_null);
    if (parts.has_target) {
        o = put(o, k_target);
        o = parts.target.empty() ? put(o, k_null) : put_quoted(o, parts.target);
    }

    if (with_utm) o = put_utm(o, page.utm);
    if (parts.client_ts != client_ts_format::absent) {
        o = put(o, k_client_ts);
        o = parts.client_ts == client_ts_format::number ? put(o, parts.client_ts_text)
                                                        : put_quoted(o, parts.client_ts_text);
    }
    if (enrichment != nullptr && !refused) o = put_string_member(o, k_visitor, enrichment->visitor);
    if (opt.ip != ip_privacy::none && !refused) {
        char ip[k_ip_text_max];
        if (const size_t len = format_client_ip(parts.client, opt.ip, ip); len != 0) {
            o = put(o, k_ip);
            o = put(o, {ip, len});
            *o++ = '"';
        }
    }
    if (enrichment != nullptr && enrichment->geo != nullptr) o = put_geo(o, *enrichment->geo);
    if (opt.user_agent && !refused && !parts.user_agent.empty()) {
        o = put(o, k_ua);
        o = put_escaped(o, parts.user_agent);
        *o++ = '"';
    }
    if (enrichment != nullptr) {
        if (enrichment->agent != nullptr) o = put_agent(o, *enrichment->agent);
        o = put(o, refused ? k_dnt_true : k_dnt_false);
    }
    o = put(o, k_host);
    o = parts.host.empty() ? put(o, k_null) : put_quoted(o, parts.host);
    o = put(o, k_collector);
    o = put_escaped(o, opt.collector);
    o = put(o, k_close);
    return static_cast<size_t>(o - out);
}

} // namespace

size_t write_event(const event_parts& parts, const encode_options& opt, const event_id& id,
                   uint64_t unix_ms, char* out, encode_notes& notes) noexcept {
    notes = {};
    switch (parts.params) {
    case params_format::query:
        return write_event_as<params_format::query>(parts, opt, id, unix_ms, out, notes);
    case params_format::tuples:
        return write_event_as<params_format::tuples>(parts, opt, id, unix_ms, out, notes);
    case params_format::items:
        break;
    }
    return write_event_as<params_format::items>(parts, opt, id, unix_ms, out, notes);
}

} // namespace detail

// ---- what each event type is made of ------------------------------------------------------
// What each event type is made of: pixel, rest and redirect hits and beacon items become the
// parts that write_event above writes (detail::event_parts), and the rules of the rest tuples.

namespace {

using detail::params_format;

constexpr std::string_view k_default_rest_action = "event";

std::string_view type_word(event_type type) noexcept {
    switch (type) {
    case event_type::pixel:
        return "pixel";
    case event_type::rest:
        return "rest";
    case event_type::redirect:
        return "redirect";
    }
    return "pixel";
}

// What every hit takes from its request: User-Agent, Host, the client, the enrichment and
// whether tracking was refused.
template <class Hit> void request_parts(event_parts& p, const Hit& hit) noexcept {
    p.user_agent = hit.user_agent;
    p.host = hit.host;
    p.client = hit.client;
    p.enrichment = hit.enrichment;
    p.tracking_refused = hit.tracking_refused || (hit.enrichment && hit.enrichment->dnt);
}

event_parts pixel_parts(const pixel_hit& hit) noexcept {
    event_parts p;
    p.type = type_word(hit.type);
    if (hit.type == event_type::rest) {
        p.action = k_default_rest_action;
        p.action_key = "action";
        p.campaign_keys[0] = "campaignID";
        p.campaign_keys[1] = "campaign";
        p.campaign_key_count = 2;
        p.params = params_format::tuples;
    } else {
        p.action = hit.action;
        p.action_decode = true;
        p.campaign_keys[0] = "campaignID";
        p.campaign_key_count = 1;
        p.params = params_format::query;
    }
    if (hit.type == event_type::redirect) {
        p.skip_keys[0] = "url";
        p.skip_keys[1] = "sig";
        p.skip_count = 2;
        p.has_target = true;
        p.target = hit.target;
    }
    p.params_text = hit.query;
    p.page_url = hit.referer;
    request_parts(p, hit);
    return p;
}

event_parts beacon_parts(const beacon_hit& hit) noexcept {
    const beacon_item& item = *hit.item;
    event_parts p;
    p.type = "beacon";
    p.action = item.action;
    p.has_campaign = item.campaign.has_value();
    p.campaign = item.campaign.value_or(std::string_view{});
    p.params = params_format::items;
    p.items = item.params.data();
    p.item_count = item.params.size();
    p.page_url = item.url.value_or(std::string_view{});
    p.has_referrer = item.referrer.has_value() && !item.referrer->empty();
    p.referrer = item.referrer.value_or(std::string_view{});
    switch (item.client_ts_type) {
    case client_ts_kind::absent:
        break;
    case client_ts_kind::number:
        p.client_ts = is_json_number(item.client_ts) && json_number_fits(item.client_ts)
                          ? client_ts_format::number
                          : client_ts_format::string;
        break;
    case client_ts_kind::string:
        p.client_ts = client_ts_format::string;
        break;
    }
    p.client_ts_text = item.client_ts;
    request_parts(p, hit);
    return p;
}

} // namespace

size_t max_pixel_event_size(const pixel_hit& hit, const encode_options& opt) noexcept {
    // detail::event_size(pixel_parts(hit), opt), from the hit directly.
    return detail::hit_event_size(hit, type_word(hit.type),
                                  hit.type == event_type::rest ? k_default_rest_action : hit.action,
                                  opt);
}

size_t encode_pixel_event(const pixel_hit& hit, const encode_options& opt, const event_id& id,
                          uint64_t unix_ms, char* out, encode_notes* notes) noexcept {
    encode_notes ignored;
    return detail::write_event(pixel_parts(hit), opt, id, unix_ms, out, notes ? *notes : ignored);
}

bool valid_rest_tuples(std::string_view tuples) noexcept {
    size_t segments = 0;
    for (;;) {
        const size_t slash = detail::find_byte(tuples, '/');
        const std::string_view segment = tuples.substr(0, slash);
        // Segments 0, 2, 4, ... (counting from 0) are keys.
        if (segments % 2 == 0 && segment.empty()) return false;
        if (++segments > 2 * max_rest_pairs) return false;
        if (slash == std::string_view::npos) break;
        tuples.remove_prefix(slash + 1);
    }
    return segments % 2 == 0;
}

size_t max_beacon_event_size(const beacon_hit& hit, const encode_options& opt) noexcept {
    return detail::event_size(beacon_parts(hit), opt);
}

size_t encode_beacon_event(const beacon_hit& hit, const encode_options& opt, const event_id& id,
                           uint64_t unix_ms, char* out, encode_notes* notes) noexcept {
    encode_notes ignored;
    return detail::write_event(beacon_parts(hit), opt, id, unix_ms, out, notes ? *notes : ignored);
}

} // namespace pixelring
