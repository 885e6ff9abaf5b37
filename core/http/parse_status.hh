#pragma once
// The three outcomes of the resumable parsers (request_parser, chunked_decoder): the input
// held a whole unit, it needs more bytes (call again with them), or it is refused.

#include <cstdint>

namespace pixelring {

enum class parse_status : uint8_t { complete, need_more, error };

} // namespace pixelring
