#pragma once
// The sink interface: where the sink thread puts events it drained from the workers' rings.
// Every member is called on the sink thread only, except counters() and healthy(), which any
// thread may read. Implementations: file_sink.hh (NDJSON, the default), stdout_sink.hh.

#include <atomic>
#include <cstdint>
#include <string_view>

namespace pixelring {

// Outcome counts kept by each sink; read by the admin thread.
struct sink_counters {
    std::atomic<uint64_t> written{0}; // events handed to the OS (write(2) returned them)
    std::atomic<uint64_t> failed{0};  // events lost to a write error (dropped{sink_error})
    std::atomic<uint64_t> bytes{0};
    std::atomic<uint64_t> rotations{0};
    std::atomic<uint64_t> fsyncs{0};
    std::atomic<uint64_t> queued{0}; // gauge: handed over, not yet settled (Kafka's queue)
};

class sink {
public:
    virtual ~sink() = default;
    // One event: a complete JSON object without newline. Buffered; may write when the buffer
    // fills. Never blocks for longer than one write(2). Every event ends up counted in
    // written or failed by the time flush() returns.
    virtual void write(std::string_view event) = 0;
    // End of a drain pass: hand buffered events to the OS.
    virtual void flush() = 0;
    // Called at least every 100 ms with CLOCK_REALTIME milliseconds: rotation by age, fsync.
    virtual void tick(uint64_t now_ms) = 0;
    // SIGHUP: reopen the output (after logrotate moved it).
    virtual void reopen() = 0;
    // Flush, fsync where it applies, and close. No call follows.
    virtual void close() = 0;
    // False while the sink cannot write (for /readyz). Any thread.
    virtual bool healthy() const = 0;
    virtual const sink_counters& counters() const = 0;
};

} // namespace pixelring
