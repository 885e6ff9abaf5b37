#pragma once
// Newline-delimited JSON to a file: append, rotation by size and by age, reopen on SIGHUP,
// fsync policy (never | interval | always). Sink thread only; under "interval" the sink owns
// a syncer thread (file_syncer.hh) that does the periodic fdatasync, so the sink thread never
// waits for one. With cfg.drop_cache, the file's page cache is dropped behind the writer, a
// 16 MiB window at a time; that is about the cache only and changes no durability guarantee.
// With cfg.direct, a regular file is written in whole blocks with O_DIRECT, and events wait up
// to 10 ms for a block to fill (direct_writer.hh), 15 with the sink thread's sleeps.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/config/config.hh"
#include "sinks/sink.hh"

namespace pixelring {

// Opens (creating parent-less files with mode 0644, appending) the file named in cfg.path.
// On failure returns nullptr and sets error to one clear message naming the path and
// strerror. A rotated file is renamed to "<path>.<UTC yyyymmddThhmmssZ>[.<n>]".
std::unique_ptr<sink> make_file_sink(const file_sink_config& cfg, std::string& error);

// What the file sink calls to make its file's data durable: ::fdatasync, unless a test passes
// its own (to slow it down, to fail it, to see which thread calls it). Called on the sink
// thread (fsync "always"; close) and on the syncer thread (fsync "interval"), possibly both at
// once. Returns 0, or -1 with errno set.
using fdatasync_function = std::function<int(int fd)>;

// make_file_sink with fdatasync(2) replaced by fdatasync.
std::unique_ptr<sink> make_file_sink(const file_sink_config& cfg, std::string& error,
                                     fdatasync_function fdatasync);

} // namespace pixelring
