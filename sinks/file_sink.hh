#pragma once
// Newline-delimited JSON to a file: append, rotation by size and by age, reopen on SIGHUP,
// fsync policy (never | interval | always). Sink thread only.

#include <memory>
#include <string>

#include "core/config.hh"
#include "sinks/sink.hh"

namespace pixelring {

// Opens (creating parent-less files with mode 0644, appending) the file named in cfg.path.
// On failure returns nullptr and sets error to one clear message naming the path and
// strerror. A rotated file is renamed to "<path>.<UTC yyyymmddThhmmssZ>[.<n>]".
std::unique_ptr<sink> make_file_sink(const file_sink_config& cfg, std::string& error);

} // namespace pixelring
