// Events as NDJSON on fd 1 through line_writer (line_writer.hh): the same line format and the
// same accounting, a smaller buffer, no rotation and no fsync. Writes fd 1 directly, not
// through stdio, so nothing here interleaves with a stdio buffer mid-line.

#include "sinks/stdout_sink.hh"

#include <unistd.h>

#include "sinks/line_writer.hh"

namespace pixelring {

namespace {

// Debugging output: a drain pass of a few hundred events fits, and a slow terminal is not
// handed a quarter of a megabyte at once.
constexpr std::size_t stdout_buffer_bytes = 64 * 1024;

class stdout_sink final : public sink {
public:
    stdout_sink() { writer_.set_fd(STDOUT_FILENO); }
    ~stdout_sink() override { close(); }

    void write(std::string_view event) override { note(writer_.write(event)); }
    void flush() override { note(writer_.flush()); }
    void tick(uint64_t) override {}
    // Nothing to reopen: fd 1 is whatever the process was started with.
    void reopen() override { flush(); }
    // Flushes only. fd 1 stays open: closing it would hand the number to the next open(),
    // and anything printed afterwards would land in that file.
    void close() override { flush(); }
    bool healthy() const override { return healthy_; }
    const sink_counters& counters() const override { return counters_; }

private:
    // Unhealthy after a failed write, healthy again once bytes reach fd 1 again: there is no
    // reopen that could tell sooner.
    void note(bool ok) {
        if (!ok) {
            healthy_ = false;
            bytes_seen_ = writer_.fd_bytes();
        } else if (writer_.fd_bytes() != bytes_seen_) {
            healthy_ = true;
            bytes_seen_ = writer_.fd_bytes();
        }
    }

    sink_counters counters_;
    line_writer writer_{stdout_buffer_bytes, counters_, "stdout sink", /*guard_sigpipe=*/true};
    std::atomic<bool> healthy_{true}; // read by the admin thread
    uint64_t bytes_seen_ = 0;
};

} // namespace

std::unique_ptr<sink> make_stdout_sink() {
    return std::make_unique<stdout_sink>();
}

} // namespace pixelring
