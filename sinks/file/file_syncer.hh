#pragma once
// The file sink's background syncer (sink.file.fsync = "interval"): one thread that fdatasyncs
// the current output file every fsync_interval_ms when it was written since its last sync, so
// that a slow fdatasync under heavy appends never stops the sink thread from draining the rings.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sinks/file/file_sink.hh"
#include "sinks/rate_limited_log.hh"
#include "sinks/sink.hh"

namespace pixelring {

// Every member is called on the sink thread; none waits for a sync in progress. The syncer
// owns the descriptors it is given (dups of the sink's), and only its own thread closes them,
// so a rotation or reopen can never close or reuse a descriptor in the middle of a sync. The
// mutex is taken by that thread once per interval and by install and retire (open, rotation,
// reopen, close); never per event or per flush.
class file_syncer {
public:
    // Starts the thread, with every signal blocked. path: the output, for messages. Each
    // successful sync counts in counters.fsyncs; a failed one clears healthy (when the file is
    // still the current one) and is reported on stderr, at most one line per 10 s.
    file_syncer(std::string path, uint32_t interval_ms, fdatasync_function fdatasync,
                sink_counters& counters, std::atomic<bool>& healthy);
    file_syncer(const file_syncer&) = delete;
    file_syncer& operator=(const file_syncer&) = delete;
    ~file_syncer(); // stop()

    // fd, which the syncer now owns, is the current file from now on. Call after retire (or
    // before the first file); a file still current is retired as by retire(true).
    void install(int fd);
    // The current file is about to be closed by the sink. sync: the syncer fdatasyncs it once
    // more, soon, if it was written since its last sync; otherwise that is the caller's job.
    // Returns whether it was written since the start of the syncer's last sync of it (a sync
    // still running then has finished when stop() returns). Its descriptor is closed on the
    // syncer thread. No current file: returns false.
    bool retire(bool sync);
    // Bytes reached the current file (call after the write). One atomic store.
    void note_written() { written_.store(true, std::memory_order_release); }
    // Syncs what was written and not synced yet, closes every descriptor, joins the thread.
    // Idempotent.
    void stop();

private:
    struct retired_file {
        int fd;
        bool sync;
    };

    void run();
    void sync(int fd);
    void close_fd(int fd);
    void report(const std::string& message); // syncer thread only

    const std::string path_;
    const std::chrono::milliseconds interval_;
    const fdatasync_function fdatasync_;
    sink_counters& counters_;
    std::atomic<bool>& healthy_;
    // Set by the sink thread after a write, taken by the syncer (under mutex_, with current_fd_)
    // right before it syncs; own cache line, so the sink's stores do not bounce the mutex's.
    alignas(64) std::atomic<bool> written_{false};

    alignas(64) std::mutex mutex_;
    std::condition_variable wake_;
    int current_fd_ = -1;               // guarded by mutex_
    std::vector<retired_file> retired_; // guarded by mutex_
    bool stopping_ = false;             // guarded by mutex_
    std::thread thread_;

    rate_limited_log log_;
};

} // namespace pixelring
