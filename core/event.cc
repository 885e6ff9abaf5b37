#include "core/event.hh"

#include <cstring>

#include "core/percent_decode.hh"

namespace pixelring {
namespace {

using detail::decoded_byte;
using detail::k_hex_digits;
using detail::read_byte;

// ---- byte tables -------------------------------------------------------------------------

constexpr std::array<char, 200> make_digit_pairs() {
    std::array<char, 200> t{};
    for (int i = 0; i < 100; ++i) {
        t[2 * i] = static_cast<char>('0' + i / 10);
        t[2 * i + 1] = static_cast<char>('0' + i % 10);
    }
    return t;
}
constexpr auto k_digit_pairs = make_digit_pairs();

inline char* put_2digits(char* o, unsigned v) noexcept {
    std::memcpy(o, &k_digit_pairs[2 * v], 2);
    return o + 2;
}

// ---- query string ------------------------------------------------------------------------

// True when raw, percent-decoded with '+' as a space, is byte for byte equal to literal.
bool decoded_equals(std::string_view raw, std::string_view literal) noexcept {
    if (raw.size() < literal.size() || raw.size() > 3 * literal.size()) return false;
    auto p = reinterpret_cast<const uint8_t*>(raw.data());
    const auto end = p + raw.size();
    size_t i = 0;
    while (p < end) {
        if (i == literal.size()) return false;
        const decoded_byte d = read_byte<true, true>(p, end);
        if (d.value != static_cast<uint8_t>(literal[i])) return false;
        ++i;
        p += d.len;
    }
    return i == literal.size();
}

struct query_param {
    std::string_view key;
    std::string_view value;
};

// Takes the next non-empty '&'-separated piece off rest; false when none is left.
bool next_param(std::string_view& rest, query_param& param) noexcept {
    while (!rest.empty()) {
        const size_t amp = rest.find('&');
        const std::string_view piece = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
        if (piece.empty()) continue;
        const size_t eq = piece.find('=');
        if (eq == std::string_view::npos) {
            param = {piece, {}};
        } else {
            param = {piece.substr(0, eq), piece.substr(eq + 1)};
        }
        return true;
    }
    return false;
}

constexpr std::string_view k_campaign_key = "campaignID";

// ---- Referer -----------------------------------------------------------------------------

struct referer_parts {
    bool absolute = false; // an http(s) URL with a non-empty host
    std::string_view host; // without userinfo, port and IPv6 brackets; not yet lower-cased
    std::string_view path; // without query and fragment, still percent-encoded; may be empty
};

bool starts_with_ignoring_case(std::string_view s, std::string_view lower_prefix) noexcept {
    if (s.size() < lower_prefix.size()) return false;
    for (size_t i = 0; i < lower_prefix.size(); ++i) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c | 0x20);
        if (c != lower_prefix[i]) return false;
    }
    return true;
}

// The first of the given delimiters in s, or s.size(). A loop: string_view::find_first_of
// calls memchr once per byte of s, which was a fifth of the encoder's time.
template <char... delimiters> size_t find_delimiter(std::string_view s) noexcept {
    for (size_t i = 0; i < s.size(); ++i) {
        if (((s[i] == delimiters) || ...)) return i;
    }
    return s.size();
}

referer_parts parse_referer(std::string_view url) noexcept {
    referer_parts parts;
    std::string_view rest;
    if (starts_with_ignoring_case(url, "http://")) {
        rest = url.substr(7);
    } else if (starts_with_ignoring_case(url, "https://")) {
        rest = url.substr(8);
    } else {
        return parts;
    }
    const size_t authority_end = find_delimiter<'/', '?', '#'>(rest);
    std::string_view authority = rest.substr(0, authority_end);
    const std::string_view after = rest.substr(authority_end);
    if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
        authority.remove_prefix(at + 1);
    }
    if (!authority.empty() && authority.front() == '[') {
        const size_t close = authority.find(']');
        if (close == std::string_view::npos) return parts;
        parts.host = authority.substr(1, close - 1);
    } else {
        parts.host = authority.substr(0, authority.find(':'));
    }
    if (parts.host.empty()) return parts;
    parts.path = after.substr(0, find_delimiter<'?', '#'>(after));
    parts.absolute = true;
    return parts;
}

// ---- client address ----------------------------------------------------------------------

// Longest address text: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".
constexpr size_t k_ip_text_max = 39;

// The same text as inet_ntop, which spent a quarter of the encoder's time in its printf.
// One difference: IPv4-compatible ::a.b.c.d (deprecated, RFC 4291) is written in hex.
char* put_ipv4(char* o, const uint8_t* b) noexcept {
    for (int i = 0; i < 4; ++i) {
        if (i != 0) *o++ = '.';
        unsigned v = b[i];
        if (v >= 100) {
            *o++ = static_cast<char>('0' + v / 100);
            v %= 100;
            o = put_2digits(o, v);
        } else if (v >= 10) {
            o = put_2digits(o, v);
        } else {
            *o++ = static_cast<char>('0' + v);
        }
    }
    return o;
}

