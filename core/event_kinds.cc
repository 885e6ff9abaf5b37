// What each event type is made of: pixel, rest and redirect hits and beacon items become the
// parts that core/event.cc writes (detail::event_parts), and the rules of the rest tuples.

#include "core/beacon.hh"
#include "core/event.hh"
#include "core/http_chars.hh"
#include "core/json_scalars.hh"

namespace pixelring {
namespace {

using detail::client_ts_format;
using detail::event_parts;
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
    p.user_agent = hit.user_agent;
    p.host = hit.host;
    p.client = hit.client;
    p.enrichment = hit.enrichment;
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
    p.user_agent = hit.user_agent;
    p.host = hit.host;
    p.client = hit.client;
    p.enrichment = hit.enrichment;
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
