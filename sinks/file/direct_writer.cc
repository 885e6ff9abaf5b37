// The O_DIRECT writer of the file sink (direct_writer.hh). Every system call is a plain
// blocking one on a local file: pwrite through the O_DIRECT descriptor for whole blocks,
// writev through the O_APPEND one for the partial last block, an fstat before each of those
// to see whether somebody else changed the file's size, pread of one block when it starts.

#include "sinks/file/direct_writer.hh"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>

#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <fmt/format.h>

#include "core/base/clock.hh"
#include "sinks/write_all.hh"

namespace pixelring {

namespace {

constexpr std::size_t block = direct_writer::block_bytes;

constexpr std::size_t round_down(std::size_t n) {
    return n / block * block;
}

} // namespace

direct_writer::direct_writer(std::size_t capacity, sink_counters& counters, std::string name)
    : counters_(counters), name_(std::move(name)),
      capacity_(std::max(2 * block, (capacity + block - 1) / block * block)) {
    buffer_ = static_cast<char*>(std::aligned_alloc(block, capacity_));
    if (buffer_ == nullptr) throw std::bad_alloc();
}

direct_writer::~direct_writer() {
    std::free(buffer_);
}

uint64_t direct_writer::held_events() const {
    return pending_ - (break_at_ != no_break ? 1 : 0);
}

uint64_t direct_writer::newlines(std::size_t from, std::size_t to) const {
    uint64_t n = 0;
    const char* p = buffer_ + from;
    const char* const end = buffer_ + to;
    while (p < end) {
        const void* hit = std::memchr(p, '\n', std::size_t(end - p));
        if (hit == nullptr) break;
        ++n;
        p = static_cast<const char*>(hit) + 1;
    }
    return n;
}

int direct_writer::attach(int dfd, int afd) {
    attached_ = false;
    dfd_ = dfd;
    afd_ = afd;
    direct_ = true;
    fd_bytes_ = 0;
    struct stat st;
    if (fstat(dfd_, &st) != 0) return errno;
    int error = load_last_block(uint64_t(st.st_size));
    if (error == EINVAL) {
        // The file system took the O_DIRECT open but refuses its reads (some FUSE ones).
        direct_ = false;
        note_log_.report(fmt::format("{}: O_DIRECT read: {}; writing through the page cache "
                                     "(sink.file.direct)",
                                     name_, std::strerror(error)));
        error = load_last_block(uint64_t(st.st_size));
    }
    if (error != 0) return error;
    attached_ = true;
    return 0;
}

void direct_writer::detach() {
    if (const uint64_t lost = held_events(); lost > 0) {
        counters_.failed.fetch_add(lost, std::memory_order_relaxed);
        report(fmt::format("{}: closed with {} events not written", name_, lost));
    }
    attached_ = false;
    dfd_ = afd_ = -1;
    base_ = 0;
    in_file_ = used_ = 0;
    pending_ = 0;
    break_at_ = no_break;
    ends_line_ = true;
}

int direct_writer::load_last_block(uint64_t size) {
    in_file_ = used_ = 0;
    pending_ = 0;
    break_at_ = no_break;
    ends_line_ = true;
    if (!direct_) {
        // Appends only: nothing to read back; like line_writer, no look at the file's end.
        base_ = size;
        return 0;
    }
    base_ = size == 0 ? 0 : (size - 1) / block * block;
    const auto want = std::size_t(size - base_);
    if (want > 0) {
        ssize_t n;
        do {
            n = ::pread(dfd_, buffer_, block, off_t(base_));
        } while (n < 0 && errno == EINTR);
        if (n < 0) return errno;
        if (std::size_t(n) != want) return EIO; // the file changed size while we looked
    }
    in_file_ = used_ = want;
    ends_line_ = want == 0 || buffer_[want - 1] == '\n';
    if (!ends_line_) add_line_break();
    return 0;
}

void direct_writer::add_line_break() {
    if (used_ == in_file_) held_since_ms_ = monotonic_ms();
    buffer_[used_] = '\n';
    break_at_ = used_;
    ++used_;
    ++pending_;
}

bool direct_writer::write(std::string_view event) {
    if (!attached_) {
        counters_.failed.fetch_add(1, std::memory_order_relaxed);
        report(fmt::format("{}: not open; 1 event lost", name_));
        return false;
    }
    const std::size_t line = event.size() + 1;
    bool ok = true;
    if (capacity_ - used_ < line) {
        ok = write_blocks();
        if (capacity_ - used_ < line) return write_large(event) && ok;
    }
    if (used_ == in_file_) held_since_ms_ = monotonic_ms();
    std::memcpy(buffer_ + used_, event.data(), event.size());
    buffer_[used_ + event.size()] = '\n';
    used_ += line;
    ++pending_;
    return ok;
}

bool direct_writer::settle() {
    if (!attached_ || used_ == in_file_) return true;
    bool ok = write_blocks();
    // After a failure the writer starts again from the file's end, perhaps with a held line
    // break: that waits for the next settle rather than fail twice in a row.
    if (ok && used_ > in_file_) ok = append_held();
    return ok;
}

bool direct_writer::file_unchanged(uint64_t& size) {
    struct stat st;
    if (fstat(dfd_, &st) != 0) return true; // the write that follows reports what is wrong
    size = uint64_t(st.st_size);
    return size == file_end();
}

bool direct_writer::write_blocks() {
    if (!direct_) return append_held();
    const std::size_t from = round_down(in_file_);
    const std::size_t to = round_down(used_);
    if (to <= in_file_) return true; // not one whole block of new bytes
    uint64_t size = 0;
    if (!file_unchanged(size)) return continue_after_change(size);
    std::size_t done = 0;
    while (from + done < to) {
        const ssize_t n =
            ::pwrite(dfd_, buffer_ + from + done, to - from - done, off_t(base_ + from + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            const int error = errno;
            if (error == EINVAL && done == 0) {
                direct_ = false;
                note_log_.report(
                    fmt::format("{}: O_DIRECT write: {}; writing through the page cache "
                                "(sink.file.direct)",
                                name_, std::strerror(error)));
                return append_held();
            }
            return fail(std::max(in_file_, from + done), error);
        }
        // A regular file never returns 0 for a non-empty write; an error beats spinning.
        if (n == 0) return fail(std::max(in_file_, from + done), EIO);
        done += std::size_t(n);
        if (done % block != 0 && from + done < to) {
            // Stopped inside a block, where no direct write can go on: the rest through afd.
            advance(std::max(in_file_, from + done));
            return append_held();
        }
    }
    advance(to);
    return true;
}

bool direct_writer::append_held() {
    if (used_ == in_file_) return true;
    uint64_t size = 0;
    if (direct_ && !file_unchanged(size)) return continue_after_change(size);
    iovec part{buffer_ + in_file_, used_ - in_file_};
    std::size_t done = 0;
    if (const int error = write_all(afd_, &part, 1, done)) return fail(in_file_ + done, error);
    advance(used_);
    return true;
}

bool direct_writer::write_large(std::string_view event) {
    bool ok = settle();
    if (held_bytes() > 0 || !attached_) {
        // The file is failing (settle could not write what was held): this event too.
        counters_.failed.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    iovec parts[2] = {{const_cast<char*>(event.data()), event.size()},
                      {const_cast<char*>("\n"), 1}};
    std::size_t done = 0;
    const int error = write_all(afd_, parts, 2, done);
    count_bytes(done);
    if (error == 0) {
        counters_.written.fetch_add(1, std::memory_order_relaxed);
    } else {
        counters_.failed.fetch_add(1, std::memory_order_relaxed);
        report(fmt::format("{}: write: {}; 1 events lost", name_, std::strerror(error)));
        ok = false;
    }
    // The file grew past the buffer: start again from its end.
    return restart_at_end() && ok;
}

bool direct_writer::continue_after_change(uint64_t size) {
    report(fmt::format("{}: is {} bytes long, not {}: truncated or written by another program; "
                       "going on at its end",
                       name_, size, file_end()));
    // What is held up to its first line end finishes a line that began in the file before
    // the change: that event is lost (unless the line end was our own line break).
    std::size_t start = in_file_;
    if (!ends_line_) {
        const void* hit = std::memchr(buffer_ + in_file_, '\n', used_ - in_file_);
        start = hit == nullptr ? used_ : std::size_t(static_cast<const char*>(hit) - buffer_) + 1;
        const uint64_t lines = newlines(in_file_, start);
        const uint64_t lost = lines - (break_in(in_file_, start) ? 1 : 0);
        counters_.failed.fetch_add(lost, std::memory_order_relaxed);
        pending_ -= lines;
        if (break_in(in_file_, start)) break_at_ = no_break;
    }
    // The rest are whole lines: appended at the file's end as it is now.
    iovec part{buffer_ + start, used_ - start};
    std::size_t done = 0;
    const int error = write_all(afd_, &part, 1, done);
    count_bytes(done);
    const uint64_t lines = newlines(start, start + done);
    const uint64_t written = lines - (break_in(start, start + done) ? 1 : 0);
    counters_.written.fetch_add(written, std::memory_order_relaxed);
    const uint64_t lost = held_events() - written;
    if (error != 0) {
        counters_.failed.fetch_add(lost, std::memory_order_relaxed);
        report(fmt::format("{}: write: {}; {} events lost", name_, std::strerror(error), lost));
    }
    pending_ = 0;
    break_at_ = no_break;
    return restart_at_end() && error == 0;
}

void direct_writer::advance(std::size_t upto) {
    const uint64_t still = newlines(upto, used_);
    uint64_t lines = pending_ - still;
    if (break_in(in_file_, upto)) {
        --lines;
        break_at_ = no_break;
    }
    counters_.written.fetch_add(lines, std::memory_order_relaxed);
    count_bytes(upto - in_file_);
    pending_ = still;
    if (upto > 0) ends_line_ = buffer_[upto - 1] == '\n';
    in_file_ = upto;
    // The block that holds the file's end stays (the next direct write starts with it);
    // appends through the page cache need nothing back.
    const std::size_t keep = direct_ ? round_down(in_file_) : in_file_;
    if (keep == 0) return;
    std::memmove(buffer_, buffer_ + keep, used_ - keep);
    base_ += keep;
    used_ -= keep;
    in_file_ -= keep;
    if (break_at_ != no_break) break_at_ -= keep;
}

bool direct_writer::fail(std::size_t upto, int error) {
    if (upto > in_file_) advance(upto);
    const uint64_t lost = held_events();
    counters_.failed.fetch_add(lost, std::memory_order_relaxed);
    report(fmt::format("{}: write: {}; {} events lost", name_, std::strerror(error), lost));
    // Start again from wherever the file ends now; a line it ends inside gets its break.
    restart_at_end();
    return false;
}

bool direct_writer::restart_at_end() {
    struct stat st;
    const int error = fstat(dfd_, &st) != 0 ? errno : load_last_block(uint64_t(st.st_size));
    if (error == 0) return true;
    report(fmt::format("{}: cannot read its end back: {}", name_, std::strerror(error)));
    used_ = in_file_;
    pending_ = 0;
    break_at_ = no_break;
    attached_ = false;
    return false;
}

} // namespace pixelring
