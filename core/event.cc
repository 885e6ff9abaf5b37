#include "core/event.hh"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace pixelring {
namespace {

// ---- byte tables -------------------------------------------------------------------------

// Bytes that leave the plain-ASCII copy loop: always the ones JSON needs escaped or UTF-8
// validation must see; '%' and '+' only when the caller decodes them.
constexpr uint8_t k_stop_always = 1;
constexpr uint8_t k_stop_percent = 2;
constexpr uint8_t k_stop_plus = 4;

constexpr std::array<uint8_t, 256> make_byte_classes() {
    std::array<uint8_t, 256> t{};
    for (int c = 0; c < 256; ++c) {
        if (c < 0x20 || c == '"' || c == '\\' || c >= 0x7F) t[c] |= k_stop_always;
        if (c == '%') t[c] |= k_stop_percent;
        if (c == '+') t[c] |= k_stop_plus;
    }
    return t;
}
constexpr auto k_byte_classes = make_byte_classes();

constexpr char k_hex_digits[] = "0123456789abcdef";

// The JSON form of each ASCII byte: itself, a two-character escape, or \u00XX.
struct ascii_escape {
    uint8_t len;
    char text[6];
};

constexpr std::array<ascii_escape, 128> make_ascii_escapes() {
    std::array<ascii_escape, 128> t{};
    for (int c = 0; c < 128; ++c) {
        ascii_escape& e = t[c];
        char short_form = 0;
        switch (c) {
        case '"':
            short_form = '"';
            break;
        case '\\':
            short_form = '\\';
            break;
        case '\b':
            short_form = 'b';
            break;
        case '\f':
            short_form = 'f';
            break;
        case '\n':
            short_form = 'n';
            break;
        case '\r':
            short_form = 'r';
            break;
        case '\t':
            short_form = 't';
            break;
        default:
            break;
        }
        if (short_form != 0) {
            e = {2, {'\\', short_form}};
        } else if (c < 0x20 || c == 0x7F) {
            e = {6, {'\\', 'u', '0', '0', k_hex_digits[c >> 4], k_hex_digits[c & 15]}};
        } else {
            e = {1, {static_cast<char>(c)}};
        }
    }
    return t;
}
constexpr auto k_ascii_escapes = make_ascii_escapes();

constexpr std::array<int8_t, 256> make_hex_values() {
    std::array<int8_t, 256> t{};
    for (int c = 0; c < 256; ++c) {
        t[c] = c >= '0' && c <= '9'   ? static_cast<int8_t>(c - '0')
               : c >= 'a' && c <= 'f' ? static_cast<int8_t>(c - 'a' + 10)
               : c >= 'A' && c <= 'F' ? static_cast<int8_t>(c - 'A' + 10)
                                      : int8_t{-1};
    }
    return t;
}
constexpr auto k_hex_values = make_hex_values();

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

constexpr char k_replacement[] = "\xEF\xBF\xBD"; // U+FFFD

// ---- escaping ----------------------------------------------------------------------------

// One decoded byte and how many input bytes it took (1, or 3 for a %XX escape).
struct decoded_byte {
    uint8_t value;
    uint8_t len;
};

template <bool decode, bool plus>
inline decoded_byte read_byte(const uint8_t* p, const uint8_t* end) noexcept {
    const uint8_t c = *p;
    if constexpr (decode) {
        if (c == '%' && end - p >= 3) {
            const int hi = k_hex_values[p[1]];
            const int lo = k_hex_values[p[2]];
            if ((hi | lo) >= 0) return {static_cast<uint8_t>(hi << 4 | lo), 3};
        }
    }
    if constexpr (plus) {
        if (c == '+') return {' ', 1};
    }
    return {c, 1};
}

// Copies the run of bytes that JSON takes as they are; returns where the run stopped.
// The SSE2 loop stores 16 bytes before it knows how many of them are plain. That stays
// inside json_escape's 6 * size budget: output so far is at most 6 * input consumed, and the
// loop only runs while 16 input bytes remain.
template <uint8_t stop>
inline const uint8_t* copy_plain_run(const uint8_t* p, const uint8_t* end, char*& o) noexcept {
#if defined(__SSE2__)
    while (end - p >= 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        // Signed compare: bytes >= 0x80 are negative, so this also catches non-ASCII.
        __m128i special = _mm_cmplt_epi8(v, _mm_set1_epi8(0x20));
        special = _mm_or_si128(special, _mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
        special = _mm_or_si128(special, _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
        special = _mm_or_si128(special, _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7F)));
        if constexpr ((stop & k_stop_percent) != 0)
            special = _mm_or_si128(special, _mm_cmpeq_epi8(v, _mm_set1_epi8('%')));
        if constexpr ((stop & k_stop_plus) != 0)
            special = _mm_or_si128(special, _mm_cmpeq_epi8(v, _mm_set1_epi8('+')));
        const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(special));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(o), v);
        if (mask != 0) {
            const unsigned n = static_cast<unsigned>(__builtin_ctz(mask));
            o += n;
            return p + n;
        }
        p += 16;
        o += 16;
    }
