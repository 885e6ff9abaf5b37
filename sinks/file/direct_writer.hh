#pragma once
// The file sink's writer under sink.file.direct: NDJSON lines gathered in a block-aligned
// buffer and written to the file in whole 4 KiB blocks through an O_DIRECT descriptor, which
// bypasses the page cache: no copy into it, no pages to allocate, dirty and write back later.
// Lines are held until the buffer fills or settle() runs (the file sink settles what has
// waited direct_hold_ms, and before it syncs, rotates, reopens or closes). settle() writes the
// whole blocks direct and appends the partial last block through an ordinary O_APPEND
// descriptor of the same file, so the file never holds padding and always ends where a line
// ends. The next whole-block write starts with that partial block again: same bytes, and more.
//
// Accounting is line_writer's (line_writer.hh): an event is counted written once its whole line
// is in the file, failed when a write error discarded it. Sink thread only.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "sinks/rate_limited_log.hh"
#include "sinks/sink.hh"

namespace pixelring {

class direct_writer {
public:
    // The unit of every O_DIRECT write: file offset, length and buffer address.
    static constexpr std::size_t block_bytes = 4096;

    // capacity: the buffer, rounded up to whole blocks (at least two), allocated once here.
    // name: the output, for messages.
    direct_writer(std::size_t capacity, sink_counters& counters, std::string name);
    direct_writer(const direct_writer&) = delete;
    direct_writer& operator=(const direct_writer&) = delete;
    ~direct_writer();

    // Writes go to one regular file from now on: dfd opened O_RDWR | O_DIRECT, afd the same
    // file opened O_WRONLY | O_APPEND. The block that holds the file's last byte is read back
    // (the next whole-block write starts with it). A file that ends inside a line gets a '\n'
    // first, so the next event begins a line of its own. Returns 0, or the errno of a failed
    // fstat or read; then nothing is attached. Closes nothing, now or later.
    int attach(int dfd, int afd);
    // Stops writing to the file. Events still held are counted failed: settle first.
    void detach();

    // Appends event + '\n' (event: one JSON object without newline). Writes the whole blocks
    // held when the line does not fit; an event larger than the buffer goes to the file at once
    // through afd. Returns false when a write failed.
    bool write(std::string_view event);
    // Hands everything held to the file (see above). Returns false when a write failed; then
    // the events that did not reach the file are counted failed and reported on stderr
    // (rate-limited), and the writer carries on from wherever the file now ends.
    bool settle();

    std::size_t held_bytes() const { return used_ - in_file_; }
    uint64_t held_events() const; // held and not yet counted written or failed
    // CLOCK_MONOTONIC milliseconds when the oldest held byte was appended; valid while
    // held_bytes() > 0.
    uint64_t held_since_ms() const { return held_since_ms_; }
    // Where the writer's data ends in the file: its size as far as this writer knows.
    uint64_t file_end() const { return base_ + in_file_; }
    uint64_t fd_bytes() const { return fd_bytes_; } // bytes added to the file since attach

private:
    // buffer_[in_file_, used_) through dfd, whole blocks only (from the block that holds
    // in_file_); the partial last block stays held.
    bool write_blocks();
    // buffer_[in_file_, used_) through afd.
    bool append_held();
    // An event that does not fit the buffer: settle, then the line straight through afd.
    bool write_large(std::string_view event);
    // The file still ends at file_end()? A different size means that someone else truncated
    // (copytruncate) or appended to it; continue_after_change() then appends what is held at
    // the file's new end and re-reads its last block.
    bool file_unchanged(uint64_t& size);
    bool continue_after_change(uint64_t size);
    // Reads the block that holds the last byte of a size-byte file into an empty buffer.
    int load_last_block(uint64_t size);
    // Discards what is held (the callers have counted it) and loads the file's last block
    // as it is now. False, and detached, when that fails.
    bool restart_at_end();
    // buffer_[in_file_, upto) reached the file: its lines count written; the blocks before
    // the one that holds upto leave the buffer.
    void advance(std::size_t upto);
    // A write failed with error after buffer_[in_file_, upto) reached the file: those lines
    // count written, the rest held count failed, and the writer starts again from the file's
    // end as it is now.
    bool fail(std::size_t upto, int error);
    void add_line_break(); // ends a line the file ends inside; not an event
    uint64_t newlines(std::size_t from, std::size_t to) const;
    bool break_in(std::size_t from, std::size_t to) const {
        return break_at_ != no_break && break_at_ >= from && break_at_ < to;
    }
    void report(const std::string& message) { log_.report(message); }
    void count_bytes(std::size_t n) {
        counters_.bytes.fetch_add(n, std::memory_order_relaxed);
        fd_bytes_ += n;
    }

    static constexpr std::size_t no_break = ~std::size_t{0};

    sink_counters& counters_;
    std::string name_;
    std::size_t capacity_;
    char* buffer_ = nullptr; // block-aligned, capacity_ bytes
    int dfd_ = -1;           // O_DIRECT
    int afd_ = -1;           // O_APPEND, through the page cache
    bool attached_ = false;
    // False once the file refused an O_DIRECT write (EINVAL): until the next attach, every
    // write goes through afd, as line_writer's do.
    bool direct_ = true;
    uint64_t base_ = 0;               // file offset of buffer_[0]; a multiple of block_bytes
    std::size_t in_file_ = 0;         // buffer_[0, in_file_) is in the file
    std::size_t used_ = 0;            // buffer_[in_file_, used_) is held
    uint64_t pending_ = 0;            // '\n' bytes in buffer_[in_file_, used_)
    std::size_t break_at_ = no_break; // the held '\n' of add_line_break, if any
    bool ends_line_ = true;           // the file's last byte is '\n' (or the file is empty)
    uint64_t held_since_ms_ = 0;
    uint64_t fd_bytes_ = 0;
    rate_limited_log log_;
    rate_limited_log note_log_; // falling back to the page cache: never hides a write error
};

} // namespace pixelring
