#pragma once
// Checks of the configuration that need more than one key's syntax: they build, once, the
// objects the request path will use (trusted-proxy ranges, the redirect policy, the visitor
// key, the allowed actions, the GeoIP databases) and report the first problem the way
// load_config does, naming the key, the value and what is accepted. Start-up only.

#include <string>
#include <vector>

#include "core/config/config.hh"

namespace pixelring {

// "" when every feature's configuration can be used; else one message. Opens (and closes)
// the GeoIP databases, so a missing or foreign file is reported here.
std::string check_feature_config(const config& cfg);

// tracking.cors_origins: each entry an origin ("https://www.example.com"); "" or a message.
std::string check_cors_origins(const std::vector<std::string>& origins);

} // namespace pixelring
