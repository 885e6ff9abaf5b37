#pragma once
// What the request path needs to enrich events (issue 4: client address behind trusted
// proxies, GeoIP, agent labels, the visitor hash, DNT), built once at start-up from the
// configuration and then shared read-only by every worker.

#include <string>

#include "core/client_address.hh"
#include "core/config.hh"
#include "core/geoip.hh"
#include "core/visitor.hh"

namespace pixelring {

struct enrichment_setup {
    bool enabled = true;   // tracking.enrich
    bool honor_dnt = true; // privacy.honor_dnt
    cidr_set trusted_proxies;
    geoip_databases geoip;
    visitor_key visitor;
};

// Builds out from cfg; "" or the first configuration error (as check_feature_config words it).
std::string make_enrichment_setup(const config& cfg, enrichment_setup& out);

} // namespace pixelring
