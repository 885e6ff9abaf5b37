#pragma once
// writev(2) until every byte is out, for the sinks that write files (file_sink, spool).

#include <cstddef>
#include <sys/uio.h>

namespace pixelring {

// Writes all of parts[0..count) to fd (the array is consumed), resuming after partial writes
// and EINTR. Returns 0, or the errno of the failure; done counts the bytes that reached fd.
// Blocks as long as the writes do.
int write_all(int fd, iovec* parts, int count, std::size_t& done);

} // namespace pixelring
