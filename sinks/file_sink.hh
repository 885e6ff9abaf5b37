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

#include "core/config.hh"
#include "sinks/rate_limited_log.hh"
#include "sinks/sink.hh"

struct iovec;

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

// Buffered NDJSON lines to one file descriptor with the exact accounting sink.hh promises:
// every event is counted once, in counters.written when its whole line (event + '\n') reached
// the fd, or in counters.failed when a write error discarded it. The part of the file sink
// that the stdout sink shares. Sink thread only; it never opens, owns or closes the fd.
class line_writer {
public:
    // capacity: the buffer, allocated once here. name: the output, for messages.
    // guard_sigpipe: block SIGPIPE around each write, so that a pipe whose reader went away
    // is an EPIPE error, not the death of the process (stdout piped into `head`).
    line_writer(std::size_t capacity, sink_counters& counters, std::string name,
                bool guard_sigpipe = false);
    line_writer(const line_writer&) = delete;
    line_writer& operator=(const line_writer&) = delete;
    ~line_writer();

    // Writes go to fd from now on; -1: none, and a flush fails every buffered event.
    // continues_torn_line: fd is the file a failed write left ending in part of a line; the
    // next write then starts with '\n', so the next event begins a line of its own.
    void set_fd(int fd, bool continues_torn_line = false);
    // Appends event + '\n'; event is one JSON object without newline. Writes the buffer first
    // when the line does not fit, and an event larger than the buffer straight from the
    // caller's memory (writev). Returns false when a write failed (see flush).
    bool write(std::string_view event);
    // Hands the buffer to the fd, resuming after partial writes and EINTR; no system call when
    // the buffer is empty. On an error: one line to stderr (rate-limited), the events that did
    // not fully reach the fd counted failed, the buffer discarded; returns false.
    bool flush();
    // One line "pixelring: <message>" to stderr, at most one per 10 s; the next line that is
    // printed says how many were suppressed in between.
    void report(const std::string& message);

    std::size_t buffered_bytes() const { return used_; }
    uint64_t fd_bytes() const { return fd_bytes_; } // written to the current fd
    bool torn_line() const { return torn_line_; }   // the fd's file ends in part of a line

private:
    bool write_lines(iovec* parts, int count, uint64_t events);

    sink_counters& counters_;
    std::string name_;
    bool guard_sigpipe_;
    std::unique_ptr<char[]> buffer_;
    std::size_t capacity_;
    std::size_t used_ = 0;
    uint64_t buffered_events_ = 0; // events in buffer_, so a failure counts them exactly
    int fd_ = -1;
    uint64_t fd_bytes_ = 0;
    bool torn_line_ = false;
    rate_limited_log log_;
};

} // namespace pixelring
