#include "dashboard/event_stats.hh"

#include "core/base/ascii.hh"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <random>

#include <fmt/format.h>

#include "core/event/event_layout.hh"

namespace pixelring {

namespace {

// The encoder's layout (core/event/encoder.cc): {"v":1,"id":"<36>","ts":"<24>","type":"<type>",
// "action":"…","campaign":null|"…","params":{…}[,"params_truncated":true],"url":…,"path":…,
// "page_host":…,"referrer":…, … ,"country":"…", … ,"agent":"…", …}
using namespace event_layout;
constexpr size_t type_name_at = k_open_id.size() + k_uuid_len + k_ts.size() + k_timestamp_len;
constexpr size_t type_at = type_name_at + k_type.size();
// After params: ,"params_truncated":true when it was cut (k_params_truncated less its brace).
constexpr std::string_view params_truncated = k_params_truncated.substr(1);

constexpr std::string_view type_names[event_stats::type_count] = {"pixel", "beacon", "rest",
                                                                  "redirect", "other"};
constexpr std::string_view list_names[event_stats::list_count] = {
    "actions", "campaigns", "pages", "referrers", "countries", "agents"};

// A member's value: the escaped text between the quotes, or null (is_null).
struct value {
    std::string_view text;
    bool is_null = true;
};

// The closing quote of a JSON string whose text starts at p: the first quote not escaped.
const char* string_end(const char* p, const char* end) noexcept {
    for (const char* from = p;;) {
        const auto* q = static_cast<const char*>(std::memchr(from, '"', size_t(end - from)));
        if (!q) return nullptr;
        size_t slashes = 0;
        while (q - slashes > p && q[-1 - std::ptrdiff_t(slashes)] == '\\')
            ++slashes;
        if (slashes % 2 == 0) return q;
        from = q + 1;
    }
}

[[gnu::always_inline]] inline bool skip(const char*& p, const char* end,
                                        std::string_view lit) noexcept {
    if (size_t(end - p) < lit.size() || std::memcmp(p, lit.data(), lit.size()) != 0) return false;
    p += lit.size();
    return true;
}

// A value of null or a string at p; p moves past it.
bool read_value(const char*& p, const char* end, value& v) noexcept {
    if (skip(p, end, "null")) {
        v = {};
        return true;
    }
    if (p == end || *p != '"') return false;
    const char* q = string_end(p + 1, end);
    if (!q) return false;
    v = {{p + 1, size_t(q - p - 1)}, false};
    p = q + 1;
    return true;
}

// The host of an http(s) URL's escaped text (referrer), lower-cased into buf.
std::string_view url_host(std::string_view url, char* buf, size_t cap) noexcept {
    const size_t scheme = url.find("://");
    if (scheme == std::string_view::npos || scheme > 8) return {};
    url.remove_prefix(scheme + 3);
    size_t n = 0;
    while (n < url.size() && url[n] != '/' && url[n] != '?' && url[n] != '#' && url[n] != ':' &&
           url[n] != '\\')
        ++n;
    n = cut_escaped(url.substr(0, n), cap);
    for (size_t i = 0; i < n; ++i)
        buf[i] = ascii_lower(url[i]);
    return {buf, n};
}

uint64_t random_seed() {
    std::random_device rd;
    return (uint64_t(rd()) << 32) ^ rd();
}

} // namespace

event_stats::event_stats(uint64_t now_ms, bool enriched)
    : enriched_(enriched), started_ms_(now_ms), minutes_(minutes_kept) {
    const uint64_t seed = random_seed();
    minute_tops_.reserve(list_count * 60);
    for (size_t i = 0; i < list_count * 60; ++i)
        minute_tops_.emplace_back(minute_entries, seed);
    hour_tops_.reserve(list_count * 24);
    for (size_t i = 0; i < list_count * 24; ++i)
        hour_tops_.emplace_back(hour_entries, seed);
    minute_stamp_.fill(UINT64_MAX);
    hour_stamp_.fill(UINT64_MAX);
    minute_ = UINT64_MAX;
    second_ = UINT64_MAX;
    tick(now_ms);
}

void event_stats::roll_minute(uint64_t minute) noexcept {
    // The minute that ended joins its hour, whose column was made fresh when that minute began
    // (below).
    const uint64_t old = minute_;
    if (old != UINT64_MAX)
        for (uint8_t l = 0; l < list_count; ++l)
            hour_top(list_index(l), old / 60).merge(minute_top(list_index(l), old));
    minute_ = minute;
    if (hour_stamp_[(minute / 60) % 24] != minute / 60) {
        for (uint8_t l = 0; l < list_count; ++l)
            hour_top(list_index(l), minute / 60).clear();
        hour_stamp_[(minute / 60) % 24] = minute / 60;
    }
    for (uint8_t l = 0; l < list_count; ++l) {
        top_counter& t = minute_top(list_index(l), minute);
        t.clear();
        current_tops_[l] = &t;
    }
    minute_stamp_[minute % 60] = minute;
    current_ = &minutes_[minute % minutes_kept];
    *current_ = minute_bucket{minute, {}};
}

void event_stats::tick(uint64_t now_ms) noexcept {
    const uint64_t second = now_ms / 1000;
    if (second != second_) {
        second_ = second;
        current_second_ = &seconds_[second % seconds_kept];
        *current_second_ = second_bucket{second, 0};
    }
    if (now_ms / 60'000 != minute_) roll_minute(now_ms / 60'000);
}

void event_stats::add(std::string_view event) noexcept {
    const char* p = event.data();
    const char* const end = p + event.size();
    type_index t = other;
    // Comparisons of constant length, which the compiler turns into a few loads.
    constexpr size_t open_len = k_open_id.size(), type_len = k_type.size();
    if (event.size() > type_at + 9 && std::memcmp(p, k_open_id.data(), open_len) == 0 &&
        std::memcmp(p + type_name_at, k_type.data(), type_len) == 0) {
        const char* v = p + type_at;
        if (v[0] == 'p' && std::memcmp(v, "pixel\"", 6) == 0)
            t = pixel;
        else if (v[0] == 'b' && std::memcmp(v, "beacon\"", 7) == 0)
            t = beacon;
        else if (v[0] == 'r' && std::memcmp(v, "rest\"", 5) == 0)
            t = rest;
        else if (v[0] == 'r' && std::memcmp(v, "redirect\"", 9) == 0)
            t = redirect;
    }
    ++totals_[t];
    ++current_->by_type[t];
    ++current_second_->count;
    if (t == other) return;
    // The top lists: every event up to full_per_second in a second, then one in
    // sample_every, counted sample_every times.
    uint64_t weight = 1;
    if (current_second_->count > full_per_second) {
        if (++unsampled_ < sample_every) return;
        unsampled_ = 0;
        weight = sample_every;
    }
    ++listed_;
    if (!read_lists(p + type_at + type_names[t].size(), end, weight)) ++unread_;
}

// The members the lists count, from the end of the type on; false when the event does not
// read as the encoder writes.
bool event_stats::read_lists(const char* p, const char* const end, uint64_t weight) noexcept {
    value action, campaign, url, path, page_host, referrer;
    if (!skip(p, end, k_action)) return false;
    --p; // k_action's last quote opens the value
    if (!read_value(p, end, action) || !skip(p, end, k_campaign.substr(1)) ||
        !read_value(p, end, campaign) || !skip(p, end, k_params))
        return false;
    current_tops_[actions]->add(action.text, weight);
    if (!campaign.is_null && !campaign.text.empty())
        current_tops_[campaigns]->add(campaign.text, weight);
    // The params object: string members only.
    if (p == end) return false;
    if (*p == '}') {
        ++p;
    } else {
        for (;;) {
            value key, param;
            if (!read_value(p, end, key) || !skip(p, end, ":") || !read_value(p, end, param) ||
                p == end)
                return false;
            if (*p++ == '}') break;
        }
    }
    skip(p, end, params_truncated);
    if (!skip(p, end, k_url) || !read_value(p, end, url) || !skip(p, end, k_path) ||
        !read_value(p, end, path) || !skip(p, end, k_page_host) || !read_value(p, end, page_host) ||
        !skip(p, end, k_referrer) || !read_value(p, end, referrer))
        return false;
    if (!page_host.is_null) {
        char buf[top_counter::max_key];
        const size_t host_len = cut_escaped(page_host.text, sizeof buf);
        std::memcpy(buf, page_host.text.data(), host_len);
        const std::string_view rest_of_path = path.text.substr(
            0, cut_escaped(path.text, std::min(path.text.size(), sizeof buf - host_len)));
        std::memcpy(buf + host_len, rest_of_path.data(), rest_of_path.size());
        current_tops_[pages]->add({buf, host_len + rest_of_path.size()}, weight);
    }
    if (!referrer.is_null) {
        char buf[top_counter::max_key];
        const std::string_view host = url_host(referrer.text, buf, sizeof buf);
        if (!host.empty()) current_tops_[referrers]->add(host, weight);
    }
    if (!enriched_) return true;
    // The members after referrer, one by one up to agent: names are the encoder's, values a
    // string, the utm object (strings only), a number, true or false.
    while (end - p > 3 && p[0] == ',' && p[1] == '"') {
        const char* name = p + 2;
        const auto* name_end = static_cast<const char*>(std::memchr(name, '"', size_t(end - name)));
        if (!name_end || name_end + 1 >= end || name_end[1] != ':') return false;
        const std::string_view member{name, size_t(name_end - name)};
        p = name_end + 2;
        if (p == end) return false;
        if (*p == '"') {
            value v;
            if (!read_value(p, end, v)) return false;
            if (member == "agent") {
                current_tops_[agents]->add(v.text, weight);
                return true;
            }
            if (member == "country") current_tops_[countries]->add(v.text, weight);
        } else if (*p == '{') {
            ++p;
            while (p < end && *p != '}') {
                value v;
                if (*p == ',' || *p == ':') {
                    ++p;
                } else if (!read_value(p, end, v)) {
                    return false;
                }
            }
            if (p == end) return false;
            ++p;
        } else {
            while (p < end && *p != ',' && *p != '}')
                ++p;
        }
    }
    return true;
}

void event_stats::write_json(std::string& out, uint64_t now_ms) {
    tick(now_ms);
    auto out_it = std::back_inserter(out);
    auto types = [&](const std::array<uint64_t, type_count>& counts) {
        uint64_t all = 0;
        out += '{';
        for (uint8_t t = 0; t < type_count; ++t) {
            fmt::format_to(out_it, "\"{}\":{},", type_names[t], counts[t]);
            all += counts[t];
        }
        fmt::format_to(out_it, "\"all\":{}}}", all);
    };
    fmt::format_to(out_it, "{{\"now_ms\":{},\"since_ms\":{},\"totals\":", now_ms, started_ms_);
    types(totals_);

    // Per minute: the last 24 hours (sums) and the last 60 minutes (a series, oldest first).
    std::array<uint64_t, type_count> hour{}, day{};
    std::array<uint64_t, 60> per_minute{};
    for (const minute_bucket& m : minutes_) {
        if (m.minute == UINT64_MAX || m.minute > minute_ || minute_ - m.minute >= minutes_kept)
            continue;
        for (uint8_t t = 0; t < type_count; ++t) {
            day[t] += m.by_type[t];
            if (minute_ - m.minute < 60) hour[t] += m.by_type[t];
        }
        if (minute_ - m.minute < 60)
            for (uint8_t t = 0; t < type_count; ++t)
                per_minute[59 - (minute_ - m.minute)] += m.by_type[t];
    }
    out += ",\"last_hour\":";
    types(hour);
    out += ",\"last_24h\":";
    types(day);
    out += ",\"per_minute\":[";
    for (size_t i = 0; i < per_minute.size(); ++i)
        fmt::format_to(out_it, "{}{}", i ? "," : "", per_minute[i]);
    // Per second: the last 60 complete seconds, oldest first, and their mean of the last 10.
    out += "],\"per_second\":[";
    uint64_t last10 = 0;
    for (uint64_t back = 60; back >= 1; --back) {
        const second_bucket& s = seconds_[(second_ - back) % seconds_kept];
        const uint64_t n = s.second == second_ - back ? s.count : 0;
        if (back <= 10) last10 += n;
        fmt::format_to(out_it, "{}{}", back == 60 ? "" : ",", n);
    }
    fmt::format_to(out_it,
                   "],\"events_per_second\":{:.1f},\"listed\":{},\"unread\":{},"
                   "\"full_per_second\":{},\"sample_every\":{}",
                   double(last10) / 10.0, listed_, unread_, full_per_second, sample_every);

    // Top lists: the last 60 minute summaries; the last 24 hour summaries plus this minute's.
    if (scratch_.empty())
        for (int i = 0; i < 2; ++i)
            scratch_.emplace_back(4 * hour_entries, 1);
    std::vector<top_counter::entry> entries;
    auto list = [&](const top_counter& t) {
        entries.clear();
        t.for_each([&](const top_counter::entry& e) { entries.push_back(e); });
        const size_t n = std::min(entries.size(), top_shown);
        std::partial_sort(entries.begin(), entries.begin() + std::ptrdiff_t(n), entries.end(),
                          [](const auto& a, const auto& b) {
                              return a.count != b.count ? a.count > b.count : a.key < b.key;
                          });
        out += '[';
        for (size_t i = 0; i < n; ++i)
            fmt::format_to(out_it, "{}{{\"key\":\"{}\",\"count\":{},\"error\":{}}}", i ? "," : "",
                           entries[i].key, entries[i].count, entries[i].error);
        out += ']';
    };
    out += ",\"top\":{";
    for (uint8_t l = 0; l < list_count; ++l) {
        top_counter& last_hour = scratch_[0];
        top_counter& last_day = scratch_[1];
        last_hour.clear();
        last_day.clear();
        for (uint64_t back = 0; back < 60 && back <= minute_; ++back)
            if (minute_stamp_[(minute_ - back) % 60] == minute_ - back)
                last_hour.merge(minute_top(list_index(l), minute_ - back));
        const uint64_t this_hour = minute_ / 60;
        for (uint64_t back = 0; back < 24 && back <= this_hour; ++back)
            if (hour_stamp_[(this_hour - back) % 24] == this_hour - back)
                last_day.merge(hour_top(list_index(l), this_hour - back));
        last_day.merge(minute_top(list_index(l), minute_));
        fmt::format_to(out_it, "{}\"{}\":{{\"hour\":", l ? "," : "", list_names[l]);
        list(last_hour);
        out += ",\"day\":";
        list(last_day);
        out += '}';
    }
    out += "}}";
}

std::string stats_board::read(uint64_t wait_ms) {
    std::unique_lock lock(mutex_);
    const uint64_t seen = generation_;
    asked_.fetch_add(1, std::memory_order_release);
    written_.wait_for(lock, std::chrono::milliseconds(wait_ms),
                      [&] { return generation_ != seen; });
    return json_;
}

void stats_board::serve(event_stats& stats, uint64_t now_ms) {
    const uint64_t asked = asked_.load(std::memory_order_acquire);
    if (asked == served_) return;
    served_ = asked;
    scratch_.clear();
    stats.write_json(scratch_, now_ms);
    {
        std::lock_guard lock(mutex_);
        json_.swap(scratch_);
        ++generation_;
    }
    written_.notify_all();
}

} // namespace pixelring
