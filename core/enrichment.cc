#include "core/enrichment.hh"

namespace pixelring {

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
