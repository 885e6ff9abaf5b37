#pragma once
// Whether the sink can keep the events handed to it now. The sink thread sets it once per
// drain pass from the sink's can_keep (sinks/sink.hh); every worker reads it before it takes
// an event, so that no client is told "accepted" for an event the sink would then drop: a
// beacon gets 503 with Retry-After, a pixel keeps its image (a mail client cannot retry) and
// its event is counted dropped (reason sink_unavailable). /readyz reads it too. One relaxed
// atomic, written by one thread; no lock.

#include <atomic>
#include <string_view>

namespace pixelring {

struct sink_gate {
    std::atomic<bool> open{true};

    bool is_open() const noexcept { return open.load(std::memory_order_relaxed); }
    void set(bool value) noexcept {
        if (open.load(std::memory_order_relaxed) != value)
            open.store(value, std::memory_order_relaxed);
    }
};

// The reason a beacon's receipts and its 503 give while the gate is closed.
inline constexpr std::string_view sink_unavailable_text =
    "the server cannot keep events now (its spool is full or failing); retry later";

} // namespace pixelring
