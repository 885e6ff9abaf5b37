#pragma once
// Events as NDJSON on standard output, for debugging. Sink thread only.

#include <memory>

#include "sinks/sink.hh"

namespace pixelring {

std::unique_ptr<sink> make_stdout_sink();

} // namespace pixelring