#endif
    while (p < end && (k_byte_classes[*p] & stop) == 0)
        *o++ = static_cast<char>(*p++);
    return p;
}

template <bool decode, bool plus>
size_t escape_impl(const uint8_t* p, const uint8_t* const end, char* const out) noexcept {
    constexpr uint8_t stop =
        k_stop_always | (decode ? k_stop_percent : 0) | (plus ? k_stop_plus : 0);
    char* o = out;
    while (p < end) {
        p = copy_plain_run<stop>(p, end, o);
        if (p == end) break;

        const decoded_byte lead = read_byte<decode, plus>(p, end);
        if (lead.value < 0x80) {
            const ascii_escape& e = k_ascii_escapes[lead.value];
            std::memcpy(o, e.text, sizeof e.text); // fixed size; the budget covers 6 bytes
            o += e.len;
            p += lead.len;
            continue;
        }

        // A multi-byte sequence. Allowed second bytes narrow for E0, ED, F0 and F4 so that
        // overlong forms, surrogates and code points above U+10FFFF are rejected (Unicode
        // Table 3-7). A failing byte is not consumed: each maximal invalid subpart becomes
        // one U+FFFD and scanning restarts at the byte that broke it.
        const uint8_t b = lead.value;
        int need = 0;
        uint8_t lo = 0x80;
        uint8_t hi = 0xBF;
        if (b >= 0xC2 && b <= 0xDF) {
            need = 1;
        } else if (b >= 0xE0 && b <= 0xEF) {
            need = 2;
            if (b == 0xE0) lo = 0xA0;
            if (b == 0xED) hi = 0x9F;
        } else if (b >= 0xF0 && b <= 0xF4) {
            need = 3;
            if (b == 0xF0) lo = 0x90;
            if (b == 0xF4) hi = 0x8F;
        }
        uint8_t seq[4] = {b, 0, 0, 0};
        const uint8_t* q = p + lead.len;
        int got = 0;
        while (got < need && q < end) {
            const decoded_byte next = read_byte<decode, plus>(q, end);
            if (next.value < lo || next.value > hi) break;
            seq[++got] = next.value;
            q += next.len;
            lo = 0x80;
            hi = 0xBF;
        }
        p = q;
        if (need == 0 || got < need) {
            std::memcpy(o, k_replacement, 3);
            o += 3;
        } else if (b == 0xE2 && seq[1] == 0x80 && (seq[2] == 0xA8 || seq[2] == 0xA9)) {
            // U+2028/U+2029 are legal in JSON but end a line in pre-ES2019 JavaScript.
            std::memcpy(o, seq[2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
            o += 6;
        } else {
            std::memcpy(o, seq, sizeof seq); // fixed size; at least 2 input bytes, 12 budget
            o += need + 1;
        }
    }
    return static_cast<size_t>(o - out);
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

} // namespace

// ---- public ------------------------------------------------------------------------------

size_t json_escape(std::string_view s, char* out, bool percent_decode,
                   bool plus_is_space) noexcept {
    const auto p = reinterpret_cast<const uint8_t*>(s.data());
    const auto end = p + s.size();
    if (percent_decode) {
        return plus_is_space ? escape_impl<true, true>(p, end, out)
                             : escape_impl<true, false>(p, end, out);
    }
    return plus_is_space ? escape_impl<false, true>(p, end, out)
                         : escape_impl<false, false>(p, end, out);
}

namespace {

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
