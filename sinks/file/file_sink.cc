// The file sink (its page-cache writer is line_writer.hh, its O_DIRECT one direct_writer.hh). Runs
// on the sink thread; every system call here is a plain blocking one on a local file (write,
// writev, fdatasync, rename), at most one write per call of write() or flush() in the normal case.
// fdatasync runs here only for fsync "always" and at close; "interval" leaves it to file_syncer's
// thread. With sink.file.drop_cache, once per 16 MiB written:
// sync_file_range(SYNC_FILE_RANGE_WRITE), which starts writeback and does not wait for it, and
// posix_fadvise(POSIX_FADV_DONTNEED). With sink.file.direct (a regular file that takes O_DIRECT),
// the writes are direct_writer's.

#include "sinks/file/file_sink.hh"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "core/metrics.hh"
#include "sinks/file/direct_writer.hh"
#include "sinks/file/file_syncer.hh"
#include "sinks/line_writer.hh"
#include "sinks/write_all.hh"

namespace pixelring {

// ---- file sink ------------------------------------------------------------------------------

namespace {

// A failed rename is retried no sooner than this, so a directory we may not write to costs
// one rename(2) per interval rather than one per event.
constexpr uint64_t rotate_retry_ms = 10'000;

// Sized so that a drain pass of a busy collector is one write(2); allocated once.
constexpr std::size_t file_buffer_bytes = 256 * 1024;

// sink.file.drop_cache: the file's page cache is dropped behind the writer in windows of this
// size, aligned to file offsets. When the writer crosses a window's end, writeback of that
// window starts, and the windows before it (their writeback started a window earlier) are
// dropped. The file then keeps about three windows in the page cache, and the pages dropped
// are the ones the next appends reuse. Why: on a VM that backs guest memory lazily
// (virtio_balloon free page reporting), a write into a fresh page-cache page cost ~2.5 ns/byte
// against ~0.13 into a reused one; 2 GB in 256 KiB appends took 3.3-3.6 s of system time
// plain, 0.6 s with this window; under pipelined load the copy into fresh pages was 3-44% of
// the collector's CPU (it depends on how much memory the host has taken back), ~3% with it.
// On any machine it keeps a busy event file from pushing other data out of the page cache.
// Why 16 MiB: two system calls (~1-3 ms together, mostly submitting the writeback that the
// kernel's flusher would otherwise do) per ~25k events, and many drain passes per window.
constexpr uint64_t cache_window_bytes = 16 << 20;

// sink.file.direct: the buffer of whole blocks, and how long an event may wait in it before
// poll() settles it. Why 1 MiB: the writer's CPU per byte (`file_write_cost /tmp 2 2`, 2 GiB
// per case, two rounds): O_DIRECT 0.087-0.088 ns in 1 MiB writes, 0.17-0.21 ns in 256 KiB
// ones; through the page cache with drop_cache 0.23-0.24 (1 MiB) and 0.32-0.46 ns (256 KiB,
// the page-cache writer's size), without it 0.78-2.3 ns (fresh pages on this VM). Why 10 ms:
// a collector under heavy load fills 1 MiB in a few ms, so its writes stay whole blocks,
// while a quiet one still has every event in the file within about 10 ms.
constexpr std::size_t direct_buffer_bytes = 1 << 20;
constexpr uint64_t direct_hold_ms = 10;
// sink.file.direct: the sink thread's sleep when it finds nothing to drain (sink::idle_sleep_us).
// Waking every 1 ms only moved the events of that ms into the held buffer; at keep-alive load
// each wake-up also takes CPU 0 from the worker. Events still reach the file within about
// direct_hold_ms + this.
constexpr uint32_t direct_idle_sleep_us = 5000;

enum class fsync_policy { never, interval, always };

std::optional<fsync_policy> parse_fsync_policy(const std::string& text) {
    if (text == "never") return fsync_policy::never;
    if (text == "interval") return fsync_policy::interval;
    if (text == "always") return fsync_policy::always;
    return std::nullopt;
}

std::string utc_stamp(uint64_t ms) {
    const time_t seconds = time_t(ms / 1000);
    tm utc{};
    gmtime_r(&seconds, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &utc);
    return text;
}

// Renames from to "<from>.<stamp>", or "<from>.<stamp>.<n>" with the first n that is free,
// never replacing an existing file. Returns 0 or errno; target is the name taken.
int rename_aside(const std::string& from, const std::string& stamp, std::string& target) {
    const std::string base = from + "." + stamp;
    bool no_replace = true; // renameat2(RENAME_NOREPLACE): Linux 3.15, not on every file system
    for (unsigned n = 0; n < 100'000; ++n) {
        target = n == 0 ? base : base + "." + std::to_string(n);
        if (no_replace) {
            if (renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) == 0)
                return 0;
            if (errno == EEXIST) continue;
            if (errno != EINVAL && errno != ENOSYS) return errno;
            no_replace = false;
        }
        struct stat st;
        if (lstat(target.c_str(), &st) == 0) continue;
        if (errno != ENOENT) return errno;
        return ::rename(from.c_str(), target.c_str()) == 0 ? 0 : errno;
    }
    return EEXIST;
}

// How close_output makes the file durable before it closes it: not at all, here (the caller
// waits), or soon on the syncer thread (nobody waits; only with fsync "interval").
enum class sync_before_close { no, here, by_syncer };

class file_sink final : public sink {
public:
    file_sink(const file_sink_config& cfg, fsync_policy policy, fdatasync_function fdatasync)
        : cfg_(cfg), policy_(policy), fdatasync_(std::move(fdatasync)),
          writer_(file_buffer_bytes, counters_, "file sink " + cfg.path) {
        if (cfg_.direct) direct_.emplace(direct_buffer_bytes, counters_, "file sink " + cfg.path);
        if (policy_ == fsync_policy::interval)
            syncer_.emplace(cfg_.path, cfg_.fsync_interval_ms, fdatasync_, counters_, healthy_);
    }
    ~file_sink() override { close(); }

