#include "core/enrich/enrichment.hh"

#include "core/base/ascii.hh"

#include "core/event/url_fields.hh"

namespace pixelring {

namespace {

// The six fields enrichment reads, in one pass over the head instead of six: the first of
// each name, as http_request::field would find it.
struct signal_fields {
    std::string_view dnt, sec_gpc, sec_purpose, purpose, x_purpose, x_moz;
};

signal_fields read_signals(const http_request& r) noexcept {
    signal_fields f;
    // A default view has no data; a field's value, even an empty one, points into the head.
    auto take = [](std::string_view& slot, std::string_view value) {
        if (slot.data() == nullptr) slot = value;
    };
    for (uint16_t i = 0; i < r.field_count; ++i) {
        const http_field& h = r.fields[i];
        switch (h.name.size()) {
        case 3:
            if (ascii_equals_lower(h.name, "dnt")) take(f.dnt, h.value);
            break;
        case 5:
            if (ascii_equals_lower(h.name, "x-moz")) take(f.x_moz, h.value);
            break;
        case 7:
            if (ascii_equals_lower(h.name, "sec-gpc"))
                take(f.sec_gpc, h.value);
            else if (ascii_equals_lower(h.name, "purpose"))
                take(f.purpose, h.value);
            break;
        case 9:
            if (ascii_equals_lower(h.name, "x-purpose")) take(f.x_purpose, h.value);
            break;
        case 11:
            if (ascii_equals_lower(h.name, "sec-purpose")) take(f.sec_purpose, h.value);
            break;
        default:
            break;
        }
    }
    return f;
}

} // namespace

void enrich_request(const enrichment_setup& e, const http_request& r, ip_address& client,
                    enrichment_scratch& s) noexcept {
    if (!e.trusted_proxies.empty())
        client = resolve_client_address(client, e.trusted_proxies, r).address;
    s.fields = pixel_enrichment{};
    if (!e.enabled && !e.honor_dnt) return;
    const signal_fields f = read_signals(r);
    s.fields.dnt = e.honor_dnt && tracking_refused(f.dnt, f.sec_gpc);
    // privacy.honor_dnt holds without enrichment too: the event then has no ip and ua.
    if (!e.enabled) return;
    if (e.geoip.has_city() || e.geoip.has_asn()) {
        s.geo = e.geoip.lookup(client);
        s.fields.geo = &s.geo;
    }
    s.agent = classify_agent({.user_agent = r.user_agent,
                              .sec_purpose = f.sec_purpose,
                              .purpose = f.purpose,
                              .x_purpose = f.x_purpose,
                              .x_moz = f.x_moz});
    s.fields.agent = &s.agent;
}

void enrich_visitor(const enrichment_setup& e, const http_request& r, uint64_t unix_ms,
                    visitor_hasher& visitors, const ip_address& client, std::string_view campaign,
                    std::string_view page_url, enrichment_scratch& s) noexcept {
    s.fields.visitor = {};
    if (!e.enabled || s.fields.dnt) return;
    // The site: the campaign as sent, else the page's host (lower case).
    char host[max_host_size];
    const std::string_view site = campaign.empty() ? url_host(page_url, host) : campaign;
    if (visitors.visitor_id(unix_ms, site, client, r.user_agent, s.visitor))
        s.fields.visitor = std::string_view(s.visitor, visitor_id_size);
}

std::string make_enrichment_setup(const config& cfg, enrichment_setup& out) {
    out.enabled = cfg.tracking.enrich;
    out.honor_dnt = cfg.privacy.honor_dnt;
    if (std::string e = cidr_set::parse(cfg.server.trusted_proxies, out.trusted_proxies);
        !e.empty())
        return e;
    if (std::string e = visitor_key::from_config(cfg.privacy.visitor_secret, out.visitor);
        !e.empty())
        return e;
    return out.geoip.open(cfg.geoip);
}

} // namespace pixelring
