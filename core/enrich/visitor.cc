#include "core/enrich/visitor.hh"

#include <sodium.h>

#include <bit>
#include <cstring>

#include <fmt/format.h>

#include "core/http/percent_decode.hh" // write_hex16

namespace pixelring {
namespace {

constexpr uint64_t ms_per_day = 86'400'000;
constexpr size_t min_secret_size = 16;

constexpr std::string_view secret_domain = "pixelring visitor_secret v1";
constexpr std::string_view salt_domain = "pixelring visitor salt v2";

const auto* bytes_of(std::string_view s) noexcept {
    return reinterpret_cast<const unsigned char*>(s.data());
}

void put_u32le(unsigned char* p, uint32_t v) noexcept {
    for (int i = 0; i < 4; ++i)
        p[i] = static_cast<unsigned char>(v >> (8 * i));
}

// A length that fits the u32le prefix. Inputs come from one request (a few KiB at most);
// clamping only guards the encoding and never changes a real request's id.
uint32_t length_of(std::string_view s) noexcept {
    return s.size() > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(s.size());
}

uint64_t load_u64le(const unsigned char* p) noexcept {
    uint64_t v;
    std::memcpy(&v, p, sizeof v);
    if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
    return v;
}

void store_u64le(unsigned char* p, uint64_t v) noexcept {
    if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
    std::memcpy(p, &v, sizeof v);
}

// SipHash-2-4 with 128-bit output over a message given in pieces: the same 16 bytes as
// libsodium's one-shot crypto_shorthash_siphashx24 of the pieces' concatenation (its
// reference implementation, shorthash_siphashx24_ref.c; tests/unit/visitor_test.cc checks the
// two agree for every split). Streaming spares copying the fields into one buffer, whose
// size a User-Agent would not bound.
class siphash128 {
public:
    explicit siphash128(const unsigned char key[16]) noexcept {
        const uint64_t k0 = load_u64le(key), k1 = load_u64le(key + 8);
        v0_ ^= k0;
        v1_ ^= k1 ^ 0xee; // 0xee: the 128-bit output variant
        v2_ ^= k0;
        v3_ ^= k1;
    }

    // Feeds n bytes at p. From 8 bytes on, every read is a word: the bytes that complete a
    // pending tail come from one load, and the last partial word from the input's last 8
    // bytes; shorter inputs are gathered byte by byte.
    void update(const unsigned char* p, size_t n) noexcept {
        length_ += n;
        if (n < 8) {
            uint64_t w = 0;
            for (size_t i = 0; i < n; ++i)
                w |= uint64_t{p[i]} << (8 * i);
            push(w, static_cast<unsigned>(n));
            return;
        }
        if (tail_bytes_ != 0) {
            const unsigned k = 8 - tail_bytes_;
            push(load_u64le(p) & low_bytes(k), k);
            p += k;
            n -= k;
        }
        for (; n >= 8; p += 8, n -= 8)
            compress(load_u64le(p));
        // p + n - 8 is still inside the input, which had 8 bytes or more.
        if (n != 0) push(load_u64le(p + n - 8) >> (8 * (8 - n)), static_cast<unsigned>(n));
    }

    // update() of n < 8 bytes at p, where 8 bytes may be read (a padded stack buffer).
    // Callers keep n below 8; this is not checked on the hot path.
    void update_padded(const unsigned char* p, size_t n) noexcept {
        length_ += n;
        push(load_u64le(p) & low_bytes(static_cast<unsigned>(n)), static_cast<unsigned>(n));
    }

    void final(unsigned char out[16]) noexcept {
        compress(tail_ | length_ << 56);
        v2_ ^= 0xee;
        rounds(4);
        store_u64le(out, v0_ ^ v1_ ^ v2_ ^ v3_);
        v1_ ^= 0xdd;
        rounds(4);
        store_u64le(out + 8, v0_ ^ v1_ ^ v2_ ^ v3_);
    }

private:
    // The low k bytes of a word, 0 < k < 8.
    static uint64_t low_bytes(unsigned k) noexcept { return (uint64_t{1} << (8 * k)) - 1; }

    // Appends the k bytes of w (k <= 8; its higher bytes zero) to the pending tail and
    // compresses the word it completes.
    [[gnu::always_inline]] void push(uint64_t w, unsigned k) noexcept {
        tail_ |= w << (8 * tail_bytes_);
        const unsigned total = tail_bytes_ + k;
        if (total < 8) {
            tail_bytes_ = total;
            return;
        }
        compress(tail_);
        // The 8 - tail_bytes_ bytes of w that fitted are gone; total > 8 means tail_bytes_ > 0.
        tail_ = total == 8 ? 0 : w >> (8 * (8 - tail_bytes_));
        tail_bytes_ = total - 8;
    }

    [[gnu::always_inline]] void compress(uint64_t m) noexcept {
        v3_ ^= m;
        rounds(2);
        v0_ ^= m;
    }

