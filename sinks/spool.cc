// The disk spool (sinks/spool.hh). Runs on the sink thread; every system call here is a plain
// blocking one on a local file or directory (write, read, fdatasync, fsync, ftruncate, openat,
// unlinkat). Nothing takes a lock: one thread calls every member, and the counters have one
// writer, which updates them with a relaxed load and store.

#include "sinks/spool.hh"

#include <algorithm>
#include <cerrno>
#include <charconv>
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

#include "core/clock.hh"
#include "core/crc32c.hh"
#include "sinks/rate_limited_log.hh"
#include "sinks/write_all.hh"

namespace pixelring {

namespace {

constexpr char k_magic[4] = {'P', 'R', 'S', '1'};
constexpr size_t k_header_bytes = 12; // magic, length, CRC32C
// No event comes near this; a length above it is corruption, not a record to allocate for.
constexpr uint32_t k_max_payload = 16u << 20;
// Appends are copied here and written with one write(2): one per drain pass of a busy
// collector. Allocated once; a larger record is written straight from the caller's memory.
constexpr size_t k_write_buffer_bytes = 1u << 20;
// A reader's read(2) size; its buffer grows only for a record larger than this.
constexpr size_t k_read_chunk_bytes = 1u << 20;
// writable() turns false when less than this is left of spool.max_bytes (1/16 of the budget
// when that is smaller), a little before appends start to be refused.
constexpr uint64_t k_budget_reserve = 64u << 10;
// "spool full" is the steady state of a long outage: one line a minute is plenty.
constexpr uint64_t k_full_log_interval_ms = 60'000;
// A name that exists already (another process in the same directory?) is skipped this often
// before creating a segment counts as failed.
constexpr int k_create_attempts = 100;

constexpr size_t k_sequence_digits = 20;
constexpr std::string_view k_segment_suffix = ".spool";

// The counters have a single writer: a load and a store, no locked read-modify-write.
void bump(std::atomic<uint64_t>& counter, uint64_t n = 1) {
    counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

void drop(std::atomic<uint64_t>& gauge, uint64_t n) {
    const uint64_t value = gauge.load(std::memory_order_relaxed);
    gauge.store(value > n ? value - n : 0, std::memory_order_relaxed);
}

void put_le32(char* out, uint32_t value) {
    for (int i = 0; i < 4; ++i)
        out[i] = char(value >> (8 * i));
}

uint32_t get_le32(const char* in) {
    const auto* b = reinterpret_cast<const unsigned char*>(in);
    return uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 | uint32_t(b[3]) << 24;
}

// The CRC of a record: over its four length bytes, then its payload.
uint32_t record_crc(const char* length_bytes, const char* payload, size_t size) {
    return crc32c(crc32c(0, length_bytes, 4), payload, size);
}

void encode_header(char* out, std::string_view payload) {
    std::memcpy(out, k_magic, 4);
    put_le32(out + 4, uint32_t(payload.size()));
    put_le32(out + 8, record_crc(out + 4, payload.data(), payload.size()));
}

std::string segment_name(uint64_t id) {
    return fmt::format("{:0{}}{}", id, k_sequence_digits, k_segment_suffix);
}

// The sequence number in a segment file's name; nullopt for any other name.
std::optional<uint64_t> parse_segment_name(std::string_view name) {
    if (name.size() != k_sequence_digits + k_segment_suffix.size() ||
        name.substr(k_sequence_digits) != k_segment_suffix)
        return std::nullopt;
    const char* end = name.data() + k_sequence_digits;
    if (!std::all_of(name.data(), end, [](char c) { return c >= '0' && c <= '9'; }))
        return std::nullopt;
    uint64_t id = 0;
    const auto [ptr, ec] = std::from_chars(name.data(), end, id);
    if (ec != std::errc() || ptr != end) return std::nullopt; // above 2^64 - 1
    return id;
}

// One line to stderr, not rate-limited: for start-up, where each problem is named once.
void print_error(const std::string& message) {
    std::fputs(("pixelring: " + message + "\n").c_str(), stderr);
}

// ---- reading a segment back -----------------------------------------------------------------

// Reads one sealed segment front to back through a buffer, validating every record. Holds
// pointers to the spool's counters and log: the spool must outlive its readers. Sink thread.
class segment_reader final : public spool_segment_reader {
public:
    // fd: open for reading, owned from now on; -1 when the file could not be opened (already
    // reported), in which case its file_bytes count as corrupt. counts_records: the
    // segment was left by an earlier run, so each valid record read adds to counters.records.
    segment_reader(uint64_t id, int fd, uint64_t file_bytes, std::string path, bool counts_records,
                   spool_counters& counters, rate_limited_log& log)
        : id_(id), fd_(fd), file_bytes_(file_bytes), path_(std::move(path)),
          counts_records_(counts_records), counters_(counters), log_(log),
          buffer_(fd >= 0 ? k_read_chunk_bytes : 0) {
        if (fd_ < 0) {
            eof_ = true;
            lost_bytes_ = file_bytes;
        }
    }
    ~segment_reader() override {
        if (fd_ >= 0) ::close(fd_);
    }
    segment_reader(const segment_reader&) = delete;
    segment_reader& operator=(const segment_reader&) = delete;

    uint64_t id() const override { return id_; }
    uint64_t records_read() const override { return records_read_; }

    bool next(std::string_view& record) override {
        for (;;) {
            size_t available = fill(k_header_bytes);
            if (available < k_header_bytes) {
                // The end: a few bytes left over are a torn record, and bytes a failed read
                // left behind count with them.
                skipped_ += available + lost_bytes_;
                skipping_ = skipping_ || skipped_ > 0;
                pos_ = end_;
                lost_bytes_ = 0;
                end_skip();
                return false;
            }
            const char* p = buffer_.data() + pos_;
            if (std::memcmp(p, k_magic, 4) == 0) {
                const uint32_t length = get_le32(p + 4);
                const uint64_t left_in_file = file_bytes_ > offset() ? file_bytes_ - offset() : 0;
                const size_t total = k_header_bytes + length;
                if (length <= k_max_payload && total <= left_in_file) {
                    available = fill(total);
                    p = buffer_.data() + pos_; // fill may have moved the bytes
                    if (available >= total &&
                        get_le32(p + 8) == record_crc(p + 4, p + k_header_bytes, length)) {
                        end_skip();
                        record = std::string_view(p + k_header_bytes, length);
                        pos_ += total;
                        ++records_read_;
                        bump(counters_.replayed);
                        if (counts_records_) bump(counters_.records);
                        return true;
                    }
                }
            }
            skip_to_next_magic();
        }
    }

private:
    // File offset of the first unread byte in the buffer.
    uint64_t offset() const { return read_bytes_ - (end_ - pos_); }

    // Makes at least want unread bytes buffered unless the file ends (or a read fails) first;
    // returns how many are buffered. Reads whole chunks: the buffer's free room at a time.
    size_t fill(size_t want) {
        if (end_ - pos_ >= want || eof_) return end_ - pos_;
        if (pos_ > 0) {
            std::memmove(buffer_.data(), buffer_.data() + pos_, end_ - pos_);
            end_ -= pos_;
            pos_ = 0;
        }
        if (buffer_.size() < want) buffer_.resize(want); // a record above one chunk
        while (end_ < want && !eof_) {
            const ssize_t n = ::read(fd_, buffer_.data() + end_, buffer_.size() - end_);
            if (n < 0) {
                if (errno == EINTR) continue;
                const int code = errno;
                log_.report(fmt::format("spool: read {}: {}; the rest of the segment is skipped",
                                        path_, std::strerror(code)));
                eof_ = true;
                lost_bytes_ = file_bytes_ > read_bytes_ ? file_bytes_ - read_bytes_ : 0;
                break;
            }
            if (n == 0) {
                eof_ = true;
                break;
            }
            end_ += size_t(n);
            read_bytes_ += uint64_t(n);
        }
        return end_ - pos_;
    }

    // No valid record starts at pos_: skips that byte and everything up to the next magic (or
    // to the last three bytes of the file, which the caller counts as a torn tail).
    void skip_to_next_magic() {
        skipping_ = true;
        ++pos_;
        ++skipped_;
        for (;;) {
            const size_t available = end_ - pos_;
            const char* from = buffer_.data() + pos_;
            if (const void* hit = memmem(from, available, k_magic, sizeof k_magic)) {
                const size_t n = size_t(static_cast<const char*>(hit) - from);
                pos_ += n;
                skipped_ += n;
                return;
            }
            // The last three bytes may be the start of a magic the next chunk completes.
            const size_t keep = std::min(available, sizeof k_magic - 1);
            pos_ += available - keep;
            skipped_ += available - keep;
            if (eof_ || fill(keep + 1) <= keep) return;
        }
    }

    // A run of skipped bytes ends: one corrupt record, its bytes.
    void end_skip() {
        if (!skipping_) return;
        bump(counters_.corrupt_records);
        bump(counters_.corrupt_bytes, skipped_);
        skipping_ = false;
        skipped_ = 0;
    }

    uint64_t id_;
    int fd_;
    uint64_t file_bytes_; // the file's size when it was opened; a sealed segment does not grow
    std::string path_;
    bool counts_records_;
    spool_counters& counters_;
    rate_limited_log& log_;
    std::vector<char> buffer_;
    size_t pos_ = 0;          // first unread byte
    size_t end_ = 0;          // end of the bytes read
    uint64_t read_bytes_ = 0; // bytes read from the file so far
    uint64_t lost_bytes_ = 0; // bytes a failed read (or open) left unread
    bool eof_ = false;
    bool skipping_ = false; // inside a run of invalid bytes
    uint64_t skipped_ = 0;  // bytes in that run so far
    uint64_t records_read_ = 0;
};

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
        return std::make_unique<segment_reader>(segment->id, fd, bytes, path_of(segment->id),
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
