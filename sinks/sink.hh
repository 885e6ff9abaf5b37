#pragma once
// The sink interface: where the sink thread puts events it drained from the workers' rings.
// Every member is called on the sink thread only, except counters(), healthy() and
// write_metrics(), which any thread may call. Implementations: file_sink.hh (NDJSON, the
// default), stdout_sink.hh, kafka_sink.hh.

#include <atomic>
#include <cstdint>
#include <string>
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
    // Kafka only: events whose delivery failed and that the spool took, or could not take.
    std::atomic<uint64_t> spooled{0};
    std::atomic<uint64_t> dropped_spool_full{0};  // spool.max_bytes spent
    std::atomic<uint64_t> dropped_spool_error{0}; // the spool could not write them
};

class sink {
public:
    virtual ~sink() = default;
    // One event: a complete JSON object without newline. Buffered; may write when the buffer
    // fills. Never blocks for longer than one write(2). Every event ends up counted in
    // written or failed by the time flush() returns, except where a sink holds events on
    // purpose: the file sink under sink.file.direct holds them for whole blocks, up to 10 ms,
    // and its poll() hands them over after that; close() hands over everything.
    virtual void write(std::string_view event) = 0;
    // End of a drain pass: hand buffered events to the OS.
    virtual void flush() = 0;
    // Called on every pass of the sink thread, busy or idle (about once a millisecond when
    // idle): background work such as Kafka's delivery reports and spool replay. Returns true
    // when more work is ready at once, so that the sink thread does not sleep.
    virtual bool poll() { return false; }
    // How long the sink thread sleeps after a pass that found the rings empty and poll()
    // with nothing more to do, in microseconds: each sleep is a wake-up later, and one more
    // drain pass of the few events that came meanwhile. 1 ms unless the sink holds events
    // anyway (the file sink under sink.file.direct: 5 ms, against its 10 ms hold).
    virtual uint32_t idle_sleep_us() const { return 1000; }
    // Called at least every 100 ms with CLOCK_REALTIME milliseconds: rotation by age, fsync.
    virtual void tick(uint64_t now_ms) = 0;
    // SIGHUP: reopen the output (after logrotate moved it).
    virtual void reopen() = 0;
    // Flush, fsync where it applies, and close. No call follows.
    virtual void close() = 0;
    // False while the sink cannot write (for /readyz). Any thread.
    virtual bool healthy() const = 0;
    // Whether the sink can keep what it holds and incoming_bytes more of events (those still
    // in the rings): write them, or be sure to deliver or spool them. False before the sink
    // would have to drop an event, so that workers refuse events instead of accepting them
    // and dropping them later (core/sink_gate.hh). Sink thread, once per drain pass.
    virtual bool can_keep(uint64_t incoming_bytes) const {
        (void)incoming_bytes;
        return healthy();
    }
    virtual const sink_counters& counters() const = 0;
    // Appends series of its own to the Prometheus text of /metrics. Any thread.
    virtual void write_metrics(std::string& out) const { (void)out; }
};

} // namespace pixelring
