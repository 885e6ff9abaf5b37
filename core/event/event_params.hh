#pragma once
// The params of an event, read in source order from whichever of the three places they come
// from (params_format: a pixel's query, a /tr/v1/ path of key/value segments, a beacon item's
// parsed params), and the test for the keys that are never params members (the action, the
// campaign, the skipped keys). Only the event encoder (core/event/encoder.cc) uses this: its
// templates on the format instantiate these, so that the per-param work has no switch on the
// format.

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "core/event/beacon.hh"
#include "core/event/event.hh"
#include "core/http/http_chars.hh"
#include "core/http/percent_decode.hh"

namespace pixelring::detail {
// Internal linkage, as when these lived in the encoder's file: the one file that includes this
// header gets the same code as before the split.
namespace {

inline uint64_t load_u64(const char* p) noexcept {
    uint64_t w;
    std::memcpy(&w, p, sizeof w);
    return w;
}

inline uint32_t load_u32(const char* p) noexcept {
    uint32_t w;
    std::memcpy(&w, p, sizeof w);
    return w;
}

// a[0, n) == b[0, n) by words, the last one overlapping: keys are a few bytes, where libc's
// memcmp cost more as a call than as a comparison.
inline bool same_bytes(const char* a, const char* b, size_t n) noexcept {
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8)
            if (load_u64(a + i) != load_u64(b + i)) return false;
        return load_u64(a + n - 8) == load_u64(b + n - 8);
    }
    if (n >= 4) return load_u32(a) == load_u32(b) && load_u32(a + n - 4) == load_u32(b + n - 4);
    for (size_t i = 0; i < n; ++i)
        if (a[i] != b[i]) return false;
    return true;
}

// True when raw, percent-decoded (with '+' as a space when plus), is byte for byte equal to
// literal, which holds no '%', '+' or ' ' (the keys encoder.cc compares). Then a raw of the
// literal's length matches only as it is: a %XX escape would shorten it, and a '+' (or a '%'
// left as it is) is no byte of literal, decoded or not.
template <bool plus> bool decoded_equals(std::string_view raw, std::string_view literal) noexcept {
    assert(literal.find_first_of("%+ ") == std::string_view::npos);
    if (raw.size() == literal.size()) return same_bytes(raw.data(), literal.data(), raw.size());
    if (raw.size() < literal.size() || raw.size() > 3 * literal.size()) return false;
    auto p = reinterpret_cast<const uint8_t*>(raw.data());
    const auto end = p + raw.size();
    size_t i = 0;
    while (p < end) {
        if (i == literal.size()) return false;
        const decoded_byte d = read_byte<true, plus>(p, end);
        if (d.value != static_cast<uint8_t>(literal[i])) return false;
        ++i;
        p += d.len;
    }
    return i == literal.size();
}

struct param_pair {
    std::string_view key;
    std::string_view value;
};

// Takes the next non-empty '&'-separated piece off rest, split at its first '='; false when
// none is left. One scan for the first '&' or '=', then one for the '&' after a '='.
[[gnu::always_inline]] inline bool next_param(std::string_view& rest, param_pair& param) noexcept {
    while (!rest.empty()) {
        const char* const begin = rest.data();
        const char* const end = begin + rest.size();
#if defined(__SSE2__)
        const char* const stop = find_first(
            begin, end,
            [](__m128i v) {
                return _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('&')),
                                    _mm_cmpeq_epi8(v, _mm_set1_epi8('=')));
            },
            [](char c) { return c == '&' || c == '='; });
#else
        const char* stop = begin;
        while (stop != end && *stop != '&' && *stop != '=')
            ++stop;
#endif
        if (stop == end) { // the last piece, without '='
            param = {rest, {}};
            rest = {};
            return true;
        }
        if (*stop == '&') {
            rest = std::string_view(stop + 1, static_cast<size_t>(end - stop - 1));
            if (stop == begin) continue; // an empty piece
            param = {std::string_view(begin, static_cast<size_t>(stop - begin)), {}};
            return true;
        }
        const char* const amp = find_byte(stop + 1, end, '&');
        param = {std::string_view(begin, static_cast<size_t>(stop - begin)),
                 std::string_view(stop + 1, static_cast<size_t>(amp - stop - 1))};
        rest = amp == end ? std::string_view{}
                          : std::string_view(amp + 1, static_cast<size_t>(end - amp - 1));
        return true;
    }
    return false;
}

// Takes the next key and value segments off rest ("k/v/..."); false when rest is empty. A
// last key without a value segment gets an empty value.
bool next_tuple(std::string_view& rest, param_pair& param) noexcept {
    if (rest.empty()) return false;
    size_t slash = find_byte(rest, '/');
    param.key = rest.substr(0, slash);
    if (slash == std::string_view::npos) {
        param.value = {};
        rest = {};
        return true;
    }
    rest.remove_prefix(slash + 1);
    slash = find_byte(rest, '/');
    param.value = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    return true;
}

// The params of an event in source order. Templates on the format, so that the per-param
// work has no switch on it.
template <params_format F> class param_reader {
public:
    explicit param_reader(const event_parts& parts) noexcept
        : rest_(parts.params_text), item_(parts.items), item_end_(parts.items + parts.item_count) {}

    bool next(param_pair& param) noexcept {
        if constexpr (F == params_format::query) {
            return next_param(rest_, param);
        } else if constexpr (F == params_format::tuples) {
            return next_tuple(rest_, param);
        } else {
            if (item_ == item_end_) return false;
            param = {item_->key, item_->value};
            ++item_;
            return true;
        }
    }

private:
    std::string_view rest_;
    const beacon_param* item_;
    const beacon_param* item_end_;
};

// How a format's keys and values are decoded for the output.
template <params_format F> constexpr bool k_decodes = F != params_format::items;
template <params_format F> constexpr bool k_plus = F == params_format::query;

// Whether a param key names literal: after decoding for query and tuples, as is for items.
template <params_format F> bool key_is(std::string_view key, std::string_view literal) noexcept {
    if constexpr (k_decodes<F>) {
        return decoded_equals<k_plus<F>>(key, literal);
    } else {
        return key == literal;
    }
}

template <params_format F>
bool is_campaign_key(const event_parts& parts, std::string_view key) noexcept {
    for (size_t i = 0; i < parts.campaign_key_count; ++i)
        if (key_is<F>(key, parts.campaign_keys[i])) return true;
    return false;
}

// A key that gives the action or the campaign, or is skipped: never a params member.
template <params_format F>
bool is_reserved_key(const event_parts& parts, std::string_view key) noexcept {
    if (!parts.action_key.empty() && key_is<F>(key, parts.action_key)) return true;
    if (is_campaign_key<F>(parts, key)) return true;
    for (size_t i = 0; i < parts.skip_count; ++i)
        if (key_is<F>(key, parts.skip_keys[i])) return true;
    return false;
}

} // namespace
} // namespace pixelring::detail
