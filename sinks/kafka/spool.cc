// The disk spool (sinks/kafka/spool.hh). Runs on the sink thread; every system call here is a plain
// blocking one on a local file or directory (write, read, fdatasync, fsync, ftruncate, openat,
// unlinkat). Nothing takes a lock: one thread calls every member, and the counters have one
// writer, which updates them with a relaxed load and store.

#include "sinks/kafka/spool.hh"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <fmt/format.h>

#include "core/base/clock.hh"
#include "sinks/kafka/spool_segment.hh"
#include "sinks/rate_limited_log.hh"
#include "sinks/write_all.hh"

namespace pixelring {

namespace {

// Appends are copied here and written with one write(2): one per drain pass of a busy
// collector. Allocated once; a larger record is written straight from the caller's memory.
constexpr size_t k_write_buffer_bytes = 1u << 20;
// writable() turns false when less than this is left of spool.max_bytes (1/16 of the budget
// when that is smaller), a little before appends start to be refused.
constexpr uint64_t k_budget_reserve = 64u << 10;
// "spool full" is the steady state of a long outage: one line a minute is plenty.
constexpr uint64_t k_full_log_interval_ms = 60'000;
// A name that exists already (another process in the same directory?) is skipped this often
// before creating a segment counts as failed.
constexpr int k_create_attempts = 100;

using namespace spool_format;

// One line to stderr, not rate-limited: for start-up, where each problem is named once.
void print_error(const std::string& message) {
    std::fputs(("pixelring: " + message + "\n").c_str(), stderr);
}

// ---- the spool ------------------------------------------------------------------------------

struct sealed_segment {
    uint64_t id = 0;
    uint64_t bytes = 0;
    uint64_t records = 0;     // appended by this process, so counted in counters.records
    bool earlier_run = false; // left by an earlier run: records are counted as they are read
    bool handed_out = false;  // open_next_segment returned a reader over it
};

class disk_spool final : public spool {
public:
    disk_spool(const spool_settings& settings, int dir_fd)
        : settings_(settings), dir_fd_(dir_fd), buffer_(new char[k_write_buffer_bytes]) {}
    ~disk_spool() override { close(); }
    disk_spool(const disk_spool&) = delete;
    disk_spool& operator=(const disk_spool&) = delete;