// RFC 5952: lower-case hex without leading zeros; the longest run of two or more zero
// groups (the first of equal runs) becomes "::".
char* put_ipv6(char* o, const uint8_t* b) noexcept {
    unsigned groups[8];
    for (int i = 0; i < 8; ++i)
        groups[i] = static_cast<unsigned>(b[2 * i] << 8 | b[2 * i + 1]);
    int run = -1;
    int run_len = 1;
    for (int i = 0; i < 8;) {
        int end = i;
        while (end < 8 && groups[end] == 0)
            ++end;
        if (end - i > run_len) {
            run = i;
            run_len = end - i;
        }
        i = end == i ? i + 1 : end;
    }
    for (int i = 0; i < 8; ++i) {
        if (i == run) {
            *o++ = ':';
            *o++ = ':';
            i += run_len - 1;
            continue;
        }
        if (i != 0 && i != run + run_len) *o++ = ':';
        const unsigned g = groups[i];
        int shift = 12;
        while (shift > 0 && (g >> shift) == 0)
            shift -= 4;
        for (; shift >= 0; shift -= 4)
            *o++ = k_hex_digits[(g >> shift) & 15];
    }
    return o;
}

// Writes the address as configured into buf[k_ip_text_max]; returns its length, 0 when the
// address is unknown. IPv4-mapped IPv6 (::ffff:a.b.c.d) is treated as the IPv4 address.
size_t format_client_ip(const ip_address& addr, ip_privacy privacy, char* buf) noexcept {
    static constexpr uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    const bool truncate = privacy == ip_privacy::truncate;
    uint8_t bytes[16];
    const uint8_t* v4 = nullptr;
    if (addr.family == 4) {
        v4 = addr.bytes;
    } else if (addr.family == 6 && std::memcmp(addr.bytes, v4_mapped_prefix, 12) == 0) {
        v4 = addr.bytes + 12;
    } else if (addr.family == 6) {
        std::memcpy(bytes, addr.bytes, 16);
        if (truncate) std::memset(bytes + 6, 0, 10); // /48
        return static_cast<size_t>(put_ipv6(buf, bytes) - buf);
    } else {
        return 0;
    }
    std::memcpy(bytes, v4, 4);
    if (truncate) bytes[3] = 0; // /24
    return static_cast<size_t>(put_ipv4(buf, bytes) - buf);
}

// ---- encoder -----------------------------------------------------------------------------

// The literal parts of an event in output order. max_pixel_event_size adds them up, so an
// edit here cannot make the bound too small.
constexpr std::string_view k_open_id = "{\"v\":1,\"id\":\"";
constexpr std::string_view k_ts = "\",\"ts\":\"";
constexpr std::string_view k_action = "\",\"type\":\"pixel\",\"action\":\"";
constexpr std::string_view k_campaign = "\",\"campaign\":";
constexpr std::string_view k_params = ",\"params\":{";
constexpr std::string_view k_url = "},\"url\":";
constexpr std::string_view k_path = ",\"path\":";
constexpr std::string_view k_page_host = ",\"page_host\":";
constexpr std::string_view k_referrer = ",\"referrer\":null";
constexpr std::string_view k_ip = ",\"ip\":\"";
constexpr std::string_view k_ua = ",\"ua\":\"";
constexpr std::string_view k_host = ",\"host\":";
constexpr std::string_view k_collector = ",\"collector\":\"";
constexpr std::string_view k_close = "\"}";
constexpr std::string_view k_null = "null";

constexpr size_t k_uuid_len = 36;
constexpr size_t k_timestamp_len = 24;
constexpr size_t k_nullable_slots = 5; // campaign, url, path, page_host, host: null or quoted
constexpr size_t k_quote_pairs = 3;    // ip, ua and collector close their quotes

// Everything but the escaped field contents, with every optional field present.
constexpr size_t k_skeleton_size =
    k_open_id.size() + k_uuid_len + k_ts.size() + k_timestamp_len + k_action.size() +
    k_campaign.size() + k_params.size() + k_url.size() + k_path.size() + k_page_host.size() +
    k_referrer.size() + k_ip.size() + k_ip_text_max + k_ua.size() + k_host.size() +
    k_collector.size() + k_close.size() + k_nullable_slots * k_null.size() + k_quote_pairs;

inline char* put(char* o, std::string_view s) noexcept {
    std::memcpy(o, s.data(), s.size());
    return o + s.size();
}

inline char* put_escaped(char* o, std::string_view s, bool decode = false,
                         bool plus = false) noexcept {
    return o + json_escape(s, o, decode, plus);
}

inline char* put_quoted(char* o, std::string_view s, bool decode = false,
                        bool plus = false) noexcept {
    *o++ = '"';
    o = put_escaped(o, s, decode, plus);
    *o++ = '"';
    return o;
}

