// Event ids and timestamps (docs/event.md): the UUIDv7 generator and the ISO-8601 writer.

#include <cstring>

#include "core/event/event.hh"
#include "core/http/percent_decode.hh"

namespace pixelring {

namespace {

inline char* two_digits(char* o, unsigned v) noexcept {
    o[0] = static_cast<char>('0' + v / 10);
    o[1] = static_cast<char>('0' + v % 10);
    return o + 2;
}

uint64_t splitmix64(uint64_t& x) noexcept {
    uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

inline uint64_t rotl(uint64_t x, int k) noexcept {
    return (x << k) | (x >> (64 - k));
}

// xoroshiro128++ (Blackman & Vigna): two words of state, 64 bits per call.
inline uint64_t xoroshiro128pp(uint64_t (&s)[2]) noexcept {
    const uint64_t s0 = s[0];
    uint64_t s1 = s[1];
    const uint64_t result = rotl(s0 + s1, 17) + s0;
    s1 ^= s0;
    s[0] = rotl(s0, 49) ^ s1 ^ (s1 << 21);
    s[1] = rotl(s1, 28);
    return result;
}

constexpr uint16_t k_counter_max = 0xFFF;
constexpr uint16_t k_counter_start_mask = 0x7FF; // a new ms starts in the low half

} // namespace

uuidv7_generator::uuidv7_generator(uint64_t seed) noexcept {
    state_[0] = splitmix64(seed);
    state_[1] = splitmix64(seed);
    if ((state_[0] | state_[1]) == 0) state_[1] = 1; // the all-zero state is a fixed point
    counter_ = static_cast<uint16_t>(xoroshiro128pp(state_) & k_counter_start_mask);
}

event_id uuidv7_generator::next(uint64_t unix_ms) noexcept {
    if (unix_ms > last_ms_) {
        last_ms_ = unix_ms;
        counter_ = static_cast<uint16_t>(xoroshiro128pp(state_) & k_counter_start_mask);
    } else if (++counter_ > k_counter_max) {
        // 4096 ids in one ms (or a clock that went back): borrow the next ms (RFC 9562 §6.2).
        ++last_ms_;
        counter_ = static_cast<uint16_t>(xoroshiro128pp(state_) & k_counter_start_mask);
    }
    const uint64_t random = xoroshiro128pp(state_);
    event_id id;
    for (int i = 0; i < 6; ++i)
        id[i] = static_cast<uint8_t>(last_ms_ >> (40 - 8 * i));
    id[6] = static_cast<uint8_t>(0x70 | (counter_ >> 8));
    id[7] = static_cast<uint8_t>(counter_);
    id[8] = static_cast<uint8_t>(0x80 | ((random >> 56) & 0x3F));
    for (int i = 9; i < 16; ++i)
        id[i] = static_cast<uint8_t>(random >> (8 * (15 - i)));
    return id;
}

void format_uuid(const event_id& id, char* out) noexcept {
    char digits[32];
    detail::write_hex16(id.data(), digits);
    std::memcpy(out, digits, 8);
    out[8] = '-';
    std::memcpy(out + 9, digits + 8, 4);
    out[13] = '-';
    std::memcpy(out + 14, digits + 12, 4);
    out[18] = '-';
    std::memcpy(out + 19, digits + 16, 4);
    out[23] = '-';
    std::memcpy(out + 24, digits + 20, 12);
}

namespace {

// "YYYY-MM-DDTHH:MM:SS" for a Unix second, by Howard Hinnant's civil_from_days.
void format_second(uint64_t unix_s, char* o) noexcept {
    const uint64_t days = unix_s / 86400;
    const auto secs = static_cast<unsigned>(unix_s % 86400);
    const uint64_t z = days + 719468; // days since 0000-03-01
    const uint64_t era = z / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned day = doy - (153 * mp + 2) / 5 + 1;
    const unsigned month = mp < 10 ? mp + 3 : mp - 9;
    const auto year = static_cast<unsigned>(yoe + era * 400 + (month <= 2 ? 1 : 0));
    o = two_digits(o, year / 100);
    o = two_digits(o, year % 100);
    *o++ = '-';
    o = two_digits(o, month);
    *o++ = '-';
    o = two_digits(o, day);
    *o++ = 'T';
    o = two_digits(o, secs / 3600);
    *o++ = ':';
    o = two_digits(o, secs / 60 % 60);
    *o++ = ':';
    two_digits(o, secs % 60);
}

} // namespace

void format_timestamp(uint64_t unix_ms, char* out) noexcept {
    // Four-digit years only, so the output always has its 24 bytes.
    constexpr uint64_t last_ms = 253402300799999; // 9999-12-31T23:59:59.999Z
    if (unix_ms > last_ms) unix_ms = last_ms;
    // A worker stamps many events per second; the date and time of day change once.
    struct second_cache {
        uint64_t unix_s = ~uint64_t{0};
        char text[19];
    };
    thread_local second_cache cache;
    const uint64_t unix_s = unix_ms / 1000;
    if (cache.unix_s != unix_s) {
        format_second(unix_s, cache.text);
        cache.unix_s = unix_s;
    }
    std::memcpy(out, cache.text, sizeof cache.text);
    const auto ms = static_cast<unsigned>(unix_ms % 1000);
    out[19] = '.';
    out[20] = static_cast<char>('0' + ms / 100);
    two_digits(out + 21, ms % 100);
    out[23] = 'Z';
}

std::optional<uint64_t> parse_timestamp(std::string_view text) noexcept {
    constexpr std::string_view shape = "dddd-dd-ddTdd:dd:dd.dddZ";
    if (text.size() != shape.size()) return std::nullopt;
    for (size_t i = 0; i < shape.size(); ++i) {
        const bool digit = text[i] >= '0' && text[i] <= '9';
        if (shape[i] == 'd' ? !digit : text[i] != shape[i]) return std::nullopt;
    }
    auto num = [text](size_t at, size_t len) {
        int v = 0;
        for (size_t i = 0; i < len; ++i)
            v = v * 10 + (text[at + i] - '0');
        return v;
    };
    const int year = num(0, 4), month = num(5, 2), day = num(8, 2);
    const int hour = num(11, 2), minute = num(14, 2), second = num(17, 2), ms = num(20, 3);
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59)
        return std::nullopt;
    // Days since 1970-01-01 of a proleptic Gregorian date: Howard Hinnant's days_from_civil,
    // the inverse of format_second's civil_from_days.
    const int y = year - (month <= 2 ? 1 : 0);
    const int era = y / 400; // year >= 0
    const int yoe = y - era * 400;
    const int doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    const int64_t days = int64_t(era) * 146097 + doe - 719468;
    if (days < 0) return std::nullopt;
    return uint64_t(((days * 24 + hour) * 60 + minute) * 60'000 + int64_t(second) * 1000 + ms);
}

} // namespace pixelring
