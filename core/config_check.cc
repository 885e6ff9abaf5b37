#include "core/config_check.hh"

#include "core/beacon.hh"
#include "core/client_address.hh"
#include "core/geoip.hh"
#include "core/redirect.hh"
#include "core/tracking_image.hh"
#include "core/visitor.hh"

namespace pixelring {

std::string check_feature_config(const config& cfg) {
    cidr_set proxies;
    if (std::string e = cidr_set::parse(cfg.server.trusted_proxies, proxies); !e.empty()) return e;
    redirect_policy redirects;
    if (std::string e =
            make_redirect_policy(cfg.redirect.secret, cfg.redirect.allow_hosts, redirects);
        !e.empty())
        return e;
    visitor_key key;
    if (std::string e = visitor_key::from_config(cfg.privacy.visitor_secret, key); !e.empty())
        return e;
    action_allowlist actions;
    if (std::string e = action_allowlist::build(cfg.tracking.allowed_events, actions); !e.empty())
        return e;
    tracking_image image;
    if (!cfg.tracking.image.empty()) {
        if (std::string e = load_tracking_image(cfg.tracking.image, image); !e.empty()) return e;
    }
    geoip_databases geoip;
    if (std::string e = geoip.open(cfg.geoip); !e.empty()) return e;
    return {};
}

} // namespace pixelring
