#pragma once
// The disk spool: events Kafka did not take (timed out, purged, queue full, fatal error) wait
// here, in append-only segment files under spool.dir, until Kafka acknowledges them.
//
// Segment file: <dir>/<20-digit sequence>.spool, sequence strictly increasing, oldest first.
// Record: magic "PRS1" (4 bytes), payload length (u32 little-endian), CRC32C (u32 LE) of the
// length bytes and the payload, then the payload (one JSON event). A reader that meets a
// record whose magic, length or CRC is wrong skips forward to the next valid record and
// counts the bytes it skipped; a record cut short at the end of a file (a torn write) is
// counted the same way. Neither is ever a crash.
//
// Durability: records are buffered and written with write(2) at flush() (and when the buffer
// fills); the file is fdatasync'd at most every spool.fsync_ms by tick(). A segment is removed
// only by remove_segment(), which first makes every record appended so far durable (records
// re-appended from that segment among them), then unlinks the file and fsyncs the directory:
// the removal is itself the durable record that the segment was acknowledged.
//
// Threads: every member is called on one thread (the sink thread), except counters() and
// writable(), which any thread may read. Nothing here takes a lock.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace pixelring {

struct spool_settings {
    std::string dir;                    // created (one level) when missing
    uint64_t max_bytes = 10ull << 30;   // budget: bytes of all segment files together
    uint32_t fsync_ms = 100;            // batched fdatasync period
    uint64_t segment_bytes = 64u << 20; // the active segment is sealed when it reaches this
};

// Who appends a record: an event whose first delivery failed, or a record read back from the
// spool whose replay failed again. Counted apart so that the collector's accounting
// (accepted = delivered + spooled + dropped) counts each event once.
enum class spool_origin : uint8_t { event, replay };

// Gauges and counts. One writer (the spool's thread); any thread reads.
struct spool_counters {
    std::atomic<uint64_t> bytes{0};       // gauge: bytes of segment files, written or buffered
    std::atomic<uint64_t> records{0};     // gauge: records waiting for Kafka. Segments left by an
                                          // earlier run are counted as their records are read.
    std::atomic<uint64_t> segments{0};    // gauge: segment files
    std::atomic<uint64_t> spooled{0};     // spool_origin::event records write(2) accepted
    std::atomic<uint64_t> respooled{0};   // spool_origin::replay records write(2) accepted
    std::atomic<uint64_t> full[2]{};      // refused: max_bytes spent, by spool_origin
    std::atomic<uint64_t> io_errors[2]{}; // lost to a failed write(2), by spool_origin
    std::atomic<uint64_t> replayed{0};    // records read back (valid ones)
    std::atomic<uint64_t> corrupt_records{0}; // skipped regions (bad magic/length/CRC, torn)
    std::atomic<uint64_t> corrupt_bytes{0};   // bytes in them
    std::atomic<uint64_t> fsyncs{0};
    std::atomic<uint64_t> fsync_errors{0};
    std::atomic<uint64_t> removed_segments{0};
};

enum class spool_append_result : uint8_t {
    ok,    // buffered; counted in spooled/respooled once written, in io_errors if that fails
    full,  // refused: spool.max_bytes spent (counted in full[origin])
    error, // refused: the spool cannot write (directory gone, disk full), counted in io_errors
};

// A sealed segment being read back, oldest record first.
class spool_segment_reader {
public:
    virtual ~spool_segment_reader() = default;
    virtual uint64_t id() const = 0; // the segment's sequence number
    // The next valid record; false at the end of the segment (or when it cannot be read, which
    // is reported on stderr and counted like corrupt bytes). The view stays valid until the
    // next call. Corrupt and torn records are skipped and counted in spool_counters.
    virtual bool next(std::string_view& record) = 0;
    virtual uint64_t records_read() const = 0; // valid records returned so far
};

class spool {
public:
    // Opens (creating it when missing) the spool directory and lists segments left by an
    // earlier run, which are sealed and come first for replay. nullptr with error set when
    // the directory cannot be used; error names spool.dir, the path and the reason.
    static std::unique_ptr<spool> open(const spool_settings& settings, std::string& error);

    virtual ~spool() = default;
    // Buffers one record (a JSON event). Never blocks longer than one write(2) of the buffer.
    virtual spool_append_result append(std::string_view record, spool_origin origin) = 0;
    // Writes buffered records with write(2).
    virtual void flush() = 0;
    // Call at least every 100 ms: fdatasyncs the active segment when spool.fsync_ms has passed
    // since its last sync and it was written since. now_ms: CLOCK_MONOTONIC milliseconds.
    virtual void tick(uint64_t now_ms) = 0;
    // flush() and fdatasync now (shutdown, and before a segment is removed).
    virtual void sync() = 0;
    // True while appends can succeed: the directory is usable, the last write succeeded and
    // the budget is not spent. Any thread.
    virtual bool writable() const = 0;
    // What is left of spool.max_bytes. Sink thread.
    virtual uint64_t free_bytes() const = 0;
    // True when no record waits: no sealed segment and an empty active segment.
    virtual bool empty() const = 0;
    // The oldest sealed segment not handed out yet. When there is none and the active segment
    // holds records, the active segment is flushed, fdatasync'd and sealed first (later
    // appends start a new segment). nullptr when nothing waits. The reader counts into this
    // spool's counters: destroy it before the spool.
    virtual std::unique_ptr<spool_segment_reader> open_next_segment() = 0;
    // Every record of segment id was acknowledged by Kafka or appended again: sync(), unlink
    // the file, fsync the directory, update the gauges (records_read: the reader's count).
    virtual void remove_segment(uint64_t id, uint64_t records_read) = 0;
    // Segment id, handed out by open_next_segment, could not be retired (some of its records
    // failed again and could not be appended again): it waits again, and a later
    // open_next_segment hands it out anew, its records replayed again (duplicates keep their
    // ids). Without this call it waits for the next start.
    virtual void return_segment(uint64_t id) = 0;
    // sync() and close. No call follows.
    virtual void close() = 0;
    virtual const spool_counters& counters() const = 0;
};

} // namespace pixelring