    void write(std::string_view event) override {
        if (size_rotation_due(event.size() + 1)) rotate(realtime_ms());
        if (!(direct_on_ ? direct_->write(event) : writer_.write(event))) healthy_ = false;
        if (direct_on_) counters_.queued.store(direct_->held_events(), std::memory_order_relaxed);
    }

    // Direct: the lines wait for whole blocks (or poll), unless every flush is to be synced.
    void flush() override {
        const bool wrote = !direct_on_ || policy_ == fsync_policy::always ? hand_over() : true;
        if (!wrote) healthy_ = false;
        if (policy_ == fsync_policy::always) sync_output();
        after_writes(wrote);
    }

    // Direct: settles the lines that have waited direct_hold_ms.
    bool poll() override {
        if (direct_on_ && direct_->held_bytes() > 0 &&
            monotonic_ms() - direct_->held_since_ms() >= direct_hold_ms) {
            const bool wrote = hand_over();
            if (!wrote) healthy_ = false;
            after_writes(wrote);
        }
        return false;
    }

    uint32_t idle_sleep_us() const override { return direct_on_ ? direct_idle_sleep_us : 1000; }

    void tick(uint64_t now_ms) override {
        if (!healthy_) reopen();
        // Both clocks start at the first tick that sees the file, and restart when the wall
        // clock steps back.
        if (!age_start_ms_ || now_ms < *age_start_ms_) age_start_ms_ = now_ms;
        if (cfg_.rotate_seconds != 0 &&
            now_ms - *age_start_ms_ >= uint64_t(cfg_.rotate_seconds) * 1000) {
            if (rotatable() && file_size() + held_bytes() > 0) rotate(now_ms);
            age_start_ms_ = now_ms;
        }
        // fsync "interval" is the syncer's job, on its own clock: tick never waits for a disk.
    }

    void reopen() override {
        if (!hand_over()) healthy_ = false;
        close_output(sync_when_leaving());
        if (const int error = open_output()) {
            healthy_ = false;
            writer_.report(
                fmt::format("file sink: cannot open {}: {}", cfg_.path, std::strerror(error)));
            return;
        }
        healthy_ = true;
    }

    // The last fdatasync runs here, on the sink thread, and the syncer is joined before this
    // returns: everything written is on disk (or the failure reported) by then.
    void close() override {
        if (closed_) return;
        closed_ = true;
        if (!hand_over()) healthy_ = false;
        close_output(sync_before_close::here);
        if (syncer_) syncer_->stop();
    }

