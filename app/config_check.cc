#include "app/config_check.hh"

#include <fmt/format.h>

#include "core/enrich/client_address.hh"
#include "core/enrich/geoip.hh"
#include "core/enrich/visitor.hh"
#include "core/policy/action_allowlist.hh"
#include "core/policy/redirect.hh"
#include "net/http/tracking_image.hh"

namespace pixelring {

namespace {

// An origin as browsers send it (RFC 6454): scheme "://" host [":" port], nothing after.
bool is_origin(std::string_view o) {
    if (o == "null") return true; // sandboxed frames and file: pages send this
    size_t sep = o.find("://");
    if (sep == std::string_view::npos || sep == 0) return false;
    for (char ch : o.substr(0, sep))
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '+' || ch == '-' ||
              ch == '.'))
            return false;
    std::string_view rest = o.substr(sep + 3);
    if (rest.empty() || rest.size() > 253 + 6) return false;
    for (char ch : rest)
        if (ch <= ' ' || ch >= 0x7f || ch == '/' || ch == '?' || ch == '#' || ch == '@' ||
            ch == '\\' || ch == '*')
            return false;
    return true;
}

} // namespace

std::string check_cors_origins(const std::vector<std::string>& origins) {
    for (const std::string& o : origins)
        if (!is_origin(o))
            return fmt::format("tracking.cors_origins: \"{}\" is not an origin; accepted: "
                               "origins as browsers send them in the Origin header, such as "
                               "\"https://www.example.com\" or \"http://localhost:3000\" (lower "
                               "case scheme, no path, no wildcard), or \"null\"",
                               o);
    return {};
}

std::string check_feature_config(const config& cfg) {
    cidr_set proxies;
    if (std::string e = cidr_set::parse(cfg.server.trusted_proxies, proxies); !e.empty()) return e;
    if (cfg.server.proxy_protocol && cfg.server.trusted_proxies.empty())
        return "server.proxy_protocol = true needs server.trusted_proxies: the addresses of the "
               "load balancers whose PROXY headers are believed (for example "
               "[\"10.0.0.0/8\"]); a PROXY header from any other peer is ignored";
    if (std::string e = check_cors_origins(cfg.tracking.cors_origins); !e.empty()) return e;
    if (cfg.admin.user.empty() != cfg.admin.password.empty())
        return cfg.admin.user.empty()
                   ? "admin.password is set but admin.user is empty: the dashboard's basic auth "
                     "needs both (or DASHBOARD_USER and DASHBOARD_PASSWORD)"
                   : "admin.user is set but admin.password is empty: the dashboard's basic auth "
                     "needs both (or DASHBOARD_USER and DASHBOARD_PASSWORD)";
    if (cfg.admin.user.find(':') != std::string::npos)
        return fmt::format("admin.user = \"{}\": a basic-auth user name cannot contain ':'",
                           cfg.admin.user);
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
