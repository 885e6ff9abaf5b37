#pragma once
// Which endpoint a parsed request is for (docs/endpoints.md). A pure function of the request: no
// I/O, no state, so every route is unit-tested without a socket. The worker then does what
// the endpoint needs (events, bodies, dynamic answers).

#include <cstdint>
#include <string_view>

#include "core/http/request_parser.hh"
#include "core/metrics.hh"
#include "net/http/responses.hh"

namespace pixelring {

enum class endpoint : uint8_t {
    none,      // answer is the whole story (404, 405)
    pixel,     // GET/HEAD /track/<action>.gif|.png: type=pixel event, the image
    beacon,    // POST /e: read the body, type=beacon events, 204 or receipts
    preflight, // OPTIONS /e: CORS preflight, 204
    rest,      // GET/HEAD /tr/v1/<k>/<v>...: type=rest event, 204
    redirect,  // GET/HEAD /r/<action>?url=...&sig=...: 302 and a type=redirect event, or 400
    script,    // GET/HEAD /t.js: the tracker script
    acme,      // GET/HEAD /.well-known/acme-challenge/<token>: the file from tls.acme_webroot
};

struct routed {
    endpoint what = endpoint::none;
    response_kind response = response_kind::not_found; // static answer (none, pixel)
    route metrics_route = route::not_found;
    bool head = false;       // answer without a body
    std::string_view action; // pixel, redirect: the raw action segment
    std::string_view tuples; // rest: the path after "/tr/v1/"; acme: the token
    std::string_view allow;  // answer is method_not_allowed: the methods the path takes
};

// /track/<action>.gif|.png, /r/<action>: the action is one non-empty path segment (no '/').
// /tr/v1/ takes what follows as tuples, unchecked (the worker checks them).
// A known path with another method → 405 with its Allow; anything else → 404.
routed route_request(const http_request& r) noexcept;

} // namespace pixelring