    bool healthy() const override { return healthy_; }
    const sink_counters& counters() const override { return counters_; }

    // Opens cfg_.path for appending and makes it the output. Returns 0 or errno.
    int open_output() {
        const int fd = ::open(cfg_.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) return errno;
        struct stat st;
        if (fstat(fd, &st) != 0) {
            const int error = errno;
            ::close(fd);
            return error;
        }
        // Rotation renames the path, which only makes sense for a regular file: never
        // rename /dev/full or a FIFO. fdatasync fails with EINVAL on those, too.
        const bool regular = S_ISREG(st.st_mode);
        // The syncer gets a descriptor of its own, which it closes when it is done with it:
        // this thread may close fd whenever it likes, even in the middle of a sync.
        int syncer_fd = -1;
        if (syncer_ && regular) {
            syncer_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
            if (syncer_fd < 0) {
                const int error = errno;
                ::close(fd);
                return error;
            }
        }
        // The first open after a start: a line cut short by a crash (kill -9 in the middle of
        // a write) is cut off, so that the file holds whole lines only.
        if (regular && !opened_once_ && st.st_size > 0) {
            if (const int error = cut_torn_tail(fd, st)) {
                if (syncer_fd >= 0) ::close(syncer_fd);
                ::close(fd);
                return error;
            }
        }
        const bool same_file = opened_once_ && st.st_dev == dev_ && st.st_ino == ino_;
        if (!same_file) age_start_ms_.reset(); // the age is the file's, not the descriptor's
        opened_once_ = true;
        dev_ = st.st_dev;
        ino_ = st.st_ino;
        regular_ = regular;
        size_at_open_ = regular_ ? uint64_t(st.st_size) : 0;
        fd_ = fd;
        synced_bytes_ = 0;
        noted_bytes_ = 0;
        if (direct_ && regular_) start_direct();
        start_cache_windows();
        writer_.set_fd(fd, same_file && writer_.torn_line());
        if (syncer_fd >= 0) syncer_->install(syncer_fd);
        return 0;
    }

    // Bytes after the file's last newline, cut at the first open (a torn last line).
    void write_metrics(std::string& out) const override {
        prometheus_header(out, "pixelring_sink_torn_bytes_cut_total", "counter",
                          "Bytes of a line cut short by a crash, removed from the end of the "
                          "event file when pixelring started again.");
        out += fmt::format("pixelring_sink_torn_bytes_cut_total {}\n",
                           torn_bytes_cut_.load(std::memory_order_relaxed));
    }

private:
    // st: fd's. Truncates the file after its last '\n' when it does not end with one (the
    // whole file when it has none), logs what was cut and updates st.st_size. 0 or errno.
    int cut_torn_tail(int fd, struct stat& st) {
        // fd is write-only: the same file opened again for reading.
        const int rfd = ::open(fmt::format("/proc/self/fd/{}", fd).c_str(), O_RDONLY | O_CLOEXEC);
        if (rfd < 0) return errno;
        const int error = cut_torn_tail(fd, rfd, st);
        ::close(rfd);
        return error;
    }
    int cut_torn_tail(int fd, int rfd, struct stat& st) {
        const auto size = uint64_t(st.st_size);
        char chunk[64 * 1024];
        uint64_t end = size; // bytes before end were not looked at yet
        uint64_t keep = 0;   // bytes up to and including the last '\n'
        bool found = false;
        while (end > 0 && !found) {
            const uint64_t from = end > sizeof chunk ? end - sizeof chunk : 0;
            const auto want = std::size_t(end - from);
            ssize_t n;
            do {
                n = ::pread(rfd, chunk, want, off_t(from));
            } while (n < 0 && errno == EINTR);
            if (n < 0) return errno;
            if (std::size_t(n) != want) return EIO; // the file changed size while we looked
            if (end == size && chunk[want - 1] == '\n') return 0; // ends with a whole line
            for (std::size_t i = want; i > 0; --i) {
                if (chunk[i - 1] == '\n') {
                    keep = from + i;
                    found = true;
                    break;
                }
            }
            end = from;
        }
        if (::ftruncate(fd, off_t(keep)) != 0) return errno;
        const uint64_t cut = size - keep;
        torn_bytes_cut_.fetch_add(cut, std::memory_order_relaxed);
        std::fputs(fmt::format("pixelring: file sink: {} ended with a line cut short ({} bytes "
                               "after the last newline, left by a crash); cut back to the last "
                               "whole line\n",
                               cfg_.path, cut)
                       .c_str(),
                   stderr);
        st.st_size = off_t(keep);
        return 0;
    }

