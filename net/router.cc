#include "net/router.hh"

namespace pixelring {

namespace {

constexpr std::string_view track_prefix = "/track/";

bool ends_with(std::string_view s, std::string_view suffix) noexcept {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

} // namespace

routed route_request(const http_request& r) noexcept {
    routed out;
    out.head = r.method == http_method::head;
    std::string_view path = r.path;
    bool gif = ends_with(path, ".gif");
    bool png = !gif && ends_with(path, ".png");
    // "/track/" + at least one byte of action + ".gif"
    if ((gif || png) && path.size() > track_prefix.size() + 4 &&
        path.substr(0, track_prefix.size()) == track_prefix) {
        std::string_view action =
            path.substr(track_prefix.size(), path.size() - track_prefix.size() - 4);
        if (action.find('/') == std::string_view::npos) {
            if (r.method != http_method::get && !out.head) {
                out.answer = response_kind::method_not_allowed;
                out.head = false;
                return out;
            }
            out.answer = gif ? response_kind::pixel_gif : response_kind::pixel_png;
            out.metrics_route = route::pixel;
            out.pixel_event = true;
            out.action = action;
            return out;
        }
    }
    out.answer = response_kind::not_found;
    return out;
}

} // namespace pixelring