    [[gnu::always_inline]] void rounds(int count) noexcept {
        for (int i = 0; i < count; ++i) {
            v0_ += v1_;
            v1_ = std::rotl(v1_, 13) ^ v0_;
            v0_ = std::rotl(v0_, 32);
            v2_ += v3_;
            v3_ = std::rotl(v3_, 16) ^ v2_;
            v0_ += v3_;
            v3_ = std::rotl(v3_, 21) ^ v0_;
            v2_ += v1_;
            v1_ = std::rotl(v1_, 17) ^ v2_;
            v2_ = std::rotl(v2_, 32);
        }
    }

    uint64_t v0_ = 0x736f6d6570736575ull;
    uint64_t v1_ = 0x646f72616e646f6dull;
    uint64_t v2_ = 0x6c7967656e657261ull;
    uint64_t v3_ = 0x7465646279746573ull;
    uint64_t tail_ = 0; // the bytes after the last whole word, little-endian
    unsigned tail_bytes_ = 0;
    uint64_t length_ = 0; // only its low byte enters the hash, as the specification says
};

} // namespace

std::string visitor_key::from_config(std::string_view visitor_secret, visitor_key& out) {
    if (sodium_init() < 0) return "libsodium could not be initialised (sodium_init failed)";
    if (visitor_secret.empty()) {
        // Made on the first call, under the guard of the function-local static, on whichever
        // thread comes first; every later call in this process gets the same bytes.
        static const visitor_key process_key = [] {
            visitor_key k;
            randombytes_buf(k.bytes, sizeof k.bytes);
            return k;
        }();
        out = process_key;
        return {};
    }
    if (visitor_secret.size() < min_secret_size)
        return fmt::format("privacy.visitor_secret: expected at least {} bytes (32 random bytes "
                           "recommended, e.g. the output of `openssl rand -hex 32`), got {} "
                           "bytes (value not shown); or leave it unset for a random salt per "
                           "day held in memory only",
                           min_secret_size, visitor_secret.size());
    crypto_generichash_state st;
    crypto_generichash_init(&st, nullptr, 0, sizeof out.bytes);
    crypto_generichash_update(&st, bytes_of(secret_domain), secret_domain.size());
    crypto_generichash_update(&st, bytes_of(visitor_secret), visitor_secret.size());
    crypto_generichash_final(&st, out.bytes, sizeof out.bytes);
    sodium_memzero(&st, sizeof st);
    return {};
}

visitor_hasher::visitor_hasher(const visitor_key& key) noexcept {
    std::memcpy(root_, key.bytes, sizeof root_);
    std::memset(salt_, 0, sizeof salt_);
}

visitor_hasher::~visitor_hasher() {
    sodium_memzero(root_, sizeof root_);
    sodium_memzero(salt_, sizeof salt_);
}

void visitor_hasher::rotate(uint64_t day) noexcept {
    unsigned char message[salt_domain.size() + 8];
    std::memcpy(message, salt_domain.data(), salt_domain.size());
    for (int i = 0; i < 8; ++i)
        message[salt_domain.size() + i] = static_cast<unsigned char>(day >> (8 * i));
    crypto_generichash(salt_, sizeof salt_, message, sizeof message, root_, sizeof root_);
    day_ = day;
}

bool visitor_hasher::visitor_id(uint64_t unix_ms, std::string_view site, const ip_address& client,
                                std::string_view ua, char out[visitor_id_size]) noexcept {
    // The fixed-size middle of the message: u8 family, then the 4 or 8 address bytes (and room
    // for update_padded's 8-byte read).
    unsigned char address[1 + 8] = {};
    size_t address_size;
    static constexpr uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (client.family == 4) {
        address[0] = 4;
        std::memcpy(address + 1, client.bytes, 4);
        address_size = 1 + 4;
    } else if (client.family == 6 &&
               std::memcmp(client.bytes, v4_mapped_prefix, sizeof v4_mapped_prefix) == 0) {
        address[0] = 4;
        std::memcpy(address + 1, client.bytes + 12, 4);
        address_size = 1 + 4;
    } else if (client.family == 6) {
        address[0] = 6;
        std::memcpy(address + 1, client.bytes, 8);
        address_size = 1 + 8;
    } else {
        return false;
    }

    const uint64_t day = unix_ms / ms_per_day;
    if (day != day_) rotate(day);

    // The fixed-size pieces from stack buffers with room for a whole 8-byte read.
    unsigned char length[8] = {};
    unsigned char id[visitor_id_size / 2];
    siphash128 h(salt_);
    put_u32le(length, length_of(site));
    h.update_padded(length, 4);
    h.update(bytes_of(site), length_of(site));
    if (address_size < 8) {
        h.update_padded(address, address_size);
    } else {
        h.update(address, address_size);
    }
    put_u32le(length, length_of(ua));
    h.update_padded(length, 4);
    h.update(bytes_of(ua), length_of(ua));
    h.final(id);
    detail::write_hex16(id, out);
    return true;
}

bool tracking_refused(std::string_view dnt, std::string_view sec_gpc) noexcept {
    const auto is_one = [](std::string_view v) {
        while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
            v.remove_prefix(1);
        while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
            v.remove_suffix(1);
        return v == "1";
    };
    return is_one(dnt) || is_one(sec_gpc);
}

} // namespace pixelring
