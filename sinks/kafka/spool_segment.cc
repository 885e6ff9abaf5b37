#include "sinks/kafka/spool_segment.hh"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <vector>

#include <unistd.h>

#include <fmt/format.h>

#include "sinks/kafka/crc32c.hh"

namespace pixelring::spool_format {

namespace {

// A reader's read(2) size; its buffer grows only for a record larger than this.
constexpr size_t k_read_chunk_bytes = 1u << 20;

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

} // namespace

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

std::unique_ptr<spool_segment_reader> open_segment_reader(uint64_t id, int fd, uint64_t file_bytes,
                                                          std::string path, bool counts_records,
                                                          spool_counters& counters,
                                                          rate_limited_log& log) {
    return std::make_unique<segment_reader>(id, fd, file_bytes, std::move(path), counts_records,
                                            counters, log);
}

} // namespace pixelring::spool_format
