#pragma once
// Which malloc the collector runs on, for --version. Built with PIXELRING_MALLOC=mimalloc (the
// default outside sanitizer builds), malloc is mimalloc's for the whole process, librdkafka's
// threads included; the answer checks that rather than trusting the build.

#include <string>

namespace pixelring {

// "mimalloc 2.0.9" when a block from malloc() lies in mimalloc's heap; otherwise
// "system (glibc 2.36)", with "mimalloc linked but not in use" added when the build asked for
// mimalloc and did not get it.
std::string malloc_in_use();

} // namespace pixelring
