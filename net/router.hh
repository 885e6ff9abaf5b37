#pragma once
// Which answer and which event a parsed request gets (DESIGN.md §2). A pure function of the
// request: no I/O, no state, so every route is unit-tested without a socket.

#include <cstdint>
#include <string_view>

#include "core/http_parser.hh"
#include "core/metrics.hh"
#include "net/responses.hh"

namespace pixelring {

struct routed {
    response_kind answer = response_kind::not_found;
    route metrics_route = route::not_found;
    bool pixel_event = false; // record a type=pixel event
    bool head = false;        // answer without a body
    std::string_view action;  // for pixel events: the raw action segment
};

// GET/HEAD /track/<action>.gif|.png → pixel; other methods there → 405; else → 404.
// The action is one non-empty path segment (no '/').
routed route_request(const http_request& r) noexcept;

} // namespace pixelring
