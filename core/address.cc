#include "core/address.hh"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace pixelring {
namespace {

// 0 to 65535 in decimal, digits only; also reads a CIDR's prefix length.
bool parse_port(std::string_view text, uint16_t& port) {
    if (text.empty() || text.size() > 5) return false;
    unsigned value = 0;
    for (char ch : text) {
        if (ch < '0' || ch > '9') return false;
        value = value * 10 + static_cast<unsigned>(ch - '0');
    }
    if (value > 65535) return false;
    port = static_cast<uint16_t>(value);
    return true;
}

} // namespace

bool is_cidr(const std::string& text) {
    size_t slash = text.find('/');
    std::string address = text.substr(0, slash);
    unsigned char bytes[sizeof(in6_addr)];
    unsigned max_prefix = 32;
    if (inet_pton(AF_INET, address.c_str(), bytes) != 1) {
        if (inet_pton(AF_INET6, address.c_str(), bytes) != 1) return false;
        max_prefix = 128;
    }
    if (slash == std::string::npos) return true; // one host
    std::string_view prefix = std::string_view(text).substr(slash + 1);
    uint16_t bits;
    return prefix.size() <= 3 && parse_port(prefix, bits) && bits <= max_prefix;
}

bool parse_listen_address(const std::string& text, sockaddr_storage& out, unsigned& len) {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) return false;
    std::string host = text.substr(0, colon);
    uint16_t port;
    if (!parse_port(std::string_view(text).substr(colon + 1), port)) return false;
    std::memset(&out, 0, sizeof out);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
        if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &v6->sin6_addr) != 1)
            return false;
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        len = sizeof(sockaddr_in6);
        return true;
    }
    auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
    std::string lower = host;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    if (lower == "localhost") {
        v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK); // no resolver: localhost is 127.0.0.1
    } else if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) != 1) {
        return false;
    }
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof(sockaddr_in);
    return true;
}

} // namespace pixelring
