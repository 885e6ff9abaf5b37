// The file sink's syncer thread. Its system calls are fdatasync and close on descriptors it owns;
// it may block in fdatasync for as long as the disk takes, which is the point of having it.

#include "sinks/file/file_syncer.hh"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <utility>

#include <pthread.h>
#include <unistd.h>

#include <fmt/format.h>

namespace pixelring {

namespace {

// strerror is not guaranteed thread-safe, and the sink thread reports errors too.
std::string error_text(int error) {
    char buffer[128];
    return strerror_r(error, buffer, sizeof buffer); // the GNU variant: returns the text
}

// Blocks every signal on this thread for its lifetime. A thread inherits its creator's mask:
// the collector takes SIGHUP, SIGINT and SIGTERM with sigwaitinfo on the main thread, and a
// thread that left them unblocked could receive one and die of its default action.
class all_signals_blocked {
public:
    all_signals_blocked() {
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old_);
    }
    ~all_signals_blocked() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
    all_signals_blocked(const all_signals_blocked&) = delete;
    all_signals_blocked& operator=(const all_signals_blocked&) = delete;

private:
    sigset_t old_{};
};

} // namespace

file_syncer::file_syncer(std::string path, uint32_t interval_ms, fdatasync_function fdatasync,
                         sink_counters& counters, std::atomic<bool>& healthy)
    : path_(std::move(path)), interval_(std::max<uint32_t>(interval_ms, 1)),
      fdatasync_(std::move(fdatasync)), counters_(counters), healthy_(healthy) {
    const all_signals_blocked blocked;
    thread_ = std::thread([this] {
        pthread_setname_np(pthread_self(), "pixelring-sync");
        run();
    });
}

file_syncer::~file_syncer() {
    stop();
}

void file_syncer::install(int fd) {
    {
        const std::lock_guard lock(mutex_);
        if (current_fd_ >= 0)
            retired_.push_back({current_fd_, written_.exchange(false, std::memory_order_acquire)});
        current_fd_ = fd;
        // Anything noted so far belongs to a file that is gone or never had a descriptor here.
        written_.store(false, std::memory_order_relaxed);
    }
    wake_.notify_one();
}

bool file_syncer::retire(bool sync) {
    bool written = false;
    {
        const std::lock_guard lock(mutex_);
        if (current_fd_ < 0) return false;
        // Taken together with the descriptor, so that a write noted for this file can never
        // be credited to the next one.
        written = written_.exchange(false, std::memory_order_acquire);
        retired_.push_back({current_fd_, sync && written});
        current_fd_ = -1;
    }
    wake_.notify_one();
    return written;
}

void file_syncer::stop() {
    {
        const std::lock_guard lock(mutex_);
        if (stopping_) return;
        stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
    // The thread synced the current file if it needed it; the descriptor is still open.
    if (current_fd_ >= 0) close_fd(current_fd_);
    current_fd_ = -1;
}

void file_syncer::run() {
    std::unique_lock lock(mutex_);
    auto due = std::chrono::steady_clock::now() + interval_;
    for (;;) {
        wake_.wait_until(lock, due, [this] { return stopping_ || !retired_.empty(); });
        std::vector<retired_file> retired;
        retired.swap(retired_);
        const bool stopping = stopping_;
        int fd = -1;
        const auto now = std::chrono::steady_clock::now();
        if (stopping || now >= due) {
            // Syncs start at least an interval apart; one that took longer than that is
            // followed right away by the next, if there is something to sync.
            due = now + interval_;
            if (current_fd_ >= 0 && written_.exchange(false, std::memory_order_acquire))
                fd = current_fd_;
        }
        // Retiring or replacing current_fd_ meanwhile only queues it in retired_, which this
        // thread closes on its next pass: fd stays open for the sync below.
        lock.unlock();
        for (const retired_file& file : retired) {
            if (file.sync) sync(file.fd);
            close_fd(file.fd);
        }
        if (fd >= 0) sync(fd);
        if (stopping) return;
        lock.lock();
    }
}

void file_syncer::sync(int fd) {
    if (fdatasync_(fd) == 0) {
        counters_.fsyncs.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    const int error = errno;
    {
        // Only a failure of the file the sink writes now marks it unhealthy. One the sink has
        // left meanwhile (rotated, or reopened because of this very error) is reported, but
        // must not undo the healthy that a successful reopen has set since.
        const std::lock_guard lock(mutex_);
        if (fd == current_fd_) healthy_.store(false);
    }
    report(fmt::format("file sink: fdatasync {}: {}", path_, error_text(error)));
}

void file_syncer::close_fd(int fd) {
    // Linux releases the descriptor even when close fails; never retry it.
    if (::close(fd) != 0) report(fmt::format("file sink: close {}: {}", path_, error_text(errno)));
}

// The same rate limit as line_writer::report, with a log of its own: the two run on different
// threads.
void file_syncer::report(const std::string& message) {
    log_.report(message);
}

} // namespace pixelring
