// line_writer (line_writer.hh): buffered NDJSON lines to one descriptor, written with
// write_all (writev until every byte is out), counted written or failed line by line.

#include "sinks/line_writer.hh"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <utility>

#include <pthread.h>
#include <sys/uio.h>

#include <fmt/format.h>

#include "sinks/write_all.hh"

namespace pixelring {

namespace {

// Blocks SIGPIPE on this thread for its lifetime; a SIGPIPE raised meanwhile by our own write
// is taken off the pending set before the old mask returns, so it is never delivered.
class sigpipe_guard {
public:
    explicit sigpipe_guard(bool active) : active_(active) {
        if (!active_) return;
        sigemptyset(&pipe_);
        sigaddset(&pipe_, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
    }
    ~sigpipe_guard() {
        if (!active_) return;
        if (raised_) {
            const timespec zero{};
            while (sigtimedwait(&pipe_, nullptr, &zero) < 0 && errno == EINTR) {
            }
        }
        pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    }
    sigpipe_guard(const sigpipe_guard&) = delete;
    sigpipe_guard& operator=(const sigpipe_guard&) = delete;
    void note_epipe() { raised_ = true; }

private:
    bool active_;
    bool raised_ = false;
    sigset_t pipe_{};
    sigset_t old_{};
};

// What the first `done` bytes of parts[0..count) contain: their newlines and their last byte.
struct written_prefix {
    uint64_t newlines = 0;
    char last = '\n';
};

written_prefix scan_prefix(const iovec* parts, int count, std::size_t done) {
    written_prefix prefix;
    for (int i = 0; i < count && done > 0; ++i) {
        const auto* bytes = static_cast<const char*>(parts[i].iov_base);
        const std::size_t n = std::min(done, parts[i].iov_len);
        for (std::size_t j = 0; j < n; ++j)
            prefix.newlines += bytes[j] == '\n';
        if (n > 0) prefix.last = bytes[n - 1];
        done -= n;
    }
    return prefix;
}

} // namespace

line_writer::line_writer(std::size_t capacity, sink_counters& counters, std::string name,
                         bool guard_sigpipe)
    : counters_(counters), name_(std::move(name)), guard_sigpipe_(guard_sigpipe),
      buffer_(new char[capacity]), capacity_(capacity) {}

line_writer::~line_writer() = default;

void line_writer::set_fd(int fd, bool continues_torn_line) {
    fd_ = fd;
    fd_bytes_ = 0;
    torn_line_ = continues_torn_line;
}

bool line_writer::write(std::string_view event) {
    const std::size_t line = event.size() + 1;
    if (line > capacity_) {
        // Order matters: the buffered events were written() before this one.
        const bool flushed = flush();
        iovec parts[2] = {{const_cast<char*>(event.data()), event.size()},
                          {const_cast<char*>("\n"), 1}};
        return write_lines(parts, 2, 1) && flushed;
    }
    bool ok = true;
    if (capacity_ - used_ < line) ok = flush();
    std::memcpy(buffer_.get() + used_, event.data(), event.size());
    buffer_[used_ + event.size()] = '\n';
    used_ += line;
    ++buffered_events_;
    return ok;
}

bool line_writer::flush() {
    if (used_ == 0) return true;
    iovec part{buffer_.get(), used_};
    const uint64_t events = buffered_events_;
    used_ = 0;
    buffered_events_ = 0;
    return write_lines(&part, 1, events);
}

// parts hold `events` whole lines. Writes them (after a '\n' that ends a torn line, if the
// file has one) and counts each event written or failed.
bool line_writer::write_lines(iovec* parts, int count, uint64_t events) {
    iovec all[3];
    int n = 0;
    if (torn_line_) all[n++] = {const_cast<char*>("\n"), 1};
    for (int i = 0; i < count; ++i)
        all[n++] = parts[i];
    const std::size_t lead = torn_line_ ? 1 : 0;

    if (fd_ < 0) {
        counters_.failed.fetch_add(events, std::memory_order_relaxed);
        report(fmt::format("{}: not open; {} events lost", name_, events));
        return false;
    }

    iovec pending[3];
    std::copy(all, all + n, pending);
    std::size_t done = 0;
    int error = 0;
    {
        sigpipe_guard guard(guard_sigpipe_);
        error = write_all(fd_, pending, n, done);
        if (error == EPIPE) guard.note_epipe();
    }
    fd_bytes_ += done;
    counters_.bytes.fetch_add(done, std::memory_order_relaxed);
    if (error == 0) {
        torn_line_ = false;
        counters_.written.fetch_add(events, std::memory_order_relaxed);
        return true;
    }

    // Events contain no newline (the contract of sink::write), so every '\n' that reached the
    // fd after the lead ends one event that is there in full.
    const written_prefix prefix = scan_prefix(all, n, done);
    const uint64_t complete = std::min(events, prefix.newlines - (done >= lead ? lead : 0));
    if (done > 0) torn_line_ = prefix.last != '\n';
    counters_.written.fetch_add(complete, std::memory_order_relaxed);
    counters_.failed.fetch_add(events - complete, std::memory_order_relaxed);
    report(fmt::format("{}: write: {}; {} events lost", name_, std::strerror(error),
                       events - complete));
    return false;
}

void line_writer::report(const std::string& message) {
    log_.report(message);
}

} // namespace pixelring
