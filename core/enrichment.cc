#include "core/enrichment.hh"

#include "core/url_fields.hh"

namespace pixelring {

void enrich_request(const enrichment_setup& e, const http_request& r, ip_address& client,
                    enrichment_scratch& s) noexcept {
    if (!e.trusted_proxies.empty())
        client = resolve_client_address(client, e.trusted_proxies, r).address;
    s.fields = pixel_enrichment{};
    if (!e.enabled) return;
    s.fields.dnt = e.honor_dnt && tracking_refused(r.field("DNT"), r.field("Sec-GPC"));
    if (e.geoip.has_city() || e.geoip.has_asn()) {
        s.geo = e.geoip.lookup(client);
        s.fields.geo = &s.geo;
    }
    s.agent = classify_agent({.user_agent = r.user_agent,
                              .sec_purpose = r.field("Sec-Purpose"),
                              .purpose = r.field("Purpose"),
                              .x_purpose = r.field("X-Purpose"),
                              .x_moz = r.field("X-Moz")});
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

void enrich_pixel(const enrichment_setup& e, const http_request& r, uint64_t unix_ms,
                  visitor_hasher& visitors, pixel_hit& hit, enrichment_scratch& s) noexcept {
    enrich_request(e, r, hit.client, s);
    if (!e.enabled) return;
    enrich_visitor(e, r, unix_ms, visitors, hit.client, query_param(r.query, "campaignID"),
                   r.referer, s);
    hit.enrichment = &s.fields;
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
