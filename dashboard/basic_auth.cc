#include "dashboard/basic_auth.hh"

#include <string>

#include <sodium.h>

namespace pixelring {

namespace {

constexpr size_t max_credentials = 1024;

std::array<unsigned char, 32> digest(std::string_view text) {
    std::array<unsigned char, 32> out{};
    crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(text.data()),
                       text.size(), nullptr, 0);
    return out;
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (size_t i = 0; i < prefix.size(); ++i) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
        if (c != prefix[i]) return false;
    }
    return true;
}

} // namespace

basic_auth::basic_auth(std::string_view user, std::string_view password)
    : enabled_(!user.empty() || !password.empty()) {
    if (sodium_init() < 0) enabled_ = true; // fail closed: nothing will match
    std::string pair;
    pair.reserve(user.size() + 1 + password.size());
    pair.append(user).append(":").append(password);
    expected_ = digest(pair);
}

bool basic_auth::allows(std::string_view authorization) const noexcept {
    if (!starts_with_nocase(authorization, "basic ")) return false;
    std::string_view encoded = authorization.substr(6);
    while (!encoded.empty() && encoded.front() == ' ')
        encoded.remove_prefix(1);
    while (!encoded.empty() && (encoded.back() == ' ' || encoded.back() == '\t'))
        encoded.remove_suffix(1);
    unsigned char decoded[max_credentials];
    size_t len = 0;
    if (encoded.empty() || encoded.size() > max_credentials * 4 / 3 ||
        sodium_base642bin(decoded, sizeof decoded, encoded.data(), encoded.size(), nullptr, &len,
                          nullptr, sodium_base64_VARIANT_ORIGINAL) != 0)
        return false;
    const std::array<unsigned char, 32> sent =
        digest({reinterpret_cast<const char*>(decoded), len});
    return sodium_memcmp(sent.data(), expected_.data(), sent.size()) == 0;
}

bool is_loopback_listen(std::string_view bound) {
    // "127.0.0.1:9090", "[::1]:9090", "localhost:9090"
    return bound.starts_with("127.") || bound.starts_with("[::1]") ||
           bound.starts_with("localhost:");
}

} // namespace pixelring
