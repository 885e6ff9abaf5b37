#pragma once
// The live figures of the dashboard (/dashboard, /stats.json), counted on the sink thread
// from the events it drains from the workers' rings: never on a worker. Memory is fixed at
// construction whatever the traffic:
//
//   - counts by event type since start, per second for the last minute and per minute for the
//     last 24 hours (1,440 buckets);
//   - top lists of actions, campaigns, pages (page_host + path), referrer hosts (beacons'
//     referrer), countries and agent labels, each a Space-Saving summary (top_counter.hh) per
//     minute for the last hour and per hour for the last 24 hours. The minute's summary is
//     folded into its hour's when the minute ends. Reading an event for the lists costs
//     about as much as writing it, so beyond full_per_second events in a second only one in
//     sample_every is read, and counted for all of them: under load the lists are estimates
//     from a sample (the type counts stay exact).
//
// add() reads the event as core/event/encoder.cc writes it: members in a fixed order, the id and
// the timestamp of fixed width, so the type sits at a fixed offset and each later member is found
// by its name where the encoder puts it; an event that does not read that way is counted by
// type (or as "other") and left out of the lists. Keys are kept as the event has them, JSON
// escaped, at most top_counter::max_key bytes.
//
// event_stats belongs to the sink thread. stats_board hands its JSON to the admin thread: the
// admin thread asks, the sink thread writes the figures on its next pass, and the admin thread
// copies them under a mutex the workers never see.

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "dashboard/top_counter.hh"

namespace pixelring {

class event_stats {
public:
    enum type_index : uint8_t { pixel, beacon, rest, redirect, other, type_count };
    enum list_index : uint8_t {
        actions,
        campaigns,
        pages,
        referrers,
        countries,
        agents,
        list_count
    };
    static constexpr uint32_t minute_entries = 32; // per list and minute
    static constexpr uint32_t hour_entries = 64;   // per list and hour
    static constexpr size_t top_shown = 10;
    // Events of one second read for the top lists one by one; beyond, one in sample_every,
    // counted sample_every times, so that a busy sink thread pays for few of them.
    static constexpr uint64_t full_per_second = 1000;
    static constexpr uint64_t sample_every = 64;

    // enriched: tracking.enrich, whether events carry agent and GeoIP members.
    event_stats(uint64_t now_ms, bool enriched);

    // One event (sink thread).
    void add(std::string_view event) noexcept;
    // Moves the clock (sink thread, at least every 100 ms and before add() in a new second).
    void tick(uint64_t now_ms) noexcept;
    // The figures as one JSON object (sink thread; allocates).
    void write_json(std::string& out, uint64_t now_ms);

    uint64_t total(type_index t) const noexcept { return totals_[t]; }
    // Events of a type that were to be listed but did not read as the encoder writes (0 unless
    // the encoder and this reader disagree; the fuzzer checks it).
    uint64_t unread() const noexcept { return unread_; }

private:
    struct minute_bucket {
        uint64_t minute = UINT64_MAX;
        std::array<uint64_t, type_count> by_type{};
    };
    struct second_bucket {
        uint64_t second = UINT64_MAX;
        uint64_t count = 0;
    };
    static constexpr size_t minutes_kept = 1440;
    static constexpr size_t seconds_kept = 64;

    void roll_minute(uint64_t minute) noexcept;
    bool read_lists(const char* p, const char* end, uint64_t weight) noexcept;
    top_counter& minute_top(list_index l, uint64_t minute) noexcept {
        return minute_tops_[l * 60 + minute % 60];
    }
    top_counter& hour_top(list_index l, uint64_t hour) noexcept {
        return hour_tops_[l * 24 + hour % 24];
    }

    const bool enriched_;
    const uint64_t started_ms_;
    uint64_t minute_ = 0, second_ = 0;
    std::array<uint64_t, type_count> totals_{};
    uint64_t unsampled_ = 0;             // events passed over since the last sampled one
    uint64_t listed_ = 0;                // events read for the top lists
    uint64_t unread_ = 0;                // of those, events that did not read
    std::vector<minute_bucket> minutes_; // minutes_kept, by minute % minutes_kept
    std::array<second_bucket, seconds_kept> seconds_{};
    std::array<uint64_t, 60> minute_stamp_{}; // which minute each minute_tops_ column holds
    std::array<uint64_t, 24> hour_stamp_{};   // which hour each hour_tops_ column holds
    std::vector<top_counter> minute_tops_;    // list_count x 60
    std::vector<top_counter> hour_tops_;      // list_count x 24
    minute_bucket* current_ = nullptr;
    second_bucket* current_second_ = nullptr;
    top_counter* current_tops_[list_count] = {};
    std::vector<top_counter> scratch_; // write_json's merges, made once
};

// The hand-over of event_stats' JSON from the sink thread to the admin thread.
class stats_board {
public:
    // Admin thread: asks for fresh figures and waits up to wait_ms for them; returns the
    // freshest it has (empty before the sink thread wrote any).
    std::string read(uint64_t wait_ms);
    // Sink thread, once per pass: writes the figures when asked. One relaxed load otherwise.
    void serve(event_stats& stats, uint64_t now_ms);

private:
    std::atomic<uint64_t> asked_{0};
    uint64_t served_ = 0; // sink thread only
    std::mutex mutex_;
    std::condition_variable written_;
    uint64_t generation_ = 0; // under mutex_
    std::string json_;        // under mutex_
    std::string scratch_;     // sink thread only
};

} // namespace pixelring
