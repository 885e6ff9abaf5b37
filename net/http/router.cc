#include "net/http/router.hh"

namespace pixelring {

namespace {

constexpr std::string_view track_prefix = "/track/";
constexpr std::string_view rest_prefix = "/tr/v1/";
constexpr std::string_view redirect_prefix = "/r/";
constexpr std::string_view acme_prefix = "/.well-known/acme-challenge/";

bool ends_with(std::string_view s, std::string_view suffix) noexcept {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool starts_with(std::string_view s, std::string_view prefix) noexcept {
    return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

// GET and HEAD endpoints: sets head, or turns the answer into a 405.
bool get_or_head(const http_request& r, routed& out) noexcept {
    if (r.method == http_method::get || r.method == http_method::head) {
        out.head = r.method == http_method::head;
        return true;
    }
    out.what = endpoint::none;
    out.response = response_kind::method_not_allowed;
    out.allow = "GET, HEAD";
    out.head = false;
    return false;
}

} // namespace

routed route_request(const http_request& r) noexcept {
    routed out;
    const std::string_view path = r.path;

    if (starts_with(path, track_prefix)) {
        bool gif = ends_with(path, ".gif");
        bool png = !gif && ends_with(path, ".png");
        // "/track/" + at least one byte of action + ".gif"
        if ((gif || png) && path.size() > track_prefix.size() + 4) {
            std::string_view action =
                path.substr(track_prefix.size(), path.size() - track_prefix.size() - 4);
            if (action.find('/') == std::string_view::npos) {
                out.metrics_route = route::pixel;
                if (!get_or_head(r, out)) return out;
                out.what = endpoint::pixel;
                out.response = gif ? response_kind::pixel_gif : response_kind::pixel_png;
                out.action = action;
                return out;
            }
        }
    } else if (path == "/e") {
        out.metrics_route = route::beacon;
        if (r.method == http_method::post) {
            out.what = endpoint::beacon;
        } else if (r.method == http_method::options) {
            out.what = endpoint::preflight;
            out.metrics_route = route::preflight;
        } else {
            out.response = response_kind::method_not_allowed;
            out.allow = "POST, OPTIONS";
        }
        return out;
    } else if (starts_with(path, rest_prefix)) {
        out.metrics_route = route::rest;
        if (!get_or_head(r, out)) return out;
        out.what = endpoint::rest;
        out.response = response_kind::no_content;
        out.tuples = path.substr(rest_prefix.size());
        return out;
    } else if (starts_with(path, redirect_prefix)) {
        std::string_view action = path.substr(redirect_prefix.size());
        if (!action.empty() && action.find('/') == std::string_view::npos) {
            out.metrics_route = route::redirect;
            if (!get_or_head(r, out)) return out;
            out.what = endpoint::redirect;
            out.action = action;
            return out;
        }
    } else if (path == "/t.js") {
        out.metrics_route = route::script;
        if (!get_or_head(r, out)) return out;
        out.what = endpoint::script;
        return out;
    } else if (starts_with(path, acme_prefix)) {
        out.metrics_route = route::acme;
        if (!get_or_head(r, out)) return out;
        out.what = endpoint::acme;
        out.tuples = path.substr(acme_prefix.size());
        return out;
    }
    out.metrics_route = route::not_found;
    out.response = response_kind::not_found;
    out.head = r.method == http_method::head;
    return out;
}

} // namespace pixelring
