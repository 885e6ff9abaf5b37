#pragma once
// The spool's on-disk format and the reader of one sealed segment: the parts of
// sinks/kafka/spool.cc that read and write bytes, apart from the directory and its budget.
// Internal to the spool.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sinks/kafka/spool.hh"
#include "sinks/rate_limited_log.hh"

namespace pixelring::spool_format {

// The record format (sinks/kafka/spool.hh): magic, length, CRC32C, payload.
constexpr char k_magic[4] = {'P', 'R', 'S', '1'};
constexpr size_t k_header_bytes = 12; // magic, length, CRC32C
// No event comes near this; a length above it is corruption, not a record to allocate for.
constexpr uint32_t k_max_payload = 16u << 20;
constexpr size_t k_sequence_digits = 20;
constexpr std::string_view k_segment_suffix = ".spool";

// The counters have a single writer: a load and a store, no locked read-modify-write.
inline void bump(std::atomic<uint64_t>& counter, uint64_t n = 1) {
    counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}
// A gauge goes down, never below 0.
inline void drop(std::atomic<uint64_t>& gauge, uint64_t n) {
    const uint64_t value = gauge.load(std::memory_order_relaxed);
    gauge.store(value > n ? value - n : 0, std::memory_order_relaxed);
}

// The 12-byte header of payload into out.
void encode_header(char* out, std::string_view payload);
// "<20-digit id>.spool".
std::string segment_name(uint64_t id);
// The sequence number in a segment file's name; nullopt for any other name.
std::optional<uint64_t> parse_segment_name(std::string_view name);

// A reader of one sealed segment, front to back, validating every record (magic, length,
// CRC); invalid and torn bytes are skipped and counted in counters. fd: open for reading,
// owned from now on; -1 when the file could not be opened (already reported), in which case
// its file_bytes count as corrupt. counts_records: the segment was left by an earlier run, so
// each valid record read adds to counters.records. counters and log must outlive the reader.
// Sink thread.
std::unique_ptr<spool_segment_reader> open_segment_reader(uint64_t id, int fd, uint64_t file_bytes,
                                                          std::string path, bool counts_records,
                                                          spool_counters& counters,
                                                          rate_limited_log& log);

} // namespace pixelring::spool_format
