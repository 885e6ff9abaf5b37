#pragma once
// Buffered NDJSON lines to one file descriptor, with exact accounting: the writer the file
// sink uses without sink.file.direct (and for FIFOs and devices), and the stdout sink's.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "sinks/rate_limited_log.hh"
#include "sinks/sink.hh"

struct iovec;

namespace pixelring {

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