    // Bytes this sink put in the current file since it opened it.
    uint64_t fd_bytes() const { return direct_on_ ? direct_->fd_bytes() : writer_.fd_bytes(); }
    uint64_t file_size() const { return size_at_open_ + fd_bytes(); }
    std::size_t held_bytes() const {
        return direct_on_ ? direct_->held_bytes() : writer_.buffered_bytes();
    }
    bool dirty() const { return fd_ >= 0 && regular_ && fd_bytes() != synced_bytes_; }

    // Everything buffered or held goes to the file now.
    bool hand_over() {
        if (!direct_on_) return writer_.flush();
        const bool ok = direct_->settle();
        counters_.queued.store(direct_->held_events(), std::memory_order_relaxed);
        return ok;
    }

    void after_writes(bool wrote) {
        note_written();
        if (wrote) drop_cache_behind();
    }

    // A regular file under sink.file.direct: a second descriptor, O_DIRECT, for the whole
    // blocks; fd_ stays the one that appends the partial last block. A file system that will
    // not open the file O_DIRECT (or a path that no longer names the file fd_ has open) is
    // written through the page cache as without the key, with a note.
    void start_direct() {
        const int dfd = ::open(cfg_.path.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
        int error = dfd < 0 ? errno : 0;
        struct stat st;
        if (error == 0 && fstat(dfd, &st) != 0) error = errno;
        if (error == 0 && (st.st_dev != dev_ || st.st_ino != ino_)) error = ESTALE;
        if (error == 0) error = direct_->attach(dfd, fd_);
        if (error != 0) {
            if (dfd >= 0) ::close(dfd);
            direct_log_.report(fmt::format("file sink: {}: no O_DIRECT descriptor: {}; writing "
                                           "through the page cache (sink.file.direct)",
                                           cfg_.path, std::strerror(error)));
            return;
        }
        dfd_ = dfd;
        direct_on_ = true;
        // The size direct_ found: the file may have grown since open_output's fstat.
        size_at_open_ = direct_->file_end();
    }

    // Anything still held has been settled (or counted failed) by the callers.
    void stop_direct() {
        if (!direct_on_) return;
        direct_->detach();
        counters_.queued.store(0, std::memory_order_relaxed);
        ::close(dfd_);
        dfd_ = -1;
        direct_on_ = false;
    }
    bool rotatable() const { return fd_ >= 0 && regular_; }
    bool synced_by_syncer() const { return syncer_ && fd_ >= 0 && regular_; }

    // Rotation and reopen sync the file they leave unless the policy is never; under
    // "interval" the syncer does it soon after, and the sink thread goes on meanwhile.
    sync_before_close sync_when_leaving() const {
        switch (policy_) {
        case fsync_policy::never:
            return sync_before_close::no;
        case fsync_policy::interval:
            return sync_before_close::by_syncer;
        case fsync_policy::always:
            break;
        }
        return sync_before_close::here;
    }

    // Tells the syncer when bytes reached the file since the last time: one atomic store per
    // flush that wrote, none per event.
    void note_written() {
        if (!synced_by_syncer() || fd_bytes() == noted_bytes_) return;
        noted_bytes_ = fd_bytes();
        syncer_->note_written();
    }

    // The line would take the file past rotate_bytes. An empty file is never rotated, so an
    // event larger than rotate_bytes gets a file of its own.
    bool size_rotation_due(uint64_t line) {
        if (cfg_.rotate_bytes == 0 || !rotatable()) return false;
        const uint64_t size = file_size() + held_bytes();
        if (size == 0 || size + line <= cfg_.rotate_bytes) return false;
        return rotate_retry_after_ms_ == 0 || monotonic_ms() >= rotate_retry_after_ms_;
    }

    // Flushes, renames the file aside and starts a fresh one. A failed flush does not stop the
    // rotation: its events are counted failed and the buffer is empty either way.
    void rotate(uint64_t now_ms) {
        if (!hand_over()) healthy_ = false;
        std::string target;
        if (const int error = rename_aside(cfg_.path, utc_stamp(now_ms), target)) {
            writer_.report(fmt::format("file sink: cannot rename {} to {}: {}; not rotating",
                                       cfg_.path, target, std::strerror(error)));
            rotate_retry_after_ms_ = monotonic_ms() + rotate_retry_ms;
            return;
        }
        rotate_retry_after_ms_ = 0;
        counters_.rotations.fetch_add(1, std::memory_order_relaxed);
        close_output(sync_when_leaving());
        if (const int error = open_output()) {
            healthy_ = false;
            writer_.report(fmt::format("file sink: cannot open {} after rotation: {}", cfg_.path,
                                       std::strerror(error)));
        }
    }

    // A new file (open, rotation, reopen): its windows start at the one that holds its first
    // byte. A FIFO or a device has no page cache of its own to drop: never tried on them.
    void start_cache_windows() {
        drop_cache_ = cfg_.drop_cache && regular_;
        cache_base_ = size_at_open_ - size_at_open_ % cache_window_bytes;
        written_back_to_ = size_at_open_;
        dropped_to_ = cache_base_;
        next_window_end_ = cache_base_ + cache_window_bytes;
    }

    // After a successful write pass: when the file's end crossed a window's end, starts the
    // writeback of everything up to the last window end crossed and drops the windows before
    // the last one completed, and the one before those again (its writeback may not have been
    // over the first time). Never waits for the disk (no SYNC_FILE_RANGE_WAIT_*); pages that
    // are still dirty or under writeback are simply not dropped. A failure is noted once and
    // ends the dropping for this file; it never fails a write.
    void drop_cache_behind() {
        if (!drop_cache_) return;
        const uint64_t end = file_size();
        if (end < next_window_end_) return;
        const uint64_t crossed = end - end % cache_window_bytes;
        next_window_end_ = crossed + cache_window_bytes;
        if (::sync_file_range(fd_, off64_t(written_back_to_), off64_t(crossed - written_back_to_),
                              SYNC_FILE_RANGE_WRITE) != 0) {
            stop_dropping_cache("sync_file_range", errno);
            return;
        }
        written_back_to_ = crossed;
        const uint64_t drop_to = crossed - cache_window_bytes;
        const uint64_t drop_from =
            std::max(cache_base_, dropped_to_ - std::min(dropped_to_, cache_window_bytes));
        if (drop_to <= drop_from) return;
        if (const int error = ::posix_fadvise(fd_, off_t(drop_from), off_t(drop_to - drop_from),
                                              POSIX_FADV_DONTNEED)) {
            stop_dropping_cache("posix_fadvise", error);
            return;
        }
        dropped_to_ = drop_to;
    }

    // The file is being left (rotation, reopen, close), after its sync if there was one:
    // drops all of its pages that are clean by now. Dirty ones stay until the kernel (or the
    // syncer) writes them back.
    void drop_cache_of_file() {
        if (!drop_cache_) return;
        const uint64_t end = file_size();
        if (end <= cache_base_) return;
        if (const int error = ::posix_fadvise(fd_, off_t(cache_base_), off_t(end - cache_base_),
                                              POSIX_FADV_DONTNEED))
            stop_dropping_cache("posix_fadvise", error);
    }

    // EINVAL (a file system without support, such as some FUSE ones) and the like: the
    // events are written all the same, only the cache stays. Its own log, so that this note
    // never hides a write error's line.
    void stop_dropping_cache(const char* call, int error) {
        drop_cache_ = false;
        cache_log_.report(fmt::format("file sink: {} {}: {}; its page cache is not dropped "
                                      "(sink.file.drop_cache)",
                                      call, cfg_.path, std::strerror(error)));
    }

    // fsync "never" and "always": syncs what was written since the last sync, on this thread.
    void sync_output() {
        if (!dirty()) return;
        if (sync_file()) synced_bytes_ = fd_bytes();
    }

    bool sync_file() {
        if (fdatasync_(fd_) != 0) {
            healthy_ = false;
            writer_.report(
                fmt::format("file sink: fdatasync {}: {}", cfg_.path, std::strerror(errno)));
            return false;
        }
        counters_.fsyncs.fetch_add(1, std::memory_order_relaxed);
        return true;
    }

    void close_output(sync_before_close sync) {
        if (fd_ < 0) return;
        if (synced_by_syncer()) {
            note_written();
            // Synced here only if the syncer has not started a sync since the last write; one
            // it has started is over when its thread is joined (close).
            const bool unsynced = syncer_->retire(sync == sync_before_close::by_syncer);
            if (sync == sync_before_close::here && unsynced) sync_file();
        } else if (sync != sync_before_close::no) {
            sync_output();
        }
        drop_cache_of_file();
        stop_direct();
        // Linux releases the descriptor even when close fails; never retry it.
        if (::close(fd_) != 0)
            writer_.report(fmt::format("file sink: close {}: {}", cfg_.path, std::strerror(errno)));
        fd_ = -1;
        writer_.set_fd(-1, writer_.torn_line());
    }

    file_sink_config cfg_;
    fsync_policy policy_;
    fdatasync_function fdatasync_;
    sink_counters counters_; // updated by the syncer thread too
    line_writer writer_;
    int fd_ = -1;
    std::atomic<uint64_t> torn_bytes_cut_{0}; // cut_torn_tail; read by the admin thread
    bool opened_once_ = false;
    dev_t dev_ = 0; // identity of the last file opened: is a reopened path the same file?
    ino_t ino_ = 0;
    bool regular_ = false;
    uint64_t size_at_open_ = 0;
    uint64_t synced_bytes_ = 0;       // fd_bytes() at the last fdatasync on this thread
    uint64_t noted_bytes_ = 0;        // fd_bytes() at the last syncer_->note_written()
    std::atomic<bool> healthy_{true}; // read by the admin thread, cleared by the syncer thread
    bool closed_ = false;
    std::optional<uint64_t> age_start_ms_; // tick() time the current file was first seen
    uint64_t rotate_retry_after_ms_ = 0;   // CLOCK_MONOTONIC; 0: no failed rename pending
    // sink.file.drop_cache, for the current file; absolute file offsets (the file may have
    // existed before it was opened).
    bool drop_cache_ = false;      // configured, a regular file, and no call has failed
    uint64_t cache_base_ = 0;      // start of the window of the first byte at open
    uint64_t written_back_to_ = 0; // writeback started for everything below
    uint64_t dropped_to_ = 0;      // POSIX_FADV_DONTNEED given for everything below
    uint64_t next_window_end_ = 0; // drop_cache_behind acts once the file's end reaches this
    rate_limited_log cache_log_;
    // sink.file.direct: the writer (made once when the key is on), whether the current file
    // uses it, and its O_DIRECT descriptor.
    std::optional<direct_writer> direct_;
    bool direct_on_ = false;
    int dfd_ = -1;
    rate_limited_log direct_log_;
    // fsync "interval" only. Last, so that it stops before the members it uses are destroyed.
    std::optional<file_syncer> syncer_;
};

} // namespace

std::unique_ptr<sink> make_file_sink(const file_sink_config& cfg, std::string& error) {
    return make_file_sink(cfg, error, ::fdatasync);
}

std::unique_ptr<sink> make_file_sink(const file_sink_config& cfg, std::string& error,
                                     fdatasync_function fdatasync) {
    const std::optional<fsync_policy> policy = parse_fsync_policy(cfg.fsync);
    if (!policy) {
        error =
            fmt::format("sink.file.fsync = \"{}\": expected never, interval or always", cfg.fsync);
        return nullptr;
    }
    std::unique_ptr<file_sink> out;
    try {
        out = std::make_unique<file_sink>(cfg, *policy, std::move(fdatasync));
    } catch (const std::system_error& e) { // only the syncer's thread can fail to start
        error = fmt::format("sink.file.fsync = \"interval\": cannot start a thread: {}", e.what());
        return nullptr;
    }
    if (const int code = out->open_output()) {
        error = fmt::format("sink.file.path: cannot open {}: {}", cfg.path, std::strerror(code));
        return nullptr;
    }
    return out;
}

} // namespace pixelring
