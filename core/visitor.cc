#include "core/visitor.hh"

#include <sodium.h>

#include <cstring>

#include <fmt/format.h>

#include "core/percent_decode.hh" // k_hex_digits

namespace pixelring {
namespace {

constexpr uint64_t ms_per_day = 86'400'000;
constexpr size_t min_secret_size = 16;

constexpr std::string_view secret_domain = "pixelring visitor_secret v1";
constexpr std::string_view salt_domain = "pixelring visitor salt v1";

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
    // The fixed-size middle of the message: u8 family, then the 4 or 8 address bytes.
    unsigned char address[1 + 8];
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

    unsigned char site_length[4], ua_length[4];
    put_u32le(site_length, length_of(site));
    put_u32le(ua_length, length_of(ua));

    crypto_generichash_state st;
    unsigned char id[visitor_id_size / 2];
    const unsigned char salt_length = sizeof salt_;
    crypto_generichash_init(&st, nullptr, 0, sizeof id);
    crypto_generichash_update(&st, &salt_length, 1);
    crypto_generichash_update(&st, salt_, sizeof salt_);
    crypto_generichash_update(&st, site_length, sizeof site_length);
    crypto_generichash_update(&st, bytes_of(site), length_of(site));
    crypto_generichash_update(&st, address, address_size);
    crypto_generichash_update(&st, ua_length, sizeof ua_length);
    crypto_generichash_update(&st, bytes_of(ua), length_of(ua));
    crypto_generichash_final(&st, id, sizeof id);

    for (size_t i = 0; i < sizeof id; ++i) {
        out[2 * i] = detail::k_hex_digits[id[i] >> 4];
        out[2 * i + 1] = detail::k_hex_digits[id[i] & 0xf];
    }
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