    // Finds the segments an earlier run left: sealed, oldest first, counted in bytes and
    // segments. Files with other names are none of our business; a segment-named file that
    // cannot be opened (or is no regular file) is reported and left alone.
    bool list_segments(std::string& error) {
        const int fd = ::openat(dir_fd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR* dir = fd >= 0 ? fdopendir(fd) : nullptr;
        if (dir == nullptr) {
            const int code = errno;
            error = fmt::format("spool.dir = \"{}\": cannot list: {}", settings_.dir,
                                std::strerror(code));
            if (fd >= 0) ::close(fd);
            return false;
        }
        std::optional<uint64_t> last_id;
        std::vector<sealed_segment> found;
        for (;;) {
            errno = 0;
            const dirent* entry = readdir(dir);
            if (entry == nullptr) break;
            const std::optional<uint64_t> id = parse_segment_name(entry->d_name);
            if (!id) continue;
            last_id = std::max(last_id.value_or(0), *id); // never reused, even if unreadable
            const int segment_fd = ::openat(dir_fd_, entry->d_name, O_RDONLY | O_CLOEXEC);
            struct stat st;
            if (segment_fd < 0 || fstat(segment_fd, &st) != 0) {
                const int code = errno;
                print_error(fmt::format("spool: cannot open {}: {}; left alone", path_of(*id),
                                        std::strerror(code)));
            } else if (!S_ISREG(st.st_mode)) {
                print_error(
                    fmt::format("spool: {} is not a regular file; left alone", path_of(*id)));
            } else {
                found.push_back({*id, uint64_t(st.st_size), 0, true, false});
            }
            if (segment_fd >= 0) ::close(segment_fd);
        }
        const int list_error = errno;
        closedir(dir);
        if (list_error != 0) {
            error = fmt::format("spool.dir = \"{}\": cannot list: {}", settings_.dir,
                                std::strerror(list_error));
            return false;
        }
        std::sort(found.begin(), found.end(),
                  [](const sealed_segment& a, const sealed_segment& b) { return a.id < b.id; });
        for (const sealed_segment& segment : found) {
            bump(counters_.bytes, segment.bytes);
            bump(counters_.segments);
        }
        sealed_.assign(found.begin(), found.end());
        next_id_ = last_id ? *last_id + 1 : 1;
        update_writable();
        return true;
    }

    spool_append_result append(std::string_view record, spool_origin origin) override {
        const auto o = size_t(origin);
        if (record.size() > k_max_payload) {
            bump(counters_.io_errors[o]);
            log_.report(fmt::format("spool: a record of {} bytes is above the limit of {}; lost",
                                    record.size(), k_max_payload));
            return spool_append_result::error;
        }
        const uint64_t size = k_header_bytes + record.size();
        if (counters_.bytes.load(std::memory_order_relaxed) + size > settings_.max_bytes) {
            bump(counters_.full[o]);
            full_log_.report(fmt::format("spool: spool.max_bytes ({}) spent: events are dropped "
                                         "(dropped{{reason=\"spool_full\"}})",
                                         settings_.max_bytes));
            update_writable();
            return spool_append_result::full;
        }
        if (active_.fd < 0 && !create_active()) {
            bump(counters_.io_errors[o]);
            return spool_append_result::error;
        }

        char header[k_header_bytes];
        encode_header(header, record);
        bump(counters_.bytes, size);
        bump(counters_.records);
        ++active_.records;
        if (size > k_write_buffer_bytes - used_) flush(); // order: the buffered records first
        spool_append_result result = spool_append_result::ok;
        if (size > k_write_buffer_bytes) {
            iovec parts[2] = {{header, k_header_bytes},
                              {const_cast<char*>(record.data()), record.size()}};
            uint64_t records[2] = {};
            records[o] = 1;
            if (!write_out(parts, 2, size, records)) result = spool_append_result::error;
        } else {
            std::memcpy(buffer_.get() + used_, header, k_header_bytes);
            std::memcpy(buffer_.get() + used_ + k_header_bytes, record.data(), record.size());
            used_ += size;
            ++buffered_records_[o];
        }
        if (active_.written + used_ >= settings_.segment_bytes) seal_active();
        update_writable();
        return result;
    }

    void flush() override {
        if (used_ == 0) return;
        iovec part{buffer_.get(), used_};
        const uint64_t records[2] = {buffered_records_[0], buffered_records_[1]};
        const size_t bytes = used_;
        used_ = 0;
        buffered_records_[0] = buffered_records_[1] = 0;
        write_out(&part, 1, bytes, records);
    }

    void tick(uint64_t now_ms) override {
        if (active_.dirty && now_ms >= last_sync_ms_ + settings_.fsync_ms) sync_active(now_ms);
    }

    void sync() override {
        flush();
        sync_active(monotonic_ms());
    }

    bool writable() const override { return writable_.load(std::memory_order_relaxed); }
    uint64_t free_bytes() const override {
        const uint64_t bytes = counters_.bytes.load(std::memory_order_relaxed);
        return bytes < settings_.max_bytes ? settings_.max_bytes - bytes : 0;
    }

    // Segments handed out by open_next_segment are the caller's until it removes them, so
    // they do not count as waiting: empty() is true while the last of them is being replayed.
    bool empty() const override {
        return active_.records == 0 &&
               std::none_of(sealed_.begin(), sealed_.end(),
                            [](const sealed_segment& s) { return !s.handed_out; });
    }

    std::unique_ptr<spool_segment_reader> open_next_segment() override {
        sealed_segment* segment = next_waiting();
        if (segment == nullptr && active_.records > 0) {
            seal_active();
            segment = next_waiting();
        }
        if (segment == nullptr) return nullptr;
        segment->handed_out = true;
        const std::string name = segment_name(segment->id);
        const int fd = ::openat(dir_fd_, name.c_str(), O_RDONLY | O_CLOEXEC);
        uint64_t bytes = segment->bytes;
        struct stat st;
        if (fd < 0) {
            const int code = errno;
            log_.report(fmt::format("spool: cannot open {} to read it back: {}",
                                    path_of(segment->id), std::strerror(code)));
        } else if (fstat(fd, &st) == 0) {
            bytes = uint64_t(st.st_size);
        }
        return open_segment_reader(segment->id, fd, bytes, path_of(segment->id),
                                   segment->earlier_run, counters_, log_);
    }

    void remove_segment(uint64_t id, uint64_t records_read) override {
        const auto it = std::find_if(sealed_.begin(), sealed_.end(),
                                     [id](const sealed_segment& s) { return s.id == id; });
        if (it == sealed_.end()) {
            log_.report(fmt::format("spool: remove_segment: no sealed segment {} in {}", id,
                                    settings_.dir));
            return;
        }
        sync(); // the records re-appended from this segment are durable before it goes
        const std::string name = segment_name(id);
        if (::unlinkat(dir_fd_, name.c_str(), 0) != 0 && errno != ENOENT) {
            const int code = errno;
            log_.report(fmt::format("spool: cannot remove {}: {}; it will be replayed again",
                                    path_of(id), std::strerror(code)));
            return;
        }
        sync_directory();
        drop(counters_.bytes, it->bytes);
        // What this segment added to the gauge: its appends in this process (which the reader
        // returns unless the disk corrupted some), or what the reader counted for an earlier
        // run's segment.
        drop(counters_.records, it->earlier_run ? records_read : it->records);
        drop(counters_.segments, 1);
        bump(counters_.removed_segments);
        sealed_.erase(it);
        update_writable();
    }

    void return_segment(uint64_t id) override {
        for (sealed_segment& s : sealed_)
            if (s.id == id) s.handed_out = false;
    }

    void close() override {
        if (closed_) return;
        closed_ = true;
        sync();
        if (active_.fd >= 0) {
            if (::close(active_.fd) != 0) {
                const int code = errno;
                log_.report(
                    fmt::format("spool: close {}: {}", path_of(active_.id), std::strerror(code)));
            }
            // Every write to it failed: no reason to leave an empty file behind.
            if (active_.written == 0 &&
                ::unlinkat(dir_fd_, segment_name(active_.id).c_str(), 0) == 0) {
                sync_directory();
                drop(counters_.segments, 1);
            }
            active_.fd = -1;
        }
        ::close(dir_fd_);
        dir_fd_ = -1;
        writable_.store(false, std::memory_order_relaxed);
    }

    const spool_counters& counters() const override { return counters_; }

private:
    // The segment appends go to: created at the first append after open or after a seal.
    struct active_segment {
        int fd = -1;
        uint64_t id = 0;
        uint64_t written = 0; // bytes in the file, all of them whole records
        uint64_t records = 0; // appended to it, buffered ones included
        bool dirty = false;   // written since its last fdatasync
    };

    std::string path_of(uint64_t id) const { return settings_.dir + "/" + segment_name(id); }

    sealed_segment* next_waiting() {
        for (sealed_segment& s : sealed_)
            if (!s.handed_out) return &s;
        return nullptr;
    }

    bool create_active() {
        for (int attempt = 0; attempt < k_create_attempts; ++attempt, ++next_id_) {
            const std::string name = segment_name(next_id_);
            const int fd = ::openat(dir_fd_, name.c_str(),
                                    O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
            if (fd < 0 && errno == EEXIST) continue;
            if (fd < 0) {
                const int code = errno;
                log_.report(fmt::format("spool: cannot create {}: {}", path_of(next_id_),
                                        std::strerror(code)));
                break;
            }
            active_ = active_segment{fd, next_id_++, 0, 0, false};
            bump(counters_.segments);
            sync_directory(); // the new name survives a crash
            dir_failed_ = false;
            return true;
        }
        dir_failed_ = true;
        update_writable();
        return false;
    }

    // Writes parts (bytes in all, whole records: records[origin] of each) to the active
    // segment. On failure the records are lost: counted in io_errors, taken off the gauges,
    // and the file cut back to its last whole record.
    bool write_out(iovec* parts, int count, uint64_t bytes, const uint64_t (&records)[2]) {
        size_t done = 0;
        const int error = write_all(active_.fd, parts, count, done);
        if (error == 0) {
            active_.written += bytes;
            active_.dirty = true;
            bump(counters_.spooled, records[0]);
            bump(counters_.respooled, records[1]);
            if (write_failed_) {
                write_failed_ = false;
                update_writable();
            }
            return true;
        }
        const uint64_t lost = records[0] + records[1];
        bump(counters_.io_errors[0], records[0]);
        bump(counters_.io_errors[1], records[1]);
        drop(counters_.bytes, bytes);
        drop(counters_.records, lost);
        active_.records -= std::min(active_.records, lost);
        if (done > 0 && ::ftruncate(active_.fd, off_t(active_.written)) != 0) {
            // The torn record stays; a reader will skip it. Its bytes are the file's.
            const int code = errno;
            log_.report(
                fmt::format("spool: ftruncate {}: {}", path_of(active_.id), std::strerror(code)));
            active_.written += done;
            active_.dirty = true;
            bump(counters_.bytes, done);
        }
        log_.report(fmt::format("spool: write {}: {}; {} records lost", path_of(active_.id),
                                std::strerror(error), lost));
        write_failed_ = true;
        update_writable();
        return false;
    }

    // Seals the active segment: flushed, fdatasync'd, closed, and next in line for replay.
    // A segment that holds nothing (every write to it failed) stays active instead.
    void seal_active() {
        if (active_.fd < 0) return;
        flush();
        if (active_.written == 0) return;
        sync_active(monotonic_ms());
        if (::close(active_.fd) != 0) {
            const int code = errno;
            log_.report(
                fmt::format("spool: close {}: {}", path_of(active_.id), std::strerror(code)));
        }
        sealed_.push_back({active_.id, active_.written, active_.records, false, false});
        active_ = active_segment{};
    }

    void sync_active(uint64_t now_ms) {
        if (active_.fd < 0 || !active_.dirty) return;
        last_sync_ms_ = now_ms;
        if (::fdatasync(active_.fd) != 0) {
            const int code = errno;
            bump(counters_.fsync_errors);
            log_.report(
                fmt::format("spool: fdatasync {}: {}", path_of(active_.id), std::strerror(code)));
            write_failed_ = true; // retried at the next tick; writable again after a write
            update_writable();
            return;
        }
        bump(counters_.fsyncs);
        active_.dirty = false;
    }

    void sync_directory() {
        if (::fsync(dir_fd_) != 0) {
            const int code = errno;
            bump(counters_.fsync_errors);
            log_.report(fmt::format("spool: fsync {}: {}", settings_.dir, std::strerror(code)));
            return;
        }
        bump(counters_.fsyncs);
    }

    void update_writable() {
        const uint64_t reserve = std::min(k_budget_reserve, settings_.max_bytes / 16);
        const uint64_t bytes = counters_.bytes.load(std::memory_order_relaxed);
        const bool budget_left = bytes + reserve < settings_.max_bytes;
        writable_.store(!closed_ && !dir_failed_ && !write_failed_ && budget_left,
                        std::memory_order_relaxed);
    }

    spool_settings settings_;
    int dir_fd_;                        // O_DIRECTORY: openat, unlinkat, and fsync after both
    std::deque<sealed_segment> sealed_; // oldest first; handed-out ones stay until removed
    active_segment active_;
    uint64_t next_id_ = 1;
    std::unique_ptr<char[]> buffer_; // k_write_buffer_bytes of records for the active segment
    size_t used_ = 0;
    uint64_t buffered_records_[2] = {}; // by spool_origin
    bool write_failed_ = false;         // the last write (or fdatasync) failed
    bool dir_failed_ = false;           // the last attempt to create a segment failed
    bool closed_ = false;
    uint64_t last_sync_ms_ = 0;
    std::atomic<bool> writable_{false};
    spool_counters counters_;
    rate_limited_log log_;
    rate_limited_log full_log_{k_full_log_interval_ms};
};

} // namespace

std::unique_ptr<spool> spool::open(const spool_settings& settings, std::string& error) {
    const auto fail = [&](std::string_view what, int code) {
        error = fmt::format("spool.dir = \"{}\": {}: {}", settings.dir, what, std::strerror(code));
        return nullptr;
    };
    if (::mkdir(settings.dir.c_str(), 0755) != 0 && errno != EEXIST)
        return fail("cannot create", errno);
    const int dir_fd = ::open(settings.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) return fail("cannot open", errno); // ENOTDIR: a file of that name
    if (faccessat(dir_fd, ".", W_OK | X_OK, AT_EACCESS) != 0) {
        const int code = errno;
        ::close(dir_fd);
        return fail("not writable", code);
    }
    auto out = std::make_unique<disk_spool>(settings, dir_fd); // owns dir_fd from here
    if (!out->list_segments(error)) return nullptr;
    return out;
}

} // namespace pixelring