// Writes the params members. Keys are compared in their escaped form, which is what the
// reader sees: a later key that escapes the same as an earlier one is dropped, so the object
// never holds a duplicate name (also not when two different invalid byte strings both became
// U+FFFD). The dropped key's bytes are written first and then given back.
char* put_params(char* const out, char* o, std::string_view query) noexcept {
    struct written_key {
        uint32_t offset;
        uint32_t len;
    };
    written_key keys[max_event_params];
    size_t count = 0;
    query_param param;
    while (count < max_event_params && next_param(query, param)) {
        if (decoded_equals(param.key, k_campaign_key)) continue;
        char* const member = o;
        if (count != 0) *o++ = ',';
        *o++ = '"';
        char* const key = o;
        o = put_escaped(o, param.key, true, true);
        const auto key_len = static_cast<uint32_t>(o - key);
        bool repeated = false;
        for (size_t i = 0; i < count && !repeated; ++i) {
            repeated =
                keys[i].len == key_len && std::memcmp(out + keys[i].offset, key, key_len) == 0;
        }
        if (repeated) {
            o = member;
            continue;
        }
        keys[count++] = {static_cast<uint32_t>(key - out), key_len};
        o = put(o, "\":");
        o = put_quoted(o, param.value, true, true);
    }
    return o;
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
    for (size_t i = 0; i < id.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) *out++ = '-';
        *out++ = k_hex_digits[id[i] >> 4];
        *out++ = k_hex_digits[id[i] & 15];
    }
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
    o = put_2digits(o, year / 100);
    o = put_2digits(o, year % 100);
    *o++ = '-';
    o = put_2digits(o, month);
    *o++ = '-';
    o = put_2digits(o, day);
    *o++ = 'T';
    o = put_2digits(o, secs / 3600);
    *o++ = ':';
    o = put_2digits(o, secs / 60 % 60);
    *o++ = ':';
    put_2digits(o, secs % 60);
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
    put_2digits(out + 21, ms % 100);
    out[23] = 'Z';
}

size_t max_pixel_event_size(const pixel_hit& hit, const encode_options& opt) noexcept {
    // Escaping writes at most 6 bytes per input byte. A params member adds 6 bytes of quotes,
    // ':' and ',' to its escaped key and value: the '&' after it, or the '=' inside it, pays
    // for them, which leaves 6 for a last piece without '='. The Referer is written whole as
    // url, and path and page_host are disjoint parts of it.
    return k_skeleton_size +
           6 * (hit.action.size() + hit.query.size() + 1 + hit.user_agent.size() + hit.host.size() +
                opt.collector.size()) +
           12 * hit.referer.size();
}

size_t encode_pixel_event(const pixel_hit& hit, const encode_options& opt, const event_id& id,
                          uint64_t unix_ms, char* out) noexcept {
    char* o = put(out, k_open_id);
    format_uuid(id, o);
    o = put(o + k_uuid_len, k_ts);
    format_timestamp(unix_ms, o);
    o = put(o + k_timestamp_len, k_action);
    o = put_escaped(o, hit.action, true, false);

    o = put(o, k_campaign);
    std::string_view rest = hit.query;
    query_param param;
    bool has_campaign = false;
    while (!has_campaign && next_param(rest, param)) {
        has_campaign = decoded_equals(param.key, k_campaign_key);
    }
    o = has_campaign ? put_quoted(o, param.value, true, true) : put(o, k_null);

    o = put(o, k_params);
    o = put_params(out, o, hit.query);

    o = put(o, k_url);
    if (hit.referer.empty()) {
        o = put(o, k_null);
        o = put(o, k_path);
        o = put(o, k_null);
        o = put(o, k_page_host);
        o = put(o, k_null);
    } else {
        o = put_quoted(o, hit.referer);
        const referer_parts ref = parse_referer(hit.referer);
        o = put(o, k_path);
        if (!ref.absolute) {
            o = put(o, k_null);
        } else if (ref.path.empty()) {
            o = put(o, "\"/\"");
        } else {
            o = put_quoted(o, ref.path, true, false);
        }
        o = put(o, k_page_host);
        if (!ref.absolute) {
            o = put(o, k_null);
        } else {
            *o++ = '"';
            char* const host = o;
            o = put_escaped(o, ref.host);
            // Escapes only add lower-case letters, so this touches host letters alone.
            for (char* c = host; c < o; ++c) {
                if (*c >= 'A' && *c <= 'Z') *c = static_cast<char>(*c | 0x20);
            }
            *o++ = '"';
        }
    }
    o = put(o, k_referrer);

    if (opt.ip != ip_privacy::none) {
        char ip[k_ip_text_max];
        if (const size_t len = format_client_ip(hit.client, opt.ip, ip); len != 0) {
            o = put(o, k_ip);
            o = put(o, {ip, len});
            *o++ = '"';
        }
    }
    if (opt.user_agent && !hit.user_agent.empty()) {
        o = put(o, k_ua);
        o = put_escaped(o, hit.user_agent);
        *o++ = '"';
    }
    o = put(o, k_host);
    o = hit.host.empty() ? put(o, k_null) : put_quoted(o, hit.host);
    o = put(o, k_collector);
    o = put_escaped(o, opt.collector);
    o = put(o, k_close);
    return static_cast<size_t>(o - out);
}

} // namespace pixelring
