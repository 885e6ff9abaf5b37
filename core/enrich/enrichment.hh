#pragma once
// What the request path needs to enrich events (client address behind trusted proxies,
// GeoIP, agent labels, the visitor hash, DNT; docs/enrichment.md), built once at start-up from the
// configuration and then shared read-only by every worker.

#include <string>

#include "core/config/config.hh"
#include "core/enrich/client_address.hh"
#include "core/enrich/geoip.hh"
#include "core/enrich/user_agent.hh"
#include "core/enrich/visitor.hh"
#include "core/event/enrichment_fields.hh" // pixel_enrichment
#include "core/http/request_parser.hh"

namespace pixelring {

struct enrichment_setup {
    bool enabled = true;   // tracking.enrich
    bool honor_dnt = true; // privacy.honor_dnt
    cidr_set trusted_proxies;
    geoip_databases geoip;
    visitor_key visitor;
};

// What enrich_request and enrich_visitor compute for one request; lives on the caller's
// stack for as long as the hits that point into it.
struct enrichment_scratch {
    pixel_enrichment fields;
    geo_fields geo;
    agent_info agent;
    char visitor[visitor_id_size];
};

// Hot path, allocation-free, once per request (a beacon body's items share it): the client
// address behind a trusted proxy (always, when server.trusted_proxies is set: client is the
// peer's address on entry and the resolved one on return); then, with tracking.enrich,
// DNT/Sec-GPC (when privacy.honor_dnt), GeoIP (before the encoder truncates the address) and
// the agent labels. s.fields is reset first and then holds dnt, geo (nullptr without a
// database), agent, utm = true and no visitor (enrich_visitor's). With tracking.enrich off,
// s.fields is the default pixel_enrichment but for dnt, still read when privacy.honor_dnt is
// on; the caller passes enrichment = nullptr to the encoder then, as the event has no
// enrichment members, and dnt as the hit's tracking_refused, so that ip and ua are left out.
void enrich_request(const enrichment_setup& setup, const http_request& r, ip_address& client,
                    enrichment_scratch& s) noexcept;

// Hot path, allocation-free, once per event after enrich_request filled s: the visitor id
// for this site (campaign when not empty, as sent; else the lower-cased host of page_url by
// url_host), the resolved client and r's User-Agent. Sets s.fields.visitor, or clears it
// when tracking.enrich is off, when the request refused tracking (s.fields.dnt), or when no
// id can be made (unknown address family). visitors: the calling worker's.
void enrich_visitor(const enrichment_setup& setup, const http_request& r, uint64_t unix_ms,
                    visitor_hasher& visitors, const ip_address& client, std::string_view campaign,
                    std::string_view page_url, enrichment_scratch& s) noexcept;

// Builds out from cfg; "" or the first configuration error (as check_feature_config words it).
std::string make_enrichment_setup(const config& cfg, enrichment_setup& out);

} // namespace pixelring
