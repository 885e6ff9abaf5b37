#pragma once
// What the request path needs to enrich events (issue 4: client address behind trusted
// proxies, GeoIP, agent labels, the visitor hash, DNT), built once at start-up from the
// configuration and then shared read-only by every worker.

#include <string>

#include "core/client_address.hh"
#include "core/config.hh"
#include "core/event.hh"
#include "core/geoip.hh"
#include "core/http_parser.hh"
#include "core/user_agent.hh"
#include "core/visitor.hh"

namespace pixelring {

struct enrichment_setup {
    bool enabled = true;   // tracking.enrich
    bool honor_dnt = true; // privacy.honor_dnt
    cidr_set trusted_proxies;
    geoip_databases geoip;
    visitor_key visitor;
};

// What enrich_pixel computes for one request; lives on the caller's stack for as long as the
// hit that points into it.
struct enrichment_scratch {
    pixel_enrichment fields;
    geo_fields geo;
    agent_info agent;
    char visitor[visitor_id_size];
};

// Hot path, allocation-free: the client address behind a trusted proxy (always, when
// server.trusted_proxies is set), then, with tracking.enrich, GeoIP (before the encoder
// truncates the address), the agent labels, DNT/Sec-GPC and the visitor id, written into
// scratch; hit.enrichment then points at scratch.fields. visitors: the calling worker's.
void enrich_pixel(const enrichment_setup& setup, const http_request& r, uint64_t unix_ms,
                  visitor_hasher& visitors, pixel_hit& hit, enrichment_scratch& scratch) noexcept;

// Builds out from cfg; "" or the first configuration error (as check_feature_config words it).
std::string make_enrichment_setup(const config& cfg, enrichment_setup& out);

} // namespace pixelring
